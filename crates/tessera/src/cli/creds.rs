//! `tessera credentials export | explain`.

use super::session::{print_json, Conn};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use tessera_credentials::cli_config::{CliConfig, Profile};
use tessera_credentials::credential::unix_secs;
use tessera_credentials::providers::{DefaultChain, RamRoleArnProvider};
use tessera_credentials::{Credential, CredentialKind, Secret};

/// `tessera credentials`.
#[derive(Subcommand, Debug)]
pub enum CredentialsCommand {
    /// Print the resolved credentials: as shell exports, as the JSON a credentials URI serves,
    /// or as a CLI profile.
    Export(ExportArgs),
    /// Show how the default chain resolves credentials here: every provider, whether it was
    /// skipped (and why), failed (and why), or chosen.
    Explain(ExplainArgs),
}

/// Output formats of `credentials export`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// `export ALIBABA_CLOUD_ACCESS_KEY_ID=…` lines for a POSIX shell.
    Env,
    /// `{"Code":"Success","AccessKeyId",…,"Expiration"}`, what ALIBABA_CLOUD_CREDENTIALS_URI serves.
    Json,
    /// A profile of ~/.aliyun/config.json (StsToken or AK mode).
    Profile,
}

/// `tessera credentials export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    conn: Conn,
    /// Output format.
    #[arg(long, value_enum, default_value = "env")]
    format: Format,
    /// Assume this role first and export the session's credentials.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// Session name when assuming a role.
    #[arg(long, value_name = "NAME", requires = "role_arn")]
    role_session_name: Option<String>,
    /// Session lifetime when assuming a role (900..=43200).
    #[arg(long, value_name = "SECONDS", requires = "role_arn")]
    duration_seconds: Option<u32>,
    /// With --format profile: also save the profile under this name in ~/.aliyun/config.json.
    #[arg(long, value_name = "NAME")]
    save_as: Option<String>,
    /// With --save-as: replace a profile of that name.
    #[arg(long, requires = "save_as")]
    force: bool,
}

/// `tessera credentials explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    conn: Conn,
}

