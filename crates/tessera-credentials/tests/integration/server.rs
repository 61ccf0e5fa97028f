//! Against a real Tessera server on loopback.
