//! OIDCRoleArn (RRSA on ACK): AssumeRoleWithOIDC with a projected service-account token.

use crate::rpc::{self, Auth, RetryPolicy, SkewEstimate};
use crate::signing::RpcCall;
use crate::sts;
use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use base64::Engine;
use std::path::PathBuf;
use tessera_protocol::STS_VERSION;

/// Exchanges the OIDC token in a file for an STS session of a role. The file is re-read on
/// every exchange (the kubelet rotates it), and a token whose `exp` has passed is reported as
/// a stale file instead of being sent to STS. The call is unsigned, as the token is the proof.
#[derive(Debug)]
pub struct OidcRoleArnProvider {
    ctx: Context,
    role_arn: String,
    oidc_provider_arn: String,
    token_file: PathBuf,
    session_name: Option<String>,
    duration_seconds: Option<u32>,
    policy: Option<String>,
    // A bad region is reported when credentials are asked for, like any other failure.
    endpoint: Result<String, Error>,
    retry: RetryPolicy,
    skew: SkewEstimate,
}

impl OidcRoleArnProvider {
    /// A provider for `role_arn`, trusting `oidc_provider_arn`, with the token in `token_file`.
    pub fn new(
        ctx: &Context,
        role_arn: impl Into<String>,
        oidc_provider_arn: impl Into<String>,
        token_file: impl Into<PathBuf>,
    ) -> Self {
        OidcRoleArnProvider {
            ctx: ctx.clone(),
            role_arn: role_arn.into(),
            oidc_provider_arn: oidc_provider_arn.into(),
            token_file: token_file.into(),
            session_name: None,
            duration_seconds: None,
            policy: None,
            endpoint: crate::endpoint::sts_endpoint(ctx, None, None, None),
            retry: RetryPolicy::default(),
            skew: SkewEstimate::default(),
        }
    }

    /// The RRSA trio `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`,
    /// `ALIBABA_CLOUD_OIDC_TOKEN_FILE` (plus `ALIBABA_CLOUD_ROLE_SESSION_NAME`). Not configured
    /// unless the provider ARN and token file are set; set but without a role ARN is an error.
    pub fn from_env(ctx: &Context) -> Result<Self, Error> {
        let role = ctx.var("ALIBABA_CLOUD_ROLE_ARN");
        let provider = ctx.var("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
        let file = ctx.var("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
        match (role, provider, file) {
            (Some(r), Some(p), Some(f)) => Ok(OidcRoleArnProvider::new(ctx, r, p, f)),
            (None, Some(_), Some(_)) => Err(Error::config(
                "environment",
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE are set but ALIBABA_CLOUD_ROLE_ARN is not",
            )),
            _ => Err(Error::NotConfigured(
                "ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE are not all set"
                    .into(),
            )),
        }
    }

    /// The session name.
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = Some(name.into());
        self
    }

    /// Session lifetime, 900..=43200 seconds.
    pub fn duration_seconds(mut self, secs: u32) -> Self {
        self.duration_seconds = Some(secs);
        self
    }

    /// A session policy.
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// The STS endpoint, region and VPC switch, as for [`super::RamRoleArnProvider`].
    pub fn sts(mut self, endpoint: Option<&str>, region: Option<&str>, vpc: Option<bool>) -> Self {
        self.endpoint = crate::endpoint::sts_endpoint(&self.ctx, endpoint, region, vpc);
        self
    }

    fn read_token(&self) -> Result<String, Error> {
        let source = self.token_file.display().to_string();
        let token = self
            .ctx
            .read_optional(&self.token_file)?
            .ok_or_else(|| Error::config(&source, "the OIDC token file does not exist"))?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(Error::config(&source, "the OIDC token file is empty"));
        }
        if let Some(exp) = jwt_exp(&token) {
            let now = crate::credential::unix_secs(self.ctx.clock.now());
            if exp <= now {
                return Err(Error::config(
                    &source,
                    format!(
                        "the OIDC token in the file expired at {}; the file is stale (is the token projection still mounted?)",
                        tessera_protocol::timestamp::format(exp)
                    ),
                ));
            }
        }
        Ok(token)
    }
}

/// The `exp` claim of a JWT, if the token is one and has it.
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

#[async_trait]
impl ProvideCredentials for OidcRoleArnProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let run = async {
            sts::check_duration(self.duration_seconds)?;
            let session = self
                .session_name
                .clone()
                .unwrap_or_else(|| super::default_session_name(&self.ctx));
            sts::check_session_name(&session)?;
            let token = self.read_token()?;
            let call = RpcCall::new("AssumeRoleWithOIDC", STS_VERSION)
                .param("RoleArn", &self.role_arn)
                .param("OIDCProviderArn", &self.oidc_provider_arn)
                .param("OIDCToken", token)
                .param("RoleSessionName", session)
                .param(
                    "DurationSeconds",
                    self.duration_seconds
                        .unwrap_or(sts::DEFAULT_DURATION_SECS)
                        .to_string(),
                )
                .param_opt("Policy", self.policy.as_deref());
            let endpoint = self.endpoint.clone()?;
            let reply = rpc::invoke(
                &self.ctx,
                &endpoint,
                &call,
                Auth::Anonymous,
                &self.retry,
                &self.skew,
            )
            .await?;
            Ok(sts::parse_assume_role(&endpoint, &reply, "oidc_role_arn")?.credentials)
        };
        run.await.map_err(|e: Error| e.in_provider("oidc_role_arn"))
    }

    fn name(&self) -> &str {
        "oidc_role_arn"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jwt_exp() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let t = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"exp":1700000000}"#)
        );
        assert_eq!(jwt_exp(&t), Some(1_700_000_000));
        assert_eq!(jwt_exp("not-a-jwt"), None);
    }
}