/// Runs `tessera credentials …`.
pub fn run(cmd: CredentialsCommand) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    match cmd {
        CredentialsCommand::Explain(a) => {
            let mut chain = DefaultChain::with_context(a.conn.context()?)
                .sts_endpoint(a.conn.endpoint.clone().unwrap_or_default());
            if let Some(p) = &a.conn.profile {
                chain = chain.profile(p);
            }
            let explanation = runtime.block_on(chain.explain());
            println!("{explanation}");
            if explanation.result.is_err() {
                anyhow::bail!("the default chain found no credentials");
            }
            Ok(())
        }
        CredentialsCommand::Export(a) => {
            if a.save_as.is_some() && !matches!(a.format, Format::Profile) {
                anyhow::bail!("--save-as saves a profile: add --format profile");
            }
            let session = a.conn.open()?;
            if let (Some(name), false) = (&a.save_as, a.force) {
                if let Some((path, config)) = CliConfig::load(&session.ctx)? {
                    if config.profile(name).is_some() {
                        anyhow::bail!(
                            "{}: a profile {name:?} already exists; choose another --save-as, or add --force to replace it",
                            path.display()
                        );
                    }
                }
            }
            let cred = match &a.role_arn {
                None => runtime
                    .block_on(session.client.credentials().get())
                    .map_err(|e| super::explain_error(e, &session))?,
                Some(arn) => {
                    let mut b = RamRoleArnProvider::builder(session.client.credentials().clone())
                        .context(session.ctx.clone())
                        .role_arn(arn);
                    if let Some(e) = session.client_endpoint() {
                        b = b.sts_endpoint(e);
                    }
                    if let Some(n) = &a.role_session_name {
                        b = b.session_name(n);
                    }
                    if let Some(d) = a.duration_seconds {
                        b = b.duration_seconds(d);
                    }
                    let provider = b.build()?;
                    runtime
                        .block_on(tessera_credentials::ProvideCredentials::provide(&provider))
                        .map_err(|e| super::explain_error(e, &session))?
                }
            };
            match a.format {
                Format::Env => print!("{}", as_env(&cred)),
                Format::Json if cred.kind() != CredentialKind::StsToken => anyhow::bail!(
                    "a credentials URI serves STS tokens, and these credentials are a long-term AccessKey ({}); add --role-arn to export a role session",
                    cred.provider_name()
                ),
                Format::Json => print_json(&as_uri_json(&cred)),
                Format::Profile => {
                    let name = a.save_as.clone().unwrap_or_else(|| "exported".into());
                    let mut p = as_profile(&cred, &name);
                    if let Some(s) = &session.profile {
                        p.region_id = s.region_id.clone();
                        p.endpoint = s.endpoint.clone();
                    }
                    if let Some(e) = &a.conn.endpoint {
                        p.endpoint = e.clone();
                    }
                    print_json(&serde_json::to_value(&p)?);
                    if a.save_as.is_some() {
                        let path = CliConfig::path(&session.ctx)?;
                        let _lock = super::lock_config(&session.ctx)?;
                        let mut config = CliConfig::load(&session.ctx)?
                            .map(|(_, c)| c)
                            .unwrap_or_default();
                        config.upsert(p);
                        if config.current.is_empty() {
                            config.current = name.clone();
                        }
                        config.save(&session.ctx, &path)?;
                        eprintln!("Saved profile {name:?} to {}", path.display());
                    }
                }
            }
            Ok(())
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn expiration(c: &Credential) -> Option<String> {
    c.expiration()
        .map(|e| tessera_protocol::timestamp::format(unix_secs(e)))
}

/// Shell exports.
pub fn as_env(c: &Credential) -> String {
    let mut s = String::new();
    if let Some(e) = expiration(c) {
        s.push_str(&format!("# from {}, expires {e}\n", c.provider_name()));
    } else {
        s.push_str(&format!("# from {}\n", c.provider_name()));
    }
    s.push_str(&format!(
        "export ALIBABA_CLOUD_ACCESS_KEY_ID={}\n",
        quote(c.access_key_id())
    ));
    s.push_str(&format!(
        "export ALIBABA_CLOUD_ACCESS_KEY_SECRET={}\n",
        quote(c.access_key_secret().expose())
    ));
    match c.security_token() {
        Some(t) => s.push_str(&format!(
            "export ALIBABA_CLOUD_SECURITY_TOKEN={}\n",
            quote(t.expose())
        )),
        None => s.push_str("unset ALIBABA_CLOUD_SECURITY_TOKEN\n"),
    }
    s
}

/// The credentials-URI JSON.
pub fn as_uri_json(c: &Credential) -> serde_json::Value {
    let mut v = json!({
        "Code": "Success",
        "AccessKeyId": c.access_key_id(),
        "AccessKeySecret": c.access_key_secret().expose(),
    });
    if let Some(t) = c.security_token() {
        v["SecurityToken"] = t.expose().into();
    }
    if let Some(e) = expiration(c) {
        v["Expiration"] = e.into();
    }
    v
}

/// A CLI profile holding the credential.
pub fn as_profile(c: &Credential, name: &str) -> Profile {
    let mut p = Profile {
        name: name.to_string(),
        mode: "AK".into(),
        access_key_id: c.access_key_id().to_string(),
        access_key_secret: c.access_key_secret().clone(),
        ..Profile::default()
    };
    if c.kind() == CredentialKind::StsToken {
        p.mode = "StsToken".into();
        p.sts_token = c
            .security_token()
            .cloned()
            .unwrap_or_else(|| Secret::new(""));
        if let Some(e) = c.expiration() {
            p.extra.insert("sts_expiration".into(), unix_secs(e).into());
        }
    }
    p
}
