//! Integration tests of tessera-credentials, one binary: recorded-world cases for every
//! provider and the chain (`replay`), and calls against a real Tessera server on loopback
//! (`server`).

mod replay;
mod server;
