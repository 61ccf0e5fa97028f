//! One connection, from accept to close, with a deadline on every phase (DESIGN decision 11):
//!
//! 1. the TLS handshake ([`Limits::tls_handshake_timeout`]);
//! 2. the first byte ([`Limits::first_byte_timeout`]), counted once the connection is
//!    established (after TLS);
//! 3. each request head, counted from its first byte ([`Limits::header_read_timeout`]); for the
//!    first request this includes reading enough to tell HTTP/1 from HTTP/2's preface, which we
//!    do ourselves so that the deadline covers it and so that we know which protocol we serve;
//! 4. each body ([`Limits::body_timeout`], enforced by the handler, which answers
//!    `408 RequestTimeout`);
//! 5. the wait between requests ([`Limits::keep_alive_timeout`]): an HTTP/1 connection with no
//!    request in progress, or an HTTP/2 connection with no open stream.
//!
//! A watchdog ([`Activity`], run as a task of its own so that requests do not pay for it)
//! sees requests start and end (through the service) and the bytes that start a request head
//! (through the I/O), and knows which deadline applies. When it passes, the connection is shut down gracefully (an idle HTTP/1 connection closes at once,
//! one still writing a response closes after it; HTTP/2 sends a GOAWAY) and closed outright one
//! more [`Limits::keep_alive_timeout`] later, so that a response the client never reads cannot
//! hold it open. While a request is in progress no connection deadline runs: the handler
//! bounds its own work.
//!
//! HTTP/2 (with prior knowledge: TLS offers only HTTP/1.1) is served only when
//! [`Limits::http2_cleartext`] allows it; otherwise a connection that opens with its preface
//! is told to use HTTP/1.1 and closed. When served, it is further bounded by a stream limit, a
//! header-list size, and keep-alive pings that close a connection whose peer stops answering.

