//! `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`, `ALIBABA_CLOUD_SECURITY_TOKEN`.

use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;

/// Credentials from the official environment variables: an AccessKey, or an STS token when
/// `ALIBABA_CLOUD_SECURITY_TOKEN` is also set.
#[derive(Debug, Clone)]
pub struct EnvProvider {
    ctx: Context,
}

impl EnvProvider {
    /// Whether this provider decides (uses the variables, or fails on a partial set) rather
    /// than passing to the next provider of a chain.
    pub fn is_configured(ctx: &Context) -> bool {
        [
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "ALIBABA_CLOUD_SECURITY_TOKEN",
        ]
        .iter()
        .any(|v| ctx.var(v).is_some())
    }

    /// Reads from `ctx`'s environment at each `provide`.
    pub fn new(ctx: &Context) -> Self {
        EnvProvider { ctx: ctx.clone() }
    }
}

#[async_trait]
impl ProvideCredentials for EnvProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let id = self.ctx.var("ALIBABA_CLOUD_ACCESS_KEY_ID");
        let secret = self.ctx.var("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
        let token = self.ctx.var("ALIBABA_CLOUD_SECURITY_TOKEN");
        debug_assert_eq!(
            Self::is_configured(&self.ctx),
            id.is_some() || secret.is_some() || token.is_some()
        );
        match (id, secret, token) {
            (None, None, Some(_)) => Err(Error::config(
                "environment",
                "ALIBABA_CLOUD_SECURITY_TOKEN is set but ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not",
            )),
            (None, None, None) => Err(Error::NotConfigured(
                "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set"
                    .into(),
            )),
            (Some(_), None, _) => Err(Error::config(
                "environment",
                "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not",
            )),
            (None, Some(_), _) => Err(Error::config(
                "environment",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is not",
            )),
            (Some(id), Some(secret), None) => {
                Ok(Credential::access_key(id, secret).with_provider_name("env"))
            }
            (Some(id), Some(secret), Some(token)) => {
                Ok(Credential::sts_token(id, secret, token).with_provider_name("env"))
            }
        }
    }

    fn name(&self) -> &str {
        "env"
    }
}
