//! Building requests: a fresh nonce and the current timestamp each time, signed with
//! `tessera_protocol`'s RPC v1 or V3 code (nothing here re-implements a signature).
//!
//! Everything that does not change between requests (the sorted, encoded fixed parameters, the
//! V3 canonical query and signed-header list) is computed once per [`Signer`].

use crate::cli::{ApiCall, Credentials, SignatureKind};
use std::fmt::Write as _;
use tessera_protocol::encoding::{encode, encode_into, Canonicalization};
use tessera_protocol::{timestamp, v1, v3};

/// A request ready to send: method, origin-form target and headers (`host` included).
/// `Debug` leaves out the query and header values: they carry the SecurityToken.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// `/?...` or `/health`.
    pub path_and_query: String,
    /// Lower-case header names and their values.
    pub headers: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path_and_query.split('?').next().unwrap_or_default();
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("path", &path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

const USER_AGENT: &str = concat!("tessera-loadgen/", env!("CARGO_PKG_VERSION"));

/// The unsigned `GET /health`.
pub fn health_request(authority: &str) -> PreparedRequest {
    PreparedRequest {
        method: "GET",
        path_and_query: "/health".to_string(),
        headers: vec![
            ("host", authority.to_string()),
            ("user-agent", USER_AGENT.to_string()),
        ],
    }
}

/// Signs one API call over and over. (No `Debug`: it holds the SecurityToken in the clear,
/// ready to be copied into every request.)
pub struct Signer {
    method: &'static str,
    credentials: Credentials,
    authority: String,
    kind: Kind,
}

enum Kind {
    V1 {
        /// Every parameter but nonce, timestamp and signature, in the order they are sent.
        fixed: Vec<(String, String)>,
        /// `fixed`, encoded and `&`-joined: the start of each query.
        query_prefix: String,
    },
    V3 {
        action: String,
        version: String,
        /// The canonical (sorted, encoded) query, which is also what is sent.
        canonical_query: String,
        /// Sorted, lower-case.
        signed_headers: Vec<String>,
        /// `signed_headers` joined with `;`.
        signed_list: String,
    },
}

impl Signer {
    /// Prepares to sign `call` for a server reached as `authority` (the `Host` header).
    pub fn new(call: &ApiCall, authority: &str) -> Signer {
        let creds = call.credentials.clone();
        let kind = match call.signature {
            SignatureKind::V1 => {
                let mut fixed: Vec<(String, String)> = vec![
                    ("Action".into(), call.action.clone()),
                    ("Version".into(), call.version.clone()),
                    ("Format".into(), "JSON".into()),
                    ("AccessKeyId".into(), creds.access_key_id.clone()),
                    ("SignatureMethod".into(), v1::SIGNATURE_METHOD.into()),
                    ("SignatureVersion".into(), v1::SIGNATURE_VERSION.into()),
                ];
                if let Some(t) = &creds.security_token {
                    fixed.push(("SecurityToken".into(), t.expose().to_string()));
                }
                for (n, v) in &call.params {
                    // A --param may replace a default such as Format.
                    fixed.retain(|(f, _)| f != n);
                    fixed.push((n.clone(), v.clone()));
                }
                let query_prefix =
                    join_encoded(fixed.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                Kind::V1 {
                    fixed,
                    query_prefix,
                }
            }
            SignatureKind::V3 => {
                let canonical_query =
                    v3::canonical_query(call.params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                let mut signed_headers: Vec<String> = [
                    "host",
                    "x-acs-action",
                    "x-acs-content-sha256",
                    "x-acs-date",
                    "x-acs-signature-nonce",
                    "x-acs-version",
                ]
                .into_iter()
                .map(String::from)
                .collect();
                if creds.security_token.is_some() {
                    signed_headers.push("x-acs-security-token".into());
                }
                signed_headers.sort_unstable();
                let signed_list = signed_headers.join(";");
                Kind::V3 {
                    action: call.action.clone(),
                    version: call.version.clone(),
                    canonical_query,
                    signed_headers,
                    signed_list,
                }
            }
        };
        Signer {
            method: call.method.as_str(),
            credentials: creds,
            authority: authority.to_string(),
            kind,
        }
    }

    /// A request signed with `nonce` at `timestamp` (`YYYY-MM-DDThh:mm:ssZ`).
    pub fn sign(&self, nonce: &str, timestamp: &str) -> PreparedRequest {
        let secret = self.credentials.access_key_secret.expose();
        match &self.kind {
            Kind::V1 {
                fixed,
                query_prefix,
            } => {
                let pairs = fixed
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .chain([("SignatureNonce", nonce), ("Timestamp", timestamp)]);
                let string_to_sign =
                    v1::string_to_sign(self.method, pairs, Canonicalization::Rfc3986);
                let signature = v1::sign(secret, &string_to_sign);
                let mut target = String::with_capacity(query_prefix.len() + 128);
                target.push_str("/?");
                target.push_str(query_prefix);
                for (name, value) in [
                    ("&SignatureNonce=", nonce),
                    ("&Timestamp=", timestamp),
                    ("&Signature=", signature.as_str()),
                ] {
                    target.push_str(name);
                    encode_into(&mut target, value, Canonicalization::Rfc3986);
                }
                PreparedRequest {
                    method: self.method,
                    path_and_query: target,
                    headers: vec![
                        ("host", self.authority.clone()),
                        ("user-agent", USER_AGENT.to_string()),
                    ],
                }
            }
            Kind::V3 {
                action,
                version,
                canonical_query,
                signed_headers,
                signed_list,
            } => {
                let token = self.credentials.security_token.as_ref().map(|t| t.expose());
                let value = |name: &str| match name {
                    "host" => Some(self.authority.as_str()),
                    "x-acs-action" => Some(action.as_str()),
                    "x-acs-content-sha256" => Some(v3::EMPTY_SHA256),
                    "x-acs-date" => Some(timestamp),
                    "x-acs-signature-nonce" => Some(nonce),
                    "x-acs-version" => Some(version.as_str()),
                    "x-acs-security-token" => token,
                    _ => None,
                };
                let canonical = v3::canonical_request(
                    self.method,
                    "/",
                    canonical_query,
                    signed_headers,
                    value,
                    v3::EMPTY_SHA256,
                );
                let signature = v3::sign(secret, &v3::string_to_sign(&canonical));
                let mut authorization = String::with_capacity(200);
                let _ = write!(
                    authorization,
                    "{} Credential={},SignedHeaders={signed_list},Signature={signature}",
                    v3::ALGORITHM,
                    self.credentials.access_key_id
                );
                let mut headers: Vec<(&'static str, String)> = Vec::with_capacity(10);
                for name in [
                    "host",
                    "x-acs-action",
                    "x-acs-content-sha256",
                    "x-acs-date",
                    "x-acs-signature-nonce",
                    "x-acs-version",
                    "x-acs-security-token",
                ] {
                    if let Some(v) = value(name) {
                        headers.push((name, v.to_string()));
                    }
                }
                headers.push(("authorization", authorization));
                headers.push(("user-agent", USER_AGENT.to_string()));
                let path_and_query = if canonical_query.is_empty() {
                    "/".to_string()
                } else {
                    format!("/?{canonical_query}")
                };
                PreparedRequest {
                    method: self.method,
                    path_and_query,
                    headers,
                }
            }
        }
    }
}

fn join_encoded<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (n, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode(n));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

/// Nonces that never repeat: a random 64-bit prefix per process (so separate runs do not
/// collide), the connection number and a counter, as 32 hex digits.
#[derive(Debug)]
pub struct NonceSource {
    prefix: u64,
    connection: u16,
    counter: u64,
    buf: String,
}

impl NonceSource {
    /// The nonces of one connection; `prefix` is shared by the whole run.
    pub fn new(prefix: u64, connection: u16) -> NonceSource {
        NonceSource {
            prefix,
            connection,
            counter: 0,
            buf: String::with_capacity(32),
        }
    }

    /// The next nonce.
    pub fn next_nonce(&mut self) -> &str {
        self.counter += 1;
        self.buf.clear();
        let _ = write!(
            self.buf,
            "{:016x}{:04x}{:012x}",
            self.prefix,
            self.connection,
            self.counter & 0xffff_ffff_ffff
        );
        &self.buf
    }
}

/// The protocol timestamp of the current second, formatted once per second.
#[derive(Debug, Default)]
pub struct TimestampCache {
    second: i64,
    text: String,
}

impl TimestampCache {
    /// `YYYY-MM-DDThh:mm:ssZ` for `unix_secs`.
    pub fn at(&mut self, unix_secs: i64) -> &str {
        if self.text.is_empty() || self.second != unix_secs {
            self.second = unix_secs;
            self.text = timestamp::format(unix_secs);
        }
        &self.text
    }

    /// `YYYY-MM-DDThh:mm:ssZ` now, by the system clock.
    pub fn now(&mut self) -> &str {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.at(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::HttpMethod;
    use tessera_protocol::encoding::parse_pairs;
    use tessera_protocol::Secret;

    fn call(signature: SignatureKind, method: HttpMethod, token: bool) -> ApiCall {
        ApiCall {
            action: "GetCallerIdentity".into(),
            version: "2015-04-01".into(),
            params: vec![
                ("RegionId".into(), "cn-hangzhou".into()),
                ("Note".into(), "a b*/é".into()),
            ],
            signature,
            method,
            credentials: Credentials {
                access_key_id: "LTAIexample".into(),
                access_key_secret: Secret::new("secret"),
                security_token: token.then(|| Secret::new("tok+/=")),
            },
        }
    }

    fn query_of(target: &str) -> Vec<(String, String)> {
        let q = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        parse_pairs(q).collect()
    }

    #[test]
    fn v1_requests_verify_as_the_server_verifies_them() {
        for method in [HttpMethod::Get, HttpMethod::Post] {
            for token in [false, true] {
                let s = Signer::new(&call(SignatureKind::V1, method, token), "127.0.0.1:9");
                let r = s.sign("n1", "2026-01-02T03:04:05Z");
                assert_eq!(r.method, method.as_str());
                assert!(r.headers.contains(&("host", "127.0.0.1:9".into())));
                let params = query_of(&r.path_and_query);
                let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
                assert_eq!(get("Action"), Some("GetCallerIdentity"));
                assert_eq!(get("Format"), Some("JSON"));
                assert_eq!(get("SignatureNonce"), Some("n1"));
                assert_eq!(get("Timestamp"), Some("2026-01-02T03:04:05Z"));
                assert_eq!(get("Note"), Some("a b*/é"));
                assert_eq!(get("SecurityToken"), token.then_some("tok+/="));
                let sig = get("Signature").unwrap().to_string();
                assert_eq!(
                    v1::verify(
                        "secret",
                        method.as_str(),
                        params.iter().map(|(a, b)| (a.as_str(), b.as_str())),
                        &sig
                    ),
                    v1::Verification::Valid(Canonicalization::Rfc3986)
                );
                assert!(matches!(
                    v1::verify(
                        "other",
                        method.as_str(),
                        params.iter().map(|(a, b)| (a.as_str(), b.as_str())),
                        &sig
                    ),
                    v1::Verification::Mismatch { .. }
                ));
            }
        }
    }

    #[test]
    fn v1_param_replaces_a_default() {
        let mut c = call(SignatureKind::V1, HttpMethod::Post, false);
        c.params = vec![("Format".into(), "XML".into())];
        let r = Signer::new(&c, "h").sign("n", "2026-01-02T03:04:05Z");
        let formats: Vec<_> = query_of(&r.path_and_query)
            .into_iter()
            .filter(|(n, _)| n == "Format")
            .collect();
        assert_eq!(formats, vec![("Format".into(), "XML".into())]);
    }

    #[test]
    fn v3_requests_verify_as_the_server_verifies_them() {
        for method in [HttpMethod::Get, HttpMethod::Post] {
            for token in [false, true] {
                let s = Signer::new(&call(SignatureKind::V3, method, token), "[::1]:9");
                let r = s.sign("n2", "2026-01-02T03:04:05Z");
                let header = |n: &str| {
                    r.headers
                        .iter()
                        .find(|(k, _)| *k == n)
                        .map(|(_, v)| v.as_str())
                };
                assert_eq!(header("x-acs-signature-nonce"), Some("n2"));
                assert_eq!(header("x-acs-security-token"), token.then_some("tok+/="));
                let auth = v3::parse_authorization(header("authorization").unwrap()).unwrap();
                assert_eq!(auth.algorithm, v3::ALGORITHM);
                assert_eq!(auth.credential, "LTAIexample");
                assert_eq!(
                    auth.signed_headers
                        .contains(&"x-acs-security-token".to_string()),
                    token
                );
                // What the server does: parse the query, re-canonicalise, rebuild the request.
                let query = query_of(&r.path_and_query);
                let cq = v3::canonical_query(query.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                let cr = v3::canonical_request(
                    method.as_str(),
                    "/",
                    &cq,
                    &auth.signed_headers,
                    |n| header(n),
                    header("x-acs-content-sha256").unwrap(),
                );
                let sts = v3::string_to_sign(&cr);
                assert!(v3::signature_matches("secret", &sts, &auth.signature));
                assert!(!v3::signature_matches("other", &sts, &auth.signature));
            }
        }
    }

    #[test]
    fn v3_without_params_has_a_bare_path() {
        let mut c = call(SignatureKind::V3, HttpMethod::Post, false);
        c.params.clear();
        assert_eq!(Signer::new(&c, "h").sign("n", "t").path_and_query, "/");
    }

    #[test]
    fn nonces_are_unique_and_fixed_length() {
        let mut a = NonceSource::new(0xdead_beef, 1);
        let mut b = NonceSource::new(0xdead_beef, 2);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            for s in [&mut a, &mut b] {
                let n = s.next_nonce().to_string();
                assert_eq!(n.len(), 32);
                assert!(seen.insert(n));
            }
        }
    }

    #[test]
    fn timestamps() {
        let mut c = TimestampCache::default();
        assert_eq!(c.at(1_439_867_745), "2015-08-18T03:15:45Z");
        assert_eq!(c.at(1_439_867_746), "2015-08-18T03:15:46Z");
        assert_eq!(
            timestamp::parse(c.now()).map(|t| t > 1_700_000_000),
            Ok(true)
        );
    }

    #[test]
    fn health() {
        let r = health_request("localhost:1");
        assert_eq!((r.method, r.path_and_query.as_str()), ("GET", "/health"));
        assert!(r.headers.contains(&("host", "localhost:1".into())));
    }
}
