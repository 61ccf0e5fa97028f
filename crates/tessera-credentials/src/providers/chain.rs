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
    sts_override: Option<String>,
    // Kept across resolutions, so the providers their profiles resolve to (and those
    // providers' sessions) are reused while the files do not change.
    cli: CliProfileProvider,
    ini: IniProfileProvider,
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
            // The steps above already say why each provider was skipped.
            Err(Error::NoCredentials(_)) => {
                write!(f, "=> no credentials: no provider is configured")
            }
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
        DefaultChain {
            cli: CliProfileProvider::new(&ctx),
            ini: IniProfileProvider::new(&ctx),
            ctx,
            profile: None,
            sts_override: None,
        }
    }

    /// Sends every AssumeRole and AssumeRoleWithOIDC the chain makes to this STS endpoint,
    /// over what profiles and the environment say (a command line's `--endpoint`).
    pub fn sts_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.sts_override = Some(endpoint.into()).filter(|e: &String| !e.is_empty());
        self.rebuild();
        self
    }

    /// Whether a provider before the profile files (the environment, OIDC) decides, so that
    /// no profile's credentials will be used.
    pub fn decided_before_profiles(&self) -> bool {
        EnvProvider::is_configured(&self.ctx)
            || !matches!(
                OidcRoleArnProvider::from_env(&self.ctx),
                Err(Error::NotConfigured(_))
            )
    }

    /// Uses this profile name for the CLI and INI profiles (instead of `ALIBABA_CLOUD_PROFILE`
    /// or the CLI's `current`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into()).filter(|n: &String| !n.is_empty());
        self.rebuild();
        self
    }

    fn rebuild(&mut self) {
        let mut cli = CliProfileProvider::new(&self.ctx);
        let mut ini = IniProfileProvider::new(&self.ctx);
        if let Some(n) = &self.profile {
            // The INI file may hold the profile instead: absent here is not an error yet.
            cli = cli.profile_if_present(n);
            ini = ini.profile(n);
        }
        if let Some(e) = &self.sts_override {
            cli = cli.sts_endpoint(e);
            ini = ini.sts_endpoint(e);
        }
        (self.cli, self.ini) = (cli, ini);
    }

    fn provider(&self, name: &str) -> Result<Box<dyn ProvideCredentials>, Error> {
        Ok(match name {
            "env" => Box::new(EnvProvider::new(&self.ctx)),
            "oidc_role_arn" => {
                let p = OidcRoleArnProvider::from_env(&self.ctx)?;
                Box::new(match &self.sts_override {
                    Some(e) => p.sts(Some(e), None, None),
                    None => p,
                })
            }
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
        self.cli.clone()
    }

    fn ini_profile(&self) -> IniProfileProvider {
        self.ini.clone()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{ManualClock, MapEnv};
    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
    use std::sync::Mutex;

    /// STS that fails while `down` is set and otherwise answers AssumeRoleWithOIDC, recording
    /// the OIDC tokens it was sent; plus a credentials URI that always works.
    #[derive(Debug, Default)]
    struct World {
        down: Mutex<bool>,
        oidc_tokens: Mutex<Vec<String>>,
        uri_calls: Mutex<usize>,
    }

    #[async_trait]
    impl HttpClient for std::sync::Arc<World> {
        async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
            let ok = |body: serde_json::Value| HttpResponse {
                status: 200,
                headers: vec![],
                body: body.to_string().into_bytes(),
            };
            let creds = |id: &str| {
                serde_json::json!({"AccessKeyId": id, "AccessKeySecret": "s", "SecurityToken": "t",
                    "Expiration": "2030-01-01T01:00:00Z"})
            };
            if req.url.starts_with("http://127.0.0.1:7/creds") {
                *self.uri_calls.lock().unwrap() += 1;
                let mut c = creds("STS.uri");
                c["Code"] = "Success".into();
                return Ok(ok(c));
            }
            let body = String::from_utf8(req.body.clone()).unwrap();
            let token = tessera_protocol::encoding::parse_pairs(&body)
                .find(|(k, _)| k == "OIDCToken")
                .map(|(_, v)| v)
                .unwrap();
            self.oidc_tokens.lock().unwrap().push(token);
            if *self.down.lock().unwrap() {
                return Ok(HttpResponse {
                    status: 503,
                    headers: vec![],
                    body: br#"{"Code":"ServiceUnavailable","Message":"down"}"#.to_vec(),
                });
            }
            Ok(ok(
                serde_json::json!({"RequestId": "r", "Credentials": creds("STS.oidc")}),
            ))
        }
    }

    #[tokio::test]
    async fn an_empty_chain_explains_itself_once() {
        let home = tempfile::tempdir().unwrap();
        let ctx = Context::os().with_env(MapEnv::from_pairs([
            ("HOME", home.path().to_str().unwrap()),
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
        ]));
        let text = DefaultChain::with_context(ctx).explain().await.to_string();
        let last = text.lines().last().unwrap();
        assert_eq!(last, "=> no credentials: no provider is configured");
        // Each reason appears once, on its provider's line.
        let env_reason =
            "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set";
        assert_eq!(text.matches(env_reason).count(), 1, "{text}");
    }

    #[tokio::test]
    async fn a_failure_is_not_sticky_and_the_token_file_is_read_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "first-token").unwrap();
        let world = std::sync::Arc::new(World::default());
        *world.down.lock().unwrap() = true;
        let ctx = Context::os()
            .with_env(MapEnv::from_pairs([
                ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
                (
                    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                    "acs:ram::1:oidc-provider/p",
                ),
                (
                    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                    token_file.to_str().unwrap(),
                ),
                ("ALIBABA_CLOUD_STS_ENDPOINT", "http://127.0.0.1:9"),
                ("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1:7/creds"),
                ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
            ]))
            .with_clock(ManualClock::new(crate::credential::from_unix_secs(
                1_893_456_000,
            )))
            .with_http(world.clone());
        let chain = DefaultChain::with_context(ctx);

        // STS is down: the configured OIDC provider fails and the chain stops there, rather
        // than handing out the credentials URI's identity.
        let e = chain.provide().await.unwrap_err();
        assert_eq!(e.code(), Some("ServiceUnavailable"), "{e}");
        assert_eq!(*world.uri_calls.lock().unwrap(), 0);

        // STS is back and the kubelet has rotated the token: the next resolution tries OIDC
        // again (nothing is pinned) and sends the new token.
        *world.down.lock().unwrap() = false;
        std::fs::write(&token_file, "second-token").unwrap();
        let c = chain.provide().await.unwrap();
        assert_eq!(c.access_key_id(), "STS.oidc");
        assert_eq!(c.provider_name(), "default/oidc_role_arn");
        let tokens = world.oidc_tokens.lock().unwrap().clone();
        assert_eq!(tokens.first().map(String::as_str), Some("first-token"));
        assert_eq!(tokens.last().map(String::as_str), Some("second-token"));
        assert_eq!(*world.uri_calls.lock().unwrap(), 0);
    }
}
