//! The closed loop: N keep-alive HTTP/1.1 connections, one task each, sending requests back to
//! back for a warmup (discarded) and then the measured duration, and stopping by itself.
//!
//! A response counts in the phase in which it completed; one still in flight at the end is
//! dropped uncounted. Latency runs from handing the signed request to the connection until the
//! whole response body is in (signing happens before the clock starts), and is recorded in
//! microseconds in an HDR histogram per connection, merged at the end.
//!
//! Errors: a status other than 200; a 200 whose body carries a top-level `Code`; an I/O error;
//! a request slower than the timeout; a failed (re)connection. After an I/O error or a timeout
//! the connection is dropped and a new one made, so the loop keeps N connections.

use crate::cli::{Config, Workload};
use crate::signer::{health_request, NonceSource, PreparedRequest, Signer, TimestampCache};
use crate::target::Scheme;
use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_rustls::TlsConnector;

/// The highest latency the histogram tells apart, in microseconds (a minute); slower requests
/// are recorded as this.
const HISTOGRAM_MAX_US: u64 = 60_000_000;
/// The pause before a failed connection is tried again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// Counts of one phase (warmup or measurement).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Responses received, whatever their status.
    pub responses: u64,
    /// Responses whose status was not 200.
    pub status_errors: u64,
    /// 200 responses whose body carried a `Code`.
    pub code_errors: u64,
    /// Requests that failed on the connection (reset, closed, malformed response).
    pub io_errors: u64,
    /// Requests that took longer than the timeout.
    pub timeouts: u64,
    /// Connections that could not be (re)opened.
    pub connect_errors: u64,
}

impl Counts {
    /// Every kind of error together.
    pub fn errors(&self) -> u64 {
        self.status_errors + self.code_errors + self.io_errors + self.timeouts + self.connect_errors
    }

    fn add(&mut self, o: &Counts) {
        self.responses += o.responses;
        self.status_errors += o.status_errors;
        self.code_errors += o.code_errors;
        self.io_errors += o.io_errors;
        self.timeouts += o.timeouts;
        self.connect_errors += o.connect_errors;
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct Measurement {
    /// Counts of the measured period.
    pub counts: Counts,
    /// Latency of the measured period's responses, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Counts of the warmup, reported and otherwise ignored.
    pub warmup: Counts,
    /// The measured period.
    pub duration: Duration,
    /// The first error seen, described, for the log.
    pub first_error: Option<String>,
    /// CPU time this process used while loading (warmup and measurement), where known: a load
    /// generator near one full core per runtime thread may be what limits the rate.
    pub cpu: Option<Duration>,
    /// Wall time of the warmup and the measurement together.
    pub loaded_for: Duration,
}

/// CPU time (user and system) this process has used, from `/proc/self/stat` (Linux only).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count fields after its end. The
    // field after `)` is the state (field 3); utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc counts in USER_HZ, which is 100 on every architecture this tool targets.
    Some(Duration::from_millis(ticks * 10))
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3).expect("valid histogram bounds")
}

/// Opens connections to the target.
#[derive(Clone)]
pub struct Connector {
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

struct Conn {
    sender: SendRequest<Empty<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connector {
    /// Resolves the configured target (loopback only) and prepares TLS if asked for.
    pub fn new(config: &Config) -> anyhow::Result<Connector> {
        let tls = match (config.target.scheme, &config.ca) {
            (Scheme::Http, _) => None,
            (Scheme::Https, None) => bail!("an https URL needs --ca FILE"),
            (Scheme::Https, Some(ca)) => {
                let name = ServerName::try_from(config.target.host.clone())
                    .with_context(|| format!("{} is not a TLS server name", config.target.host))?;
                Some((TlsConnector::from(tls_config(ca)?), name))
            }
        };
        Ok(Connector {
            addr: config.target.resolve()?,
            tls,
        })
    }

    async fn connect(&self) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => handshake(TokioIo::new(tcp)).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {} failed", self.addr))?;
                handshake(TokioIo::new(tls)).await
            }
        }
    }
}

