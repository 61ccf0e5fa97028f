//! The in-memory identity cache: every AccessKey with its opened secret, its owner and the
//! identity policies that apply to it; every role with its compiled trust policy and its
//! sessions' policies; the token keyring; session revocations. Authenticating and authorizing a
//! request reads only this, never the disk.
//!
//! **How it stays current.** The cache starts from one consistent snapshot of the store and then
//! follows the store's change feed ([`tessera_store::feed`]), applying only the entities that
//! changed: a write costs what it changed, and a write in one account costs every other account
//! nothing. [`IdentityCache::catch_up`] applies whatever the feed holds beyond what the cache has;
//! the request pipeline calls it after every action that wrote (so a write that returns is
//! visible to the very next request on any connection), and a background follower calls it when
//! the store announces a commit it did not make itself.
//!
//! **Readers never wait.** What requests read lives in lock-free maps (`papaya`) of
//! reference-counted entries and an `ArcSwap` keyring. Applying a change builds new entries and
//! swaps them in one at a time: a reader holds on to the entry it already has, and the next
//! lookup sees the new one (copy-on-write per entry). One applier runs at a time, holding the
//! normalized mirror ([`Model`]) the published entries are derived from.
//!
//! **Faults.** Fetching the feed can fail; then nothing is applied, the cache keeps the revision
//! it had, and the caller gets the error. Once a batch is fetched, applying it cannot fail: a
//! damaged row (a secret that no longer opens, a policy that no longer compiles) affects only
//! that entry, which is left out (or denies everything). A reader whose feed position was
//! compacted away reloads once from a snapshot.

use crate::ids::{AccessKeyId, AccountId, GroupId, PolicyName, RoleId, UserId, UserName};
use crate::keys::MasterKey;
use crate::principal::Principal;
use crate::system_policies;
use crate::tokens::{Keyring, SealTrigger};
use arc_swap::ArcSwap;
use papaya::Equivalent;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tessera_policy::{Policy, PolicyKind};
use tessera_protocol::Secret;
use tessera_store::feed::{Change, Changed, IdentityRecords, RevocationRecord};
use tessera_store::{
    AccessKeyRecord, KeyOwner, KeyStatus, PolicyType, RoleRecord, Store, StoreError, StoreResult,
    Target, TargetKind, TokenKeyRecord,
};

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

/// An entity of one account as a map key. Hashed field by field, so that a [`ScopedRef`] of
/// borrowed strings finds it without building one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scoped {
    account: AccountId,
    id: Box<str>,
}

impl Scoped {
    fn new(account: &AccountId, id: &str) -> Self {
        Scoped {
            account: account.clone(),
            id: id.into(),
        }
    }
}

impl Hash for Scoped {
    fn hash<H: Hasher>(&self, h: &mut H) {
        ScopedRef(self.account.as_str(), &self.id).hash(h)
    }
}

/// A borrowed [`Scoped`]: (account, id).
struct ScopedRef<'a>(&'a str, &'a str);

impl Hash for ScopedRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
        self.1.hash(h);
    }
}

impl Equivalent<Scoped> for ScopedRef<'_> {
    fn equivalent(&self, key: &Scoped) -> bool {
        self.0 == key.account.as_str() && self.1 == &*key.id
    }
}

/// What requests read: lock-free maps of shared entries.
struct Published {
    keys: papaya::HashMap<AccessKeyId, Arc<CachedKey>>,
    roles_by_id: papaya::HashMap<Scoped, Arc<RoleEntry>>,
    /// Keyed by the lower-cased name: role names are unique regardless of case.
    roles_by_name: papaya::HashMap<Scoped, Arc<RoleEntry>>,
    /// Sessions of a role (by role id) issued at or before the time are refused.
    revoked_roles: papaya::HashMap<Scoped, i64>,
    /// Sessions started by a user (by user id) issued at or before the time are refused.
    revoked_users: papaya::HashMap<Scoped, i64>,
    keyring: ArcSwap<Keyring>,
}

