//! Integration tests of tessera-credentials, one binary: recorded-world cases for every
//! provider and the chain (`replay`), and calls against a real Tessera server on loopback
//! (`server`).

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

mod replay;
mod server;
