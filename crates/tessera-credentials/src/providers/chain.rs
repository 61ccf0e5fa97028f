//! The default chain, in the official libraries' order, and its explanation.

use super::{
    CliProfileProvider, CredentialsUriProvider, EcsRamRoleProvider, EnvProvider,
    IniProfileProvider, OidcRoleArnProvider,
};
use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use std::fmt;

/// Environment → OIDC (RRSA) → CLI profile → INI profile → ECS metadata → credentials URI.
///
/// Unlike the official libraries, a provider that is configured but fails stops the chain with
/// its reason instead of silently falling through to the next (a broken profile must not end up
/// on the instance role), and nothing is pinned: every resolution walks the chain again, so a
/// transient failure never sticks. Wrap it in a [`crate::CredentialsCache`] (the
/// [`crate::Client`] does) so that walk happens only when credentials need refreshing.
#[derive(Debug, Clone)]
pub struct DefaultChain {
    ctx: Context,
    profile: Option<String>,
}

impl Default for DefaultChain {
    fn default() -> Self {
        DefaultChain::new()
    }
}

/// What happened at one provider of the chain.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Not configured here; the reason.
    Skipped(String),
    /// Configured, and failed: the chain stopped here.
    Failed(Error),
    /// Chosen: the provenance of the credential it returned.
    Chosen(String),
    /// Not tried, because an earlier provider decided.
    NotReached,
}

/// One provider's line of an [`Explanation`].
#[derive(Debug, Clone)]
pub struct Step {
    /// The provider.
    pub provider: &'static str,
    /// What it did.
    pub outcome: Outcome,
}

/// Which provider the chain chose, and why each one before it was passed over.
#[derive(Debug)]
pub struct Explanation {
    /// Every provider, in order.
    pub steps: Vec<Step>,
    /// What the chain resolved to.
    pub result: Result<Credential, Error>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            let (mark, text) = match &s.outcome {
                Outcome::Skipped(why) => ("skipped", why.clone()),
                Outcome::Failed(e) => ("FAILED ", e.to_string()),
                Outcome::Chosen(path) => ("CHOSEN ", format!("credentials from {path}")),
                Outcome::NotReached => ("-      ", "not tried".to_string()),
            };
            writeln!(f, "{}. {:<16} {mark}  {text}", i + 1, s.provider)?;
        }
        match &self.result {
            Ok(c) => write!(
                f,
                "=> {} credential {} from {}",
                c.kind().as_str(),
                c.access_key_id(),
                c.provider_name()
            ),
            Err(e) => write!(f, "=> no credentials: {e}"),
        }
    }
}

const ORDER: [&str; 6] = [
    "env",
    "oidc_role_arn",
    "cli_profile",
    "profile",
    "ecs_ram_role",
    "credentials_uri",
];

impl DefaultChain {
    /// The chain over the real environment and files.
    pub fn new() -> Self {
        DefaultChain::with_context(Context::os())
    }

    /// The chain over `ctx`.
    pub fn with_context(ctx: Context) -> Self {
        DefaultChain { ctx, profile: None }
    }

