//! From the command line's connection options to a signing client: which profile, which file,
//! which endpoint.

use anyhow::{bail, Context as _};
use clap::Args;
use std::path::PathBuf;
use tessera_credentials::cli_config::{CliConfig, Profile};
use tessera_credentials::http::{Authority, ReqwestHttp};
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
    /// The context: the real world, trusting the CA if one was given.
    pub fn context(&self) -> anyhow::Result<Context> {
        let mut http = ReqwestHttp::default();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?;
            http = http
                .with_root_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
        }
        Ok(Context::os().with_http(http))
    }

    /// The profile whose credentials will sign: the one named with `--profile`, else the one
    /// the default chain would pick (`ALIBABA_CLOUD_PROFILE` or the file's current profile),
    /// unless the environment supplies credentials first — then none, so that a profile's
    /// endpoint never receives requests signed with someone else's credentials.
    pub fn profile(&self) -> anyhow::Result<(Option<PathBuf>, Option<Profile>)> {
        let ctx = Context::os();
        if self.profile.is_none()
            && DefaultChain::with_context(ctx.clone()).decided_before_profiles()
        {
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
        if let Some(e) = &endpoint {
            warn_if_cleartext(e);
        }
        let ctx = self.context()?;
        // A profile named on the command line is what the user asked for; otherwise the
        // default chain decides, as in every SDK (environment first, then ALIBABA_CLOUD_PROFILE
        // or the file's current profile, …), so `eval "$(tessera credentials export)"` works.
        // An --endpoint on the command line takes the AssumeRole calls along too.
        let sts = self.endpoint.clone().unwrap_or_default();
        let provider: Box<dyn ProvideCredentials> = match (&self.profile, &profile) {
            (Some(_), Some(p)) => Box::new(
                CliProfileProvider::new(&ctx)
                    .profile(&p.name)
                    .sts_endpoint(sts),
            ),
            _ => Box::new(DefaultChain::with_context(ctx.clone()).sts_endpoint(sts)),
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

/// Signed requests (and STS tokens) in clear text off this machine can be read on the way.
fn warn_if_cleartext(endpoint: &str) {
    let Some(a) = Authority::parse(endpoint) else {
        return;
    };
    if a.scheme.eq_ignore_ascii_case("http") && !a.is_loopback() {
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
    /// Another client with this session's context and endpoint, signing with `provider`.
    pub fn client_with(
        &self,
        provider: impl ProvideCredentials + 'static,
    ) -> Result<Client, tessera_credentials::Error> {
        let mut builder = Client::builder()
            .context(self.ctx.clone())
            .credentials(provider);
        if let Some(e) = &self.endpoint {
            builder = builder.endpoint(e);
        }
        builder.build()
    }

    /// The endpoint every product goes to, if one was given (for AssumeRole calls made
    /// outside the client).
    pub fn client_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }
}
