//! `tessera admin …` and `tessera keys …`: administration through the running server's API
//! (Tessera's administration API, version 2026-11-01, and RAM-style session revocation). The
//! server holds its data directory locked, so these commands call it, signed with the
//! operator's root credentials: a profile, or the data directory's root-credentials.json.
//! The one exception is `tessera admin recover-root-key`, which works on the data directory of
//! a stopped server, for when no root credentials are left to sign with.

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
    /// Issue a new root AccessKey offline, on the data directory of a stopped server, when an
    /// account's root keys are lost or disabled. The credentials go to a new 0600 file (or,
    /// with --output -, to standard output, once); restart the server to use them.
    RecoverRootKey(Recover),
}

/// What `tessera admin recover-root-key` works on.
#[derive(Args, Debug)]
pub struct Recover {
    /// The data directory [default: $XDG_DATA_HOME/tessera, else ~/.local/share/tessera].
    #[arg(long, env = "TESSERA_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// The account whose root gets the key [default: the first account, the operator's].
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: Option<String>,
    /// A root AccessKey to delete once the new one is stored; needed when the root already has
    /// two.
    #[arg(long, value_name = "ACCESS_KEY_ID")]
    replace: Option<String>,
    /// Where to write the credentials as JSON (a new file, mode 0600), or - for standard
    /// output [default: DIR/root-credentials.json for the first account if it is absent, else
    /// DIR/root-credentials-<AccessKeyId>.json].
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
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
        AdminCommand::RecoverRootKey(r) => recover_root_key(r),
    }
}

fn recover_root_key(r: Recover) -> anyhow::Result<()> {
    use tessera_server::datadir::{self, files};
    use tessera_server::ids::{AccessKeyId, AccountId};
    let data = r.data.unwrap_or_else(crate::serve::default_data_dir);
    let account = match r.account.as_deref() {
        Some(a) if AccountId::is_well_formed(a) => Some(AccountId::from_trusted(a)),
        Some(a) => bail!("--account {a:?} is not an account id (16 digits)"),
        None => None,
    };
    let replace = match r.replace.as_deref() {
        Some(k) => Some(
            AccessKeyId::parse(k)
                .with_context(|| format!("--replace {k:?} is not an AccessKeyId"))?,
        ),
        None => None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let now = i64::try_from(now).context("the system clock is out of range")?;
    let runtime = crate::cli::runtime()?;
    let mut written = None;
    let recovered = runtime.block_on(async {
        let dir = datadir::open_existing(&data)
            .await
            .context("recovery works on the data directory of a stopped server")?;
        let first = tessera_server::recovery::first_account(&dir).await?;
        let output = r.output.clone();
        let deliver = |account: &AccountId, id: &AccessKeyId, secret: &tessera_protocol::Secret| {
            let stdout = output.as_deref() == Some(std::path::Path::new("-"));
            if stdout {
                let json = datadir::root_credentials_json(account, id, secret)?;
                println!("{}", json.as_str());
                return Ok(());
            }
            let path = output.clone().unwrap_or_else(|| {
                let default = data.join(files::ROOT_CREDENTIALS);
                if *account == first && !default.exists() {
                    default
                } else {
                    data.join(format!("root-credentials-{id}.json"))
                }
            });
            datadir::write_root_credentials(&path, account, id, secret)?;
            written = Some(path);
            Ok(())
        };
        tessera_server::recovery::recover_root_key(&dir, account, replace, now, deliver).await
    })?;
    eprintln!(
        "tessera: issued the root AccessKey {} for account {}",
        recovered.access_key_id, recovered.account_id
    );
    if let Some(old) = &recovered.replaced {
        eprintln!("tessera: deleted the root AccessKey {old}");
    }
    if let Some(path) = written {
        eprintln!(
            "tessera: the credentials are in {} (mode 0600)",
            path.display()
        );
    }
    eprintln!(
        "tessera: start the server again to use it: tessera serve --data {}",
        data.display()
    );
    Ok(())
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
