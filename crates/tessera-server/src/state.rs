//! What every request handler shares.

use crate::clock::Clock;
use crate::identity::IdentityCache;
use crate::keys::MasterKey;
use crate::nonce::NonceCache;
use crate::store::Store;
use std::sync::Arc;

/// Request-size and memory limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (the real STS documents 10 MB for POST).
    pub max_body_bytes: usize,
    /// Largest request target (path and query) accepted.
    pub max_uri_bytes: usize,
    /// Live nonces remembered at most.
    pub nonce_capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            max_uri_bytes: 32 * 1024,
            nonce_capacity: 1_000_000,
        }
    }
}

/// The server's shared state.
pub struct AppState {
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// AccessKeys in memory.
    pub identities: IdentityCache,
    /// Replay protection.
    pub nonces: NonceCache,
    /// Seals secrets.
    pub master: Arc<MasterKey>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Limits.
    pub limits: Limits,
}

impl AppState {
    /// Assembles the state.
    pub fn new(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        AppState {
            identities: IdentityCache::new(Arc::clone(&store), Arc::clone(&master)),
            nonces: NonceCache::new(limits.nonce_capacity),
            store,
            master,
            clock,
            limits,
        }
    }
}
