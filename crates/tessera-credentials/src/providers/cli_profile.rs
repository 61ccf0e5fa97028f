//! A profile of the aliyun CLI's `~/.aliyun/config.json`, in any of its modes.

use super::{
    CredentialsUriProvider, EcsRamRoleProvider, ExternalProcessProvider, OidcRoleArnProvider,
    RamRoleArnProvider, StaticProvider,
};
use crate::cli_config::{CliConfig, Profile};
use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;

/// Credentials of a CLI profile: the one named, else `ALIBABA_CLOUD_PROFILE`, else the file's
/// `current`. The file is `ALIBABA_CLOUD_CONFIG_FILE` or `~/.aliyun/config.json`;
/// `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true` turns the provider off.
#[derive(Debug, Clone)]
pub struct CliProfileProvider {
    ctx: Context,
    profile: Option<String>,
    // A profile named by the caller must exist; one a chain passes along (which the INI file
    // may hold instead) need not.
    required: bool,
    // Where every AssumeRole of the profile goes, whatever the profile says (a command line's
    // --endpoint).
    sts_override: Option<String>,
    memo: super::Memo,
}

const MAX_CHAIN: usize = 8;

impl CliProfileProvider {
    /// The provider for the default profile.
    pub fn new(ctx: &Context) -> Self {
        CliProfileProvider {
            ctx: ctx.clone(),
            profile: None,
            required: false,
            sts_override: None,
            memo: super::Memo::default(),
        }
    }

