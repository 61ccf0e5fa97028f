//! Starting and stopping the service: listeners (HTTP and/or HTTPS), the shared state, graceful
//! shutdown that lets in-flight requests finish and then closes the store.

use crate::clock::Clock;
use crate::cluster::{self, PostgresConfig, SecretUrl};
use crate::datadir::{self, Initialized};
use crate::http::{router, Transport};
use crate::identity::{self, IdentityCache};
use crate::ids::AccountId;
use crate::listener::{Connections, Listener};
use crate::shared_replay::SharedReplay;
use crate::state::{AppState, Limits};
use crate::tls::{self, TlsSource};
use crate::tokens;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_store::Store;
use tokio::task::JoinHandle;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The main listener: HTTPS when `tls` is set, else HTTP.
    pub listen: SocketAddr,
    /// An extra plain-HTTP listener, for loopback clients of an HTTPS server.
    pub http_listen: Option<SocketAddr>,
    /// TLS for the main listener.
    pub tls: Option<TlsSource>,
    /// Request limits.
    pub limits: Limits,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// How long the change feed keeps an entry; a reader further behind reloads from a
    /// snapshot.
    pub change_retention: Duration,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP), if anywhere. A listener
    /// of its own, so that it can be kept to the operator's network.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the state lives.
    pub store: StoreConfig,
    /// The Redis holding the replay window shared by the cluster's nodes
    /// (`redis://host:port/db`); `None`: each node remembers only the nonces it has seen.
    pub replay_redis: Option<SecretUrl>,
}

/// Where a node keeps its state.
#[derive(Debug, Clone, Default)]
pub enum StoreConfig {
    /// A SQLite file in the data directory, with the master key beside it (the default).
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by every node of the deployment.
    Postgres(PostgresConfig),
}

/// The change feed's default retention: ample for a node that restarts or loses its database
/// connection for a while, small enough that the feed stays a fraction of the data.
pub const DEFAULT_CHANGE_RETENTION: Duration = Duration::from_secs(3600);

/// A listening endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Whether it speaks TLS.
    pub secure: bool,
}

impl Endpoint {
    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.secure { "https" } else { "http" },
            self.addr
        )
    }
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub endpoints: Vec<Endpoint>,
    /// Where metrics are served (`http://addr/metrics`), when asked for.
    pub metrics: Option<SocketAddr>,
    /// Set when this start initialised the data directory.
    pub initialized: Option<Initialized>,
    /// The shared state (tests reach the clock and store through it).
    pub state: Arc<AppState>,
    connections: Arc<Connections>,
    accept_loop: JoinHandle<()>,
    /// The feed follower and the feed's compaction, stopped at shutdown.
    background: Vec<JoinHandle<()>>,
    grace: Duration,
    /// Holds the data directory's lock until the server is dropped.
    _lock: std::fs::File,
}

/// Connections the kernel completes and queues for us while we are not accepting (at the
/// connection cap they wait here, costing no descriptor); the kernel caps it at
/// `net.core.somaxconn`. The standard library's 128 is small for a burst.
const LISTEN_BACKLOG: u32 = 1024;

fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .context("cannot create a socket")?;
    // As std and tokio do: a restarted server can bind while old connections are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("cannot listen on {addr}"))?;
    socket
        .listen(LISTEN_BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))
}

impl Server {
    /// Opens (or initialises) the data directory and starts listening.
    pub async fn start(config: ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
        let (lock, store, master, initialized, follower) = match &config.store {
            StoreConfig::Sqlite => {
                let dir = datadir::open_or_init(&config.data_dir, clock.as_ref()).await?;
                tokens::ensure_token_key(dir.store.as_ref(), &dir.master, clock.now()).await?;
                (
                    dir.lock,
                    dir.store as Arc<dyn Store>,
                    dir.master,
                    dir.initialized,
                    None,
                )
            }
            StoreConfig::Postgres(pg) => {
                let c = cluster::open(&config.data_dir, pg, clock.as_ref()).await?;
                (
                    c.lock,
                    c.store as Arc<dyn Store>,
                    c.master,
                    c.initialized,
                    Some(c.follower),
                )
            }
        };
        let operator = store
            .meta("first_account")
            .await?
            .map(AccountId::from_trusted)
            .context("the database names no first account")?;
        let identities = Arc::new(
            IdentityCache::load(Arc::clone(&store), master.clone())
                .await
                .context("cannot load the identity cache")?,
        );
        let rotation = config.limits.token_key_rotation.clone();
        let trigger = Arc::new(tokens::SealTrigger::new(rotation.max_seals));
        identities.set_seal_trigger(Arc::clone(&trigger)).await;
        let mut background = vec![
            tokio::spawn(identity::follow(
                Arc::clone(&identities),
                Arc::clone(&store),
            )),
            tokio::spawn(compact_feed(Arc::clone(&store), config.change_retention)),
            tokio::spawn(rotate_token_keys(
                KeyRotation {
                    identities: Arc::clone(&identities),
                    store: Arc::clone(&store),
                    master: master.clone(),
                    clock: Arc::clone(&clock),
                    policy: rotation,
                },
                trigger,
            )),
        ];
        let feed = follower.map(|f| {
            background.push(f.task);
            f.health
        });
        let mut state = AppState::new(
            store,
            identities,
            master,
            clock,
            config.limits.clone(),
            operator,
        );
        state.feed = feed;
        if let Some(url) = &config.replay_redis {
            state.shared_replay = Some(SharedReplay::new(&url.0, state.operator.as_str())?);
        }
        let state = Arc::new(state);
        let limits = &config.limits;
        if let Some(soft) = crate::state::nofile_soft_limit() {
            // The store, the logs and the listeners need descriptors too.
            if limits.max_connections.saturating_add(64) > soft {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    open_files_limit = soft,
                    "the connection cap leaves too few file descriptors; lower it or raise the open-files limit (ulimit -n)"
                );
            }
        }
        let connections = Connections::new(limits.max_connections);
        let settings = connections.settings(limits);
        let mut endpoints = Vec::new();
        let mut listeners = Vec::new();

