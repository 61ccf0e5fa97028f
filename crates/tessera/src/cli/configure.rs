//! `tessera configure`: create or change a profile of the aliyun CLI's `~/.aliyun/config.json`,
//! from flags or interactively.

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use tessera_credentials::cli_config::{CliConfig, Profile};
use tessera_credentials::{sts, Context, Secret};

/// The credential modes of a profile.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A long-term AccessKey.
    #[value(name = "AK")]
    Ak,
    /// An STS token.
    #[value(name = "StsToken")]
    StsToken,
    /// AssumeRole with an AccessKey.
    #[value(name = "RamRoleArn")]
    RamRoleArn,
    /// AssumeRole with another profile's credentials.
    #[value(name = "ChainableRamRoleArn")]
    ChainableRamRoleArn,
    /// The ECS instance's RAM role.
    #[value(name = "EcsRamRole")]
    EcsRamRole,
    /// AssumeRoleWithOIDC with a token file (RRSA).
    #[value(name = "OIDC")]
    Oidc,
    /// A credentials URI.
    #[value(name = "CredentialsURI")]
    CredentialsUri,
    /// A command printing credentials.
    #[value(name = "External")]
    External,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Ak => "AK",
            Mode::StsToken => "StsToken",
            Mode::RamRoleArn => "RamRoleArn",
            Mode::ChainableRamRoleArn => "ChainableRamRoleArn",
            Mode::EcsRamRole => "EcsRamRole",
            Mode::Oidc => "OIDC",
            Mode::CredentialsUri => "CredentialsURI",
            Mode::External => "External",
        }
    }
}

/// `tessera configure`. (No `Debug`: its fields hold secrets given as flags.)
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConfigureArgs {
    #[command(subcommand)]
    command: Option<ConfigureCommand>,
    #[command(flatten)]
    set: SetArgs,
}

#[derive(Subcommand, Debug)]
enum ConfigureCommand {
    /// List the profiles (secrets masked).
    List,
    /// Show one profile (secrets masked).
    Get {
        /// The profile [default: the current one].
        #[arg(long)]
        profile: Option<String>,
    },
    /// Make a profile the current one.
    Switch {
        /// The profile.
        #[arg(long)]
        profile: String,
    },
    /// Delete a profile.
    Delete {
        /// The profile.
        #[arg(long)]
        profile: String,
    },
}

/// The fields of a profile.
#[derive(Args)]
struct SetArgs {
    /// The profile to create or change.
    #[arg(long, short = 'p', default_value = "default")]
    profile: String,
    /// Credential mode [default: AK, or the profile's current mode].
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// AccessKeyId (AK, StsToken, RamRoleArn).
    #[arg(long, value_name = "ID")]
    access_key_id: Option<String>,
    /// AccessKeySecret (AK, StsToken, RamRoleArn).
    #[arg(long, value_name = "SECRET")]
    access_key_secret: Option<String>,
    /// Reads AccessKeyId and AccessKeySecret from a JSON file, such as the root-credentials.json
    /// a new Tessera data directory holds.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["access_key_id", "access_key_secret"])]
    credentials_file: Option<PathBuf>,
    /// SecurityToken (StsToken).
    #[arg(long, value_name = "TOKEN")]
    sts_token: Option<String>,
    /// Role to assume (RamRoleArn, ChainableRamRoleArn, OIDC).
    #[arg(long, value_name = "ARN")]
    ram_role_arn: Option<String>,
    /// Session name for AssumeRole.
    #[arg(long, value_name = "NAME")]
    role_session_name: Option<String>,
    /// Session lifetime in seconds, 900..=43200 [default: 3600 for role modes].
    #[arg(long, value_name = "SECONDS")]
    expired_seconds: Option<u64>,
    /// External id for AssumeRole.
    #[arg(long)]
    external_id: Option<String>,
    /// A session policy (JSON) for AssumeRole.
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    /// Use the region's VPC STS endpoint (sts-vpc.<region>.aliyuncs.com).
    #[arg(long, value_name = "BOOL")]
    enable_vpc: Option<bool>,
    /// The profile whose credentials assume the role (ChainableRamRoleArn).
    #[arg(long, value_name = "PROFILE")]
    source_profile: Option<String>,
    /// ECS role name (EcsRamRole; empty: ask the metadata service).
    #[arg(long, value_name = "NAME")]
    ram_role_name: Option<String>,
    /// OIDC provider ARN (OIDC).
    #[arg(long, value_name = "ARN")]
    oidc_provider_arn: Option<String>,
    /// OIDC token file (OIDC).
    #[arg(long, value_name = "FILE")]
    oidc_token_file: Option<String>,
    /// Credentials URI (CredentialsURI).
    #[arg(long, value_name = "URI")]
    credentials_uri: Option<String>,
    /// Command printing credentials as JSON (External).
    #[arg(long, value_name = "COMMAND")]
    process_command: Option<String>,
    /// Default region of calls.
    #[arg(long)]
    region: Option<String>,
    /// STS region for AssumeRole.
    #[arg(long)]
    sts_region: Option<String>,
    /// Endpoint of every product and of AssumeRole, e.g. a Tessera server (a Tessera extension
    /// of the file; the aliyun CLI ignores it).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Never prompt; fail naming the missing flag instead (the default when standard input is
    /// not a terminal).
    #[arg(long, conflicts_with = "interactive")]
    non_interactive: bool,
    /// Prompt for missing fields even when standard input is not a terminal (answers are read
    /// line by line).
    #[arg(long)]
    interactive: bool,
}