    /// A named profile (an error if the file lacks it).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into()).filter(|n: &String| !n.is_empty());
        self.required = self.profile.is_some();
        self
    }

    /// Sends every AssumeRole of the profile to this STS endpoint, over what the profile says.
    pub fn sts_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.sts_override = Some(endpoint.into()).filter(|e: &String| !e.is_empty());
        self
    }

    /// The STS endpoint and region for the profile's AssumeRole calls: the override, else the
    /// profile's `endpoint`, else the Node library's `sts_endpoint`, else its `sts_region`.
    fn sts_target<'p>(&'p self, p: &'p Profile) -> (Option<&'p str>, Option<&'p str>) {
        let endpoint = [
            self.sts_override.as_deref(),
            Some(p.endpoint.as_str()),
            Some(p.sts_endpoint.as_str()),
        ]
        .into_iter()
        .flatten()
        .find(|e| !e.is_empty());
        let region = (!p.sts_region.is_empty()).then_some(p.sts_region.as_str());
        (endpoint, region)
    }

    /// A named profile that may be absent (not configured here, rather than an error).
    pub(crate) fn profile_if_present(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into()).filter(|n: &String| !n.is_empty());
        self.required = false;
        self
    }

    /// Which profile of which file this provider uses, e.g. `profile "dev" of
    /// /home/me/.aliyun/config.json`, or why none.
    pub fn describe(&self) -> Result<String, Error> {
        let (path, _, name) = self.select()?;
        Ok(format!("profile {name:?} of {}", path.display()))
    }

    /// Builds the provider the profile describes.
    pub fn resolve(&self) -> Result<Box<dyn ProvideCredentials>, Error> {
        let (path, config, name) = self.select()?;
        let file = path.display().to_string();
        let profile = config
            .profile(&name)
            .ok_or_else(|| Error::config(&file, format!("there is no profile {name:?}")))?;
        self.build(&config, profile, &file, 0)
    }

    /// The file, its contents and the name of the profile to use, which exists in it.
    fn select(&self) -> Result<(std::path::PathBuf, CliConfig, String), Error> {
        if self.profile.is_none() && self.ctx.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED") {
            return Err(Error::NotConfigured(
                "ALIBABA_CLOUD_CLI_PROFILE_DISABLED is true".into(),
            ));
        }
        // Without a home directory (a service started without HOME) there is no
        // ~/.aliyun/config.json to read: nothing configured here, unless a profile was named.
        if !self.required && CliConfig::path(&self.ctx).is_err() {
            return Err(Error::NotConfigured(
                "HOME is not set, so there is no ~/.aliyun/config.json".into(),
            ));
        }
        let Some((path, config)) = CliConfig::load(&self.ctx)? else {
            let path = CliConfig::path(&self.ctx)?;
            return match &self.profile {
                Some(p) if self.required => Err(Error::config(
                    path.display().to_string(),
                    format!("the file does not exist, so it has no profile {p:?}"),
                )),
                _ => Err(Error::NotConfigured(format!("no {}", path.display()))),
            };
        };
        let file = path.display().to_string();
        let (name, required) = match (&self.profile, self.ctx.var("ALIBABA_CLOUD_PROFILE")) {
            (Some(p), _) => (p.clone(), self.required),
            (None, Some(p)) => (p, false),
            (None, None) if !config.current.is_empty() => (config.current.clone(), true),
            (None, None) => {
                return Err(Error::NotConfigured(format!(
                    "{file} names no current profile"
                )))
            }
        };
        if config.profile(&name).is_none() {
            return if required {
                Err(Error::config(
                    &file,
                    format!("there is no profile {name:?}"),
                ))
            } else {
                Err(Error::NotConfigured(format!(
                    "{file} has no profile {name:?}"
                )))
            };
        }
        Ok((path, config, name))
    }

    fn build(
        &self,
        config: &CliConfig,
        p: &Profile,
        file: &str,
        depth: usize,
    ) -> Result<Box<dyn ProvideCredentials>, Error> {
        let src = format!("{file}, profile {:?}", p.name);
        let need = |v: &str, field: &str| {
            if v.is_empty() {
                Err(Error::config(
                    &src,
                    format!("{field} is empty (mode {})", p.mode),
                ))
            } else {
                Ok(v.to_string())
            }
        };
        let ak = || -> Result<Credential, Error> {
            Ok(Credential::access_key(
                need(&p.access_key_id, "access_key_id")?,
                need(p.access_key_secret.expose(), "access_key_secret")?,
            ))
        };
        let role_arn =
            |source: Box<dyn ProvideCredentials>| -> Result<Box<dyn ProvideCredentials>, Error> {
                let mut b = RamRoleArnProvider::builder(source)
                    .context(self.ctx.clone())
                    .role_arn(need(&p.ram_role_arn, "ram_role_arn")?);
                if !p.ram_session_name.is_empty() {
                    b = b.session_name(&p.ram_session_name);
                }
                if p.expired_seconds > 0 {
                    b = b.duration_seconds(u32::try_from(p.expired_seconds).unwrap_or(u32::MAX));
                }
                if !p.policy.is_empty() {
                    b = b.policy(&p.policy);
                }
                if !p.external_id.is_empty() {
                    b = b.external_id(&p.external_id);
                }
                match self.sts_target(p) {
                    (Some(e), _) => b = b.sts_endpoint(e),
                    (None, Some(r)) => b = b.sts_region(r),
                    (None, None) => {}
                }
                if p.enable_vpc {
                    b = b.enable_vpc(true);
                }
                Ok(Box::new(b.build().map_err(|e| e.attributed_to(&src))?))
            };
        let provider: Box<dyn ProvideCredentials> = match p.mode.as_str() {
            "AK" | "" => Box::new(StaticProvider::new(ak()?)),
            "StsToken" => {
                let c = Credential::sts_token(
                    need(&p.access_key_id, "access_key_id")?,
                    need(p.access_key_secret.expose(), "access_key_secret")?,
                    need(p.sts_token.expose(), "sts_token")?,
                );
                // The CLI records when a token it wrote expires (Unix seconds); knowing it lets
                // callers see that a stale profile is stale instead of sending it.
                match p.extra.get("sts_expiration").and_then(serde_json::Value::as_i64) {
                    Some(e) if e > 0 => Box::new(ProfileToken {
                        credential: c.with_expiration(crate::credential::from_unix_secs(e)),
                        clock: self.ctx.clock.clone(),
                        source: src.clone(),
                        profile: p.name.clone(),
                    }),
                    _ => Box::new(StaticProvider::new(c)),
                }
            }
            "RamRoleArn" => role_arn(Box::new(StaticProvider::new(ak()?)))?,
            "ChainableRamRoleArn" => {
                let source_name = need(&p.source_profile, "source_profile")?;
                if depth >= MAX_CHAIN {
                    return Err(Error::config(
                        &src,
                        format!("source_profile chains more than {MAX_CHAIN} deep (a cycle?)"),
                    ));
                }
                let source = config.profile(&source_name).ok_or_else(|| {
                    Error::config(&src, format!("source_profile {source_name:?} does not exist"))
                })?;
                role_arn(self.build(config, source, file, depth + 1)?)?
            }
            "EcsRamRole" => {
                let mut e = EcsRamRoleProvider::new(&self.ctx);
                if !p.ram_role_name.is_empty() {
                    e = e.role_name(&p.ram_role_name);
                }
                Box::new(e)
            }
            "OIDC" => {
                let mut o = OidcRoleArnProvider::new(
                    &self.ctx,
                    need(&p.ram_role_arn, "ram_role_arn")?,
                    need(&p.oidc_provider_arn, "oidc_provider_arn")?,
                    self.ctx
                        .expand_home(&need(&p.oidc_token_file, "oidc_token_file")?),
                );
                if !p.ram_session_name.is_empty() {
                    o = o.session_name(&p.ram_session_name);
                }
                if p.expired_seconds > 0 {
                    o = o.duration_seconds(u32::try_from(p.expired_seconds).unwrap_or(u32::MAX));
                }
                if !p.policy.is_empty() {
                    o = o.policy(&p.policy);
                }
                let (endpoint, region) = self.sts_target(p);
                Box::new(o.sts(endpoint, region, p.enable_vpc.then_some(true)))
            }
            "CredentialsURI" => Box::new(
                CredentialsUriProvider::new(&self.ctx, need(&p.credentials_uri, "credentials_uri")?)
                    .map_err(|e| e.attributed_to(&src))?,
            ),
            "External" => Box::new(ExternalProcessProvider::new(
                &self.ctx,
                need(&p.process_command, "process_command")?,
            )),
            "CloudSSO" | "OAuth" => {
                return Err(Error::config(
                    &src,
                    format!(
                        "mode {} needs an interactive browser sign-in, which tessera-credentials does not support; use AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC, CredentialsURI or External",
                        p.mode
                    ),
                ))
            }
            other => {
                return Err(Error::config(
                    &src,
                    format!("unknown mode {other:?}; expected AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC, CredentialsURI or External"),
                ))
            }
        };
        Ok(provider)
    }
}