use crate::state::Limits;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Streams one HTTP/2 connection may have open at once (RFC 9113 recommends no fewer than 100).
const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Room in an HTTP/2 header list beyond the request target (headers, a V3 Authorization, a
/// SecurityToken): the target itself may take up to [`Limits::max_uri_bytes`].
const H2_HEADER_ROOM: usize = 16 * 1024;
/// HTTP/2's connection preface: a connection that starts with it speaks HTTP/2.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a refused HTTP/2 connection is given to read the refusal and close.
const H2_REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// How connections are served: deadlines and the protocol builders, shared by every connection
/// of a server.
pub(crate) struct ConnSettings {
    tls_handshake: Duration,
    first_byte: Duration,
    header_read: Duration,
    keep_alive: Duration,
    http2: bool,
    h1: http1::Builder,
    h2: http2::Builder<StreamExec>,
}

impl ConnSettings {
    /// Settings from `limits`; HTTP/2 streams run as tasks of `tasks`, ended by `stop`.
    pub(crate) fn new(limits: &Limits, tasks: TaskTracker, stop: CancellationToken) -> Self {
        let mut h1 = http1::Builder::new();
        // The watchdog times request heads (and the wait before them), counting from the first
        // byte; hyper's own header timer would start with the wait and cut keep-alive short.
        h1.timer(TokioTimer::new()).header_read_timeout(None);
        let mut h2 = http2::Builder::new(StreamExec { tasks, stop });
        let header_list = limits.max_uri_bytes.saturating_add(H2_HEADER_ROOM);
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
            .max_header_list_size(u32::try_from(header_list).unwrap_or(u32::MAX))
            .keep_alive_interval(limits.keep_alive_timeout)
            .keep_alive_timeout(limits.keep_alive_timeout);
        ConnSettings {
            tls_handshake: limits.tls_handshake_timeout,
            first_byte: limits.first_byte_timeout,
            header_read: limits.header_read_timeout,
            keep_alive: limits.keep_alive_timeout,
            http2: limits.http2_cleartext,
            h1,
            h2,
        }
    }
}

/// What a connection needs besides its socket.
pub(crate) struct Context {
    /// The client's address, for the handler (`ConnectInfo`).
    pub(crate) peer: SocketAddr,
    /// The listener's router.
    pub(crate) app: Router,
    /// Deadlines and builders.
    pub(crate) settings: Arc<ConnSettings>,
    /// Finish in-flight requests, then close.
    pub(crate) drain: CancellationToken,
    /// Close now.
    pub(crate) stop: CancellationToken,
}

/// Serves one accepted connection until it closes or a deadline closes it.
pub(crate) async fn serve(tcp: TcpStream, tls: Option<TlsAcceptor>, ctx: Context) {
    let Some(acceptor) = tls else {
        return serve_http(tcp, ctx).await;
    };
    let handshake = tokio::time::timeout(ctx.settings.tls_handshake, acceptor.accept(tcp));
    let stream = tokio::select! {
        stream = handshake => stream,
        _ = ctx.drain.cancelled() => return,
    };
    match stream {
        Ok(Ok(stream)) => serve_http(stream, ctx).await,
        Ok(Err(e)) => tracing::debug!(peer = %ctx.peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %ctx.peer, "TLS handshake timed out"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

async fn serve_http<S>(io: S, ctx: Context)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new(&ctx.settings));
    let mut io = Observed::new(io, Arc::clone(&activity));
    let mut event = watch(&activity, &ctx);
    let protocol = tokio::select! {
        biased;
        protocol = detect(&mut io) => match protocol {
            Ok(p) => p,
            // The client left before sending enough to tell.
            Err(_) => return,
        },
        // A deadline passed, or the server is stopping: nothing has been asked yet.
        event = &mut event => {
            if event == Ok(Event::Expired) {
                tracing::debug!(peer = %ctx.peer, "closed a connection that sent no request in time");
            }
            return;
        }
    };
    if protocol == Protocol::Http2 && !ctx.settings.http2 {
        tracing::debug!(peer = %ctx.peer, "refused HTTP/2 (not enabled)");
        return refuse_http2(io).await;
    }
    let service = ConnService {
        app: ctx.app.clone(),
        peer: ctx.peer,
        activity: Arc::clone(&activity),
    };
    let io = TokioIo::new(io);
    match protocol {
        Protocol::Http1 => {
            let conn = ctx.settings.h1.serve_connection(io, service);
            drive(conn, &activity, &ctx, event).await
        }
        Protocol::Http2 => {
            // HTTP/2 frames (pings, window updates) arrive between requests: only streams count.
            activity.stop_timing_heads();
            let conn = ctx.settings.h2.serve_connection(io, service);
            drive(conn, &activity, &ctx, event).await
        }
    }
}

/// Reads until the bytes either are HTTP/2's preface or cannot be; what was read is replayed
/// to the protocol that follows.
async fn detect<S: AsyncRead + Unpin>(io: &mut Observed<S>) -> io::Result<Protocol> {
    let mut head = Vec::with_capacity(H2_PREFACE.len());
    let mut buf = [0u8; H2_PREFACE.len()];
    let protocol = loop {
        let n = io.read(&mut buf[..H2_PREFACE.len() - head.len()]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if !H2_PREFACE.starts_with(&head) {
            break Protocol::Http1;
        }
        if head.len() == H2_PREFACE.len() {
            break Protocol::Http2;
        }
    };
    io.replay(head);
    Ok(protocol)
}

/// Refuses a connection that opened with HTTP/2's preface while HTTP/2 is off: the server's
/// preface (an empty SETTINGS frame, which must come first), then a GOAWAY with
/// `HTTP_1_1_REQUIRED`, which tells an HTTP/2 client to retry over HTTP/1.1 (RFC 9113 §7).
async fn refuse_http2<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    let refuse = async {
        io.write_all(&h2_refusal()).await?;
        io.shutdown().await?;
        // Read what the client still sends until it closes: closing with unread bytes would
        // reset the connection, and the client could lose the GOAWAY.
        let mut sink = [0u8; 1024];
        while io.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(H2_REFUSAL_LINGER, refuse).await;
}

/// An empty SETTINGS frame and a GOAWAY (last stream 0, `HTTP_1_1_REQUIRED`) whose debug data
/// says why.
fn h2_refusal() -> Vec<u8> {
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    const HTTP_1_1_REQUIRED: u32 = 0xd;
    let why = b"HTTP/2 is not enabled on this server; use HTTP/1.1";
    let frame = |kind: u8, payload: &[u8]| {
        let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    };
    let mut goaway = 0u32.to_be_bytes().to_vec();
    goaway.extend_from_slice(&HTTP_1_1_REQUIRED.to_be_bytes());
    goaway.extend_from_slice(why);
    let mut out = frame(SETTINGS, &[]);
    out.extend(frame(GOAWAY, &goaway));
    out
}

/// The two protocols' connections, as [`drive`] needs them.
trait Graceful: Future<Output = hyper::Result<()>> {
    /// Whether a graceful shutdown ends a connection that has had no request yet (an HTTP/2
    /// GOAWAY does; hyper's HTTP/1 keeps waiting for the first request).
    const ENDS_UNUSED: bool;

    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<S> Graceful for http1::Connection<TokioIo<Observed<S>>, ConnService>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    const ENDS_UNUSED: bool = false;

    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self)
    }
}

impl<S> Graceful for http2::Connection<TokioIo<Observed<S>>, ConnService, StreamExec>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    const ENDS_UNUSED: bool = true;

    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self)
    }
}