/// A TLS client trusting only the CA certificates in `ca` (PEM), speaking HTTP/1.1.
fn tls_config(ca: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("cannot read the CA file {}", ca.display()))?
    {
        let cert = cert.with_context(|| format!("{} is not PEM", ca.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{} holds a certificate rustls refuses", ca.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", ca.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no default protocol version")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn handshake<T>(io: T) -> anyhow::Result<Conn>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io).await?;
    let driver = tokio::spawn(async move {
        // Its errors surface on the next request; nothing to do with them here.
        let _ = connection.await;
    });
    Ok(Conn { sender, driver })
}

/// Where a connection's requests come from.
enum Source {
    Health(PreparedRequest),
    Signed {
        signer: Arc<Signer>,
        nonces: NonceSource,
        timestamps: TimestampCache,
    },
}

impl Source {
    fn next_request(&mut self) -> anyhow::Result<Request<Empty<Bytes>>> {
        let prepared = match self {
            Source::Health(r) => r.clone(),
            Source::Signed {
                signer,
                nonces,
                timestamps,
            } => signer.sign(nonces.next_nonce(), timestamps.now()),
        };
        let mut b = Request::builder()
            .method(prepared.method)
            .uri(prepared.path_and_query);
        for (name, value) in prepared.headers {
            b = b.header(name, value);
        }
        b.body(Empty::new())
            .context("the request cannot be sent (a header or parameter is not valid in HTTP)")
    }
}

/// State every connection task shares.
struct Shared {
    connector: Connector,
    measure_start: Instant,
    end: Instant,
    timeout: Duration,
    /// For progress lines: responses and errors so far, in any phase.
    responses: AtomicU64,
    errors: AtomicU64,
}

struct TaskResult {
    measured: Counts,
    warmup: Counts,
    latency_us: Histogram<u64>,
    first_error: Option<String>,
}

/// Whether a response body carries a top-level `Code`, which only error bodies have. The
/// substring test keeps the common case (no `Code` anywhere) from parsing JSON.
pub fn body_has_code(body: &[u8]) -> bool {
    let body = body.trim_ascii_start();
    match body.first() {
        Some(b'{') => {
            contains(body, b"\"Code\"")
                && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
                    .map(|m| m.contains_key("Code"))
                    .unwrap_or(true)
        }
        Some(b'<') => contains(body, b"<Code>"),
        _ => false,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn describe_response(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    // A signature mismatch echoes the string to sign, SecurityToken included.
    let text = tessera_protocol::error::without_string_to_sign(&text);
    let short: String = text.chars().take(400).collect();
    format!("HTTP {status}: {short}")
}

async fn exchange(
    sender: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

async fn connection_task(
    mut conn: Option<Conn>,
    mut source: Source,
    shared: Arc<Shared>,
) -> TaskResult {
    let mut measured = Counts::default();
    let mut warmup = Counts::default();
    let mut latency_us = new_histogram();
    let mut first_error: Option<String> = None;
    let end = shared.end;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let counts = if now < shared.measure_start {
            &mut warmup
        } else {
            &mut measured
        };
        let Some(c) = conn.as_mut() else {
            match timeout_at(end.min(now + shared.timeout), shared.connector.connect()).await {
                Ok(Ok(c)) => {
                    conn = Some(c);
                    continue;
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert_with(|| format!("{e:#}"));
                }
                Err(_) if Instant::now() >= end => break,
                Err(_) => {
                    first_error.get_or_insert_with(|| "connecting timed out".to_string());
                }
            }
            counts.connect_errors += 1;
            shared.errors.fetch_add(1, Ordering::Relaxed);
            sleep_until(end.min(Instant::now() + RECONNECT_PAUSE)).await;
            continue;
        };
        let request = match source.next_request() {
            Ok(r) => r,
            Err(e) => {
                // The same for every request: no point in going on.
                first_error.get_or_insert_with(|| format!("{e:#}"));
                counts.io_errors += 1;
                break;
            }
        };
        let started = Instant::now();
        let outcome = timeout_at(
            end.min(started + shared.timeout),
            exchange(&mut c.sender, request),
        )
        .await;
        let done = Instant::now();
        if done >= end {
            // Finished, failed or cut off at the end: outside the window either way.
            break;
        }
        let in_window = done >= shared.measure_start;
        let counts = if in_window {
            &mut measured
        } else {
            &mut warmup
        };
        match outcome {
            Ok(Ok((status, body))) => {
                counts.responses += 1;
                shared.responses.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    let us = u64::try_from((done - started).as_micros()).unwrap_or(u64::MAX);
                    latency_us.saturating_record(us.max(1));
                }
                let failed = if status != StatusCode::OK {
                    counts.status_errors += 1;
                    true
                } else if body_has_code(&body) {
                    counts.code_errors += 1;
                    true
                } else {
                    false
                };
                if failed {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    first_error.get_or_insert_with(|| describe_response(status, &body));
                }
            }
            Ok(Err(e)) => {
                counts.io_errors += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert_with(|| format!("connection error: {e}"));
                conn = None;
            }
            Err(_) => {
                counts.timeouts += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert_with(|| {
                    format!(
                        "a request took longer than {:.1} s",
                        shared.timeout.as_secs_f64()
                    )
                });
                conn = None;
            }
        }
    }
    TaskResult {
        measured,
        warmup,
        latency_us,
        first_error,
    }
}

async fn report_progress(shared: Arc<Shared>, start: Instant, label: String) {
    let mut tick = start;
    let mut last = 0;
    loop {
        tick += Duration::from_secs(1);
        if tick > shared.end {
            break;
        }
        sleep_until(tick).await;
        let now = shared.responses.load(Ordering::Relaxed);
        let phase = if tick <= shared.measure_start {
            "warmup "
        } else {
            "measure"
        };
        eprintln!(
            "[{label} {:>5.1}s {phase}] {:>9} req/s, {} errors so far",
            (tick - start).as_secs_f64(),
            now - last,
            shared.errors.load(Ordering::Relaxed)
        );
        last = now;
    }
}

/// Runs `workload` against the configured target: opens every connection first (failing if
/// the server cannot be reached), then loads it for the warmup and the duration.
pub async fn run(config: &Config, workload: &Workload) -> anyhow::Result<Measurement> {
    let connector = Connector::new(config)?;
    let mut opening = JoinSet::new();
    for _ in 0..config.connections {
        let c = connector.clone();
        let limit = config.timeout;
        opening.spawn(async move {
            tokio::time::timeout(limit, c.connect())
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("connecting timed out")))
        });
    }
    let mut conns = Vec::with_capacity(config.connections as usize);
    while let Some(joined) = opening.join_next().await {
        conns.push(joined.context("a connecting task failed")??);
    }

    let signer = match workload {
        Workload::Health => None,
        Workload::Api(call) => Some(Arc::new(Signer::new(call, &config.target.authority))),
    };
    // Shared by this run's connections, different in every run: nonces never repeat, even
    // across runs against the same server.
    let prefix: u64 = rand::random();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let measure_start = start + config.warmup;
    let shared = Arc::new(Shared {
        connector,
        measure_start,
        end: measure_start + config.duration,
        timeout: config.timeout,
        responses: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let progress = config.progress.then(|| {
        tokio::spawn(report_progress(
            Arc::clone(&shared),
            start,
            workload.name().to_string(),
        ))
    });
    let mut tasks = JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let source = match &signer {
            None => Source::Health(health_request(&config.target.authority)),
            Some(s) => Source::Signed {
                signer: Arc::clone(s),
                nonces: NonceSource::new(prefix, u16::try_from(i).unwrap_or(u16::MAX)),
                timestamps: TimestampCache::default(),
            },
        };
        tasks.spawn(connection_task(Some(conn), source, Arc::clone(&shared)));
    }

    let mut measured = Counts::default();
    let mut warmup = Counts::default();
    let mut latency_us = new_histogram();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let r = joined.context("a connection task failed")?;
        measured.add(&r.measured);
        warmup.add(&r.warmup);
        latency_us
            .add(&r.latency_us)
            .expect("histograms with the same bounds add");
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    let loaded_for = start.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(Measurement {
        counts: measured,
        latency_us,
        warmup,
        duration: config.duration,
        first_error,
        cpu,
        loaded_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_recognised() {
        for (body, code) in [
            (&br#"{"Status":"OK"}"#[..], false),
            (br#"{"RequestId":"x","Arn":"acs:ram::1:root"}"#, false),
            (
                br#"{"RequestId":"x","Code":"InvalidParameter","Message":"m"}"#,
                true,
            ),
            (br#"  {"Code":"Throttling"}"#, true),
            (br#"{"Arn":"\"Code\" in a value"}"#, false),
            (br#"{"Nested":{"Code":"x"}}"#, false),
            (br#"{"Code": broken"#, true),
            (b"<?xml version='1.0'?><Error><Code>X</Code></Error>", true),
            (
                b"<GetCallerIdentityResponse><Arn>a</Arn></GetCallerIdentityResponse>",
                false,
            ),
            (b"", false),
            (b"plain text", false),
        ] {
            assert_eq!(
                body_has_code(body),
                code,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn own_cpu_time_is_readable() {
        let a = process_cpu().expect("/proc/self/stat");
        // Spin until the count moves (it has 10 ms steps); a busy machine may take a while.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while process_cpu().unwrap() <= a {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "CPU time never moved"
            );
        }
    }

    #[test]
    fn counts_add_up() {
        let mut a = Counts {
            responses: 5,
            status_errors: 1,
            code_errors: 1,
            io_errors: 1,
            timeouts: 1,
            connect_errors: 1,
        };
        assert_eq!(a.errors(), 5);
        a.add(&a.clone());
        assert_eq!((a.responses, a.errors()), (10, 10));
    }
}
