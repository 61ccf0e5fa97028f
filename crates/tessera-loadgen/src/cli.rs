//! The command line, and its validation into a [`Config`].

use crate::target::Target;
use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_protocol::Secret;

/// The longest measurement accepted, so every run is bounded.
pub const MAX_DURATION_SECS: f64 = 3600.0;
/// The longest warmup accepted.
pub const MAX_WARMUP_SECS: f64 = 600.0;
/// The most connections accepted.
pub const MAX_CONNECTIONS: u32 = 10_000;

/// Closed-loop HTTP load for a Tessera server: N keep-alive connections, each sending requests
/// back to back, every request signed with a fresh nonce. Loopback targets only.
///
/// Progress goes to stderr; the last line of stdout is one JSON object with the results.
#[derive(Parser)]
// `--version` is the API version, as in the POP protocol, so clap's own version flag is off.
#[command(name = "tessera-loadgen", disable_version_flag = true)]
pub struct Args {
    /// The server's base URL: http://127.0.0.1:PORT (https needs --ca). Loopback only.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The API action to call (e.g. GetCallerIdentity), or `health` for the unsigned
    /// GET /health, the server's HTTP floor.
    #[arg(long, value_name = "ACTION")]
    pub action: String,
    /// The API version: 2015-04-01 for STS, 2015-05-01 for RAM.
    #[arg(long, value_name = "VERSION", default_value = tessera_protocol::STS_VERSION)]
    pub version: String,
    /// The AccessKeyId to sign with.
    #[arg(long, value_name = "ID", requires = "access_key_secret")]
    pub access_key_id: Option<String>,
    /// The AccessKeySecret to sign with (visible to other local users in the process list:
    /// prefer --credentials).
    #[arg(long, value_name = "SECRET", requires = "access_key_id")]
    pub access_key_secret: Option<String>,
    /// An STS SecurityToken, sent with every request.
    #[arg(long, value_name = "TOKEN")]
    pub security_token: Option<String>,
    /// A JSON file with AccessKeyId, AccessKeySecret and optionally SecurityToken, such as the
    /// server's root-credentials.json.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["access_key_id", "access_key_secret"]
    )]
    pub credentials: Option<PathBuf>,
    /// An extra request parameter; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// How requests are signed.
    #[arg(long, value_enum, default_value_t = SignatureKind::V1)]
    pub signature: SignatureKind,
    /// The HTTP method of signed requests (parameters always travel in the query).
    #[arg(long, value_enum, default_value_t = HttpMethod::Post)]
    pub method: HttpMethod,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CONNECTIONS)))]
    pub connections: u32,
    /// Seconds measured (after the warmup).
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_duration)]
    pub duration: f64,
    /// Seconds of load before the measurement, whose results are discarded.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, value_parser = parse_warmup)]
    pub warmup: f64,
    /// Seconds a request may take before it counts as an error and its connection is replaced.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_duration)]
    pub timeout: f64,
    /// Runtime threads of the load generator (1 = a single-threaded runtime).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// A PEM file of CA certificates to trust for an https URL (e.g. DATA/tls/ca.pem).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// First run `health` with the same settings, then the action, and report the action's
    /// rate as a ratio to health's.
    #[arg(long)]
    pub compare: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How requests are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignatureKind {
    /// RPC signature version 1.0, HMAC-SHA1, every parameter in the query.
    V1,
    /// ACS3-HMAC-SHA256: parameters in the query, signature in the Authorization header.
    V3,
}

impl SignatureKind {
    /// `v1` or `v3`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureKind::V1 => "v1",
            SignatureKind::V3 => "v3",
        }
    }
}

/// The HTTP method of signed requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST with an empty body.
    Post,
}

impl HttpMethod {
    /// `GET` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// An AccessKey (and, for an STS session, its token).
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The AccessKeySecret.
    pub access_key_secret: Secret,
    /// The SecurityToken of an STS session.
    pub security_token: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsFile {
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
}

impl Credentials {
    /// Reads a JSON file with `AccessKeyId`, `AccessKeySecret` and optionally `SecurityToken`
    /// (other fields, such as `AccountId`, are ignored).
    pub fn from_file(path: &Path) -> anyhow::Result<Credentials> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
        let f: CredentialsFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a JSON object with AccessKeyId and AccessKeySecret",
                path.display()
            )
        })?;
        Ok(Credentials {
            access_key_id: f.access_key_id,
            access_key_secret: Secret::new(f.access_key_secret),
            security_token: f.security_token.filter(|t| !t.is_empty()).map(Secret::new),
        })
    }
}

/// One signed API call, repeated with a fresh nonce and timestamp each time.
#[derive(Clone, Debug)]
pub struct ApiCall {
    /// The action, e.g. `GetCallerIdentity`.
    pub action: String,
    /// The API version.
    pub version: String,
    /// Extra parameters, in the order given.
    pub params: Vec<(String, String)>,
    /// How to sign.
    pub signature: SignatureKind,
    /// GET or POST.
    pub method: HttpMethod,
    /// Who signs.
    pub credentials: Credentials,
}

