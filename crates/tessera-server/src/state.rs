//! What every request handler shares.

use crate::clock::Clock;
use crate::identity::IdentityCache;
use crate::ids::AccountId;
use crate::keys::MasterKey;
use crate::nonce::NonceCache;
use std::sync::Arc;
use tessera_store::Store;

/// Request-size and memory limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted. No STS or RAM parameter needs more than a few KiB; the
    /// real gateway's documented ceiling (10 MB) is far more than anything here needs.
    pub max_body_bytes: usize,
    /// Largest request target (path and query) accepted.
    pub max_uri_bytes: usize,
    /// Live nonces remembered at most (about 30 bytes each). Each is kept for the 15-minute
    /// timestamp window, so this bounds the sustained signed request rate: 4M is about 4,400
    /// requests per second; beyond it requests get `Throttling` rather than replays a chance.
    pub nonce_capacity: usize,
    /// How long a client may take to send its body once the headers are in.
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 32 * 1024,
            nonce_capacity: 4_000_000,
            body_timeout: std::time::Duration::from_secs(20),
        }
    }
}

/// The server's shared state.
pub struct AppState {
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// What authentication and authorization read, in memory, following the store's feed.
    pub identities: Arc<IdentityCache>,
    /// Replay protection.
    pub nonces: NonceCache,
    /// Seals secrets.
    pub master: Arc<MasterKey>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Limits.
    pub limits: Limits,
    /// The operator: the first account, whose root alone may administer the deployment (create
    /// accounts, rotate token keys).
    pub operator: AccountId,
}

impl AppState {
    /// Assembles the state.
    pub fn new(
        store: Arc<dyn Store>,
        identities: Arc<IdentityCache>,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        operator: AccountId,
    ) -> Self {
        AppState {
            identities,
            nonces: NonceCache::new(limits.nonce_capacity),
            store,
            master,
            clock,
            limits,
            operator,
        }
    }
}