#[async_trait]
impl ProvideCredentials for CliProfileProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let (path, config, name) = self.select()?;
        let text = serde_json::to_vec(&config).unwrap_or_default();
        let key =
            super::fingerprint(&[path.as_os_str().as_encoded_bytes(), name.as_bytes(), &text]);
        let inner = self.memo.get_or_build(key, || {
            let file = path.display().to_string();
            let profile = config
                .profile(&name)
                .ok_or_else(|| Error::config(&file, format!("there is no profile {name:?}")))?;
            self.build(&config, profile, &file, 0)
        })?;
        inner
            .provide()
            .await
            .map(|c| c.nested_in("cli_profile"))
            .map_err(|e| {
                e.configured_but_failed(|| self.describe())
                    .in_provider("cli_profile")
            })
    }

    fn name(&self) -> &str {
        "cli_profile"
    }
}

/// A StsToken profile whose expiry is recorded: checked at every use (the provider is kept
/// while the file is unchanged), so a stale profile says what to do instead of being sent.
#[derive(Debug)]
struct ProfileToken {
    credential: Credential,
    clock: std::sync::Arc<dyn crate::context::Clock>,
    source: String,
    profile: String,
}

#[async_trait]
impl ProvideCredentials for ProfileToken {
    async fn provide(&self) -> Result<Credential, Error> {
        if self.credential.is_valid_at(self.clock.now()) {
            return Ok(self.credential.clone());
        }
        let at = self
            .credential
            .expiration()
            .map_or(0, crate::credential::unix_secs);
        Err(Error::config(
            &self.source,
            format!(
                "the STS token expired at {}; save a fresh one (e.g. `tessera credentials export --role-arn … --format profile --save-as {} --force`)",
                tessera_protocol::timestamp::format(at),
                self.profile
            ),
        ))
    }

