//! `tessera admin …` and `tessera keys …`: administration through the running server's API
//! (Tessera's administration API, version 2026-11-01, and RAM-style session revocation). The server holds its data directory
//! locked, so these commands call it, signed with the operator's root credentials.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tessera_protocol::encoding::{encode, Canonicalization};
use tessera_protocol::{timestamp, v1, Secret, RAM_VERSION};

/// Where the server is and who is calling it.
#[derive(Args, Debug)]
pub struct Target {
    /// The server's URL.
    #[arg(
        long,
        env = "TESSERA_ENDPOINT",
        default_value = "http://127.0.0.1:8080"
    )]
    endpoint: String,
    /// A JSON file with AccessKeyId and AccessKeySecret: the operator's root credentials
    /// [default: <data dir>/root-credentials.json].
    #[arg(long, env = "TESSERA_CREDENTIALS", value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// A CA certificate (PEM) to trust for an https endpoint, e.g. <data dir>/tls/ca.pem.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

/// `tessera admin` commands.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account and its root AccessKey; prints them as JSON (the secret only now).
    CreateAccount(Target),
    /// End every STS session of a role, or started by a user, issued up to now (in the
    /// account of the credentials used; needs ram:RevokeRoleSessions / ram:RevokeUserSessions
    /// unless they are the account root's).
    RevokeSessions(Revoke),
}

/// What `tessera admin revoke-sessions` ends.
#[derive(Args, Debug)]
pub struct Revoke {
    /// Every session of this role.
    #[arg(long, conflicts_with = "user", required_unless_present = "user")]
    role: Option<String>,
    /// Every session this RAM user started, and those chained from them.
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `tessera keys` commands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Seal new STS tokens under a new key; tokens sealed before stay valid until they expire.
    Rotate(Target),
}

/// Runs `tessera admin …`.
pub fn run_admin(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateAccount(t) => call(&t, ADMIN_VERSION, "CreateAccount", &[]),
        AdminCommand::RevokeSessions(r) => match (&r.role, &r.user) {
            (Some(role), _) => call(
                &r.target,
                RAM_VERSION,
                "RevokeRoleSessions",
                &[("RoleName", role)],
            ),
            (None, Some(user)) => call(
                &r.target,
                RAM_VERSION,
                "RevokeUserSessions",
                &[("UserName", user)],
            ),
            (None, None) => bail!("name a --role or a --user"),
        },
    }
}

/// Runs `tessera keys …`.
pub fn run_keys(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate(t) => call(&t, ADMIN_VERSION, "RotateTokenKeys", &[]),
    }
}

fn credentials(t: &Target) -> anyhow::Result<(String, Secret)> {
    let path = match &t.credentials {
        Some(p) => p.clone(),
        None => crate::serve::default_data_dir().join("root-credentials.json"),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    match (v["AccessKeyId"].as_str(), v["AccessKeySecret"].as_str()) {
        (Some(id), Some(secret)) => Ok((id.to_string(), Secret::new(secret))),
        _ => bail!("{} has no AccessKeyId and AccessKeySecret", path.display()),
    }
}

const ADMIN_VERSION: &str = "2026-11-01";

fn call(t: &Target, version: &str, action: &str, extra: &[(&str, &str)]) -> anyhow::Result<()> {
    let (id, secret) = credentials(t)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let nonce = tessera_server::ids::request_id();
    let ts = timestamp::format(now);
    let mut params: Vec<(&str, &str)> = vec![
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("AccessKeyId", &id),
        ("SignatureMethod", v1::SIGNATURE_METHOD),
        ("SignatureVersion", v1::SIGNATURE_VERSION),
        ("SignatureNonce", &nonce),
        ("Timestamp", &ts),
    ];
    params.extend_from_slice(extra);
    let signature = v1::sign(
        secret.expose(),
        &v1::string_to_sign("GET", params.iter().copied(), Canonicalization::Rfc3986),
    );
    params.push(("Signature", &signature));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let url = format!("{}/?{}", t.endpoint.trim_end_matches('/'), query.join("&"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = runtime.block_on(async {
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = &t.ca {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(&pem)
                    .context("the CA file is not a PEM certificate")?,
            );
        }
        let resp = builder
            .build()?
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", t.endpoint))?;
        let status = resp.status();
        anyhow::Ok((status, resp.text().await?))
    })?;
    if status.is_success() {
        println!("{body}");
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    bail!(
        "{} {}: {}",
        status.as_u16(),
        v["Code"].as_str().unwrap_or("error"),
        v["Message"].as_str().unwrap_or(&body)
    )
}