/// A user in the applier's mirror.
#[derive(Debug, Default)]
struct UserNode {
    name: Option<UserName>,
    keys: Vec<AccessKeyId>,
    groups: Vec<GroupId>,
}

/// An AccessKey in the applier's mirror: the stored row and its opened secret (`None` when the
/// secret does not open: the key is then left out).
struct KeyNode {
    record: AccessKeyRecord,
    secret: Option<Secret>,
}

/// A custom policy's default version, compiled.
struct PolicyNode {
    version: u32,
    document: String,
    compiled: Arc<Policy>,
}

/// A role and its compiled trust policy.
struct RoleNode {
    record: RoleRecord,
    trust: Option<Arc<Policy>>,
}

/// The normalized mirror of the store that the published entries are derived from; only the
/// applier (one at a time) touches it.
#[derive(Default)]
struct Model {
    users: HashMap<(AccountId, UserId), UserNode>,
    keys: HashMap<AccessKeyId, KeyNode>,
    group_members: HashMap<(AccountId, GroupId), HashSet<UserId>>,
    /// What is attached to each user, group and role, in the order it was attached.
    attached: HashMap<(AccountId, Target), Vec<(PolicyType, PolicyName)>>,
    /// The targets each custom policy is attached to.
    policy_targets: HashMap<(AccountId, PolicyName), HashSet<Target>>,
    policies: HashMap<(AccountId, PolicyName), PolicyNode>,
    roles: HashMap<(AccountId, RoleId), RoleNode>,
    token_keys: BTreeMap<u32, TokenKeyRecord>,
}

/// What a batch of changes made stale.
#[derive(Default)]
struct Dirty {
    users: HashSet<(AccountId, UserId)>,
    keys: HashSet<AccessKeyId>,
    roles: HashSet<(AccountId, RoleId)>,
    keyring: bool,
    revocations: Vec<RevocationRecord>,
}

/// See the module documentation.
pub struct IdentityCache {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    published: Published,
    /// The newest revision applied and published.
    revision: AtomicU64,
    model: tokio::sync::Mutex<Model>,
    session_policies: Mutex<HashMap<String, Arc<Policy>>>,
}

/// Distinct session policies kept compiled at most.
const SESSION_POLICY_CACHE: usize = 4096;

/// Revisions fetched from the feed at a time.
const FEED_BATCH: u64 = 1024;

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

/// The lower-cased form of a role name, in `buf`; `None` for a name no role can have (longer
/// than any role name), so a lookup allocates nothing.
fn lower_name<'b>(name: &str, buf: &'b mut [u8; 64]) -> Option<&'b str> {
    let out = buf.get_mut(..name.len())?;
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

impl IdentityCache {
    /// Loads the cache from one consistent snapshot of the store, then catches up with the
    /// feed.
    pub async fn load(store: Arc<dyn Store>, master: Arc<MasterKey>) -> StoreResult<Self> {
        let cache = IdentityCache {
            store,
            master,
            published: Published {
                keys: papaya::HashMap::new(),
                roles_by_id: papaya::HashMap::new(),
                roles_by_name: papaya::HashMap::new(),
                revoked_roles: papaya::HashMap::new(),
                revoked_users: papaya::HashMap::new(),
                keyring: ArcSwap::from_pointee(Keyring::empty()),
            },
            revision: AtomicU64::new(0),
            model: tokio::sync::Mutex::new(Model::default()),
            session_policies: Mutex::new(HashMap::new()),
        };
        {
            let mut model = cache.model.lock().await;
            cache.reload(&mut model).await?;
        }
        cache.catch_up().await?;
        Ok(cache)
    }

    /// The newest store revision the cache has applied.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// Whether the store has committed something the cache has not applied yet.
    pub fn behind(&self) -> bool {
        self.revision() < self.store.revision()
    }

    /// A long-term AccessKey.
    pub fn access_key(&self, id: &str) -> Option<Arc<CachedKey>> {
        self.published.keys.pin().get(id).cloned()
    }