    fn name(&self) -> &str {
        "static_sts"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_recorded_token_expiry_is_checked_at_every_use() {
        let home = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"current": "s", "profiles": [
            {"name": "s", "mode": "StsToken", "access_key_id": "STS.a", "access_key_secret": "b",
             "sts_token": "c", "sts_expiration": 1_893_459_600}]});
        std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
        std::fs::write(home.path().join(".aliyun/config.json"), config.to_string()).unwrap();
        let clock = ManualClock::new(crate::credential::from_unix_secs(1_893_456_000));
        let ctx = Context::os()
            .with_env(MapEnv::from_pairs([(
                "HOME",
                home.path().to_str().unwrap(),
            )]))
            .with_clock(clock.clone());
        let provider = CliProfileProvider::new(&ctx);
        assert_eq!(provider.provide().await.unwrap().access_key_id(), "STS.a");
        clock.advance(std::time::Duration::from_secs(3600));
        let e = provider.provide().await.unwrap_err();
        assert!(
            e.to_string()
                .contains("the STS token expired at 2030-01-01T01:00:00Z"),
            "{e}"
        );
    }
    use crate::context::{ManualClock, MapEnv};
    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// An STS that answers every AssumeRole, counting them per role.
    #[derive(Debug, Default)]
    struct Sts(Mutex<HashMap<String, usize>>);

    #[async_trait]
    impl HttpClient for Arc<Sts> {
        async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
            let body = String::from_utf8(req.body.clone()).unwrap();
            let role = tessera_protocol::encoding::parse_pairs(&body)
                .find(|(k, _)| k == "RoleArn")
                .map(|(_, v)| v)
                .unwrap();
            let n = {
                let mut counts = self.0.lock().unwrap();
                let n = counts.entry(role.clone()).or_default();
                *n += 1;
                *n
            };
            let answer = serde_json::json!({"RequestId": "r", "Credentials": {
                "AccessKeyId": format!("STS.{role}.{n}"), "AccessKeySecret": "s",
                "SecurityToken": "t", "Expiration": "2030-01-01T01:00:00Z"}});
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: answer.to_string().into_bytes(),
            })
        }
    }

    #[tokio::test]
    async fn a_chained_profile_reuses_its_source_session_across_refreshes() {
        let home = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"current": "outer", "profiles": [
            {"name": "inner", "mode": "RamRoleArn", "access_key_id": "LTAIk",
             "access_key_secret": "s", "ram_role_arn": "acs:ram::1:role/inner"},
            {"name": "outer", "mode": "ChainableRamRoleArn", "source_profile": "inner",
             "ram_role_arn": "acs:ram::1:role/outer"}]});
        std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
        std::fs::write(home.path().join(".aliyun/config.json"), config.to_string()).unwrap();
        let sts = Arc::new(Sts::default());
        let ctx = Context::os()
            .with_env(MapEnv::from_pairs([
                ("HOME", home.path().to_str().unwrap()),
                ("ALIBABA_CLOUD_STS_ENDPOINT", "http://127.0.0.1:9"),
            ]))
            .with_clock(ManualClock::new(crate::credential::from_unix_secs(
                1_893_456_000,
            )))
            .with_http(sts.clone());
        let provider = CliProfileProvider::new(&ctx);
        let first = provider.provide().await.unwrap();
        let second = provider.provide().await.unwrap();
        assert_eq!(first.access_key_id(), "STS.acs:ram::1:role/outer.1");
        assert_eq!(second.access_key_id(), "STS.acs:ram::1:role/outer.2");
        let counts = sts.0.lock().unwrap().clone();
        assert_eq!(counts["acs:ram::1:role/outer"], 2);
        assert_eq!(
            counts["acs:ram::1:role/inner"], 1,
            "the source session was reused"
        );

        // A changed file is a new configuration: everything is built (and assumed) afresh.
        let mut changed = config.clone();
        changed["profiles"][1]["ram_session_name"] = "renamed".into();
        std::fs::write(home.path().join(".aliyun/config.json"), changed.to_string()).unwrap();
        provider.provide().await.unwrap();
        assert_eq!(sts.0.lock().unwrap()["acs:ram::1:role/inner"], 2);
    }
}
