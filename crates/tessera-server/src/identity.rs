//! The in-memory identity cache: every AccessKey with its opened secret and its owner, so that
//! authenticating a request with a long-term key reads no disk. The store's revision counter
//! keeps it coherent: a snapshot older than the store is reloaded (once, by one task) before use.

use crate::ids::{AccessKeyId, AccountId, PolicyName, UserId, UserName};
use crate::keys::MasterKey;
use crate::system_policies;
use crate::tokens::Keyring;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tessera_policy::{Policy, PolicyKind};
use tessera_protocol::Secret;
use tessera_store::{
    IdentityRecords, KeyOwner, KeyStatus, PolicyType, Store, StoreResult, TargetKind,
};

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
    /// An STS session of a role.
    Session {
        /// The role's account.
        account: AccountId,
        /// The role's id.
        role_id: String,
        /// The role's name as created.
        role_name: String,
        /// RoleSessionName.
        session_name: String,
    },
}

impl Principal {
    /// The principal's account.
    pub fn account(&self) -> &AccountId {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::Session { account, .. } => account,
        }
    }
}

/// A role as sessions and AssumeRole see it.
#[derive(Debug)]
pub struct RoleEntry {
    /// The role's account.
    pub account: AccountId,
    /// The numeric id.
    pub id: String,
    /// The name as created.
    pub name: String,
    /// The longest session it grants, seconds.
    pub max_session_duration: i64,
    /// The compiled trust policy; `None` if the stored one no longer compiles (then it trusts
    /// nobody).
    pub trust: Option<Arc<Policy>>,
    /// The role's attached policies, compiled: what its sessions may do.
    pub policies: Arc<[NamedPolicy]>,
}

/// A compiled identity policy and where it came from (for explanations).
#[derive(Debug)]
pub struct NamedPolicy {
    /// System or Custom.
    pub policy_type: PolicyType,
    /// The policy's name.
    pub name: PolicyName,
    /// The compiled default version.
    pub policy: Arc<Policy>,
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
    /// The identity policies that apply to the principal: a user's own and its groups'.
    /// Empty for the account root, which needs none.
    pub policies: Arc<[NamedPolicy]>,
}

/// Everything authentication and authorization read, as of one store revision.
pub struct Snapshot {
    revision: u64,
    keys: HashMap<String, Arc<CachedKey>>,
    roles_by_id: HashMap<(AccountId, String), Arc<RoleEntry>>,
    roles_by_name: HashMap<(AccountId, String), Arc<RoleEntry>>,
    keyring: Arc<Keyring>,
    /// (account, kind, target id) → sessions issued at or before this time are refused.
    revocations: HashMap<(AccountId, TargetKind, String), i64>,
}

impl Snapshot {
    /// A long-term AccessKey.
    pub fn access_key(&self, id: &str) -> Option<Arc<CachedKey>> {
        self.keys.get(id).cloned()
    }
    /// A role by id.
    pub fn role(&self, account: &AccountId, id: &str) -> Option<Arc<RoleEntry>> {
        self.roles_by_id
            .get(&(account.clone(), id.to_string()))
            .cloned()
    }
    /// A role by name, regardless of case.
    pub fn role_named(&self, account: &AccountId, name: &str) -> Option<Arc<RoleEntry>> {
        self.roles_by_name
            .get(&(account.clone(), name.to_ascii_lowercase()))
            .cloned()
    }
    /// The token keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
    /// Whether a session issued at `issued` was revoked for this role or user.
    pub fn revoked(&self, account: &AccountId, kind: TargetKind, id: &str, issued: i64) -> bool {
        self.revocations
            .get(&(account.clone(), kind, id.to_string()))
            .is_some_and(|nb| issued <= *nb)
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            revision: 0,
            keys: HashMap::new(),
            roles_by_id: HashMap::new(),
            roles_by_name: HashMap::new(),
            keyring: Arc::new(Keyring::empty()),
            revocations: HashMap::new(),
        }
    }
}

/// See the module documentation.
pub struct IdentityCache {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    snapshot: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
    /// Compiled custom policy versions, kept across reloads so a write recompiles only what
    /// changed: (account, name, version) → policy.
    compiled: Mutex<HashMap<(AccountId, PolicyName, u32), Arc<Policy>>>,
    session_policies: Mutex<HashMap<String, Arc<Policy>>>,
}

/// Distinct session policies kept compiled at most.
const SESSION_POLICY_CACHE: usize = 4096;

