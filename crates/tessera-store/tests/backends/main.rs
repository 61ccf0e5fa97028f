//! The store contract suite against every backend, and what only one backend has: one test
//! binary, a module per backend.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

mod postgres;
mod sqlite;
