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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccessKeyId, GroupName, RoleName};
    use crate::store::sqlite::SqliteStore;
    use crate::store::*;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Delegates to SQLite and counts every call that could touch the disk.
    struct Counting {
        inner: SqliteStore,
        calls: AtomicUsize,
    }

    impl Counting {
        fn hit(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Store for Counting {
        fn revision(&self) -> u64 {
            self.inner.revision()
        }
        async fn close(&self) -> StoreResult<()> {
            self.hit();
            self.inner.close().await
        }
        async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
            self.hit();
            self.inner.meta(key).await
        }
        async fn create_account(
            &self,
            a: &AccountRecord,
            k: &AccessKeyRecord,
            m: &[(&str, &str)],
        ) -> StoreResult<()> {
            self.hit();
            self.inner.create_account(a, k, m).await
        }
        async fn account_exists(&self, a: &AccountId) -> StoreResult<bool> {
            self.hit();
            self.inner.account_exists(a).await
        }
        async fn identities(&self) -> StoreResult<IdentityRecords> {
            self.hit();
            self.inner.identities().await
        }
        async fn create_user(&self, u: &UserRecord, max: usize) -> StoreResult<()> {
            self.hit();
            self.inner.create_user(u, max).await
        }
        async fn user(&self, a: &AccountId, n: &UserName) -> StoreResult<UserRecord> {
            self.hit();
            self.inner.user(a, n).await
        }
        async fn update_user(
            &self,
            a: &AccountId,
            n: &UserName,
            u: &UserUpdate,
            now: i64,
        ) -> StoreResult<UserRecord> {
            self.hit();
            self.inner.update_user(a, n, u, now).await
        }
        async fn list_users(
            &self,
            a: &AccountId,
            after: Option<&str>,
            limit: usize,
        ) -> StoreResult<Page<UserRecord>> {
            self.hit();
            self.inner.list_users(a, after, limit).await
        }
        async fn delete_user(&self, a: &AccountId, n: &UserName) -> StoreResult<()> {
            self.hit();
            self.inner.delete_user(a, n).await
        }
        async fn create_access_key(&self, k: &AccessKeyRecord, max: usize) -> StoreResult<()> {
            self.hit();
            self.inner.create_access_key(k, max).await
        }
        async fn access_keys(&self, o: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>> {
            self.hit();
            self.inner.access_keys(o).await
        }
        async fn set_access_key_status(
            &self,
            o: &KeyOwner,
            id: &AccessKeyId,
            s: KeyStatus,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.set_access_key_status(o, id, s).await
        }
        async fn delete_access_key(&self, o: &KeyOwner, id: &AccessKeyId) -> StoreResult<()> {
            self.hit();
            self.inner.delete_access_key(o, id).await
        }
    }

    #[async_trait]
    impl GroupStore for Counting {
        async fn create_group(&self, g: &GroupRecord, max: usize) -> StoreResult<()> {
            self.hit();
            self.inner.create_group(g, max).await
        }
        async fn group(&self, a: &AccountId, n: &GroupName) -> StoreResult<GroupRecord> {
            self.hit();
            self.inner.group(a, n).await
        }
        async fn update_group(
            &self,
            a: &AccountId,
            n: &GroupName,
            u: &GroupUpdate,
            now: i64,
        ) -> StoreResult<GroupRecord> {
            self.hit();
            self.inner.update_group(a, n, u, now).await
        }
        async fn list_groups(
            &self,
            a: &AccountId,
            after: Option<&str>,
            limit: usize,
        ) -> StoreResult<Page<GroupRecord>> {
            self.hit();
            self.inner.list_groups(a, after, limit).await
        }
        async fn delete_group(&self, a: &AccountId, n: &GroupName) -> StoreResult<()> {
            self.hit();
            self.inner.delete_group(a, n).await
        }
        async fn add_user_to_group(
            &self,
            a: &AccountId,
            g: &GroupName,
            u: &UserName,
            now: i64,
            max: usize,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.add_user_to_group(a, g, u, now, max).await
        }
        async fn remove_user_from_group(
            &self,
            a: &AccountId,
            g: &GroupName,
            u: &UserName,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.remove_user_from_group(a, g, u).await
        }
        async fn groups_for_user(
            &self,
            a: &AccountId,
            u: &UserName,
        ) -> StoreResult<Vec<GroupMembership>> {
            self.hit();
            self.inner.groups_for_user(a, u).await
        }
        async fn users_for_group(
            &self,
            a: &AccountId,
            g: &GroupName,
            after: Option<&str>,
            limit: usize,
        ) -> StoreResult<Page<GroupMember>> {
            self.hit();
            self.inner.users_for_group(a, g, after, limit).await
        }
    }

    #[async_trait]
    impl RoleStore for Counting {
        async fn create_role(&self, r: &RoleRecord, max: usize) -> StoreResult<()> {
            self.hit();
            self.inner.create_role(r, max).await
        }
        async fn role(&self, a: &AccountId, n: &RoleName) -> StoreResult<RoleRecord> {
            self.hit();
            self.inner.role(a, n).await
        }
        async fn update_role(
            &self,
            a: &AccountId,
            n: &RoleName,
            u: &RoleUpdate,
            now: i64,
        ) -> StoreResult<RoleRecord> {
            self.hit();
            self.inner.update_role(a, n, u, now).await
        }
        async fn list_roles(
            &self,
            a: &AccountId,
            after: Option<&str>,
            limit: usize,
        ) -> StoreResult<Page<RoleRecord>> {
            self.hit();
            self.inner.list_roles(a, after, limit).await
        }
        async fn delete_role(&self, a: &AccountId, n: &RoleName) -> StoreResult<()> {
            self.hit();
            self.inner.delete_role(a, n).await
        }
    }

    #[async_trait]
    impl LoginProfileStore for Counting {
        async fn create_login_profile(
            &self,
            a: &AccountId,
            u: &UserName,
            p: &NewLoginProfile,
        ) -> StoreResult<LoginProfileRecord> {
            self.hit();
            self.inner.create_login_profile(a, u, p).await
        }
        async fn login_profile(
            &self,
            a: &AccountId,
            u: &UserName,
        ) -> StoreResult<LoginProfileRecord> {
            self.hit();
            self.inner.login_profile(a, u).await
        }
        async fn update_login_profile(
            &self,
            a: &AccountId,
            u: &UserName,
            up: &LoginProfileUpdate,
            now: i64,
        ) -> StoreResult<LoginProfileRecord> {
            self.hit();
            self.inner.update_login_profile(a, u, up, now).await
        }
        async fn delete_login_profile(&self, a: &AccountId, u: &UserName) -> StoreResult<()> {
            self.hit();
            self.inner.delete_login_profile(a, u).await
        }
    }

    #[tokio::test]
    async fn lookups_read_no_disk_until_the_store_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (master, _) = MasterKey::generate().unwrap();
        let master = Arc::new(master);
        let store = Arc::new(Counting {
            inner: SqliteStore::create(&dir.path().join("t.db")).unwrap(),
            calls: AtomicUsize::new(0),
        });
        let account = AccountId::generate();
        let id = AccessKeyId::generate();
        let secret = Secret::new("s3cr3t");
        let key = AccessKeyRecord {
            sealed_secret: master.seal_secret(id.as_str(), &secret),
            id: id.clone(),
            owner: KeyOwner::Root(account.clone()),
            status: KeyStatus::Active,
            created: 0,
        };
        store
            .create_account(
                &AccountRecord {
                    id: account.clone(),
                    created: 0,
                },
                &key,
                &[],
            )
            .await
            .unwrap();
        let cache = IdentityCache::new(store.clone(), Arc::clone(&master));

        let before = store.calls.load(Ordering::SeqCst);
        let k = cache.access_key(id.as_str()).await.unwrap().unwrap();
        assert!(k.secret.ct_eq(&secret));
        assert_eq!(
            k.principal,
            Principal::Root {
                account: account.clone()
            }
        );
        assert_eq!(store.calls.load(Ordering::SeqCst), before + 1, "one load");
        for _ in 0..1000 {
            assert!(cache.access_key(id.as_str()).await.unwrap().is_some());
            assert!(cache.access_key("LTAIunknown").await.unwrap().is_none());
        }
        assert_eq!(
            store.calls.load(Ordering::SeqCst),
            before + 1,
            "cached lookups, hits and misses, read no disk"
        );

        store
            .set_access_key_status(&KeyOwner::Root(account), &id, KeyStatus::Inactive)
            .await
            .unwrap();
        let after_write = store.calls.load(Ordering::SeqCst);
        assert_eq!(
            cache.access_key(id.as_str()).await.unwrap().unwrap().status,
            KeyStatus::Inactive,
            "a write is seen on the next lookup"
        );
        assert_eq!(store.calls.load(Ordering::SeqCst), after_write + 1);
    }
}