    /// A role by id.
    pub fn role(&self, account: &AccountId, id: &str) -> Option<Arc<RoleEntry>> {
        self.published
            .roles_by_id
            .pin()
            .get(&ScopedRef(account.as_str(), id))
            .cloned()
    }

    /// A role by name, regardless of case.
    pub fn role_named(&self, account: &AccountId, name: &str) -> Option<Arc<RoleEntry>> {
        let mut buf = [0u8; 64];
        let lower = lower_name(name, &mut buf)?;
        self.published
            .roles_by_name
            .pin()
            .get(&ScopedRef(account.as_str(), lower))
            .cloned()
    }

    /// The token keys.
    pub fn keyring(&self) -> arc_swap::Guard<Arc<Keyring>> {
        self.published.keyring.load()
    }

    /// Has the keyring wake `trigger` when its current key has sealed its share (see
    /// [`crate::tokens::rotation_due`]); every later rebuild keeps it.
    pub async fn set_seal_trigger(&self, trigger: Arc<SealTrigger>) {
        let model = self.model.lock().await;
        let records: Vec<TokenKeyRecord> = model.token_keys.values().cloned().collect();
        let previous = self.published.keyring.load();
        self.published.keyring.store(Arc::new(
            Keyring::rebuild(&self.master, &records, &previous).with_trigger(Some(trigger)),
        ));
    }

