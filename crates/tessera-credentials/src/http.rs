//! HTTP as the providers and the client see it: one request in, one response out. The default
//! implementation is reqwest with rustls; tests substitute a recorded exchange.

use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The largest response body read; anything longer is refused (a credentials endpoint never
/// needs more, and an attacker-controlled one must not exhaust memory).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A request. `Debug` leaves out the query string, header values and the body, which may carry
/// secrets.
#[derive(Clone)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// Headers, names as given.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Limit for establishing the connection.
    pub connect_timeout: Duration,
    /// Limit for the whole attempt.
    pub timeout: Duration,
}

impl HttpRequest {
    /// A request with the given limits and no headers or body.
    pub fn new(method: Method, url: impl Into<String>, connect: Duration, total: Duration) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            connect_timeout: connect,
            timeout: total,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The URL up to the path: what error messages may show.
    pub fn endpoint(&self) -> &str {
        endpoint_of(&self.url)
    }
}

/// Scheme, host and port of a URL.
pub(crate) fn endpoint_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path_end = self.url.find('?').unwrap_or(self.url.len());
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &&self.url[..path_end])
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A response.
#[derive(Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Date` header as a time.
    pub fn date(&self) -> Option<SystemTime> {
        self.header("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The connection could not be made: nothing was sent.
    #[error("{0}")]
    Connect(String),
    /// The connection broke after the request may have been sent.
    #[error("{0}")]
    Transport(String),
    /// The attempt ran out of time.
    #[error("timed out")]
    Timeout,
    /// The request itself cannot be sent (a malformed URL or header value).
    #[error("{0}")]
    InvalidRequest(String),
    /// The response body was larger than [`MAX_RESPONSE_BYTES`].
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

impl HttpError {
    /// As a crate error, naming the endpoint.
    pub fn into_error(self, req: &HttpRequest) -> crate::Error {
        match self {
            HttpError::Timeout => crate::Error::Timeout {
                what: format!("{} {}", req.method.as_str(), req.endpoint()),
                millis: req.timeout.as_millis(),
            },
            HttpError::InvalidRequest(message) => crate::Error::InvalidConfig {
                source_name: req.endpoint().to_string(),
                message: format!("cannot form a request: {message}"),
            },
            HttpError::Connect(message) => crate::Error::Connect {
                endpoint: req.endpoint().to_string(),
                message,
            },
            e => crate::Error::Transport {
                endpoint: req.endpoint().to_string(),
                message: e.to_string(),
            },
        }
    }
}

/// Sends one request.
#[async_trait]
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// Sends `req` and reads the whole response, within `req.timeout`.
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// reqwest over rustls, with the Mozilla root store plus any extra roots given. Redirects are
/// never followed: a credentials endpoint that redirects is refused rather than trusted.
pub struct ReqwestHttp {
    extra_roots: Vec<reqwest::Certificate>,
    // reqwest fixes the connect timeout and the proxy per client; the providers use two or
    // three distinct timeouts, so one client per (timeout, direct) keeps connection pooling.
    clients: Mutex<HashMap<(Duration, bool), reqwest::Client>>,
}

impl Default for ReqwestHttp {
    fn default() -> Self {
        ReqwestHttp {
            extra_roots: Vec::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }
}

impl fmt::Debug for ReqwestHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestHttp")
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl ReqwestHttp {
    /// Also trusts the CA certificates in `pem` (e.g. a Tessera server's self-signed CA).
    pub fn with_root_pem(mut self, pem: &[u8]) -> Result<Self, crate::Error> {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            crate::Error::config("CA certificate", format!("not a PEM certificate: {e}"))
        })?;
        if certs.is_empty() {
            return Err(crate::Error::config(
                "CA certificate",
                "no certificate in the PEM data",
            ));
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    fn client(&self, connect: Duration, direct: bool) -> Result<reqwest::Client, HttpError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&(connect, direct)) {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder();
        if direct {
            builder = builder.no_proxy();
        }
        let mut builder = builder
            .connect_timeout(connect)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera-credentials/", env!("CARGO_PKG_VERSION")));
        for root in &self.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::Transport(e.to_string()))?;
        clients.insert((connect, direct), client.clone());
        Ok(client)
    }
}

#[async_trait]
impl HttpClient for ReqwestHttp {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let client = self.client(req.connect_timeout, is_local(&req.url))?;
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = client.request(method, &req.url).timeout(req.timeout);
        for (n, v) in &req.headers {
            builder = builder.header(n, v);
        }
        if !req.body.is_empty() || req.method != Method::Get {
            builder = builder.body(req.body.clone());
        }
        let fut = async {
            let mut resp = builder.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(req.timeout, fut)
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

/// The authority of an `http(s)://` URL, parsed once for every decision made about where a
/// request goes: which proxy, whether http is acceptable, what the `Host` header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority<'a> {
    /// `http` or `https`, as written (compare case-insensitively).
    pub scheme: &'a str,
    /// Whether `user[:password]@` precedes the host.
    pub has_userinfo: bool,
    /// The host, without the brackets of an IPv6 literal.
    pub host: &'a str,
    /// The port, if written.
    pub port: Option<&'a str>,
}

impl<'a> Authority<'a> {
    /// Parses `scheme://[userinfo@]host[:port]` up to the first `/`, `?` or `#`; `None` without
    /// a scheme or a host.
    pub fn parse(url: &'a str) -> Option<Authority<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (has_userinfo, hostport) = match authority.rsplit_once('@') {
            Some((_, h)) => (true, h),
            None => (false, authority),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']')?;
                (host, after.strip_prefix(':'))
            }
            None => match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return None;
        }
        Some(Authority {
            scheme,
            has_userinfo,
            host,
            port,
        })
    }

    /// Whether the host is this machine: `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether the host is this machine, a link-local address or the ECS metadata service.
    pub fn is_local(&self) -> bool {
        if self.is_loopback() {
            return true;
        }
        match self.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                ip.is_link_local() || ip.octets() == [100, 100, 100, 200]
            }
            Ok(std::net::IpAddr::V6(ip)) => (ip.segments()[0] & 0xffc0) == 0xfe80,
            Err(_) => false,
        }
    }

    /// `host[:port]` as a `Host` header carries it: brackets kept, a default port left out.
    pub fn host_header(&self, url: &'a str) -> &'a str {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let default = match self.scheme.to_ascii_lowercase().as_str() {
            "http" => "80",
            "https" => "443",
            _ => "",
        };
        match self.port {
            Some(p) if p == default => &hostport[..hostport.len() - p.len() - 1],
            _ => hostport,
        }
    }
}

