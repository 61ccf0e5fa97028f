//! The replay window shared by every node of a cluster, in Redis.
//!
//! Each node remembers the nonces it has seen in memory ([`crate::nonce`]); that refuses a
//! request replayed to the same node, but not one replayed to another node behind the same load
//! balancer. With a shared window, a request that passed the node's own window is also recorded
//! in Redis with `SET key 1 NX EXAT expiry`: one round trip, atomic, and the key expires by
//! itself when the request's timestamp leaves the window, so Redis holds no more than the window's
//! worth of nonces and needs no cleanup. `NX` finding the key means another node saw the nonce:
//! the request is a replay.
//!
//! Redis was chosen over a PostgreSQL table because the window is written on every signed
//! request: `SET NX` with an expiry is one in-memory operation, where a table would take a WAL
//! write on the primary per request, and a sweep of expired rows.
//!
//! **Fail closed.** When Redis does not answer (down, or slower than [`TIMEOUT`]), a signed request
//! is refused with `503 ServiceUnavailable`, which the official SDKs retry: accepting it would let
//! replays through unseen. The log says so once per outage, and `/ready` reports it.
//!
//! Keys are `tessera:<first account>:nonce:<hash>`, the hash (SHA-256, truncated to 128 bits) of
//! the AccessKeyId and the nonce, so deployments can share one Redis and no client-chosen string
//! of unbounded length becomes a key.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tessera_protocol::GatewayError;

/// The longest a request waits for Redis before it is refused.
pub const TIMEOUT: Duration = Duration::from_millis(1000);

/// The shared window; see the module documentation.
pub struct SharedReplay {
    conn: ConnectionManager,
    prefix: String,
    /// Whether the last exchange with Redis succeeded; logs go out on changes only.
    reachable: AtomicBool,
}

impl std::fmt::Debug for SharedReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReplay")
            .field("prefix", &self.prefix)
            .field("reachable", &self.reachable())
            .finish()
    }
}

/// What [`SharedReplay::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The nonce is new: recorded.
    New,
    /// Another request (on any node) used it within the window.
    Replay,
}

/// A URL shown without its password.
fn redact(url: &str) -> String {
    crate::cluster::redact_url(url)
}

impl SharedReplay {
    /// A window in the Redis at `url` (`redis://[:password@]host:port/db`) for the deployment
    /// whose first account is `deployment`. Connects lazily, and reconnects by itself: a node
    /// starts while Redis is down, and refuses signed requests until it is back.
    pub fn new(url: &str, deployment: &str) -> anyhow::Result<SharedReplay> {
        let client = redis::Client::open(url).map_err(|e| {
            anyhow::anyhow!(
                "the replay window's Redis URL {} is not valid: {e}",
                redact(url)
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT / 2))
            .set_response_timeout(Some(TIMEOUT / 2))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            anyhow::anyhow!("cannot set up the replay window's Redis connection: {e}")
        })?;
        Ok(SharedReplay {
            conn,
            prefix: format!("tessera:{deployment}:nonce:"),
            reachable: AtomicBool::new(true),
        })
    }

    /// Whether the last exchange with Redis succeeded.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::SeqCst)
    }

    fn key(&self, access_key_id: &str, nonce: &str) -> String {
        let mut h = Sha256::new();
        // Length-prefixed, so no (id, nonce) pair reads as another.
        h.update((access_key_id.len() as u64).to_be_bytes());
        h.update(access_key_id.as_bytes());
        h.update(nonce.as_bytes());
        let digest = h.finalize();
        format!("{}{}", self.prefix, hex::encode(&digest[..16]))
    }

    fn note(&self, ok: bool, error: Option<&str>) {
        let was = self.reachable.swap(ok, Ordering::SeqCst);
        match (was, ok) {
            (true, false) => tracing::error!(
                error = error.unwrap_or("timeout"),
                "the shared replay window (Redis) does not answer: signed requests are refused with ServiceUnavailable until it does"
            ),
            (false, true) => tracing::info!("the shared replay window (Redis) answers again"),
            _ => {}
        }
    }

    /// Records the nonce until `expires` (Unix seconds), unless some node already has.
    pub async fn remember(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires: i64,
    ) -> Result<Seen, GatewayError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(access_key_id, nonce))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expires);
        match tokio::time::timeout(TIMEOUT, cmd.query_async::<Option<String>>(&mut conn)).await {
            Ok(Ok(set)) => {
                self.note(true, None);
                Ok(if set.is_some() {
                    Seen::New
                } else {
                    Seen::Replay
                })
            }
            Ok(Err(e)) => {
                self.note(false, Some(&e.to_string()));
                Err(GatewayError::ServiceUnavailable)
            }
            Err(_) => {
                self.note(false, None);
                Err(GatewayError::ServiceUnavailable)
            }
        }
    }

    /// Whether Redis answers a `PING` in time (for readiness).
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        let answer =
            tokio::time::timeout(TIMEOUT, redis::cmd("PING").query_async::<String>(&mut conn))
                .await;
        let ok = matches!(answer, Ok(Ok(_)));
        self.note(ok, None);
        ok
    }
}