    /// Whether a session issued at `issued` was revoked for this role or user.
    pub fn revoked(&self, account: &AccountId, kind: TargetKind, id: &str, issued: i64) -> bool {
        let map = match kind {
            TargetKind::Role => &self.published.revoked_roles,
            TargetKind::User => &self.published.revoked_users,
            TargetKind::Group => return false,
        };
        map.pin()
            .get(&ScopedRef(account.as_str(), id))
            .is_some_and(|nb| issued <= *nb)
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

    /// Applies every change the feed holds beyond what the cache has, and returns once they are
    /// visible to readers. On an error nothing of the failed fetch is applied and the cache keeps
    /// the revision it had.
    pub async fn catch_up(&self) -> StoreResult<()> {
        let mut model = self.model.lock().await;
        loop {
            let have = self.revision();
            if have >= self.store.revision() {
                return Ok(());
            }
            match self.store.changes_since(have, FEED_BATCH).await {
                Ok(changes) => {
                    let Some(last) = changes.last().map(|c| c.revision) else {
                        return Ok(());
                    };
                    let mut dirty = Dirty::default();
                    for Change {
                        account, changed, ..
                    } in changes
                    {
                        self.apply(&mut model, &mut dirty, account, changed);
                    }
                    self.publish(&model, dirty);
                    self.revision.fetch_max(last, Ordering::SeqCst);
                }
                Err(StoreError::FeedCompacted { asked, kept_after }) => {
                    tracing::warn!(
                        asked,
                        kept_after,
                        "the identity cache fell behind the change feed's retention; reloading"
                    );
                    self.reload(&mut model).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Rebuilds the mirror from a snapshot and publishes it, replacing whatever was published.
    async fn reload(&self, model: &mut Model) -> StoreResult<()> {
        let records: IdentityRecords = self.store.identities().await?;
        let revision = records.revision;
        let mut fresh = Model::default();
        let mut dirty = Dirty::default();
        for (account, changed) in records.into_changes() {
            self.apply(&mut fresh, &mut dirty, account, changed);
        }
        // What the old mirror had and the snapshot lacks must disappear from the published
        // maps: marking it stale finds its node missing and removes the entry.
        dirty.keys.extend(model.keys.keys().cloned());
        dirty.roles.extend(model.roles.keys().cloned());
        dirty.keyring = true;
        *model = fresh;
        self.publish(model, dirty);
        self.revision.store(revision, Ordering::SeqCst);
        tracing::info!(
            revision,
            keys = model.keys.len(),
            roles = model.roles.len(),
            "identity cache loaded"
        );
        Ok(())
    }

    /// Applies one change to the mirror and notes what it made stale.
    fn apply(
        &self,
        model: &mut Model,
        dirty: &mut Dirty,
        account: Option<AccountId>,
        changed: Changed,
    ) {
        match changed {
            Changed::Account(_) | Changed::LoginProfile { .. } => {}
            Changed::TokenKey { id, row } => {
                match row {
                    Some(r) => model.token_keys.insert(id, r),
                    None => model.token_keys.remove(&id),
                };
                dirty.keyring = true;
            }
            Changed::Revocation(r) => dirty.revocations.push(r),
            Changed::User { id, row } => {
                let Some(account) = account else { return };
                let key = (account, id);
                match row {
                    Some(u) => {
                        let node = model.users.entry(key.clone()).or_default();
                        if node.name.as_ref() != Some(&u.name) {
                            node.name = Some(u.name);
                            dirty.users.insert(key);
                        }
                    }
                    None => {
                        if let Some(node) = model.users.remove(&key) {
                            dirty.keys.extend(node.keys);
                        }
                    }
                }
            }
            Changed::AccessKey { id, row } => {
                match row {
                    Some(record) => {
                        let reuse = model.keys.get(&id).and_then(|old| {
                            (old.record.sealed_secret == record.sealed_secret
                                && old.record.owner == record.owner)
                                .then(|| old.secret.clone())
                        });
                        let secret = match reuse {
                            Some(s) => s,
                            None => self.open(&record),
                        };
                        if let KeyOwner::User(a, u) = &record.owner {
                            let node = model.users.entry((a.clone(), u.clone())).or_default();
                            if !node.keys.contains(&id) {
                                node.keys.push(id.clone());
                            }
                        }
                        model.keys.insert(id.clone(), KeyNode { record, secret });
                    }
                    None => {
                        if let Some(old) = model.keys.remove(&id) {
                            if let KeyOwner::User(a, u) = &old.record.owner {
                                if let Some(node) = model.users.get_mut(&(a.clone(), u.clone())) {
                                    node.keys.retain(|k| k != &id);
                                }
                            }
                        }
                    }
                }
                dirty.keys.insert(id);
            }
            Changed::Group { id, row } => {
                if row.is_none() {
                    if let Some(account) = account {
                        model.group_members.remove(&(account, id));
                    }
                }
            }
            Changed::Membership { group, user, row } => {
                let Some(account) = account else { return };
                let members = model
                    .group_members
                    .entry((account.clone(), group.clone()))
                    .or_default();
                let node = model
                    .users
                    .entry((account.clone(), user.clone()))
                    .or_default();
                if row.is_some() {
                    members.insert(user.clone());
                    if !node.groups.contains(&group) {
                        node.groups.push(group);
                    }
                } else {
                    members.remove(&user);
                    node.groups.retain(|g| g != &group);
                }
                dirty.users.insert((account, user));
            }
            Changed::Policy { name, row } => {
                let Some(account) = account else { return };
                let key = (account.clone(), name);
                match row {
                    Some(head) => {
                        let same = model.policies.get(&key).is_some_and(|p| {
                            p.version == head.record.default_version && p.document == head.document
                        });
                        if same {
                            // A description or a non-default version changed: nothing that
                            // authorization reads.
                            return;
                        }
                        let compiled = tessera_policy::parse(&head.document, PolicyKind::Identity)
                            .unwrap_or_else(|e| {
                                tracing::error!(account = %account, policy = %key.1, error = %e, "stored policy does not compile; it will deny everything");
                                deny_all()
                            });
                        model.policies.insert(
                            key.clone(),
                            PolicyNode {
                                version: head.record.default_version,
                                document: head.document,
                                compiled: Arc::new(compiled),
                            },
                        );
                    }
                    None => {
                        model.policies.remove(&key);
                    }
                }
                let targets: Vec<Target> = model
                    .policy_targets
                    .get(&key)
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default();
                for t in targets {
                    mark_target(model, dirty, &account, &t);
                }
            }
            Changed::Attachment {
                target,
                policy_type,
                policy_name,
                row,
            } => {
                let Some(account) = account else { return };
                let list = model
                    .attached
                    .entry((account.clone(), target.clone()))
                    .or_default();
                let entry = (policy_type, policy_name.clone());
                if row.is_some() {
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                } else {
                    list.retain(|e| e != &entry);
                    if list.is_empty() {
                        model.attached.remove(&(account.clone(), target.clone()));
                    }
                }
                if policy_type == PolicyType::Custom {
                    let key = (account.clone(), policy_name);
                    let targets = model.policy_targets.entry(key.clone()).or_default();
                    if row.is_some() {
                        targets.insert(target.clone());
                    } else {
                        targets.remove(&target);
                        if targets.is_empty() {
                            model.policy_targets.remove(&key);
                        }
                    }
                }
                mark_target(model, dirty, &account, &target);
            }
            Changed::Role { id, row } => {
                let Some(account) = account else { return };
                let key = (account, id);
                match row {
                    Some(record) => {
                        let trust = match model.roles.get(&key) {
                            Some(old) if old.record.trust_policy == record.trust_policy => {
                                old.trust.clone()
                            }
                            _ => compile_trust(&record),
                        };
                        model.roles.insert(key.clone(), RoleNode { record, trust });
                    }
                    None => {
                        model.roles.remove(&key);
                    }
                }
                dirty.roles.insert(key);
            }
        }
    }

    /// Opens a key's sealed secret; a damaged one leaves only that key out.
    fn open(&self, record: &AccessKeyRecord) -> Option<Secret> {
        match self.master.open_secret(
            record.id.as_str(),
            &record.owner.binding(),
            &record.sealed_secret,
        ) {
            Ok(s) => Some(s),
            Err(_) => {
                tracing::error!(access_key_id = %record.id, "stored AccessKey secret does not open under the master key; key ignored");
                None
            }
        }
    }

    /// Rebuilds and swaps in every published entry `dirty` names.
    fn publish(&self, model: &Model, mut dirty: Dirty) {
        let published = &self.published;
        if dirty.keyring {
            let records: Vec<TokenKeyRecord> = model.token_keys.values().cloned().collect();
            // Rebuilt from the previous keyring: the seal counts and the rotation trigger carry
            // over.
            let previous = published.keyring.load();
            published.keyring.store(Arc::new(Keyring::rebuild(
                &self.master,
                &records,
                &previous,
            )));
        }

        let mut user_policies: HashMap<(AccountId, UserId), Arc<[NamedPolicy]>> = HashMap::new();
        for key in &dirty.users {
            if let Some(node) = model.users.get(key) {
                dirty.keys.extend(node.keys.iter().cloned());
                user_policies.insert(key.clone(), user_policy_set(model, &key.0, &key.1, node));
            }
        }
        let no_policies: Arc<[NamedPolicy]> = Arc::from(Vec::new());
        let keys = published.keys.pin();
        for id in &dirty.keys {
            let entry = model.keys.get(id).and_then(|node| {
                let secret = node.secret.clone()?;
                let (principal, policies) = match &node.record.owner {
                    KeyOwner::Root(account) => (
                        Principal::Root {
                            account: account.clone(),
                        },
                        Arc::clone(&no_policies),
                    ),
                    KeyOwner::User(account, uid) => {
                        let ukey = (account.clone(), uid.clone());
                        let user = model.users.get(&ukey)?;
                        let name = user.name.clone()?;
                        let policies = match user_policies.get(&ukey) {
                            Some(p) => Arc::clone(p),
                            None => {
                                let p = user_policy_set(model, account, uid, user);
                                user_policies.insert(ukey, Arc::clone(&p));
                                p
                            }
                        };
                        (
                            Principal::User {
                                account: account.clone(),
                                id: uid.clone(),
                                name,
                            },
                            policies,
                        )
                    }
                };
                Some(Arc::new(CachedKey {
                    id: node.record.id.clone(),
                    secret,
                    status: node.record.status,
                    principal,
                    policies,
                }))
            });
            match entry {
                Some(e) => {
                    keys.insert(id.clone(), e);
                }
                None => {
                    keys.remove(id.as_str());
                }
            }
        }
        drop(keys);

        let by_id = published.roles_by_id.pin();
        let by_name = published.roles_by_name.pin();
        for (account, rid) in &dirty.roles {
            let old = by_id
                .get(&ScopedRef(account.as_str(), rid.as_str()))
                .cloned();
            let new = model
                .roles
                .get(&(account.clone(), rid.clone()))
                .map(|node| {
                    Arc::new(RoleEntry {
                        account: account.clone(),
                        id: rid.as_str().to_string(),
                        name: node.record.name.as_str().to_string(),
                        max_session_duration: node.record.max_session_duration,
                        trust: node.trust.clone(),
                        policies: policy_set(
                            model,
                            account,
                            [&Target {
                                kind: TargetKind::Role,
                                id: rid.as_str().to_string(),
                            }]
                            .into_iter(),
                        ),
                    })
                });
            if let Some(old) = &old {
                let renamed = new
                    .as_ref()
                    .is_none_or(|n| !n.name.eq_ignore_ascii_case(&old.name));
                if renamed {
                    let mut buf = [0u8; 64];
                    if let Some(lower) = lower_name(&old.name, &mut buf) {
                        by_name.remove(&ScopedRef(account.as_str(), lower));
                    }
                }
            }
            match new {
                Some(entry) => {
                    by_name.insert(
                        Scoped::new(account, &entry.name.to_ascii_lowercase()),
                        Arc::clone(&entry),
                    );
                    by_id.insert(Scoped::new(account, rid.as_str()), entry);
                }
                None => {
                    by_id.remove(&ScopedRef(account.as_str(), rid.as_str()));
                }
            }
        }
        drop((by_id, by_name));

        for r in dirty.revocations {
            let map = match r.kind {
                TargetKind::Role => &published.revoked_roles,
                TargetKind::User => &published.revoked_users,
                TargetKind::Group => continue,
            };
            let map = map.pin();
            let key = Scoped::new(&r.account, &r.target);
            // Not-before times only grow: a stale revocation never undoes a newer one.
            let nb = map
                .get(&key)
                .map_or(r.not_before, |old| (*old).max(r.not_before));
            map.insert(key, nb);
        }
    }

    /// The published state as sorted, comparable lines: what a fresh load of the same store
    /// must equal (tests and the operator's consistency check compare the two).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, k) in self.published.keys.pin().iter() {
            let policies: Vec<String> = sorted_names(&k.policies);
            out.push(format!(
                "key {id} {} {:?} secret:{} {policies:?}",
                k.status.as_str(),
                k.principal,
                k.secret.expose().len()
            ));
        }
        for (key, r) in self.published.roles_by_id.pin().iter() {
            out.push(format!(
                "role {}/{} {} max:{} trust:{} {:?}",
                key.account,
                key.id,
                r.name,
                r.max_session_duration,
                r.trust.is_some(),
                sorted_names(&r.policies)
            ));
        }
        for (key, r) in self.published.roles_by_name.pin().iter() {
            out.push(format!("role-name {}/{} {}", key.account, key.id, r.id));
        }
        for (key, nb) in self.published.revoked_roles.pin().iter() {
            out.push(format!("revoked role {}/{} {nb}", key.account, key.id));
        }
        for (key, nb) in self.published.revoked_users.pin().iter() {
            out.push(format!("revoked user {}/{} {nb}", key.account, key.id));
        }
        out.push(format!("keyring {:?}", self.keyring()));
        out.sort();
        out
    }

    /// How many AccessKeys and roles are published (for logs and metrics).
    pub fn sizes(&self) -> (usize, usize) {
        (self.published.keys.len(), self.published.roles_by_id.len())
    }
}

fn sorted_names(policies: &[NamedPolicy]) -> Vec<String> {
    let mut v: Vec<String> = policies
        .iter()
        .map(|p| format!("{}:{}", p.policy_type.as_str(), p.name))
        .collect();
    v.sort();
    v
}

fn compile_trust(record: &RoleRecord) -> Option<Arc<Policy>> {
    match tessera_policy::parse(&record.trust_policy, PolicyKind::Trust) {
        Ok(p) => Some(Arc::new(p)),
        Err(e) => {
            tracing::error!(account = %record.account, role = %record.name, error = %e, "stored trust policy does not compile; the role trusts nobody");
            None
        }
    }
}

/// Marks what an attachment change on `target` makes stale: a user, every member of a group,
/// a role.
fn mark_target(model: &Model, dirty: &mut Dirty, account: &AccountId, target: &Target) {
    match target.kind {
        TargetKind::User => {
            dirty
                .users
                .insert((account.clone(), UserId::from_trusted(target.id.as_str())));
        }
        TargetKind::Group => {
            let group = GroupId::from_trusted(target.id.as_str());
            if let Some(members) = model.group_members.get(&(account.clone(), group)) {
                dirty
                    .users
                    .extend(members.iter().map(|u| (account.clone(), u.clone())));
            }
        }
        TargetKind::Role => {
            dirty
                .roles
                .insert((account.clone(), RoleId::from_trusted(target.id.as_str())));
        }
    }
}

/// A user's effective identity policies: its own attachments, then its groups'.
fn user_policy_set(
    model: &Model,
    account: &AccountId,
    id: &UserId,
    node: &UserNode,
) -> Arc<[NamedPolicy]> {
    let own = Target {
        kind: TargetKind::User,
        id: id.as_str().to_string(),
    };
    let groups: Vec<Target> = node
        .groups
        .iter()
        .map(|g| Target {
            kind: TargetKind::Group,
            id: g.as_str().to_string(),
        })
        .collect();
    policy_set(model, account, std::iter::once(&own).chain(groups.iter()))
}

/// The compiled policies attached to `targets`, each once, in order.
fn policy_set<'t>(
    model: &Model,
    account: &AccountId,
    targets: impl Iterator<Item = &'t Target>,
) -> Arc<[NamedPolicy]> {
    let system = system_compiled();
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    for t in targets {
        let Some(attached) = model.attached.get(&(account.clone(), t.clone())) else {
            continue;
        };
        for (ptype, name) in attached {
            if !seen.insert((*ptype, name.clone())) {
                continue;
            }
            let policy = match ptype {
                PolicyType::System => system.get(name.as_str()).cloned(),
                PolicyType::Custom => model
                    .policies
                    .get(&(account.clone(), name.clone()))
                    .map(|p| Arc::clone(&p.compiled)),
            };
            if let Some(policy) = policy {
                list.push(NamedPolicy {
                    policy_type: *ptype,
                    name: name.clone(),
                    policy,
                });
            }
        }
    }
    Arc::from(list)
}

/// Follows the feed in the background: applies what other writers commit (another node, an
/// operator's offline tool) and retries after a failed catch-up, reloading from a snapshot if
/// the feed keeps failing. Ends when the store's announcer is gone.
pub async fn follow(cache: Arc<IdentityCache>, store: Arc<dyn Store>) {
    let mut commits = store.subscribe();
    let mut failures = 0u32;
    loop {
        // Commits announce themselves; the periodic poll covers writers that cannot.
        let woke = tokio::time::timeout(std::time::Duration::from_secs(1), commits.changed()).await;
        if matches!(woke, Ok(Err(_))) {
            return;
        }
        match cache.catch_up().await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                tracing::error!(error = %e, failures, "the identity cache cannot follow the change feed");
                if failures >= 3 {
                    let mut model = cache.model.lock().await;
                    if let Err(e) = cache.reload(&mut model).await {
                        tracing::error!(error = %e, "the identity cache cannot reload either");
                    }
                }
                let backoff = std::time::Duration::from_millis(100 << failures.min(6));
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
