//! # tessera-testkit
//!
//! Test support for Tessera's integration tests, used only as a dev-dependency: the real server
//! booted in-process over a temporary data directory on ephemeral 127.0.0.1 ports, and the
//! helpers the tests share to talk to it the way the official clients do (RPC v1 with its
//! parameter placements and canonicalisations, V3), plus a second connection to the server's
//! SQLite file for tests that must look at or seed what is stored.
//!
//! ```no_run
//! # async fn example() {
//! use tessera_testkit::TestServer;
//!
//! let h = TestServer::start().await; // HTTPS (self-signed CA) and plain HTTP, a manual clock
//! let (status, v) = h.sts(&h.root, "GetCallerIdentity").await;
//! assert_eq!(status, 200);
//! assert_eq!(v["AccountId"], h.account.as_str());
//!
//! let dev = h.user_with_key("dev").await;
//! h.clock().advance(60);
//! let (status, _) = h.ram(&dev, "ListUsers", &[]).await;
//! assert_eq!(status, 403);
//! # }
//! ```
//!
//! [`TestServer::builder`] varies what the tests vary: the listeners ([`Listeners`]), the
//! server's [`Limits`], the clock (manual by default, or the system's) and the shutdown grace.

// Test support: a server that does not start, a request that cannot be sent or an answer that
// is not what the helper was told to expect is the calling test's failure, so this crate states
// its expectations with unwrap and panic as the tests themselves do.
#![allow(clippy::unwrap_used, clippy::panic)]

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_protocol::encoding::{encode, Canonicalization};
use tessera_protocol::{timestamp, v1, v3};
use tessera_server::clock::{Clock, ManualClock, SystemClock};
use tessera_server::{Limits, Server, ServerConfig, TlsSource};

/// The RAM API version.
pub const RAM_VERSION: &str = "2015-05-01";
/// The STS API version.
pub const STS_VERSION: &str = "2015-04-01";

/// An AccessKey, and the SecurityToken that goes with it when it is an STS session's.
#[derive(Clone)]
pub struct Creds {
    /// The AccessKeyId.
    pub id: String,
    /// The AccessKeySecret.
    pub secret: String,
    /// The SecurityToken of a session; the request helpers send it (`SecurityToken` in RPC v1,
    /// `x-acs-security-token` in V3) unless the request names one itself.
    pub token: Option<String>,
}

impl Creds {
    /// A long-term AccessKey (no token).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Creds {
        Creds {
            id: id.into(),
            secret: secret.into(),
            token: None,
        }
    }

    /// Reads `AccessKeyId`, `AccessKeySecret` and, when present, `SecurityToken` of a JSON
    /// object: `root-credentials.json`, a `CreateAccessKey` answer's `AccessKey`, an
    /// `AssumeRole` answer's `Credentials`.
    pub fn from_json(v: &Value) -> Creds {
        Creds {
            id: v["AccessKeyId"].as_str().expect("an AccessKeyId").into(),
            secret: v["AccessKeySecret"]
                .as_str()
                .expect("an AccessKeySecret")
                .into(),
            token: v["SecurityToken"].as_str().map(String::from),
        }
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A `SignatureNonce` never used before in this process.
pub fn nonce() -> String {
    format!(
        "{:016x}{:016x}",
        std::process::id(),
        NONCE.fetch_add(1, Ordering::SeqCst)
    )
}

/// `name=value&...`, each side percent-encoded as RFC 3986 asks (a query string or a form body).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Code` of an error answer, `""` when there is none.
pub fn code(v: &Value) -> &str {
    v["Code"].as_str().unwrap_or("")
}

/// Where an RPC v1 request carries its parameters, as the official clients differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Everything in the query (py-core, tea-v2, py-cred).
    Query,
    /// Everything in a form body (pop-core POST).
    Form,
    /// Signature params in the query, business params in the form (node-cred, credentials-go).
    Split,
}

/// The parameters [`Place::Split`] keeps in the query: the ones of the signature.
pub const SIGNATURE_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "SignatureType",
    "Signature",
];

/// The listeners a [`TestServer`] opens, each on an ephemeral 127.0.0.1 port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listeners {
    /// HTTPS with a certificate from the data directory's self-signed CA, and a second,
    /// plain-HTTP listener (the default).
    HttpsAndHttp,
    /// HTTPS (self-signed CA) only.
    Https,
    /// Plain HTTP only.
    Http,
}

