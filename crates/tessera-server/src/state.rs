//! What every request handler shares.

use crate::clock::Clock;
use crate::identity::IdentityCache;
use crate::ids::AccountId;
use crate::keys::MasterKey;
use crate::nonce::ReplayWindow;
use crate::password::Passwords;
use crate::tokens::RotationPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_store::Store;

/// The default of [`Limits::replay_memory`]: 1.5 GiB, enough for about 130 million nonces, or
/// 60,000 signed requests a second from a single AccessKey indefinitely (its share being half).
/// Taken only as requests come: an idle server holds a few hundred KiB of it.
pub const DEFAULT_REPLAY_MEMORY: usize = 1536 << 20;

/// Request-size, connection and memory limits (DESIGN decision 11: every resource is bounded).
///
/// A connection passes through these deadlines in turn: the TLS handshake
/// ([`tls_handshake_timeout`](Self::tls_handshake_timeout)), its first byte
/// ([`first_byte_timeout`](Self::first_byte_timeout)), the rest of each request head, protocol
/// detection included ([`header_read_timeout`](Self::header_read_timeout)), each body
/// ([`body_timeout`](Self::body_timeout)), and the wait between requests
/// ([`keep_alive_timeout`](Self::keep_alive_timeout)).
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
    pub body_timeout: Duration,
    /// Connections open at once, over every listener. At the cap the server stops accepting
    /// (new connections wait in the kernel's listen backlog) until one closes, so it never runs
    /// out of file descriptors. Default: [`default_max_connections`].
    pub max_connections: usize,
    /// How long a client may take to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How long a new connection (after TLS) may stay silent before its first request starts.
    pub first_byte_timeout: Duration,
    /// How long a client may take to send a request head once its first byte has arrived (for
    /// the first request, this includes telling HTTP/1 from HTTP/2).
    pub header_read_timeout: Duration,
    /// How long a connection may wait with no request in progress after serving one (HTTP/1
    /// keep-alive, HTTP/2 with no open stream) before the server closes it.
    pub keep_alive_timeout: Duration,
    /// Whether a connection that opens with HTTP/2's preface (HTTP/2 with prior knowledge:
    /// h2c on plain HTTP) is served. Off by default: no official SDK speaks it, TLS offers
    /// only HTTP/1.1 in ALPN, and HTTP/2's framing gives unauthenticated clients more to press
    /// on. Off, such a connection gets a GOAWAY with `HTTP_1_1_REQUIRED` and is closed; on, it
    /// is bounded like HTTP/1 (deadlines) and by a stream limit, a header-list size and pings.
    pub http2_cleartext: bool,
    /// Password hashes (Argon2id, 19 MiB each) computed at once.
    pub password_hash_workers: usize,
    /// Password hashes that may wait for a worker; beyond them requests get `Throttling`.
    pub password_hash_queue: usize,
    /// When token keys are replaced by themselves (by age and by tokens sealed).
    pub token_key_rotation: RotationPolicy,
}

/// The default connection cap: three quarters of the soft `RLIMIT_NOFILE` (the rest, at least
/// 64, is left for the store, the logs and outgoing connections), at most 8,192 (each open
/// connection costs tens of KiB of buffers), at least 16.
pub fn default_max_connections() -> usize {
    max_connections_for(nofile_soft_limit().unwrap_or(1024))
}

fn max_connections_for(open_files: usize) -> usize {
    let reserve = (open_files / 4).max(64);
    open_files.saturating_sub(reserve).clamp(16, 8192)
}

/// The soft limit on open file descriptors, if it can be read (`usize::MAX` when unlimited).
pub fn nofile_soft_limit() -> Option<usize> {
    // `None` from rustix is RLIM_INFINITY.
    let current = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    Some(current.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)))
}

/// The default number of password-hashing workers: one per core the process may use.
pub fn default_password_hash_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 32 * 1024,
            replay_memory: DEFAULT_REPLAY_MEMORY,
            body_timeout: Duration::from_secs(20),
            max_connections: default_max_connections(),
            tls_handshake_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(20),
            keep_alive_timeout: Duration::from_secs(25),
            http2_cleartext: false,
            password_hash_workers: default_password_hash_workers(),
            password_hash_queue: 2 * default_password_hash_workers(),
            token_key_rotation: RotationPolicy::default(),
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
    /// Password hashing, bounded.
    pub passwords: Passwords,
    /// Seals secrets.
    pub master: Arc<MasterKey>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Limits.
    pub limits: Limits,
    /// The operator: the first account, whose root alone may administer the deployment (create
    /// accounts, rotate token keys).
    pub operator: AccountId,
    /// Request metrics (the state's own are read from the fields above when scraped).
    pub metrics: crate::metrics::Metrics,
    /// The follower of other nodes' commits, on a store shared by several nodes.
    pub feed: Option<Arc<tessera_store::postgres::FeedHealth>>,
    /// The replay window shared with the other nodes, when one is configured.
    pub shared_replay: Option<crate::shared_replay::SharedReplay>,
    /// The last readiness probe of the store, and when it ran; the lock also makes concurrent
    /// readiness checks share one probe.
    probe: tokio::sync::Mutex<Option<(Instant, StoreProbe)>>,
}

/// What a readiness probe of the store (and the shared replay window) found.
#[derive(Debug, Clone, Copy)]
pub struct StoreProbe {
    /// Whether the store answered in time.
    pub reachable: bool,
    /// How long it took.
    pub latency: Duration,
    /// Whether the shared replay window answered; `None` without one.
    pub replay: Option<bool>,
}

/// How long a probe's result is reused: readiness checks cost the store one read a second at
/// most, however many balancers ask.
const PROBE_REUSE: Duration = Duration::from_secs(1);

/// How long the store may take to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

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
            passwords: Passwords::new(limits.password_hash_workers, limits.password_hash_queue),
            store,
            master,
            clock,
            limits,
            operator,
            metrics: crate::metrics::Metrics::new(),
            feed: None,
            shared_replay: None,
            probe: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether the store answers a read (a metadata row: one round trip on any backend), and the
    /// shared replay window a `PING`.
    pub async fn probe_store(&self) -> StoreProbe {
        let mut last = self.probe.lock().await;
        if let Some((at, probe)) = *last {
            if at.elapsed() < PROBE_REUSE {
                return probe;
            }
        }
        let started = Instant::now();
        let reachable = match tokio::time::timeout(PROBE_TIMEOUT, self.store.meta("first_account"))
            .await
        {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the store does not answer");
                false
            }
            Err(_) => {
                tracing::warn!(timeout = ?PROBE_TIMEOUT, "readiness: the store does not answer in time");
                false
            }
        };
        let latency = started.elapsed();
        let replay = match &self.shared_replay {
            Some(r) => Some(r.ping().await),
            None => None,
        };
        let probe = StoreProbe {
            reachable,
            latency,
            replay,
        };
        *last = Some((Instant::now(), probe));
        probe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(max_connections_for(1024), 768);
        assert_eq!(max_connections_for(200), 136, "at least 64 left");
        assert_eq!(max_connections_for(20_000), 8192, "at most 8,192");
        assert_eq!(max_connections_for(usize::MAX), 8192, "unlimited");
        assert_eq!(max_connections_for(40), 16, "at least 16");
        assert!(nofile_soft_limit().is_some_and(|n| n > 0));
    }
}
