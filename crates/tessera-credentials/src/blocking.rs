//! A synchronous facade over [`crate::Client`].
