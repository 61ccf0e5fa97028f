//! The provider trait every credential source implements.

use crate::{Credential, Error};
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;

/// A source of credentials.
///
/// `provide` answers [`Error::NotConfigured`] when the source has nothing to go on (its
/// variables or files are absent), so a chain tries the next one; any other error means the
/// source is configured but broken, and a chain stops there with that reason.
#[async_trait]
pub trait ProvideCredentials: Send + Sync + Debug {
    /// Fetches (or returns) a credential. Each call may do I/O: wrap expiring sources in a
    /// [`crate::CredentialsCache`] rather than calling this per request.
    async fn provide(&self) -> Result<Credential, Error>;

    /// A short name for diagnostics and provenance, e.g. `ram_role_arn`.
    fn name(&self) -> &str;

    /// Reports that a service rejected `rejected` (expired or unknown token). Caching providers
    /// drop it, once, if it is still the one they hold; others ignore the report.
    fn invalidate(&self, _rejected: &Credential) {}
}

/// A provider shared between owners (clients, chains, caches).
pub type SharedProvider = Arc<dyn ProvideCredentials>;

#[async_trait]
impl<P: ProvideCredentials + ?Sized> ProvideCredentials for Arc<P> {
    async fn provide(&self) -> Result<Credential, Error> {
        (**self).provide().await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn invalidate(&self, rejected: &Credential) {
        (**self).invalidate(rejected)
    }
}

#[async_trait]
impl<P: ProvideCredentials + ?Sized> ProvideCredentials for Box<P> {
    async fn provide(&self) -> Result<Credential, Error> {
        (**self).provide().await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn invalidate(&self, rejected: &Credential) {
        (**self).invalidate(rejected)
    }
}