/// Compiled system policies, built once.
fn system_compiled() -> &'static HashMap<&'static str, Arc<Policy>> {
    static SYSTEM: OnceLock<HashMap<&'static str, Arc<Policy>>> = OnceLock::new();
    SYSTEM.get_or_init(|| {
        system_policies::ALL
            .iter()
            .map(|p| {
                // The documents are ours and covered by tests; a failure here is a build bug, so
                // fail closed rather than crash.
                let compiled = tessera_policy::parse(p.document, PolicyKind::Identity).unwrap_or_else(|e| {
                    tracing::error!(policy = p.name, error = %e, "system policy does not compile; it will deny everything");
                    deny_all()
                });
                (p.name, Arc::new(compiled))
            })
            .collect()
    })
}

/// What a stored policy that no longer compiles becomes: skipping it could drop a Deny and widen
/// access, so it denies everything instead.
fn deny_all() -> Policy {
    tessera_policy::parse(
        r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .expect("the deny-all policy is well formed")
}

impl IdentityCache {
    /// An empty cache; the first lookup loads it.
    pub fn new(store: Arc<dyn Store>, master: Arc<MasterKey>) -> Self {
        IdentityCache {
            store,
            master,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            reload: tokio::sync::Mutex::new(()),
            compiled: Mutex::new(HashMap::new()),
            session_policies: Mutex::new(HashMap::new()),
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Finds an AccessKey. No I/O unless the store changed since the last load.
    pub async fn access_key(&self, id: &str) -> StoreResult<Option<Arc<CachedKey>>> {
        Ok(self.snapshot().await?.access_key(id))
    }

    /// The current snapshot. No I/O unless the store changed since the last load.
    pub async fn snapshot(&self) -> StoreResult<Arc<Snapshot>> {
        let snap = self.current();
        if snap.revision != self.store.revision() {
            return self.refresh().await;
        }
        Ok(snap)
    }

    /// A session policy compiled once per distinct text: every request of a session carries it
    /// in its token, and re-parsing it each time would cost more than the whole evaluation.
    pub fn session_policy(&self, text: &str) -> Result<Arc<Policy>, tessera_policy::PolicyError> {
        let mut cache = self
            .session_policies
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(text) {
            return Ok(Arc::clone(p));
        }
        let compiled = Arc::new(tessera_policy::parse(text, PolicyKind::Session)?);
        // Bounded: a burst of distinct policies starts the cache over rather than growing it.
        if cache.len() >= SESSION_POLICY_CACHE {
            cache.clear();
        }
        cache.insert(text.to_string(), Arc::clone(&compiled));
        Ok(compiled)
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
        let (user_policies, role_policies) = self.policy_sets(&records);
        let names: HashMap<(&AccountId, &UserId), &UserName> = records
            .users
            .iter()
            .map(|(a, id, n)| ((a, id), n))
            .collect();
        let no_policies: Arc<[NamedPolicy]> = Arc::from(Vec::new());
        let mut keys = HashMap::with_capacity(records.access_keys.len());
        for k in &records.access_keys {
            let (principal, policies) = match &k.owner {
                KeyOwner::Root(account) => (
                    Principal::Root {
                        account: account.clone(),
                    },
                    Arc::clone(&no_policies),
                ),
                KeyOwner::User(account, id) => match names.get(&(account, id)) {
                    Some(name) => (
                        Principal::User {
                            account: account.clone(),
                            id: id.clone(),
                            name: (*name).clone(),
                        },
                        user_policies
                            .get(&(account.clone(), id.clone()))
                            .cloned()
                            .unwrap_or_else(|| Arc::clone(&no_policies)),
                    ),
                    None => continue,
                },
            };
            let secret = match self.master.open_secret(
                k.id.as_str(),
                &k.owner.binding(),
                &k.sealed_secret,
            ) {
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
                    policies,
                }),
            );
        }
        let no_policies: Arc<[NamedPolicy]> = Arc::from(Vec::new());
        let mut roles_by_id = HashMap::new();
        let mut roles_by_name = HashMap::new();
        for r in &records.roles {
            let trust = match tessera_policy::parse(&r.trust_policy, PolicyKind::Trust) {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    tracing::error!(account = %r.account, role = %r.name, error = %e, "stored trust policy does not compile; the role trusts nobody");
                    None
                }
            };
            let entry = Arc::new(RoleEntry {
                account: r.account.clone(),
                id: r.id.as_str().to_string(),
                name: r.name.as_str().to_string(),
                max_session_duration: r.max_session_duration,
                trust,
                policies: role_policies
                    .get(&(r.account.clone(), r.id.as_str().to_string()))
                    .cloned()
                    .unwrap_or_else(|| Arc::clone(&no_policies)),
            });
            roles_by_name.insert(
                (r.account.clone(), r.name.as_str().to_ascii_lowercase()),
                Arc::clone(&entry),
            );
            roles_by_id.insert((r.account.clone(), entry.id.clone()), entry);
        }
        let keyring = Arc::new(Keyring::from_records(&self.master, &records.token_keys));
        let revocations = records
            .revocations
            .iter()
            .map(|(a, k, id, nb)| ((a.clone(), *k, id.clone()), *nb))
            .collect();
        let fresh = Arc::new(Snapshot {
            revision,
            keys,
            roles_by_id,
            roles_by_name,
            keyring,
            revocations,
        });
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&fresh);
        tracing::debug!(revision, keys = fresh.keys.len(), "identity cache reloaded");
        Ok(fresh)
    }

    /// Each user's effective identity policies: its own attachments, then its groups', compiled
    /// (reusing what earlier loads compiled).
    /// The compiled policy sets of users and roles.
    #[allow(clippy::type_complexity)]
    fn policy_sets(
        &self,
        records: &IdentityRecords,
    ) -> (
        HashMap<(AccountId, UserId), Arc<[NamedPolicy]>>,
        HashMap<(AccountId, String), Arc<[NamedPolicy]>>,
    ) {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        let mut fresh: HashMap<(AccountId, PolicyName, u32), Arc<Policy>> = HashMap::new();
        let mut custom: HashMap<(&AccountId, &PolicyName), Arc<Policy>> = HashMap::new();
        for (account, name, version, document) in &records.default_documents {
            let key = (account.clone(), name.clone(), *version);
            let policy = match compiled.get(&key) {
                Some(p) => Arc::clone(p),
                None => Arc::new(tessera_policy::parse(document, PolicyKind::Identity).unwrap_or_else(|e| {
                    tracing::error!(account = %account, policy = %name, error = %e, "stored policy does not compile; it will deny everything");
                    deny_all()
                })),
            };
            custom.insert((account, name), Arc::clone(&policy));
            fresh.insert(key, policy);
        }
        // Versions no longer in use are dropped here.
        *compiled = fresh;

        let system = system_compiled();
        let mut by_target: HashMap<(&AccountId, TargetKind, &str), Vec<NamedPolicy>> =
            HashMap::new();
        for (account, a) in &records.attachments {
            let policy = match a.policy_type {
                PolicyType::System => system.get(a.policy_name.as_str()).cloned(),
                PolicyType::Custom => custom.get(&(account, &a.policy_name)).cloned(),
            };
            if let Some(policy) = policy {
                by_target
                    .entry((account, a.target.kind, a.target.id.as_str()))
                    .or_default()
                    .push(NamedPolicy {
                        policy_type: a.policy_type,
                        name: a.policy_name.clone(),
                        policy,
                    });
            }
        }
        let mut groups_of: HashMap<(&AccountId, &UserId), Vec<&str>> = HashMap::new();
        for (account, group, user) in &records.memberships {
            groups_of
                .entry((account, user))
                .or_default()
                .push(group.as_str());
        }
        let mut out = HashMap::new();
        for (account, id, _) in &records.users {
            let mut seen = HashSet::new();
            let mut list = Vec::new();
            let own = by_target
                .get(&(account, TargetKind::User, id.as_str()))
                .into_iter()
                .flatten();
            let groups = groups_of
                .get(&(account, id))
                .into_iter()
                .flatten()
                .flat_map(|g| {
                    by_target
                        .get(&(account, TargetKind::Group, *g))
                        .into_iter()
                        .flatten()
                });
            for p in own.chain(groups) {
                if seen.insert((p.policy_type, p.name.clone())) {
                    list.push(NamedPolicy {
                        policy_type: p.policy_type,
                        name: p.name.clone(),
                        policy: Arc::clone(&p.policy),
                    });
                }
            }
            out.insert((account.clone(), id.clone()), Arc::from(list));
        }
        let mut roles = HashMap::new();
        for ((account, kind, id), list) in &by_target {
            if *kind == TargetKind::Role {
                let list: Vec<NamedPolicy> = list
                    .iter()
                    .map(|p| NamedPolicy {
                        policy_type: p.policy_type,
                        name: p.name.clone(),
                        policy: Arc::clone(&p.policy),
                    })
                    .collect();
                roles.insert(((*account).clone(), id.to_string()), Arc::from(list));
            }
        }
        (out, roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccessKeyId, GroupName, PolicyName, RoleName};
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tessera_store::sqlite::SqliteStore;
    use tessera_store::*;

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
        async fn add_token_key(&self, k: &[u8], now: i64) -> StoreResult<u32> {
            self.hit();
            self.inner.add_token_key(k, now).await
        }
        async fn revoke_sessions(&self, a: &AccountId, t: &Target, nb: i64) -> StoreResult<()> {
            self.hit();
            self.inner.revoke_sessions(a, t, nb).await
        }
        async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize> {
            self.hit();
            self.inner.drop_token_keys_retired_before(cutoff).await
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

    #[async_trait]
    impl PolicyStore for Counting {
        async fn create_policy(
            &self,
            p: &CustomPolicyRecord,
            d: &str,
            max: usize,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.create_policy(p, d, max).await
        }
        async fn custom_policy(
            &self,
            a: &AccountId,
            n: &PolicyName,
        ) -> StoreResult<(CustomPolicyRecord, PolicyVersionRecord)> {
            self.hit();
            self.inner.custom_policy(a, n).await
        }
        async fn custom_policies(&self, a: &AccountId) -> StoreResult<Vec<CustomPolicyRecord>> {
            self.hit();
            self.inner.custom_policies(a).await
        }
        async fn update_policy_description(
            &self,
            a: &AccountId,
            n: &PolicyName,
            d: &str,
            now: i64,
        ) -> StoreResult<CustomPolicyRecord> {
            self.hit();
            self.inner.update_policy_description(a, n, d, now).await
        }
        async fn delete_policy(
            &self,
            a: &AccountId,
            n: &PolicyName,
            cascade: bool,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.delete_policy(a, n, cascade).await
        }
        async fn create_policy_version(
            &self,
            a: &AccountId,
            n: &PolicyName,
            new: &NewPolicyVersion,
        ) -> StoreResult<PolicyVersionRecord> {
            self.hit();
            self.inner.create_policy_version(a, n, new).await
        }
        async fn policy_versions(
            &self,
            a: &AccountId,
            n: &PolicyName,
        ) -> StoreResult<(CustomPolicyRecord, Vec<PolicyVersionRecord>)> {
            self.hit();
            self.inner.policy_versions(a, n).await
        }
        async fn set_default_policy_version(
            &self,
            a: &AccountId,
            n: &PolicyName,
            v: u32,
            now: i64,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.set_default_policy_version(a, n, v, now).await
        }
        async fn delete_policy_version(
            &self,
            a: &AccountId,
            n: &PolicyName,
            v: u32,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.delete_policy_version(a, n, v).await
        }
        async fn attach_policy(
            &self,
            a: &AccountId,
            at: &Attachment,
            l: AttachLimits,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.attach_policy(a, at, l).await
        }
        async fn detach_policy(
            &self,
            a: &AccountId,
            t: &Target,
            pt: PolicyType,
            n: &PolicyName,
        ) -> StoreResult<()> {
            self.hit();
            self.inner.detach_policy(a, t, pt, n).await
        }
        async fn attachments_of(&self, a: &AccountId, t: &Target) -> StoreResult<Vec<Attachment>> {
            self.hit();
            self.inner.attachments_of(a, t).await
        }
        async fn entities_for_policy(
            &self,
            a: &AccountId,
            pt: PolicyType,
            n: &PolicyName,
        ) -> StoreResult<Vec<AttachedEntity>> {
            self.hit();
            self.inner.entities_for_policy(a, pt, n).await
        }
        async fn resolve_target(
            &self,
            a: &AccountId,
            k: TargetKind,
            n: &str,
        ) -> StoreResult<Target> {
            self.hit();
            self.inner.resolve_target(a, k, n).await
        }
        async fn all_attachments(&self, a: &AccountId) -> StoreResult<Vec<Attachment>> {
            self.hit();
            self.inner.all_attachments(a).await
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
            sealed_secret: master.seal_secret(
                id.as_str(),
                &KeyOwner::Root(account.clone()).binding(),
                &secret,
            ),
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