    /// Uses this profile name for the CLI and INI profiles (instead of `ALIBABA_CLOUD_PROFILE`
    /// or the CLI's `current`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into()).filter(|n: &String| !n.is_empty());
        self
    }

    fn provider(&self, name: &str) -> Result<Box<dyn ProvideCredentials>, Error> {
        Ok(match name {
            "env" => Box::new(EnvProvider::new(&self.ctx)),
            "oidc_role_arn" => Box::new(OidcRoleArnProvider::from_env(&self.ctx)?),
            "cli_profile" => Box::new(self.cli_profile()),
            "profile" => Box::new(self.ini_profile()),
            "ecs_ram_role" => {
                if self.ctx.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED") {
                    return Err(Error::NotConfigured(
                        "ALIBABA_CLOUD_ECS_METADATA_DISABLED is true".into(),
                    ));
                }
                Box::new(EcsRamRoleProvider::new(&self.ctx))
            }
            _ => Box::new(CredentialsUriProvider::from_env(&self.ctx)?),
        })
    }

    fn cli_profile(&self) -> CliProfileProvider {
        let p = CliProfileProvider::new(&self.ctx);
        match &self.profile {
            // The INI file may hold the profile instead: absent here is not an error yet.
            Some(n) => p.profile_if_present(n),
            None => p,
        }
    }

    fn ini_profile(&self) -> IniProfileProvider {
        let p = IniProfileProvider::new(&self.ctx);
        match &self.profile {
            Some(n) => p.profile(n),
            None => p,
        }
    }

    /// Where a profile provider's credentials came from, for the explanation.
    fn source_of(&self, name: &str) -> Option<String> {
        match name {
            "cli_profile" => self.cli_profile().describe().ok(),
            "profile" => self.ini_profile().describe().ok(),
            "env" => Some("ALIBABA_CLOUD_ACCESS_KEY_ID".into()),
            "oidc_role_arn" => self.ctx.var("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
            "credentials_uri" => self
                .ctx
                .var("ALIBABA_CLOUD_CREDENTIALS_URI")
                .map(|u| super::uri::without_query(&u).to_string()),
            _ => None,
        }
    }

    /// Walks the chain and reports every provider's outcome.
    pub async fn explain(&self) -> Explanation {
        let mut steps = Vec::with_capacity(ORDER.len());
        let result = self.walk(Some(&mut steps)).await;
        Explanation { steps, result }
    }

    async fn walk(&self, mut steps: Option<&mut Vec<Step>>) -> Result<Credential, Error> {
        let mut record = |provider: &'static str, outcome: Outcome| {
            if let Some(steps) = steps.as_deref_mut() {
                steps.push(Step { provider, outcome });
            }
        };
        let named = self
            .profile
            .clone()
            .or_else(|| self.ctx.var("ALIBABA_CLOUD_PROFILE"));
        let mut skipped = Vec::new();
        let mut result = None;
        for name in ORDER {
            if result.is_some() {
                record(name, Outcome::NotReached);
                continue;
            }
            // Every provider before the instance role was skipped although a profile was named:
            // neither profile file has it, and a typo must not end up on the instance role or a
            // credentials URI further down the chain.
            if name == "ecs_ram_role" {
                if let Some(profile) = &named {
                    let e = Error::config(
                        "ALIBABA_CLOUD_PROFILE",
                        format!(
                            "profile {profile:?} is in neither ~/.aliyun/config.json nor ~/.alibabacloud/credentials"
                        ),
                    );
                    record(name, Outcome::Failed(e.clone()));
                    result = Some(Err(e));
                    continue;
                }
            }
            let outcome = match self.provider(name) {
                Ok(p) => p.provide().await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(c) => {
                    let c = c.nested_in("default");
                    let mut chosen = c.provider_name().to_string();
                    if let Some(src) = self.source_of(name) {
                        chosen = format!("{chosen} ({src})");
                    }
                    tracing::debug!(provider = name, "credentials resolved");
                    record(name, Outcome::Chosen(chosen));
                    result = Some(Ok(c));
                }
                Err(Error::NotConfigured(why)) => {
                    skipped.push(format!("{name}: {why}"));
                    record(name, Outcome::Skipped(why));
                }
                Err(e) => {
                    let e = e.in_provider(name);
                    record(name, Outcome::Failed(e.clone()));
                    result = Some(Err(e));
                }
            }
        }
        result.unwrap_or(Err(Error::NoCredentials(skipped)))
    }
}

#[async_trait]
impl ProvideCredentials for DefaultChain {
    async fn provide(&self) -> Result<Credential, Error> {
        self.walk(None).await
    }

    fn name(&self) -> &str {
        "default"
    }
}