/// What each request is.
#[derive(Clone, Debug)]
pub enum Workload {
    /// The unsigned `GET /health`.
    Health,
    /// A signed API call.
    Api(ApiCall),
}

impl Workload {
    /// The name reported in the results: `health` or the action.
    pub fn name(&self) -> &str {
        match self {
            Workload::Health => "health",
            Workload::Api(c) => &c.action,
        }
    }

    /// `none`, `v1` or `v3`.
    pub fn signature(&self) -> &'static str {
        match self {
            Workload::Health => "none",
            Workload::Api(c) => c.signature.as_str(),
        }
    }
}

/// A validated run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the load goes.
    pub target: Target,
    /// What each request is.
    pub workload: Workload,
    /// Concurrent keep-alive connections.
    pub connections: u32,
    /// The measured period.
    pub duration: Duration,
    /// The discarded period before it.
    pub warmup: Duration,
    /// The per-request timeout.
    pub timeout: Duration,
    /// Runtime threads.
    pub threads: u16,
    /// CA certificates for https.
    pub ca: Option<PathBuf>,
    /// Run health first and report the ratio.
    pub compare: bool,
    /// Print progress on stderr.
    pub progress: bool,
}

/// Parameters the tool sets itself on every request; `--param` may not set them.
const RESERVED: &[&str] = &[
    "Action",
    "Version",
    "AccessKeyId",
    "SecurityToken",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
];

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

fn parse_secs(s: &str, min_exclusive: bool, max: f64) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    let low_ok = if min_exclusive { v > 0.0 } else { v >= 0.0 };
    if !v.is_finite() || !low_ok || v > max {
        let low = if min_exclusive {
            "above 0"
        } else {
            "at least 0"
        };
        return Err(format!("{s} is not {low} and at most {max} seconds"));
    }
    Ok(v)
}

fn parse_duration(s: &str) -> Result<f64, String> {
    parse_secs(s, true, MAX_DURATION_SECS)
}

fn parse_warmup(s: &str) -> Result<f64, String> {
    parse_secs(s, false, MAX_WARMUP_SECS)
}

