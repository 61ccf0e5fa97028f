//! Connection deadlines and the connection cap (DESIGN decision 11): every phase of a connection
//! ends, over HTTP/1, HTTP/2 and TLS, and a flood of idle connections can neither exhaust file
//! descriptors nor keep signed requests out for longer than the idlers' deadline.
//!
//! Every read has an outer timeout, so a server that keeps a connection open fails the test
//! instead of hanging it.

use super::*;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Each connection deadline, short enough for a test.
const DEADLINE: Duration = Duration::from_millis(500);
/// How long a test waits for the server to close a connection: far beyond [`DEADLINE`], far
/// below "never".
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

fn quick() -> Limits {
    Limits {
        tls_handshake_timeout: DEADLINE,
        first_byte_timeout: DEADLINE,
        header_read_timeout: DEADLINE,
        keep_alive_timeout: DEADLINE,
        body_timeout: DEADLINE,
        // HTTP/2's own deadlines and bounds are tested here; it is off by default.
        http2_cleartext: true,
        ..Limits::default()
    }
}

fn addr(url: &str) -> String {
    url.split("://").nth(1).unwrap().to_string()
}

/// Reads until the server closes the connection (end of stream, or a reset) and returns what it
/// sent; panics if it is still open after [`CLOSED_WITHIN`] or was closed before `not_before`.
async fn until_closed<S: AsyncRead + Unpin>(
    s: &mut S,
    not_before: Duration,
    what: &str,
) -> Vec<u8> {
    let started = Instant::now();
    let mut got = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(CLOSED_WITHIN, read_all).await.is_err() {
        panic!("{what}: the server kept the connection open for {CLOSED_WITHIN:?}");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= not_before,
        "{what}: closed after {elapsed:?}, before its deadline"
    );
    got
}

/// The server still answers a signed request.
async fn still_serving(h: &TestServer) {
    let (s, v) = tokio::time::timeout(CLOSED_WITHIN, h.sts(&h.root, "GetCallerIdentity"))
        .await
        .expect("a signed request is answered");
    assert_eq!(s, 200, "{v}");
}

/// Well below the deadline, for the "not closed too early" check: timers never fire early, but
/// the server starts its clock a little before the client does (at accept, or at the end of
/// the TLS handshake), and a loaded machine can stretch that.
fn almost(d: Duration) -> Duration {
    d / 2
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let h = start_with(quick()).await;
    // Plain HTTP: nothing at all after connecting.
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    until_closed(&mut c, almost(DEADLINE), "silent HTTP").await;
    // The TLS listener: a TCP connection that never starts the handshake.
    let mut c = TcpStream::connect(addr(h.https())).await.unwrap();
    until_closed(&mut c, almost(DEADLINE), "no TLS handshake").await;
    still_serving(&h).await;
}

#[tokio::test]
async fn a_partial_request_head_is_closed() {
    let h = start_with(quick()).await;
    // Part of HTTP/2's connection preface: the server cannot yet tell HTTP/1 from HTTP/2.
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    until_closed(&mut c, almost(DEADLINE), "partial h2 preface").await;
    // An HTTP/1 head that never ends.
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let sent = until_closed(&mut c, almost(DEADLINE), "partial HTTP/1 head").await;
    assert!(
        !sent.starts_with(b"HTTP/1.1 200"),
        "no response to half a request"
    );
    still_serving(&h).await;
}

fn tls_connector(h: &TestServer) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_file(h.ca_file()).unwrap();
    roots.add(ca).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn a_silent_tls_connection_is_closed() {
    let h = start_with(quick()).await;
    let tcp = TcpStream::connect(addr(h.https())).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio::time::timeout(CLOSED_WITHIN, tls_connector(&h).connect(name, tcp))
        .await
        .expect("the handshake completes")
        .expect("the handshake succeeds");
    until_closed(&mut tls, almost(DEADLINE), "TLS, then nothing").await;
    still_serving(&h).await;
}

/// Sends `GET /health` on `c` and reads the whole answer.
async fn health_over(c: &mut TcpStream) {
    health_in_parts(c, Duration::ZERO).await
}