/// How a [`TestServer`] is started; from [`TestServer::builder`].
#[derive(Clone, Debug)]
pub struct Builder {
    listeners: Listeners,
    limits: Limits,
    manual_clock: bool,
    shutdown_grace: Duration,
    metrics: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            listeners: Listeners::HttpsAndHttp,
            limits: Limits::default(),
            manual_clock: true,
            shutdown_grace: Duration::from_secs(5),
            metrics: false,
        }
    }
}

impl Builder {
    /// Which listeners to open (default [`Listeners::HttpsAndHttp`]).
    pub fn listeners(mut self, listeners: Listeners) -> Builder {
        self.listeners = listeners;
        self
    }

    /// The server's limits (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.limits = limits;
        self
    }

    /// Runs the server on the operating system's clock instead of a [`ManualClock`] that only
    /// moves when the test moves it (the default, showing the system's time at start).
    pub fn system_clock(mut self) -> Builder {
        self.manual_clock = false;
        self
    }

    /// How long a shutdown waits for requests in flight (default 5 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Builder {
        self.shutdown_grace = grace;
        self
    }

    /// Also serves Prometheus metrics, on a loopback port of their own ([`TestServer::metrics_url`]).
    pub fn metrics(mut self) -> Builder {
        self.metrics = true;
        self
    }

    /// Starts the server over a new temporary data directory and reads the root's credentials
    /// it wrote there.
    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let (tls, http_listen) = match self.listeners {
            Listeners::HttpsAndHttp => (true, Some(loopback())),
            Listeners::Https => (true, None),
            Listeners::Http => (false, None),
        };
        let config = ServerConfig {
            http_listen,
            tls: tls.then(|| TlsSource::SelfSigned {
                extra_names: vec![],
            }),
            limits: self.limits,
            shutdown_grace: self.shutdown_grace,
            metrics_listen: self.metrics.then(loopback),
            ..config(dir.path())
        };
        let manual = self
            .manual_clock
            .then(|| Arc::new(ManualClock::new(SystemClock.now())));
        let clock: Arc<dyn Clock> = match &manual {
            Some(m) => m.clone(),
            None => Arc::new(SystemClock),
        };
        let server = Server::start(config, Arc::clone(&clock))
            .await
            .expect("the server starts");
        let mut http = None;
        let mut https = None;
        for e in &server.endpoints {
            let url = e.url();
            let (slot, scheme) = if e.secure {
                (&mut https, "https")
            } else {
                (&mut http, "http")
            };
            assert!(url.starts_with(&format!("{scheme}://127.0.0.1:")), "{url}");
            assert!(slot.replace(url).is_none(), "one listener of each kind");
        }
        let https_client = https.as_ref().map(|_| {
            let ca = std::fs::read(dir.path().join("tls/ca.pem")).expect("the server's CA");
            Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .build()
                .unwrap()
        });
        let root: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("root-credentials.json"))
                .expect("root-credentials.json"),
        )
        .unwrap();
        TestServer {
            server: Some(server),
            dir,
            manual,
            clock,
            http,
            https,
            http_client: Client::new(),
            https_client,
            account: root["AccountId"].as_str().unwrap().into(),
            root: Creds::from_json(&root),
        }
    }
}

fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A server configuration over `data_dir`: plain HTTP only, on an ephemeral 127.0.0.1 port,
/// default limits, a 5 s shutdown grace. For the tests that start a [`Server`] themselves (a
/// second server on a directory in use, an operator's own certificate): they change what they
/// test with `ServerConfig { tls: ..., ..config(dir) }`.
pub fn config(data_dir: impl Into<PathBuf>) -> ServerConfig {
    ServerConfig {
        data_dir: data_dir.into(),
        listen: loopback(),
        http_listen: None,
        tls: None,
        limits: Limits::default(),
        shutdown_grace: Duration::from_secs(5),
        change_retention: tessera_server::server::DEFAULT_CHANGE_RETENTION,
        metrics_listen: None,
        store: tessera_server::StoreConfig::Sqlite,
        replay_redis: None,
    }
}

/// The real server, running in-process over a temporary data directory (removed when this is
/// dropped), with what a test needs to reach it.
pub struct TestServer {
    // Declared before `dir`: dropped (and its files closed) before the directory is removed.
    server: Option<Server>,
    dir: tempfile::TempDir,
    manual: Option<Arc<ManualClock>>,
    clock: Arc<dyn Clock>,
    http: Option<String>,
    https: Option<String>,
    /// A client for plain HTTP.
    pub http_client: Client,
    https_client: Option<Client>,
    /// The first account's id (the operator's account).
    pub account: String,
    /// That account's root AccessKey, as the server wrote it to `root-credentials.json`.
    pub root: Creds,
}