impl Args {
    /// Validates the arguments: the target is loopback, a signed action has credentials, no
    /// `--param` collides with a parameter the tool sets.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let target = Target::parse(&self.url)?;
        if target.scheme == crate::target::Scheme::Https && self.ca.is_none() {
            bail!("an https URL needs --ca FILE (the PEM of the CA that signed the server's certificate)");
        }
        let workload = if self.action.eq_ignore_ascii_case("health") {
            if !self.params.is_empty() {
                bail!("health takes no --param");
            }
            Workload::Health
        } else {
            if self.action.is_empty() || !self.action.bytes().all(|b| b.is_ascii_alphanumeric()) {
                bail!("--action {:?} is not an action name", self.action);
            }
            if let Some((n, _)) = self
                .params
                .iter()
                .find(|(n, _)| RESERVED.iter().any(|r| r.eq_ignore_ascii_case(n)))
            {
                bail!("--param {n}: the load generator sets {n} itself");
            }
            let mut credentials = match (&self.credentials, self.access_key_id, self.access_key_secret) {
                (Some(file), _, _) => Credentials::from_file(file)?,
                (None, Some(id), Some(secret)) => Credentials {
                    access_key_id: id,
                    access_key_secret: Secret::new(secret),
                    security_token: None,
                },
                _ => bail!(
                    "{} is signed: give --credentials FILE or --access-key-id and --access-key-secret",
                    self.action
                ),
            };
            if let Some(token) = self.security_token {
                credentials.security_token = Some(Secret::new(token));
            }
            Workload::Api(ApiCall {
                action: self.action,
                version: self.version,
                params: self.params,
                signature: self.signature,
                method: self.method,
                credentials,
            })
        };
        if self.compare && matches!(workload, Workload::Health) {
            bail!("--compare compares an action with health; the action here is health");
        }
        Ok(Config {
            target,
            workload,
            connections: self.connections,
            duration: Duration::from_secs_f64(self.duration),
            warmup: Duration::from_secs_f64(self.warmup),
            timeout: Duration::from_secs_f64(self.timeout),
            threads: self.threads,
            ca: self.ca,
            compare: self.compare,
            progress: !self.quiet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Config> {
        let mut all = vec!["tessera-loadgen"];
        all.extend_from_slice(args);
        Args::try_parse_from(all)?.into_config()
    }

    const KEY: &[&str] = &["--access-key-id", "LTAIid", "--access-key-secret", "s3cret"];

    fn signed(extra: &[&str]) -> anyhow::Result<Config> {
        let mut a = vec![
            "--url",
            "http://127.0.0.1:8080",
            "--action",
            "GetCallerIdentity",
        ];
        a.extend_from_slice(KEY);
        a.extend_from_slice(extra);
        parse(&a)
    }

    #[test]
    fn defaults() {
        let c = signed(&[]).unwrap();
        assert_eq!(c.connections, 64);
        assert_eq!(c.duration, Duration::from_secs(10));
        assert_eq!(c.warmup, Duration::ZERO);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.threads, 1);
        assert!(c.progress && !c.compare);
        let Workload::Api(call) = c.workload else {
            panic!("not an API call")
        };
        assert_eq!(call.action, "GetCallerIdentity");
        assert_eq!(call.version, "2015-04-01");
        assert_eq!(call.signature, SignatureKind::V1);
        assert_eq!(call.method, HttpMethod::Post);
        assert_eq!(call.credentials.access_key_id, "LTAIid");
        assert_eq!(call.credentials.access_key_secret.expose(), "s3cret");
        assert!(call.credentials.security_token.is_none());
    }

    #[test]
    fn every_flag() {
        let c = signed(&[
            "--version",
            "2015-05-01",
            "--security-token",
            "tok",
            "--param",
            "UserName=alice",
            "--param",
            "Note=a=b",
            "--signature",
            "v3",
            "--method",
            "GET",
            "--connections",
            "4",
            "--duration",
            "1.5",
            "--warmup",
            "2",
            "--timeout",
            "0.5",
            "--threads",
            "2",
            "--compare",
            "-q",
        ])
        .unwrap();
        assert_eq!(c.connections, 4);
        assert_eq!(c.duration, Duration::from_millis(1500));
        assert_eq!(c.warmup, Duration::from_secs(2));
        assert_eq!(c.timeout, Duration::from_millis(500));
        assert_eq!(c.threads, 2);
        assert!(c.compare && !c.progress);
        let Workload::Api(call) = c.workload else {
            panic!("not an API call")
        };
        assert_eq!(call.version, "2015-05-01");
        assert_eq!(call.signature, SignatureKind::V3);
        assert_eq!(call.method, HttpMethod::Get);
        assert_eq!(
            call.params,
            vec![
                ("UserName".to_string(), "alice".to_string()),
                ("Note".to_string(), "a=b".to_string())
            ]
        );
        assert_eq!(
            call.credentials.security_token.as_ref().map(Secret::expose),
            Some("tok")
        );
    }

    #[test]
    fn health_needs_no_credentials() {
        let c = parse(&["--url", "http://localhost:1", "--action", "health"]).unwrap();
        assert!(matches!(c.workload, Workload::Health));
        assert_eq!(c.workload.name(), "health");
        assert_eq!(c.workload.signature(), "none");
    }

    #[test]
    fn credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-credentials.json");
        std::fs::write(
            &path,
            r#"{"AccountId":"1234567890123456","AccessKeyId":"LTAIfile","AccessKeySecret":"fs","SecurityToken":"st"}"#,
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&[
            "--url",
            "http://127.0.0.1:1",
            "--action",
            "GetCallerIdentity",
            "--credentials",
            p,
        ])
        .unwrap();
        let Workload::Api(call) = c.workload else {
            panic!("not an API call")
        };
        assert_eq!(call.credentials.access_key_id, "LTAIfile");
        assert_eq!(call.credentials.access_key_secret.expose(), "fs");
        assert_eq!(
            call.credentials.security_token.as_ref().map(Secret::expose),
            Some("st")
        );

        // A file and a key on the command line together are ambiguous.
        let mut a = vec![
            "--url",
            "http://127.0.0.1:1",
            "--action",
            "X",
            "--credentials",
            p,
        ];
        a.extend_from_slice(KEY);
        assert!(parse(&a).is_err());

        std::fs::write(&path, r#"{"AccessKeyId":"x"}"#).unwrap();
        let e = parse(&[
            "--url",
            "http://127.0.0.1:1",
            "--action",
            "X",
            "--credentials",
            p,
        ])
        .unwrap_err();
        assert!(format!("{e:#}").contains("AccessKeySecret"), "{e:#}");
    }

    #[test]
    fn refusals() {
        let must_fail: &[&[&str]] = &[
            // Not loopback.
            &["--url", "http://10.1.2.3:8080", "--action", "health"],
            // Signed without credentials, or with half of a key.
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "GetCallerIdentity",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "X",
                "--access-key-id",
                "a",
            ],
            // https without a CA.
            &["--url", "https://127.0.0.1:1", "--action", "health"],
            // Unbounded or empty runs.
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--duration",
                "0",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--duration",
                "inf",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--duration",
                "3601",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--warmup",
                "-1",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--connections",
                "0",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--connections",
                "10001",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--threads",
                "0",
            ],
            // Nothing to compare.
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--compare",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--param",
                "A=1",
            ],
            // Unknown choices.
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--signature",
                "v2",
            ],
            &[
                "--url",
                "http://127.0.0.1:1",
                "--action",
                "health",
                "--method",
                "PUT",
            ],
        ];
        for args in must_fail {
            assert!(parse(args).is_err(), "{args:?}");
        }
        for bad in [
            &["--param", "SignatureNonce=1"][..],
            &["--param", "timestamp=x"],
            &["--param", "=x"],
            &["--param", "novalue"],
        ] {
            assert!(signed(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&[
            "--url",
            "http://127.0.0.1:1",
            "--action",
            "Get Caller",
            "--credentials",
            "/dev/null"
        ])
        .is_err());
    }
}