/// Runs `tessera configure`.
pub fn run(args: ConfigureArgs) -> anyhow::Result<()> {
    let ctx = Context::os();
    let path = CliConfig::path(&ctx)?;
    // Held until the command ends: another `tessera configure` waits rather than overwrites.
    // (Setting a profile takes it only after its prompts: nobody waits on someone typing.)
    let _lock = match &args.command {
        Some(ConfigureCommand::Switch { .. } | ConfigureCommand::Delete { .. }) => {
            Some(super::lock_config(&ctx)?)
        }
        _ => None,
    };
    let mut config = CliConfig::load(&ctx)?.map(|(_, c)| c).unwrap_or_default();
    match args.command {
        Some(ConfigureCommand::List) => {
            println!(
                "{:<20} {:<20} {:<24} Endpoint / region",
                "Profile", "Mode", "AccessKeyId"
            );
            for p in &config.profiles {
                let mark = if p.name == config.current { " *" } else { "" };
                let place = if p.endpoint.is_empty() {
                    &p.region_id
                } else {
                    &p.endpoint
                };
                println!(
                    "{:<20} {:<20} {:<24} {}",
                    format!("{}{mark}", p.name),
                    p.mode,
                    mask(&p.access_key_id),
                    place
                );
            }
            Ok(())
        }
        Some(ConfigureCommand::Get { profile }) => {
            let name = profile.unwrap_or_else(|| config.current.clone());
            let p = config
                .profile(&name)
                .with_context(|| format!("{}: there is no profile {name:?}", path.display()))?;
            let mut v = serde_json::to_value(p)?;
            // The aliyun CLI keeps more secrets than this tool knows (OAuth and SSO tokens,
            // private keys): mask anything named like one.
            if let Some(fields) = v.as_object_mut() {
                for (name, value) in fields.iter_mut() {
                    let secret = ["secret", "token", "private_key", "password"]
                        .iter()
                        .any(|w| name.contains(w))
                        && name != "oidc_token_file";
                    if secret && value.as_str().is_some_and(|s| !s.is_empty()) {
                        *value = "****".into();
                    }
                    // The URI's query may carry a token.
                    if name == "credentials_uri" {
                        if let Some((base, _)) = value.as_str().and_then(|u| u.split_once('?')) {
                            *value = format!("{base}?****").into();
                        }
                    }
                }
            }
            super::session::print_json(&v);
            Ok(())
        }
        Some(ConfigureCommand::Switch { profile }) => {
            if config.profile(&profile).is_none() {
                bail!("{}: there is no profile {profile:?}", path.display());
            }
            config.current = profile.clone();
            config.save(&ctx, &path)?;
            println!("Profile {profile:?} is now current in {}", path.display());
            Ok(())
        }
        Some(ConfigureCommand::Delete { profile }) => {
            let before = config.profiles.len();
            config.profiles.retain(|p| p.name != profile);
            if config.profiles.len() == before {
                bail!("{}: there is no profile {profile:?}", path.display());
            }
            if config.current == profile {
                config.current = config
                    .profiles
                    .first()
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
            }
            config.save(&ctx, &path)?;
            println!("Deleted profile {profile:?} from {}", path.display());
            Ok(())
        }
        None => set(args.set, &ctx, &path, &config),
    }
}

fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{head}****{tail}")
}

struct Prompter {
    interactive: bool,
}

impl Prompter {
    /// Returns `given`, or what the user types (keeping `current` on an empty line), or fails
    /// naming the flag.
    fn ask(
        &self,
        label: &str,
        flag: &str,
        given: Option<String>,
        current: &str,
        secret: bool,
    ) -> anyhow::Result<String> {
        if let Some(v) = given {
            return Ok(v);
        }
        if !self.interactive {
            if !current.is_empty() {
                return Ok(current.to_string());
            }
            bail!("--{flag} is required (or run `tessera configure` in a terminal to be asked)");
        }
        let shown = if current.is_empty() {
            String::new()
        } else if secret {
            // Not even part of a secret is shown: that a value is kept is all one needs.
            " [****]".to_string()
        } else {
            format!(" [{current}]")
        };
        let line = if secret && std::io::stdin().is_terminal() {
            // Typed secrets are not echoed (nor left in the terminal's scrollback).
            rpassword::prompt_password(format!("{label}{shown}: "))?
        } else {
            eprint!("{label}{shown}: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                bail!("{label}: no answer (end of input)");
            }
            line
        };
        let line = line.trim().to_string();
        if line.is_empty() {
            if current.is_empty() {
                bail!("{label} is required");
            }
            return Ok(current.to_string());
        }
        Ok(line)
    }

    fn optional(&self, given: Option<String>, current: &str) -> String {
        given.unwrap_or_else(|| current.to_string())
    }
}