impl TestServer {
    /// Starts a server with the defaults of [`Builder`]: HTTPS and plain HTTP, default limits,
    /// a manual clock, a 5 s shutdown grace.
    pub async fn start() -> TestServer {
        Builder::default().start().await
    }

    /// A builder, to start a server that differs from the default.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The running server (its endpoints and shared state).
    ///
    /// Panics after [`TestServer::shutdown`].
    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the server was shut down")
    }

    /// Shuts the server down gracefully (stops listening, waits for requests in flight, closes
    /// the store); the data directory stays until this is dropped.
    pub async fn shutdown(&mut self) {
        let server = self
            .server
            .take()
            .expect("the server was shut down already");
        server.shutdown().await.expect("a clean shutdown");
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `root-credentials.json` in the data directory.
    pub fn credentials_file(&self) -> PathBuf {
        self.dir().join("root-credentials.json")
    }

    /// The PEM file of the CA that signed the HTTPS listener's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("tls/ca.pem")
    }

    /// The contents of [`TestServer::ca_file`].
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.ca_file()).expect("the server's CA")
    }

    /// The server's SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir().join("tessera.db")
    }

    /// A second connection to the server's database, waiting up to 5 s for its locks.
    pub fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.db_path()).expect("the server's database");
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c
    }

    /// The server's clock, to set or move it.
    ///
    /// Panics when the server was started with [`Builder::system_clock`].
    pub fn clock(&self) -> &ManualClock {
        self.manual
            .as_deref()
            .expect("this server runs on the system clock")
    }

    /// The server's time, Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `http://127.0.0.1:<port>`, the plain-HTTP listener.
    ///
    /// Panics when the server has none ([`Listeners::Https`]).
    pub fn http(&self) -> &str {
        self.http
            .as_deref()
            .expect("this server has no plain-HTTP listener")
    }

    /// `http://127.0.0.1:<port>/metrics`, where the server serves its metrics.
    ///
    /// Panics unless the server was built with [`Builder::metrics`].
    pub fn metrics_url(&self) -> String {
        let addr = self
            .server()
            .metrics
            .expect("this server was started without metrics");
        format!("http://{addr}/metrics")
    }

    /// `https://127.0.0.1:<port>`, the HTTPS listener.
    ///
    /// Panics when the server has none ([`Listeners::Http`]).
    pub fn https(&self) -> &str {
        self.https
            .as_deref()
            .expect("this server has no HTTPS listener")
    }

    /// A client for HTTPS that trusts the server's CA.
    ///
    /// Panics when the server has no HTTPS listener ([`Listeners::Http`]).
    pub fn https_client(&self) -> &Client {
        self.https_client
            .as_ref()
            .expect("this server has no HTTPS listener")
    }

    /// The common parameters of an RPC v1 request signed by `c` (JSON, HMAC-SHA1, a fresh
    /// nonce, the system clock's time, the session's `SecurityToken` if `c` has one), then
    /// `params`, each of which replaces a common one of the same name.
    pub fn v1_params(
        &self,
        c: &Creds,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vec![
            ("Action".into(), action.into()),
            ("Version".into(), version.into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), c.id.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), nonce()),
            ("Timestamp".into(), timestamp::format(SystemClock.now())),
        ];
        if let Some(token) = &c.token {
            all.push(("SecurityToken".into(), token.clone()));
        }
        for (k, v) in params {
            all.retain(|(n, _)| n != k);
            all.push((k.to_string(), v.to_string()));
        }
        all
    }

    /// Signs `params` with `c`'s secret and canonicalisation `style` (unless they carry a
    /// `Signature` already), places them as `place` says and sends them over HTTPS or plain
    /// HTTP. Asserts that the answer carries `x-acs-request-id`; returns its status and its
    /// body as JSON, or as a JSON string when it is not JSON (XML).
    pub async fn send_v1(
        &self,
        https: bool,
        method: Method,
        place: Place,
        c: &Creds,
        params: Vec<(String, String)>,
        style: Canonicalization,
    ) -> (StatusCode, Value) {
        let mut params = params;
        if !params.iter().any(|(n, _)| n == "Signature") {
            let sts = v1::string_to_sign(
                method.as_str(),
                params.iter().map(|(a, b)| (a.as_str(), b.as_str())),
                style,
            );
            params.push(("Signature".into(), v1::sign(&c.secret, &sts)));
        }
        let (query, form): (Vec<_>, Vec<_>) = match place {
            Place::Query => (params, vec![]),
            Place::Form => (vec![], params),
            Place::Split => params
                .into_iter()
                .partition(|(n, _)| SIGNATURE_PARAMS.contains(&n.as_str())),
        };
        let (base, client) = if https {
            (self.https(), self.https_client())
        } else {
            (self.http(), &self.http_client)
        };
        let url = format!("{base}/?{}", form_encode(&query));
        let mut rb = client.request(method, url);
        if !form.is_empty() {
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&form));
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        assert!(resp.headers().contains_key("x-acs-request-id"));
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// An RPC v1 request as most clients send it: POST over plain HTTP, every parameter in the
    /// query, RFC 3986 canonicalisation.
    pub async fn call(
        &self,
        c: &Creds,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let p = self.v1_params(c, version, action, params);
        self.send_v1(
            false,
            Method::POST,
            Place::Query,
            c,
            p,
            Canonicalization::Rfc3986,
        )
        .await
    }

    /// [`TestServer::call`] of a RAM action.
    pub async fn ram(
        &self,
        c: &Creds,
        action: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.call(c, RAM_VERSION, action, params).await
    }

    /// [`TestServer::call`] of an STS action without parameters.
    pub async fn sts(&self, c: &Creds, action: &str) -> (StatusCode, Value) {
        self.call(c, STS_VERSION, action, &[]).await
    }

    /// A V3 (`ACS3-HMAC-SHA256`) POST over plain HTTP: `query` in the query string, `body` as
    /// the payload, the `x-acs-*` headers (with the session's `x-acs-security-token` if `c` has
    /// a token and `extra` does not name one) and `extra`, all signed. `tweak` may change the
    /// headers sent and the list of signed header names after signing. Returns the status and
    /// the JSON body.
    #[allow(clippy::too_many_arguments)] // a test helper mirroring the parts of a V3 request
    pub async fn send_v3(
        &self,
        c: &Creds,
        version: &str,
        action: &str,
        query: &[(&str, &str)],
        body: &[u8],
        extra: &[(&str, &str)],
        tweak: impl FnOnce(&mut Vec<(String, String)>, &mut Vec<String>),
    ) -> (StatusCode, Value) {
        let host = self.http().trim_start_matches("http://").to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-acs-action".into(), action.into()),
            ("x-acs-version".into(), version.into()),
            ("x-acs-date".into(), timestamp::format(SystemClock.now())),
            ("x-acs-signature-nonce".into(), nonce()),
            ("x-acs-content-sha256".into(), v3::payload_hash(body)),
            ("accept".into(), "application/json".into()),
        ];
        if let Some(token) = &c.token {
            if !extra.iter().any(|(n, _)| *n == "x-acs-security-token") {
                headers.push(("x-acs-security-token".into(), token.clone()));
            }
        }
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let mut signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        let cq = v3::canonical_query(query.iter().copied());
        let cr = v3::canonical_request(
            "POST",
            "/",
            &cq,
            &signed,
            |n| {
                headers
                    .iter()
                    .filter(|(h, _)| h == n)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            },
            &v3::payload_hash(body),
        );
        let sig = v3::sign(&c.secret, &v3::string_to_sign(&cr));
        tweak(&mut headers, &mut signed);
        let auth = format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
            c.id,
            signed.join(";")
        );
        let url = format!("{}/?{}", self.http(), cq);
        let mut rb = self
            .http_client
            .post(url)
            .header("authorization", auth)
            .body(body.to_vec());
        for (n, v) in &headers {
            if n != "host" {
                rb = rb.header(n.as_str(), v.as_str());
            }
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    /// As root: creates user `name` and an AccessKey for it, asserting both succeed.
    pub async fn user_with_key(&self, name: &str) -> Creds {
        let (s, v) = self
            .ram(&self.root, "CreateUser", &[("UserName", name)])
            .await;
        assert_eq!(s, 200, "CreateUser {name}: {v}");
        let (s, v) = self
            .ram(&self.root, "CreateAccessKey", &[("UserName", name)])
            .await;
        assert_eq!(s, 200, "CreateAccessKey {name}: {v}");
        Creds::from_json(&v["AccessKey"])
    }
}