        let main = bind(config.listen)?;
        let main_addr = main.local_addr()?;
        let tls = match &config.tls {
            Some(source) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                source,
                &config.data_dir,
            )?)),
            None => None,
        };
        let secure = tls.is_some();
        let app = router(Arc::clone(&state), Transport { secure });
        listeners.push(Listener {
            socket: main,
            tls,
            app,
        });
        endpoints.push(Endpoint {
            addr: main_addr,
            secure,
        });
        if let Some(addr) = config.http_listen {
            let l = bind(addr)?;
            endpoints.push(Endpoint {
                addr: l.local_addr()?,
                secure: false,
            });
            let app = router(Arc::clone(&state), Transport { secure: false });
            listeners.push(Listener {
                socket: l,
                tls: None,
                app,
            });
        }
        let metrics = match config.metrics_listen {
            Some(addr) => {
                let l = bind(addr)?;
                let bound = l.local_addr()?;
                let app = crate::metrics::router(Arc::clone(&state));
                background.push(tokio::spawn(async move {
                    if let Err(e) = axum::serve(l, app).await {
                        tracing::error!(error = %e, "the metrics listener failed");
                    }
                }));
                Some(bound)
            }
            None => None,
        };
        let accept_loop = connections.serve(listeners, settings);
        Ok(Server {
            endpoints,
            metrics,
            initialized,
            state,
            connections,
            accept_loop,
            grace: config.shutdown_grace,
            background,
            _lock: lock,
        })
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then closes
    /// the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.connections.drain();
        // The loop returns at once when told to drain, dropping (closing) the listeners.
        self.accept_loop.await.context("the accept loop failed")?;
        self.connections.finish(self.grace).await;
        for t in self.background {
            t.abort();
        }
        self.state
            .store
            .close()
            .await
            .context("cannot close the store cleanly")?;
        Ok(())
    }
}

/// What the token-key rotation task works with.
struct KeyRotation {
    identities: Arc<IdentityCache>,
    store: Arc<dyn Store>,
    master: Arc<crate::keys::MasterKey>,
    clock: Arc<dyn Clock>,
    policy: tokens::RotationPolicy,
}

/// Replaces the token key when it is old enough or has sealed its share: woken by the trigger
/// the moment the share is reached, and every check interval for the age (and to retry a
/// rotation that failed). Requests go on sealing under the old key until the new one is
/// published; they never wait for this.
async fn rotate_token_keys(r: KeyRotation, trigger: Arc<tokens::SealTrigger>) {
    loop {
        let (current, usage) = {
            let ring = r.identities.keyring();
            (ring.current(), ring.current_usage())
        };
        let now = r.clock.now();
        if tokens::rotation_due(usage, &r.policy, now) {
            match tokens::rotate(r.store.as_ref(), &r.master, now, current).await {
                Ok(Some(id)) => {
                    let (created, seals) = usage.unwrap_or_default();
                    tracing::info!(
                        key_id = id,
                        replaced = current,
                        replaced_age_secs = now.saturating_sub(created),
                        replaced_seals = seals,
                        "rotated the token key"
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot rotate the token key"),
            }
            // Applied now rather than when the feed follower next looks: the old key seals
            // until then.
            if let Err(e) = r.identities.catch_up().await {
                tracing::warn!(error = %e, "cannot apply the token key rotation");
            }
            pause_after_rotation(&r.policy).await;
        }
        tokio::select! {
            () = trigger.fired() => {}
            () = tokio::time::sleep(r.policy.check_interval) => {}
        }
    }
}

/// After a rotation attempt, a short pause: a store that refuses writes is not hammered by a
/// trigger that keeps firing.
async fn pause_after_rotation(policy: &tokens::RotationPolicy) {
    tokio::time::sleep(policy.check_interval.min(Duration::from_secs(1))).await;
}

/// Drops the feed's entries older than the retention, once a minute.
async fn compact_feed(store: Arc<dyn Store>, retention: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match store.compact_changes(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(dropped = n, "compacted the change feed"),
            Err(e) => tracing::warn!(error = %e, "cannot compact the change feed"),
        }
    }
}
