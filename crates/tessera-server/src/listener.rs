//! Accepting connections: one loop over every listening socket, a connection cap shared by
//! all of them, and the shutdown that first drains connections and then closes what is left.
//!
//! The cap is enforced before `accept(2)`: the loop takes a slot, then accepts. At the cap it stops
//! accepting, so new connections wait in the kernel's listen backlog (where they hold no
//! descriptor of ours) until an open connection ends, by its client or by one of its deadlines
//! ([`crate::conn`]). Existing clients keep being served, descriptors are never exhausted, and
//! a queued client is served in turn rather than refused. Accept errors such as `EMFILE` (the
//! descriptors went elsewhere) pause the loop instead of spinning it.

use crate::conn::{self, ConnSettings};
use crate::state::Limits;
use axum::Router;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long an accept loop pauses after an error that is not about one connection (out of
/// descriptors or memory), so that it retries ten times a second rather than spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// At most one log line per this long for a repeated condition (the cap reached, accept failing).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A listening socket and how its connections are served.
pub(crate) struct Listener {
    /// The socket.
    pub(crate) socket: TcpListener,
    /// TLS, for an HTTPS listener.
    pub(crate) tls: Option<TlsAcceptor>,
    /// The router (it knows whether the listener is secure).
    pub(crate) app: Router,
}

/// Every connection of a server, over all its listeners: the cap, the tasks, and the shutdown
/// signals.
pub(crate) struct Connections {
    slots: Arc<Semaphore>,
    cap: usize,
    /// Connection tasks and the HTTP/2 stream tasks they spawn.
    tasks: TaskTracker,
    /// Stop accepting; finish in-flight requests and close connections as they become idle.
    drain: CancellationToken,
    /// Close every connection now.
    stop: CancellationToken,
    cap_log: Throttled,
    error_log: Throttled,
}

impl Connections {
    /// Room for `cap` connections at once.
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        let cap = cap.max(1);
        Arc::new(Connections {
            slots: Arc::new(Semaphore::new(cap)),
            cap,
            tasks: TaskTracker::new(),
            drain: CancellationToken::new(),
            stop: CancellationToken::new(),
            cap_log: Throttled::new(),
            error_log: Throttled::new(),
        })
    }

    /// How this server's connections are served, from `limits`.
    pub(crate) fn settings(&self, limits: &Limits) -> Arc<ConnSettings> {
        Arc::new(ConnSettings::new(
            limits,
            self.tasks.clone(),
            self.stop.clone(),
        ))
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.cap - self.slots.available_permits()
    }

    /// Starts the accept loop over `listeners`. One loop serves them all, so that a slot is
    /// taken only for a connection about to be accepted, whichever listener it comes to.
    pub(crate) fn serve(
        self: &Arc<Self>,
        listeners: Vec<Listener>,
        settings: Arc<ConnSettings>,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move { this.accept_loop(listeners, settings).await })
    }

    async fn accept_loop(self: Arc<Self>, listeners: Vec<Listener>, settings: Arc<ConnSettings>) {
        let mut first = 0;
        loop {
            // A slot first: at the cap, new connections wait in the backlog, not in our table.
            let slot = match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    if let Some(suppressed) = self.cap_log.due() {
                        tracing::warn!(
                            max_connections = self.cap,
                            suppressed,
                            "connection limit reached; new connections wait until one closes"
                        );
                    }
                    tokio::select! {
                        slot = Arc::clone(&self.slots).acquire_owned() => match slot {
                            Ok(slot) => slot,
                            // Never closed; if it were, accepting could not go on.
                            Err(_) => return,
                        },
                        _ = self.drain.cancelled() => return,
                    }
                }
            };
            // Listeners take turns at being asked first, so a busy one cannot starve the others.
            first = (first + 1) % listeners.len().max(1);
            let accept = std::future::poll_fn(|cx| {
                for i in (first..listeners.len()).chain(0..first) {
                    if let Poll::Ready(accepted) = listeners[i].socket.poll_accept(cx) {
                        return Poll::Ready((i, accepted));
                    }
                }
                Poll::Pending
            });
            let (which, tcp, peer) = tokio::select! {
                (which, accepted) = accept => match accepted {
                    Ok((tcp, peer)) => (which, tcp, peer),
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        if let Some(suppressed) = self.error_log.due() {
                            tracing::error!(error = %e, suppressed, "cannot accept connections");
                        }
                        drop(slot);
                        tokio::select! {
                            _ = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                            _ = self.drain.cancelled() => return,
                        }
                    }
                },
                _ = self.drain.cancelled() => return,
            };
            let listener = &listeners[which];
            // Requests and responses are small; Nagle's delay would only add latency.
            let _ = tcp.set_nodelay(true);
            let ctx = conn::Context {
                peer,
                app: listener.app.clone(),
                settings: Arc::clone(&settings),
                drain: self.drain.clone(),
                stop: self.stop.clone(),
            };
            let tls = listener.tls.clone();
            self.tasks.spawn(async move {
                conn::serve(tcp, tls, ctx).await;
                // The socket is closed by now; only then is its slot free.
                drop(slot);
            });
        }
    }

    /// Stops accepting and asks every connection to finish: idle ones close now, busy ones
    /// after their in-flight requests. Accept loops return once they see it.
    pub(crate) fn drain(&self) {
        self.drain.cancel();
    }

    /// Waits up to `grace` for every connection to close, then closes the rest.
    pub(crate) async fn finish(&self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.open(),
                "connections still busy after the shutdown grace period; closing them"
            );
            self.stop.cancel();
            self.tasks.wait().await;
        }
    }
}

/// Errors that concern only the connection being accepted; the next accept is unaffected.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Lets a repeated log line through at most once per [`LOG_EVERY`], counting the ones held back.
struct Throttled {
    origin: Instant,
    /// Milliseconds since `origin` of the last line let through, plus one (0: never).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttled {
    fn new() -> Self {
        Throttled {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when a line is due.
    fn due(&self) -> Option<u64> {
        self.due_at(self.origin.elapsed())
    }

    fn due_at(&self, since_origin: Duration) -> Option<u64> {
        let now = since_origin.as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        let every = LOG_EVERY.as_millis() as u64;
        let quiet = last != 0 && now < last + every;
        // Of several threads due at once, one logs.
        if quiet
            || self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_lines_are_throttled() {
        let t = Throttled::new();
        let at = Duration::from_secs(100);
        assert_eq!(t.due_at(at), Some(0));
        assert_eq!(t.due_at(at + Duration::from_secs(1)), None);
        assert_eq!(t.due_at(at + Duration::from_secs(9)), None);
        assert_eq!(
            t.due_at(at + LOG_EVERY),
            Some(2),
            "due again after the period, with the held-back lines counted"
        );
        assert_eq!(t.due_at(at + LOG_EVERY), None);
    }

    #[test]
    fn per_connection_errors_do_not_pause_accepting() {
        assert!(is_connection_error(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        // EMFILE: the loop must pause, not spin.
        assert!(!is_connection_error(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
    }
}