fn set(
    a: SetArgs,
    ctx: &Context,
    path: &std::path::Path,
    config: &CliConfig,
) -> anyhow::Result<()> {
    let prompt = Prompter {
        interactive: a.interactive || (!a.non_interactive && std::io::stdin().is_terminal()),
    };
    let old = config.profile(&a.profile).cloned().unwrap_or_default();
    let mode = match a.mode {
        Some(m) => m,
        None => Mode::from_str(&old.mode, false).unwrap_or(Mode::Ak),
    };
    let (mut key_id, mut key_secret) = (a.access_key_id, a.access_key_secret);
    if let Some(file) = &a.credentials_file {
        let (id, secret) = super::read_key_file(file)?;
        key_id = Some(id);
        key_secret = Some(secret.expose().to_string());
    }
    let mut p = Profile {
        name: a.profile.clone(),
        mode: mode.as_str().to_string(),
        region_id: prompt.optional(
            a.region,
            if old.region_id.is_empty() {
                "cn-hangzhou"
            } else {
                &old.region_id
            },
        ),
        sts_region: prompt.optional(a.sts_region, &old.sts_region),
        policy: prompt.optional(a.policy, &old.policy),
        enable_vpc: a.enable_vpc.unwrap_or(old.enable_vpc),
        // Everything not given keeps its value, fields this tool does not know included.
        ..old.clone()
    };
    let needs_key = matches!(mode, Mode::Ak | Mode::StsToken | Mode::RamRoleArn);
    if needs_key {
        p.access_key_id = prompt.ask(
            "Access Key Id",
            "access-key-id",
            key_id,
            &old.access_key_id,
            false,
        )?;
        p.access_key_secret = Secret::new(prompt.ask(
            "Access Key Secret",
            "access-key-secret",
            key_secret,
            old.access_key_secret.expose(),
            true,
        )?);
    }
    match mode {
        Mode::Ak | Mode::EcsRamRole => {}
        Mode::StsToken => {
            p.sts_token = Secret::new(prompt.ask(
                "Sts Token",
                "sts-token",
                a.sts_token,
                old.sts_token.expose(),
                true,
            )?);
        }
        Mode::RamRoleArn | Mode::ChainableRamRoleArn | Mode::Oidc => {
            p.ram_role_arn = prompt.ask(
                "Ram Role Arn",
                "ram-role-arn",
                a.ram_role_arn,
                &old.ram_role_arn,
                false,
            )?;
            p.ram_session_name = prompt.optional(a.role_session_name, &old.ram_session_name);
            // The official Python library refuses a role profile whose expired_seconds is 0
            // (the aliyun CLI itself writes 900 then); write the STS default instead.
            p.expired_seconds = match (a.expired_seconds, old.expired_seconds) {
                (Some(d), _) => d,
                (None, 0) => u64::from(sts::DEFAULT_DURATION_SECS),
                (None, d) => d,
            };
            if !(u64::from(sts::MIN_DURATION_SECS)..=u64::from(sts::MAX_DURATION_SECS))
                .contains(&p.expired_seconds)
            {
                bail!(
                    "--expired-seconds {}: must be within 900..=43200",
                    p.expired_seconds
                );
            }
            p.external_id = prompt.optional(a.external_id, &old.external_id);
        }
        Mode::CredentialsUri => {
            p.credentials_uri = prompt.ask(
                "Credentials URI",
                "credentials-uri",
                a.credentials_uri,
                &old.credentials_uri,
                false,
            )?;
        }
        Mode::External => {
            p.process_command = prompt.ask(
                "Process Command",
                "process-command",
                a.process_command,
                &old.process_command,
                false,
            )?;
        }
    }
    if mode == Mode::ChainableRamRoleArn {
        p.source_profile = prompt.ask(
            "Source Profile",
            "source-profile",
            a.source_profile,
            &old.source_profile,
            false,
        )?;
        if p.source_profile == p.name {
            bail!("--source-profile cannot be the profile itself");
        }
        if config.profile(&p.source_profile).is_none() {
            bail!(
                "{}: the source profile {:?} does not exist; configure it first",
                path.display(),
                p.source_profile
            );
        }
    }
    if mode == Mode::EcsRamRole {
        p.ram_role_name = prompt.optional(a.ram_role_name, &old.ram_role_name);
    }
    if mode == Mode::Oidc {
        p.oidc_provider_arn = prompt.ask(
            "OIDC Provider Arn",
            "oidc-provider-arn",
            a.oidc_provider_arn,
            &old.oidc_provider_arn,
            false,
        )?;
        p.oidc_token_file = prompt.ask(
            "OIDC Token File",
            "oidc-token-file",
            a.oidc_token_file,
            &old.oidc_token_file,
            false,
        )?;
    }
    // A mode without a key must not keep one it no longer uses in the file.
    if !needs_key {
        p.access_key_id.clear();
        p.access_key_secret = Secret::new("");
    }
    if mode != Mode::StsToken {
        p.sts_token = Secret::new("");
    }
    // The endpoint, and the Node library's `sts_endpoint` that must follow it.
    p.set_endpoint(prompt.optional(a.endpoint, &old.endpoint));
    // When the token was written by `credentials export` its expiry was recorded; a new token
    // (or another mode) makes that record wrong.
    if mode != Mode::StsToken || !p.sts_token.ct_eq(&old.sts_token) {
        p.extra.remove("sts_expiration");
    }
    // Written under the lock, on the file as it is now: another run may have added a profile
    // while this one was asking questions.
    let _lock = super::lock_config(ctx)?;
    let mut config = CliConfig::load(ctx)?.map(|(_, c)| c).unwrap_or_default();
    if mode == Mode::ChainableRamRoleArn && config.profile(&p.source_profile).is_none() {
        bail!(
            "{}: the source profile {:?} does not exist; configure it first",
            path.display(),
            p.source_profile
        );
    }
    config.upsert(p);
    config.current = a.profile.clone();
    config.save(ctx, path)?;
    println!(
        "Saved profile {:?} ({}) to {}; it is now the current profile.",
        a.profile,
        mode.as_str(),
        path.display()
    );
    println!(
        "Check it with: tessera sts GetCallerIdentity --profile {}",
        a.profile
    );
    Ok(())
}