/// [`health_over`], with a pause after the request line (so that the server is waiting for
/// the rest of the head when it comes).
async fn health_in_parts(c: &mut TcpStream, pause: Duration) {
    c.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(pause).await;
    c.write_all(b"Host: x\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let answered = async {
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"{\"Status\":\"OK\"}") {
            let n = c.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before answering");
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(CLOSED_WITHIN, answered)
        .await
        .expect("the request is answered");
    assert!(got.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let h = start_with(quick()).await;
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    health_over(&mut c).await;
    until_closed(&mut c, almost(DEADLINE), "idle keep-alive").await;

    // The keep-alive deadline is shorter than the ones that ran before the request.
    let h = start_with(Limits {
        first_byte_timeout: Duration::from_secs(60),
        header_read_timeout: Duration::from_secs(60),
        ..quick()
    })
    .await;
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    health_in_parts(&mut c, Duration::from_millis(100)).await;
    until_closed(&mut c, almost(DEADLINE), "keep-alive after long deadlines").await;
    still_serving(&h).await;
}

#[tokio::test]
async fn a_stalled_head_on_a_kept_alive_connection_is_closed() {
    // The head deadline is shorter than the keep-alive deadline it interrupts.
    let h = start_with(Limits {
        keep_alive_timeout: Duration::from_secs(60),
        ..quick()
    })
    .await;
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    health_over(&mut c).await;
    c.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    until_closed(&mut c, almost(DEADLINE), "a stalled second head").await;
    still_serving(&h).await;
}

/// An HTTP/2 frame as (type, flags, stream id, payload).
type Frame = (u8, u8, u32, Vec<u8>);

/// HTTP/2 frames in `bytes`; a trailing partial frame is ignored.
fn h2_frames(mut bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while bytes.len() >= 9 {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
        let id = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        let end = (9 + len).min(bytes.len());
        frames.push((bytes[3], bytes[4], id, bytes[9..end].to_vec()));
        bytes = &bytes[end..];
    }
    frames
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK string literal (no Huffman coding).
fn hpack_string(s: &[u8]) -> Vec<u8> {
    // Integer with a 7-bit prefix (RFC 7541 §5.1).
    let mut out = Vec::new();
    if s.len() < 127 {
        out.push(s.len() as u8);
    } else {
        out.push(127);
        let mut rest = s.len() - 127;
        while rest >= 128 {
            out.push((rest % 128) as u8 | 0x80);
            rest /= 128;
        }
        out.push(rest as u8);
    }
    out.extend_from_slice(s);
    out
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
const GOAWAY: u8 = 7;
const HEADERS: u8 = 1;
const SETTINGS: u8 = 4;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

#[tokio::test]
async fn http2_is_refused_unless_enabled() {
    let h = start_with(Limits::default()).await;
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(H2_SETTINGS).await.unwrap();
    // GET / with :authority x, a whole request in one frame.
    let block = [0x82, 0x86, 0x84, 0x41, 1, b'x'];
    c.write_all(&frame(HEADERS, END_STREAM | END_HEADERS, 1, &block))
        .await
        .unwrap();
    let sent = until_closed(&mut c, Duration::ZERO, "h2c while it is off").await;
    let frames = h2_frames(&sent);
    let goaway = frames
        .iter()
        .find(|f| f.0 == GOAWAY)
        .unwrap_or_else(|| panic!("the server says goodbye: {frames:?}"));
    assert_eq!(&goaway.3[..4], &[0, 0, 0, 0], "no stream was processed");
    assert_eq!(
        &goaway.3[4..8],
        &0xdu32.to_be_bytes(),
        "HTTP_1_1_REQUIRED: {goaway:?}"
    );
    assert!(
        String::from_utf8_lossy(&goaway.3[8..]).contains("use HTTP/1.1"),
        "{goaway:?}"
    );
    assert!(
        !frames.iter().any(|f| f.0 == HEADERS),
        "the request is not answered: {frames:?}"
    );
    // HTTP/1 on the same listener is unaffected.
    still_serving(&h).await;
}

#[tokio::test]
async fn idle_http2_connections_and_unfinished_streams_end() {
    let h = start_with(quick()).await;
    // h2c with prior knowledge, and then no stream at all.
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(H2_SETTINGS).await.unwrap();
    let sent = until_closed(&mut c, almost(DEADLINE), "h2 without a stream").await;
    let frames = h2_frames(&sent);
    assert!(
        frames.iter().any(|f| f.0 == GOAWAY),
        "the server says goodbye: {frames:?}"
    );

    // A POST stream whose body never comes: answered when the body deadline passes, after which
    // the connection is idle and is closed.
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(H2_SETTINGS).await.unwrap();
    // HPACK: :method POST (static 3), :scheme http (6), :path / (4), :authority (1) literal.
    let mut block = vec![0x83, 0x86, 0x84, 0x41, 1, b'x'];
    // content-type (static 31) literal, without indexing.
    block.push(0x0f);
    block.push(31 - 15);
    let ct = b"application/x-www-form-urlencoded";
    block.push(ct.len() as u8);
    block.extend_from_slice(ct);
    let mut frame = vec![
        0,
        0,
        block.len() as u8,
        HEADERS,
        0x4, /* END_HEADERS */
        0,
        0,
        0,
        1,
    ];
    frame.extend_from_slice(&block);
    c.write_all(&frame).await.unwrap();
    let sent = until_closed(&mut c, almost(DEADLINE), "h2 stream without a body").await;
    let frames = h2_frames(&sent);
    assert!(
        frames.iter().any(|f| f.0 == HEADERS && f.2 == 1),
        "the stream is answered: {frames:?}"
    );
    assert!(frames.iter().any(|f| f.0 == GOAWAY), "{frames:?}");
    still_serving(&h).await;
}

/// Established connections the server holds on `port` (sockets that have been accepted: those
/// still in the listen backlog have no inode yet), from the kernel's own table.
fn server_held(port: u16) -> usize {
    let mut n = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let Some(local_port) = f
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok())
            else {
                continue;
            };
            let established = f.get(3) == Some(&"01");
            let accepted = f.get(9).is_some_and(|inode| *inode != "0");
            if local_port == port && established && accepted {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn the_connection_cap_holds_and_signed_requests_still_get_through() {
    const CAP: usize = 8;
    let h = start_with(Limits {
        max_connections: CAP,
        ..quick()
    })
    .await;
    let port: u16 = addr(h.http()).rsplit(':').next().unwrap().parse().unwrap();
    // More idlers than the cap; the kernel completes their TCP handshakes either way.
    let mut idlers = Vec::new();
    for _ in 0..CAP + 4 {
        idlers.push(TcpStream::connect(addr(h.http())).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut most = server_held(port);

    // A signed request queues behind the idlers and is served once their deadline frees slots.
    let started = Instant::now();
    let request = h.sts(&h.root, "GetCallerIdentity");
    tokio::pin!(request);
    let (s, v) = loop {
        tokio::select! {
            r = &mut request => break r,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {
                most = most.max(server_held(port));
                assert!(started.elapsed() < CLOSED_WITHIN, "the signed request was never served");
            }
        }
    };
    assert_eq!(s, 200, "{v}");
    assert!(
        most <= CAP,
        "the server held {most} connections, over its cap of {CAP}"
    );
    assert_eq!(most, CAP, "the idlers filled the server up to its cap");
    for mut c in idlers {
        until_closed(&mut c, Duration::ZERO, "an idler").await;
    }
    still_serving(&h).await;
}

#[tokio::test]
async fn http2_is_bounded_but_takes_requests_as_long_as_http1_does() {
    let h = start_with(quick()).await;
    let mut c = TcpStream::connect(addr(h.http())).await.unwrap();
    c.write_all(H2_PREFACE).await.unwrap();
    c.write_all(H2_SETTINGS).await.unwrap();
    // GET /health with a 20 KiB query (HTTP/1 takes up to 32 KiB): more than hyper's default
    // header list (16 KiB) and than one frame (16 KiB), so it continues in a second frame.
    let path = format!("/health?pad={}", "x".repeat(20 * 1024));
    let mut block = vec![0x82, 0x86, 0x41];
    block.extend(hpack_string(b"x"));
    // :path (static 4), literal without indexing.
    block.push(0x04);
    block.extend(hpack_string(path.as_bytes()));
    let (first, rest) = block.split_at(16 * 1024);
    c.write_all(&frame(HEADERS, END_STREAM, 1, first))
        .await
        .unwrap();
    c.write_all(&frame(CONTINUATION, END_HEADERS, 1, rest))
        .await
        .unwrap();
    let sent = until_closed(&mut c, Duration::ZERO, "h2 after one request").await;
    let frames = h2_frames(&sent);
    let settings = frames
        .iter()
        .find(|f| f.0 == SETTINGS && f.1 & 0x1 == 0)
        .expect("the server's SETTINGS");
    let setting = |id: u16| {
        settings.3.chunks(6).find_map(|e| {
            (u16::from_be_bytes([e[0], e[1]]) == id)
                .then(|| u32::from_be_bytes([e[2], e[3], e[4], e[5]]))
        })
    };
    assert_eq!(setting(0x3), Some(100), "SETTINGS_MAX_CONCURRENT_STREAMS");
    assert_eq!(
        setting(0x6),
        Some(32 * 1024 + 16 * 1024),
        "SETTINGS_MAX_HEADER_LIST_SIZE: the request-target limit and room for headers"
    );
    let response = frames
        .iter()
        .find(|f| f.0 == HEADERS && f.2 == 1)
        .unwrap_or_else(|| panic!("the request is answered: {frames:?}"));
    // HPACK static index 8 is `:status: 200`.
    assert_eq!(response.3.first(), Some(&0x88), "{response:?}");
    still_serving(&h).await;
}
