//! The signing client.
