//! The in-memory identity cache: every AccessKey with its opened secret and its owner, so that
//! authenticating a request with a long-term key reads no disk. The store's revision counter
//! keeps it coherent: a snapshot older than the store is reloaded (once, by one task) before use.

use crate::ids::{AccessKeyId, AccountId, UserId, UserName};
use crate::keys::MasterKey;
use crate::store::{KeyOwner, KeyStatus, Store, StoreResult};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_protocol::Secret;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root (its own AccessKey).
    Root {
        /// The account.
        account: AccountId,
    },
    /// A RAM user.
    User {
        /// The user's account.
        account: AccountId,
        /// The user's id.
        id: UserId,
        /// The user's current name.
        name: UserName,
    },
}

impl Principal {
    /// The principal's account.
    pub fn account(&self) -> &AccountId {
        match self {
            Principal::Root { account } | Principal::User { account, .. } => account,
        }
    }
}

/// A cached AccessKey.
#[derive(Debug)]
pub struct CachedKey {
    /// The key's id.
    pub id: AccessKeyId,
    /// The opened secret.
    pub secret: Secret,
    /// Whether it may be used.
    pub status: KeyStatus,
    /// Whose key it is.
    pub principal: Principal,
}

#[derive(Default)]
struct Snapshot {
    revision: u64,
    keys: HashMap<String, Arc<CachedKey>>,
}

/// See the module documentation.
pub struct IdentityCache {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    snapshot: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
}

impl IdentityCache {
    /// An empty cache; the first lookup loads it.
    pub fn new(store: Arc<dyn Store>, master: Arc<MasterKey>) -> Self {
        IdentityCache {
            store,
            master,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Finds an AccessKey. No I/O unless the store changed since the last load.
    pub async fn access_key(&self, id: &str) -> StoreResult<Option<Arc<CachedKey>>> {
        let mut snap = self.current();
        if snap.revision != self.store.revision() {
            snap = self.refresh().await?;
        }
        Ok(snap.keys.get(id).cloned())
    }

    async fn refresh(&self) -> StoreResult<Arc<Snapshot>> {
        let _one_loader = self.reload.lock().await;
        // Read the revision before loading: a write that lands during the load leaves the
        // snapshot marked older than the store, so the next lookup loads again.
        let revision = self.store.revision();
        let snap = self.current();
        if snap.revision == revision {
            return Ok(snap);
        }
        let records = self.store.identities().await?;
        let names: HashMap<(&AccountId, &UserId), &UserName> = records
            .users
            .iter()
            .map(|(a, id, n)| ((a, id), n))
            .collect();
        let mut keys = HashMap::with_capacity(records.access_keys.len());
        for k in &records.access_keys {
            let principal = match &k.owner {
                KeyOwner::Root(account) => Principal::Root {
                    account: account.clone(),
                },
                KeyOwner::User(account, id) => match names.get(&(account, id)) {
                    Some(name) => Principal::User {
                        account: account.clone(),
                        id: id.clone(),
                        name: (*name).clone(),
                    },
                    None => continue,
                },
            };
            let secret = match self.master.open_secret(k.id.as_str(), &k.sealed_secret) {
                Ok(s) => s,
                Err(_) => {
                    // A damaged row must not take every other key down with it.
                    tracing::error!(access_key_id = %k.id, "stored AccessKey secret does not open under the master key; key ignored");
                    continue;
                }
            };
            keys.insert(
                k.id.as_str().to_string(),
                Arc::new(CachedKey {
                    id: k.id.clone(),
                    secret,
                    status: k.status,
                    principal,
                }),
            );
        }
        let fresh = Arc::new(Snapshot { revision, keys });
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&fresh);
        tracing::debug!(revision, keys = fresh.keys.len(), "identity cache reloaded");
        Ok(fresh)
    }
}
