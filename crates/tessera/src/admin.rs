//! `tessera admin …` and `tessera keys …`: administration through the running server's API
//! (Tessera's administration API, version 2026-11-01, and RAM-style session revocation). The
//! server holds its data directory locked, so these commands call it, signed with the
//! operator's root credentials: a profile, or the data directory's root-credentials.json.

use crate::cli::session::{print_json, Conn};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tessera_credentials::providers::StaticProvider;
use tessera_credentials::{Client, ProvideCredentials};
use tessera_protocol::RAM_VERSION;

/// Where the server is and who is calling it.
#[derive(Args, Debug)]
pub struct Target {
    #[command(flatten)]
    conn: Conn,
    /// A JSON file with AccessKeyId and AccessKeySecret, such as the root-credentials.json of
    /// the data directory [default: the --profile given, else <data dir>/root-credentials.json].
    #[arg(long, env = "TESSERA_CREDENTIALS", value_name = "FILE")]
    credentials: Option<PathBuf>,
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
    /// Compare the server's in-memory identity cache with its store (the operator's root only);
    /// prints {"Consistent": true, ...}, and exits non-zero when they differ.
    VerifyCache(Target),
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
        AdminCommand::VerifyCache(t) => call(&t, ADMIN_VERSION, "VerifyIdentityCache", &[]),
    }
}

/// Runs `tessera keys …`.
pub fn run_keys(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate(t) => call(&t, ADMIN_VERSION, "RotateTokenKeys", &[]),
    }
}

fn credentials_file(path: &std::path::Path) -> anyhow::Result<StaticProvider> {
    let (id, secret) = crate::cli::read_key_file(path)?;
    Ok(StaticProvider::access_key(id, secret.expose()))
}

const ADMIN_VERSION: &str = "2026-11-01";
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

fn call(t: &Target, version: &str, action: &str, extra: &[(&str, &str)]) -> anyhow::Result<()> {
    // A profile's endpoint only for calls that profile signs.
    let profile_endpoint = match (&t.conn.profile, &t.credentials) {
        (Some(_), None) => t
            .conn
            .profile()?
            .1
            .map(|p| p.endpoint)
            .filter(|e| !e.is_empty()),
        _ => None,
    };
    let endpoint = t
        .conn
        .endpoint
        .clone()
        .or(profile_endpoint)
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let ctx = t.conn.context()?;
    let provider: Box<dyn ProvideCredentials> = match (&t.credentials, &t.conn.profile) {
        (Some(file), _) => Box::new(credentials_file(file)?),
        (None, Some(name)) => Box::new(
            tessera_credentials::providers::CliProfileProvider::new(&ctx)
                .profile(name)
                .sts_endpoint(&endpoint),
        ),
        (None, None) => Box::new(credentials_file(
            &crate::serve::default_data_dir()
                .join(tessera_server::datadir::files::ROOT_CREDENTIALS),
        )?),
    };
    let client = Client::builder()
        .context(ctx)
        .endpoint(&endpoint)
        .credentials(provider)
        .build()?;
    let product = if version == ADMIN_VERSION {
        "tessera"
    } else {
        "ram"
    };
    let answer = crate::cli::runtime()?
        .block_on(client.call(product, action, version, extra.iter().copied()))
        .with_context(|| format!("{action} at {endpoint}"))?;
    print_json(&answer);
    if answer.get("Consistent") == Some(&serde_json::Value::Bool(false)) {
        bail!("the server's identity cache differs from its store");
    }
    Ok(())
}