/// What the watchdog reports first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The connection's deadline passed.
    Expired,
    /// The server is shutting down gracefully.
    Drain,
    /// The server is closing every connection now.
    Stop,
}

/// Starts the connection's watchdog: a task of its own that reports the first of its deadline,
/// a drain or a stop. The connection's hot path then polls one cheap receiver besides hyper,
/// rather than timers and shutdown signals on every wake-up. The task ends once it has
/// reported, or when the connection ends (dropping the receiver).
fn watch(activity: &Arc<Activity>, ctx: &Context) -> oneshot::Receiver<Event> {
    let (mut report, event) = oneshot::channel();
    let (activity, drain, stop) = (Arc::clone(activity), ctx.drain.clone(), ctx.stop.clone());
    tokio::spawn(async move {
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => Event::Stop,
            _ = drain.cancelled() => Event::Drain,
            _ = activity.expired() => Event::Expired,
            _ = report.closed() => return,
        };
        let _ = report.send(first);
    });
    event
}

/// Runs a connection until it ends, its deadline passes, or the server stops.
async fn drive<C: Graceful>(
    conn: C,
    activity: &Activity,
    ctx: &Context,
    mut event: oneshot::Receiver<Event>,
) {
    tokio::pin!(conn);
    let ended = |ended: hyper::Result<()>| {
        if let Err(e) = ended {
            tracing::debug!(peer = %ctx.peer, error = %e, "connection ended with an error");
        }
    };
    // Serving: hyper, and the watchdog's report.
    let first = tokio::select! {
        biased;
        done = conn.as_mut() => return ended(done),
        // No report (the runtime is going away) counts as a stop.
        first = &mut event => first.unwrap_or(Event::Stop),
    };
    if first == Event::Stop {
        return;
    }
    // hyper's HTTP/1 keeps waiting for the first request of a connection that has had none.
    if !C::ENDS_UNUSED && activity.unused() {
        return;
    }
    // HTTP/1 closes at once unless a response is still being written; HTTP/2 sends a GOAWAY
    // so that the client opens no more streams here. Past a deadline, the rest must end
    // within one more keep-alive period; when draining, within the shutdown grace period.
    conn.as_mut().graceful_shutdown();
    let wind_down = || Some(tokio::time::Instant::now() + ctx.settings.keep_alive);
    let mut close_at = if first == Event::Expired {
        wind_down()
    } else {
        None
    };
    loop {
        tokio::select! {
            biased;
            _ = ctx.stop.cancelled() => return,
            done = conn.as_mut() => return ended(done),
            _ = sleep_until(close_at), if close_at.is_some() => return,
            _ = activity.expired(), if close_at.is_none() => close_at = wind_down(),
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a connection is doing, for its deadlines. Times are milliseconds since `origin` (the
/// connection established).
///
/// The watchdog ([`Activity::expired`]) sleeps until `armed` and then looks again; a change
/// wakes it early only if it makes the deadline earlier than `armed`, which requests never do
/// (see [`Activity::next_look`]). Requests therefore cost a few atomic operations, not a
/// wake-up and a timer reset each.
struct Activity {
    origin: Instant,
    first_byte: u64,
    header_read: u64,
    keep_alive: u64,
    in_flight: AtomicUsize,
    served: AtomicBool,
    idle_since: AtomicU64,
    /// When the first byte of the pending request head arrived, plus one (0: none).
    head_started: AtomicU64,
    /// The next byte read starts a request head.
    awaiting_head: AtomicBool,
    /// HTTP/1 (and detection) time request heads; HTTP/2 does not.
    times_heads: AtomicBool,
    /// When the watchdog will next look.
    armed: AtomicU64,
    changed: Notify,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Activity {
    fn new(settings: &ConnSettings) -> Self {
        Activity {
            origin: Instant::now(),
            first_byte: millis(settings.first_byte),
            header_read: millis(settings.header_read),
            keep_alive: millis(settings.keep_alive),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            awaiting_head: AtomicBool::new(true),
            times_heads: AtomicBool::new(true),
            armed: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.origin.elapsed())
    }

    /// Wakes the watchdog if the deadline is now earlier than when it will look.
    fn deadline_moved_to(&self, deadline: u64) {
        if deadline < self.armed.load(Ordering::SeqCst) {
            self.changed.notify_waiters();
        }
    }

    /// Bytes arrived from the client.
    fn on_read(&self) {
        // One relaxed load on every read; the rest only for a head's first byte.
        if self.awaiting_head.load(Ordering::Relaxed)
            && self.awaiting_head.swap(false, Ordering::SeqCst)
        {
            let now = self.now_ms();
            self.head_started.store(now + 1, Ordering::SeqCst);
            self.deadline_moved_to(now.saturating_add(self.header_read));
        }
    }

    fn stop_timing_heads(&self) {
        self.times_heads.store(false, Ordering::SeqCst);
        self.awaiting_head.store(false, Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// A request's head is in and its handler starts; the returned guard ends it. No deadline
    /// runs while it is in progress, so the watchdog need not hear of it.
    fn request_started(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.served.store(true, Ordering::SeqCst);
        self.awaiting_head.store(false, Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            let now = self.now_ms();
            self.idle_since.store(now, Ordering::SeqCst);
            if self.times_heads.load(Ordering::SeqCst) {
                self.awaiting_head.store(true, Ordering::SeqCst);
            }
            self.deadline_moved_to(now.saturating_add(self.keep_alive));
        }
    }

    /// No request has started on this connection.
    fn unused(&self) -> bool {
        !self.served.load(Ordering::SeqCst) && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// When the connection must close if nothing changes; `None` while a request is in progress.
    fn deadline(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let head = self.head_started.load(Ordering::SeqCst);
        if head != 0 {
            return Some((head - 1).saturating_add(self.header_read));
        }
        let wait = if self.served.load(Ordering::SeqCst) {
            self.keep_alive
        } else {
            self.first_byte
        };
        Some(self.idle_since.load(Ordering::SeqCst).saturating_add(wait))
    }

    /// When the watchdog should look next: the deadline, but no later than the shorter of the
    /// head and keep-alive periods from now. Every deadline that a request can bring (its head
    /// starting, its handler finishing) then lies at or beyond that look, so a busy connection
    /// never has to wake its watchdog; an idle one is looked at about once a period.
    fn next_look(&self, now: u64) -> u64 {
        let soon = now.saturating_add(self.header_read.min(self.keep_alive));
        self.deadline().map_or(soon, |d| d.min(soon))
    }

    /// Completes once the connection's deadline has passed.
    async fn expired(&self) {
        let sleep = tokio::time::sleep_until(self.origin.into());
        tokio::pin!(sleep);
        loop {
            // Registered before the state is read, so no wake-up between the two is missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.now_ms();
            if self.deadline().is_some_and(|d| now >= d) {
                return;
            }
            let at = self.next_look(now);
            self.armed.store(at, Ordering::SeqCst);
            // A change made before `armed` was visible to it did not wake us: look again.
            if self.next_look(now) < at {
                continue;
            }
            let deadline = self.origin + Duration::from_millis(at);
            sleep.as_mut().reset(deadline.into());
            tokio::select! {
                _ = changed => {}
                _ = &mut sleep => {}
            }
        }
    }
}

/// A request in progress; dropping it (the response is ready, or the request was abandoned)
/// ends it.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// The connection's socket (or TLS stream): reports incoming bytes to the watchdog, and first
/// replays the bytes protocol detection read.
struct Observed<S> {
    inner: S,
    replay: Vec<u8>,
    replayed: usize,
    activity: Arc<Activity>,
}

impl<S> Observed<S> {
    fn new(inner: S, activity: Arc<Activity>) -> Self {
        Observed {
            inner,
            replay: Vec::new(),
            replayed: 0,
            activity,
        }
    }

    fn replay(&mut self, bytes: Vec<u8>) {
        self.replay = bytes;
        self.replayed = 0;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Observed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.replayed < this.replay.len() {
            let rest = &this.replay[this.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.replayed += n;
            if this.replayed == this.replay.len() {
                this.replay = Vec::new();
                this.replayed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Observed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as one connection's hyper service: it tells the handler the peer's address
/// (`ConnectInfo`) and the watchdog when requests start and end.
#[derive(Clone)]
struct ConnService {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

/// The router's response future, holding the request's [`Busy`] until it is dropped (once the
/// response is ready, or when the request is abandoned).
struct Tracked<F> {
    response: F,
    _busy: Busy,
}

impl<F: Future + Unpin> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.response).poll(cx)
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Tracked<tower::util::Oneshot<Router, hyper::Request<Incoming>>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Tracked {
            _busy: self.activity.request_started(),
            response: tower::ServiceExt::oneshot(self.app.clone(), request),
        }
    }
}

/// Runs HTTP/2 streams as tracked tasks, so that shutdown waits for them and can end them.
#[derive(Clone)]
pub(crate) struct StreamExec {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl<F> hyper::rt::Executor<F> for StreamExec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, stream: F) {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = stream => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}
