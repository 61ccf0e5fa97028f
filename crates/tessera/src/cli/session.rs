//! From the command line's connection options to a signing client: which profile, which file,
//! which endpoint.

use anyhow::{bail, Context as _};
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;
use tessera_credentials::cli_config::{CliConfig, Profile};
use tessera_credentials::context::{Env, OsEnv};
use tessera_credentials::http::ReqwestHttp;
use tessera_credentials::providers::{CliProfileProvider, DefaultChain};
use tessera_credentials::{Client, Context, ProvideCredentials, SignatureVersion};

/// Where calls go and whose credentials sign them.
#[derive(Args, Debug, Clone, Default)]
pub struct Conn {
    /// Profile of ~/.aliyun/config.json to use [default: ALIBABA_CLOUD_PROFILE, else the
    /// file's current profile, else the default credential chain].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Endpoint of every product, e.g. a Tessera server's http://127.0.0.1:8080 [default: the
    /// profile's endpoint, else Alibaba Cloud's public endpoints].
    #[arg(long, env = "TESSERA_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region [default: the profile's region_id].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// A CA certificate (PEM) to trust for https, e.g. <data dir>/tls/ca.pem.
    #[arg(long, env = "TESSERA_CA_FILE", value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

/// The process environment with a few variables overridden, so that an `--endpoint` given on
/// the command line also steers the AssumeRole calls of RamRoleArn profiles.
#[derive(Debug)]
struct Overlay(HashMap<String, String>);

impl Env for Overlay {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned().or_else(|| OsEnv.var(name))
    }
}

/// A resolved connection.
pub struct Session {
    /// The endpoint every product goes to, if one was given.
    pub endpoint: Option<String>,
    /// The context providers read.
    pub ctx: Context,
    /// The client.
    pub client: Client,
    /// The profile in use (for credentials only when `explicit`, else for endpoint and region).
    pub profile: Option<Profile>,
    /// Whether the profile was named with `--profile` (and so signs the calls).
    pub explicit: bool,
    /// The configuration file consulted.
    pub config_path: Option<PathBuf>,
}

impl Conn {
    /// The context: real world, plus the CA, plus the endpoint for STS.
    pub fn context(&self, endpoint: Option<&str>) -> anyhow::Result<Context> {
        let mut overlay = HashMap::new();
        if let Some(e) = endpoint {
            // What the command line (or the signing profile) says wins over the environment.
            overlay.insert("ALIBABA_CLOUD_STS_ENDPOINT".to_string(), e.to_string());
            warn_if_cleartext(e);
        }
        let mut http = ReqwestHttp::default();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?;
            http = http
                .with_root_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
        }
        Ok(Context::os().with_env(Overlay(overlay)).with_http(http))
    }

    /// The profile whose credentials will sign: the one named with `--profile`, else the one
    /// the default chain would pick (`ALIBABA_CLOUD_PROFILE` or the file's current profile),
    /// unless the environment supplies credentials first — then none, so that a profile's
    /// endpoint never receives requests signed with someone else's credentials.
    pub fn profile(&self) -> anyhow::Result<(Option<PathBuf>, Option<Profile>)> {
        let ctx = Context::os();
        if self.profile.is_none() && chain_prefers_environment(&ctx) {
            return Ok((None, None));
        }
        let loaded = CliConfig::load(&ctx)?;
        let wanted = self
            .profile
            .clone()
            .or_else(|| ctx.var("ALIBABA_CLOUD_PROFILE"));
        match (loaded, wanted) {
            (Some((path, config)), Some(name)) => match config.profile(&name) {
                Some(p) => Ok((Some(path), Some(p.clone()))),
                None if self.profile.is_some() => bail!(
                    "{}: there is no profile {name:?} (profiles: {}); create it with `tessera configure --profile {name}`",
                    path.display(),
                    names(&config)
                ),
                None => Ok((Some(path), None)),
            },
            (Some((path, config)), None) => {
                let p = config.profile(&config.current).cloned();
                Ok((Some(path), p))
            }
            (None, Some(name)) if self.profile.is_some() => bail!(
                "{}: the file does not exist, so there is no profile {name:?}; create it with `tessera configure --profile {name}`",
                CliConfig::path(&ctx)?.display()
            ),
            (None, _) => Ok((None, None)),
        }
    }

    /// Opens a session: the profile's provider (or the default chain) behind a client.
    pub fn open(&self) -> anyhow::Result<Session> {
        let (config_path, profile) = self.profile()?;
        let endpoint = self.endpoint.clone().or_else(|| {
            profile
                .as_ref()
                .map(|p| p.endpoint.clone())
                .filter(|e| !e.is_empty())
        });
        let region = self.region.clone().or_else(|| {
            profile
                .as_ref()
                .map(|p| p.region_id.clone())
                .filter(|r| !r.is_empty())
        });
        let ctx = self.context(endpoint.as_deref())?;
        // A profile named on the command line is what the user asked for; otherwise the
        // default chain decides, as in every SDK (environment first, then ALIBABA_CLOUD_PROFILE
        // or the file's current profile, …), so `eval "$(tessera credentials export)"` works.
        let provider: Box<dyn ProvideCredentials> = match (&self.profile, &profile) {
            (Some(_), Some(p)) => Box::new(CliProfileProvider::new(&ctx).profile(&p.name)),
            _ => Box::new(DefaultChain::with_context(ctx.clone())),
        };
        let mut builder = Client::builder().context(ctx.clone()).credentials(provider);
        if let Some(e) = &endpoint {
            builder = builder.endpoint(e);
        }
        if let Some(r) = &region {
            builder = builder.region(r);
        }
        let client = builder.build()?;
        Ok(Session {
            explicit: self.profile.is_some(),
            endpoint,
            ctx,
            client,
            profile,
            config_path,
        })
    }
}

/// Whether the default chain takes its credentials from a provider before the CLI profile
/// (environment variables, OIDC), or skips the CLI profile altogether.
fn chain_prefers_environment(ctx: &Context) -> bool {
    // The same tests as the chain's own: any of the key variables makes the environment
    // provider decide (use them, or fail); OIDC needs its provider ARN and token file.
    let env_keys = [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    ]
    .iter()
    .any(|v| ctx.var(v).is_some());
    let oidc = ctx.var("ALIBABA_CLOUD_OIDC_PROVIDER_ARN").is_some()
        && ctx.var("ALIBABA_CLOUD_OIDC_TOKEN_FILE").is_some();
    env_keys || oidc || ctx.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED")
}

/// Signed requests (and STS tokens) in clear text off this machine can be read on the way.
fn warn_if_cleartext(endpoint: &str) {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        eprintln!(
            "tessera: warning: {endpoint} is plain HTTP to another host; signed requests and STS tokens cross the network unencrypted (serve with --tls and use https://)"
        );
    }
}

fn names(config: &CliConfig) -> String {
    if config.profiles.is_empty() {
        return "none".into();
    }
    config
        .profiles
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `v1`/`v3`.
pub fn signature(s: &str) -> anyhow::Result<SignatureVersion> {
    match s.to_ascii_lowercase().as_str() {
        "v1" | "1" | "1.0" => Ok(SignatureVersion::V1),
        "v3" | "3" | "acs3" => Ok(SignatureVersion::V3),
        other => bail!("--signature-version {other:?}: expected v1 or v3"),
    }
}

/// Prints JSON, indented.
pub fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

impl Session {
    /// The endpoint every product goes to, if one was given (for AssumeRole calls made
    /// outside the client).
    pub fn client_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }
}
