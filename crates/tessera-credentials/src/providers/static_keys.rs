//! Credentials handed over directly.

use crate::{Credential, Error, ProvideCredentials};
use async_trait::async_trait;

/// Always returns the same credential: an AccessKey (`static_ak`), an STS token
/// (`static_sts`, as `StsTokenCredential`), or a bearer token.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credential);

impl StaticProvider {
    /// Wraps a credential.
    pub fn new(credential: Credential) -> Self {
        StaticProvider(credential)
    }

    /// A long-term AccessKey.
    pub fn access_key(id: impl Into<String>, secret: impl Into<String>) -> Self {
        StaticProvider(Credential::access_key(id, secret))
    }

    /// An STS token.
    pub fn sts_token(
        id: impl Into<String>,
        secret: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        StaticProvider(Credential::sts_token(id, secret, token))
    }
}

#[async_trait]
impl ProvideCredentials for StaticProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        Ok(self.0.clone())
    }

    fn name(&self) -> &str {
        self.0.provider_name()
    }
}
