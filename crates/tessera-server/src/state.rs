//! What every request handler shares.

use crate::clock::Clock;
use crate::identity::IdentityCache;
use crate::ids::AccountId;
use crate::keys::MasterKey;
use crate::nonce::ReplayWindow;
use std::sync::Arc;
use tessera_store::Store;

/// The default of [`Limits::replay_memory`]: 1.5 GiB, enough for about 130 million nonces, or
/// 60,000 signed requests a second from a single AccessKey indefinitely (its share being half).
/// Taken only as requests come: an idle server holds a few hundred KiB of it.
pub const DEFAULT_REPLAY_MEMORY: usize = 1536 << 20;

/// Request-size and memory limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted. No STS or RAM parameter needs more than a few KiB; the
    /// real gateway's documented ceiling (10 MB) is far more than anything here needs.
    pub max_body_bytes: usize,
    /// Largest request target (path and query) accepted.
    pub max_uri_bytes: usize,
    /// Bytes replay protection may use to remember nonces (about 10 each, taken as needed).
    /// Each nonce is kept until its timestamp leaves the window, so this bounds the sustained
    /// signed request rate: see [`crate::nonce::Capacity`]. Beyond it requests get `Throttling`
    /// rather than replays a chance; one AccessKey beyond its share gets `Throttling.User`.
    pub replay_memory: usize,
    /// How long a client may take to send its body once the headers are in.
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 32 * 1024,
            replay_memory: DEFAULT_REPLAY_MEMORY,
            body_timeout: std::time::Duration::from_secs(20),
        }
    }
}

/// The longest a nonce is kept: a timestamp may be up to the window ahead of the clock, and its
/// nonce is kept until the window after it (see `authn::remember_nonce`).
const REPLAY_TTL: i64 = 2 * tessera_protocol::TIMESTAMP_WINDOW_SECS + 1;

/// The server's shared state.
pub struct AppState {
    /// Persistent state.
    pub store: Arc<dyn Store>,
    /// What authentication and authorization read, in memory, following the store's feed.
    pub identities: Arc<IdentityCache>,
    /// Replay protection.
    pub nonces: ReplayWindow,
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
            nonces: ReplayWindow::new(limits.replay_memory, REPLAY_TTL),
            store,
            master,
            clock,
            limits,
            operator,
        }
    }
}
