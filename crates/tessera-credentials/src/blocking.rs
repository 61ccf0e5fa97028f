//! A synchronous facade for programs without an async runtime: the same [`crate::Client`],
//! driven by a private current-thread runtime. Do not call it from inside an async runtime.

use crate::sts::{AssumeRoleRequest, AssumeRoleResponse, CallerIdentity};
use crate::{Credential, Error, ProvideCredentials};
use serde_json::Value;

/// A blocking client.
#[derive(Debug)]
pub struct Client {
    inner: crate::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// Wraps an async client.
    pub fn new(inner: crate::Client) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::config("runtime", e.to_string()))?;
        Ok(Client { inner, runtime })
    }

    /// The async client inside.
    pub fn inner(&self) -> &crate::Client {
        &self.inner
    }

    /// The current credential (refreshed if it must be).
    pub fn credential(&self) -> Result<Credential, Error> {
        self.runtime.block_on(self.inner.credentials().get())
    }

    /// See [`crate::Client::call`].
    pub fn call(
        &self,
        product: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, Error> {
        self.runtime.block_on(self.inner.call(
            product,
            action,
            version,
            params.iter().map(|(k, v)| (*k, *v)),
        ))
    }

    /// `GetCallerIdentity`.
    pub fn get_caller_identity(&self) -> Result<CallerIdentity, Error> {
        self.runtime
            .block_on(self.inner.sts().get_caller_identity())
    }

    /// `AssumeRole`.
    pub fn assume_role(&self, req: &AssumeRoleRequest) -> Result<AssumeRoleResponse, Error> {
        self.runtime.block_on(self.inner.sts().assume_role(req))
    }
}

/// Resolves a provider once, blocking.
pub fn provide(provider: &dyn ProvideCredentials) -> Result<Credential, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config("runtime", e.to_string()))?
        .block_on(provider.provide())
}
