//! The refresh cache for expiring credentials.
//!
//! INTERIM: a single-flight cache without refresh windows; being replaced by the full engine.

use crate::context::Context;
use crate::{Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use std::sync::{Arc, RwLock};

/// Caches what a provider returns and refreshes it before it expires. Cheap to clone; clones
/// share one cache.
#[derive(Debug, Clone)]
pub struct CredentialsCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: Box<dyn ProvideCredentials>,
    ctx: Context,
    current: RwLock<Option<Credential>>,
    refresh: tokio::sync::Mutex<()>,
}

impl CredentialsCache {
    /// Wraps `provider`, using `ctx`'s clock.
    pub fn new(provider: impl ProvideCredentials + 'static, ctx: &Context) -> Self {
        CredentialsCache {
            inner: Arc::new(Inner {
                provider: Box::new(provider),
                ctx: ctx.clone(),
                current: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The cached credential, refreshed first if it must be.
    pub async fn get(&self) -> Result<Credential, Error> {
        let now = self.inner.ctx.clock.now();
        if let Some(c) = self.peek() {
            if c.is_valid_at(now + std::time::Duration::from_secs(60)) {
                return Ok(c);
            }
        }
        let _guard = self.inner.refresh.lock().await;
        let now = self.inner.ctx.clock.now();
        if let Some(c) = self.peek() {
            if c.is_valid_at(now + std::time::Duration::from_secs(60)) {
                return Ok(c);
            }
        }
        let fresh = self.inner.provider.provide().await?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }

    /// The cached value, without refreshing.
    pub fn peek(&self) -> Option<Credential> {
        self.inner
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Drops `rejected` if it is still the cached value.
    pub fn invalidate(&self, rejected: &Credential) {
        let mut cur = self
            .inner
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|c| c.is_same(rejected)) {
            *cur = None;
        }
    }
}

#[async_trait]
impl ProvideCredentials for CredentialsCache {
    async fn provide(&self) -> Result<Credential, Error> {
        self.get().await
    }

    fn name(&self) -> &str {
        self.inner.provider.name()
    }

    fn invalidate(&self, rejected: &Credential) {
        CredentialsCache::invalidate(self, rejected)
    }
}