/// Whether a request to `url` must bypass any `HTTP_PROXY`: requests to this machine, a
/// link-local address or the metadata service, which a proxy would otherwise see (and could
/// answer). A URL with userinfo is never treated as local.
pub(crate) fn is_local(url: &str) -> bool {
    Authority::parse(url).is_some_and(|a| !a.has_userinfo && a.is_local())
}

fn classify(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    // reqwest's Display omits the cause ("error sending request for url"); the chain has it,
    // and never holds the query string.
    let mut msg = String::from("connection failed");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    if e.is_builder() {
        HttpError::InvalidRequest(msg)
    } else if e.is_connect() {
        HttpError::Connect(msg)
    } else {
        HttpError::Transport(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_strips_path_and_query() {
        assert_eq!(
            endpoint_of("https://sts.aliyuncs.com/?Signature=x"),
            "https://sts.aliyuncs.com"
        );
        assert_eq!(
            endpoint_of("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert!(is_local("http://127.0.0.1:8080/x"));
        assert!(is_local("http://localhost/x"));
        assert!(is_local("http://[::1]:1/"));
        assert!(is_local("http://100.100.100.200/latest"));
        assert!(is_local("http://169.254.169.254/"));
        assert!(!is_local("https://sts.aliyuncs.com/"));
        assert!(!is_local("http://127.0.0.1.evil.com/"));
        assert!(!is_local("http://evil.example#@127.0.0.1/"));
        assert!(!is_local("http://user@127.0.0.1/"));
        assert_eq!(
            endpoint_of("http://evil.example#@127.0.0.1/"),
            "http://evil.example"
        );
        let req = HttpRequest::new(
            Method::Get,
            "http://h/p?SecurityToken=sekrit",
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .header("x-acs-security-token", "sekrit");
        assert!(!format!("{req:?}").contains("sekrit"));
    }
}
