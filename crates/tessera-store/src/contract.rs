//! The contract every [`Store`] backend satisfies: entities, constraints, conflicts, pagination,
//! the change feed, and behaviour under concurrency (two writers racing for one name, many
//! writers at once, a read after a write).
//!
//! A backend runs the whole suite by instantiating it once in its tests, with an expression that
//! makes a fresh, empty store:
//!
//! ```ignore
//! tessera_store::contract_tests!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::create(&dir.path().join("t.db")).unwrap();
//!     Fixture::new(std::sync::Arc::new(store), dir)
//! });
//! ```
//!
//! Each case is its own `#[tokio::test]`, so a failure names the case.

// The contract suite is test code that other crates' tests instantiate: it states its
// expectations with unwrap and panic, as tests do.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::feed::{Changed, PolicyHead};
use crate::ids::{
    AccessKeyId, AccountId, GroupId, GroupName, PolicyName, RoleId, RoleName, UserId, UserName,
};
use crate::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A store under test, and whatever keeps its storage alive (a temporary directory, a
/// database that is dropped with it).
pub struct Fixture {
    /// The store.
    pub store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

impl Fixture {
    /// Wraps a store and its guard.
    pub fn new(store: Arc<dyn Store>, guard: impl std::any::Any + Send + Sync) -> Self {
        Fixture {
            store,
            _guard: Box::new(guard),
        }
    }
}

/// Runs the whole contract suite against the backend `$make` (an expression of type
/// `impl Future<Output = Fixture>`, evaluated once per case).
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@cases $make;
            accounts_and_meta,
            users_keys_and_limits,
            the_root_keeps_an_active_key,
            users_are_paged_and_renamed,
            groups_memberships_and_conflicts,
            group_members_are_paged_by_user_name,
            role_names_ignore_case_but_keep_it,
            login_profiles,
            policies_versions_and_attachments,
            token_keys_and_revocations,
            every_write_is_in_the_feed,
            failed_writes_leave_no_trace_in_the_feed,
            feed_batches_end_with_whole_transactions,
            compacted_feed_asks_for_a_reload,
            snapshot_names_its_revision,
            racing_writers_one_name_one_winner,
            concurrent_writers_keep_the_feed_dense,
            reads_see_the_writes_before_them,
            names_sort_bytewise,
            attachments_keep_their_order,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::contract::$case($make.await).await;
            }
        )*
    };
}

fn account_record(id: &AccountId) -> AccountRecord {
    AccountRecord {
        id: id.clone(),
        created: 1,
    }
}

fn key(owner: KeyOwner) -> AccessKeyRecord {
    AccessKeyRecord {
        id: AccessKeyId::generate(),
        owner,
        sealed_secret: vec![1, 2, 3],
        status: KeyStatus::Active,
        created: 1,
    }
}

fn user(account: &AccountId, name: &str) -> UserRecord {
    UserRecord {
        account: account.clone(),
        id: UserId::generate(),
        name: UserName::from_trusted(name),
        display_name: String::new(),
        mobile_phone: String::new(),
        email: String::new(),
        comments: String::new(),
        created: 1,
        updated: 1,
    }
}

fn group(account: &AccountId, name: &str) -> GroupRecord {
    GroupRecord {
        account: account.clone(),
        id: GroupId::generate(),
        name: GroupName::from_trusted(name),
        comments: String::new(),
        created: 1,
        updated: 1,
    }
}

fn role(account: &AccountId, name: &str) -> RoleRecord {
    RoleRecord {
        account: account.clone(),
        id: RoleId::generate(),
        name: RoleName::from_trusted(name),
        description: String::new(),
        trust_policy: "{}".into(),
        max_session_duration: 3600,
        created: 1,
        updated: 1,
    }
}

fn policy(account: &AccountId, name: &str) -> CustomPolicyRecord {
    CustomPolicyRecord {
        account: account.clone(),
        name: PolicyName::from_trusted(name),
        description: String::new(),
        default_version: 1,
        created: 1,
        updated: 1,
    }
}

fn un(s: &str) -> UserName {
    UserName::from_trusted(s)
}

fn gn(s: &str) -> GroupName {
    GroupName::from_trusted(s)
}

fn rn(s: &str) -> RoleName {
    RoleName::from_trusted(s)
}

fn pn(s: &str) -> PolicyName {
    PolicyName::from_trusted(s)
}

/// A fresh account in `s`, with the named users.
async fn account_with_users(s: &dyn Store, users: &[&str]) -> AccountId {
    let a = AccountId::generate();
    s.create_account(&account_record(&a), &key(KeyOwner::Root(a.clone())), &[])
        .await
        .expect("account");
    for name in users {
        s.create_user(&user(&a, name), 1000).await.expect("user");
    }
    a
}

/// Every change the feed holds after `after`.
async fn feed_after(s: &dyn Store, after: u64) -> Vec<Change> {
    s.changes_since(after, u64::MAX / 2).await.expect("feed")
}

/// Accounts exist once, carry their root key and metadata.
pub async fn accounts_and_meta(f: Fixture) {
    let s = f.store.as_ref();
    let a = AccountId::generate();
    let root = key(KeyOwner::Root(a.clone()));
    assert!(!s.account_exists(&a).await.unwrap());
    s.create_account(
        &account_record(&a),
        &root,
        &[("format", "x"), ("first_account", a.as_str())],
    )
    .await
    .unwrap();
    assert!(s.account_exists(&a).await.unwrap());
    assert_eq!(s.meta("format").await.unwrap().as_deref(), Some("x"));
    assert_eq!(s.meta("nothing").await.unwrap(), None);
    assert!(matches!(
        s.create_account(&account_record(&a), &key(KeyOwner::Root(a.clone())), &[])
            .await,
        Err(StoreError::AlreadyExists(Entity::Account))
    ));
    let keys = s.access_keys(&KeyOwner::Root(a.clone())).await.unwrap();
    assert_eq!(keys, vec![root], "the root key, and only it");
}

/// Users and keys: uniqueness, quotas, ownership, delete conflicts.
pub async fn users_keys_and_limits(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &[]).await;
    let r0 = s.revision();
    let u = user(&a, "alice");
    s.create_user(&u, 2).await.unwrap();
    assert!(s.revision() > r0, "a write advances the revision");
    assert_eq!(s.user(&a, &u.name).await.unwrap(), u);
    assert!(matches!(
        s.create_user(&user(&a, "alice"), 2).await,
        Err(StoreError::AlreadyExists(Entity::User))
    ));
    s.create_user(&user(&a, "bob"), 2).await.unwrap();
    assert!(matches!(
        s.create_user(&user(&a, "carol"), 2).await,
        Err(StoreError::LimitExceeded(Entity::User))
    ));
    // Names are per account.
    let b = account_with_users(s, &["alice"]).await;
    assert_ne!(s.user(&b, &un("alice")).await.unwrap().id, u.id);

    let owner = KeyOwner::User(a.clone(), u.id.clone());
    let k1 = key(owner.clone());
    s.create_access_key(&k1, 2).await.unwrap();
    s.create_access_key(&key(owner.clone()), 2).await.unwrap();
    assert!(matches!(
        s.create_access_key(&key(owner.clone()), 2).await,
        Err(StoreError::LimitExceeded(Entity::AccessKey))
    ));
    assert!(matches!(
        s.create_access_key(&key(KeyOwner::User(a.clone(), UserId::generate())), 2)
            .await,
        Err(StoreError::NotFound(Entity::User))
    ));
    assert_eq!(s.access_keys(&owner).await.unwrap().len(), 2);
    assert_eq!(
        s.access_keys(&KeyOwner::Root(a.clone()))
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(matches!(
        s.delete_user(&a, &u.name).await,
        Err(StoreError::UserHasAccessKeys)
    ));
    s.set_access_key_status(&owner, &k1.id, KeyStatus::Inactive)
        .await
        .unwrap();
    let listed = s.access_keys(&owner).await.unwrap();
    assert_eq!(
        listed.iter().find(|k| k.id == k1.id).map(|k| k.status),
        Some(KeyStatus::Inactive)
    );
    // Another owner's key is invisible.
    assert!(matches!(
        s.delete_access_key(&KeyOwner::Root(a.clone()), &k1.id)
            .await,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));
    assert!(matches!(
        s.set_access_key_status(&KeyOwner::Root(a.clone()), &k1.id, KeyStatus::Active)
            .await,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));
    for k in s.access_keys(&owner).await.unwrap() {
        s.delete_access_key(&owner, &k.id).await.unwrap();
    }
    s.delete_user(&a, &u.name).await.unwrap();
    assert!(matches!(
        s.user(&a, &u.name).await,
        Err(StoreError::NotFound(Entity::User))
    ));
    assert!(matches!(
        s.delete_user(&a, &u.name).await,
        Err(StoreError::NotFound(Entity::User))
    ));
}

/// The account root keeps an active AccessKey: its last one can be neither deleted nor
/// disabled, even by two calls racing; a RAM user's keys have no such floor.
pub async fn the_root_keeps_an_active_key(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["alice"]).await;
    let root = KeyOwner::Root(a.clone());
    let first = s.access_keys(&root).await.unwrap().remove(0);
    let last = |r: StoreResult<()>| matches!(r, Err(StoreError::LastActiveRootKey));
    let r0 = s.revision();
    assert!(last(s.delete_access_key(&root, &first.id).await));
    assert!(last(
        s.set_access_key_status(&root, &first.id, KeyStatus::Inactive)
            .await
    ));
    assert_eq!(s.revision(), r0, "a refused write records nothing");
    s.set_access_key_status(&root, &first.id, KeyStatus::Active)
        .await
        .unwrap();

    // With a second key, either may go, but not both.
    let second = key(root.clone());
    s.create_access_key(&second, 2).await.unwrap();
    s.set_access_key_status(&root, &first.id, KeyStatus::Inactive)
        .await
        .unwrap();
    assert!(last(s.delete_access_key(&root, &second.id).await));
    assert!(last(
        s.set_access_key_status(&root, &second.id, KeyStatus::Inactive)
            .await
    ));
    // An inactive key takes nothing away; a missing one is missing.
    s.set_access_key_status(&root, &first.id, KeyStatus::Inactive)
        .await
        .unwrap();
    s.delete_access_key(&root, &first.id).await.unwrap();
    assert!(matches!(
        s.delete_access_key(&root, &first.id).await,
        Err(StoreError::NotFound(Entity::AccessKey))
    ));

    // Two deletes racing for the last two active keys: one wins.
    let third = key(root.clone());
    s.create_access_key(&third, 2).await.unwrap();
    let (x, y) = tokio::join!(
        s.delete_access_key(&root, &second.id),
        s.delete_access_key(&root, &third.id)
    );
    assert!(x.is_ok() != y.is_ok(), "{x:?} {y:?}");
    assert!(last(if x.is_err() { x } else { y }));
    let active: Vec<_> = s
        .access_keys(&root)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.status == KeyStatus::Active)
        .collect();
    assert_eq!(active.len(), 1);

    // A user may lose its last key.
    let u = s.user(&a, &un("alice")).await.unwrap();
    let uk = key(KeyOwner::User(a.clone(), u.id));
    s.create_access_key(&uk, 2).await.unwrap();
    s.set_access_key_status(&uk.owner, &uk.id, KeyStatus::Inactive)
        .await
        .unwrap();
    s.delete_access_key(&uk.owner, &uk.id).await.unwrap();
}

/// Listing by name with markers; renames keep the id and refuse a taken name.
pub async fn users_are_paged_and_renamed(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["c", "a", "b", "d"]).await;
    let p1 = s.list_users(&a, None, 3).await.unwrap();
    assert!(p1.truncated);
    assert_eq!(
        p1.items.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let p2 = s.list_users(&a, Some("c"), 3).await.unwrap();
    assert!(!p2.truncated);
    assert_eq!(p2.items.len(), 1);
    let exact = s.list_users(&a, None, 4).await.unwrap();
    assert!(!exact.truncated, "a full last page says nothing follows");

    let up = UserUpdate {
        name: Some(un("b")),
        ..Default::default()
    };
    assert!(matches!(
        s.update_user(&a, &un("a"), &up, 5).await,
        Err(StoreError::AlreadyExists(Entity::User))
    ));
    let before = s.user(&a, &un("a")).await.unwrap();
    let up = UserUpdate {
        name: Some(un("z")),
        email: Some("z@x.io".into()),
        ..Default::default()
    };
    let u = s.update_user(&a, &un("a"), &up, 5).await.unwrap();
    assert_eq!(
        (u.name.as_str(), u.email.as_str(), u.updated, &u.id),
        ("z", "z@x.io", 5, &before.id)
    );
    assert_eq!(s.user(&a, &un("z")).await.unwrap(), u);
    assert!(matches!(
        s.user(&a, &un("a")).await,
        Err(StoreError::NotFound(Entity::User))
    ));
}

/// Groups: uniqueness, quotas, memberships and their limits, delete conflicts, renames.
pub async fn groups_memberships_and_conflicts(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["ann", "bob"]).await;
    s.create_group(&group(&a, "g1"), 2).await.unwrap();
    assert!(matches!(
        s.create_group(&group(&a, "g1"), 2).await,
        Err(StoreError::AlreadyExists(Entity::Group))
    ));
    s.create_group(&group(&a, "g2"), 2).await.unwrap();
    assert!(matches!(
        s.create_group(&group(&a, "g3"), 2).await,
        Err(StoreError::LimitExceeded(Entity::Group))
    ));

    s.add_user_to_group(&a, &gn("g1"), &un("ann"), 7, 1)
        .await
        .unwrap();
    assert!(matches!(
        s.add_user_to_group(&a, &gn("g1"), &un("ann"), 8, 5).await,
        Err(StoreError::AlreadyExists(Entity::GroupMembership))
    ));
    assert!(matches!(
        s.add_user_to_group(&a, &gn("g2"), &un("ann"), 8, 1).await,
        Err(StoreError::LimitExceeded(Entity::GroupMembership))
    ));
    assert!(matches!(
        s.add_user_to_group(&a, &gn("nope"), &un("ann"), 8, 5).await,
        Err(StoreError::NotFound(Entity::Group))
    ));
    assert!(matches!(
        s.add_user_to_group(&a, &gn("g2"), &un("nobody"), 8, 5)
            .await,
        Err(StoreError::NotFound(Entity::User))
    ));
    let joined = s.groups_for_user(&a, &un("ann")).await.unwrap();
    assert_eq!(joined.len(), 1);
    assert_eq!((joined[0].group.name.as_str(), joined[0].joined), ("g1", 7));

    assert!(matches!(
        s.delete_group(&a, &gn("g1")).await,
        Err(StoreError::DeleteConflict(Conflict::GroupHasUsers))
    ));
    assert!(matches!(
        s.delete_user(&a, &un("ann")).await,
        Err(StoreError::DeleteConflict(Conflict::UserInGroup))
    ));
    // Renaming the group keeps its members.
    let up = GroupUpdate {
        name: Some(gn("g1b")),
        comments: None,
    };
    s.update_group(&a, &gn("g1"), &up, 9).await.unwrap();
    let up = GroupUpdate {
        name: Some(gn("g2")),
        comments: None,
    };
    assert!(matches!(
        s.update_group(&a, &gn("g1b"), &up, 9).await,
        Err(StoreError::AlreadyExists(Entity::Group))
    ));
    let members = s.users_for_group(&a, &gn("g1b"), None, 10).await.unwrap();
    assert_eq!(members.items.len(), 1);
    assert_eq!(members.items[0].user.name.as_str(), "ann");
    s.remove_user_from_group(&a, &gn("g1b"), &un("ann"))
        .await
        .unwrap();
    assert!(matches!(
        s.remove_user_from_group(&a, &gn("g1b"), &un("ann")).await,
        Err(StoreError::NotFound(Entity::GroupMembership))
    ));
    s.delete_user(&a, &un("ann")).await.unwrap();
    s.delete_group(&a, &gn("g1b")).await.unwrap();
    assert!(matches!(
        s.group(&a, &gn("g1b")).await,
        Err(StoreError::NotFound(Entity::Group))
    ));
    let listed = s.list_groups(&a, None, 10).await.unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["g2"]
    );
}

/// A group's members are listed by user name, with markers.
pub async fn group_members_are_paged_by_user_name(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["c", "a", "d", "b"]).await;
    s.create_group(&group(&a, "g"), 5).await.unwrap();
    for name in ["c", "a", "d", "b"] {
        s.add_user_to_group(&a, &gn("g"), &un(name), 1, 5)
            .await
            .unwrap();
    }
    let p1 = s.users_for_group(&a, &gn("g"), None, 3).await.unwrap();
    assert!(p1.truncated);
    let names: Vec<_> = p1.items.iter().map(|m| m.user.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let p2 = s.users_for_group(&a, &gn("g"), Some("c"), 3).await.unwrap();
    assert!(!p2.truncated);
    assert_eq!(p2.items[0].user.name.as_str(), "d");
}

/// Role names are unique and looked up regardless of case, and shown as created.
pub async fn role_names_ignore_case_but_keep_it(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &[]).await;
    s.create_role(&role(&a, "Admin"), 3).await.unwrap();
    assert!(matches!(
        s.create_role(&role(&a, "ADMIN"), 3).await,
        Err(StoreError::AlreadyExists(Entity::Role))
    ));
    assert_eq!(
        s.role(&a, &rn("aDmIn")).await.unwrap().name.as_str(),
        "Admin"
    );
    for name in ["beta", "Charlie"] {
        s.create_role(&role(&a, name), 3).await.unwrap();
    }
    assert!(matches!(
        s.create_role(&role(&a, "delta"), 3).await,
        Err(StoreError::LimitExceeded(Entity::Role))
    ));
    let p1 = s.list_roles(&a, None, 2).await.unwrap();
    let names: Vec<_> = p1.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Admin", "beta"]);
    assert!(p1.truncated);
    let p2 = s.list_roles(&a, Some("beta"), 2).await.unwrap();
    assert_eq!(p2.items[0].name.as_str(), "Charlie");
    assert!(!p2.truncated);

    let up = RoleUpdate {
        max_session_duration: Some(7200),
        ..Default::default()
    };
    let r = s.update_role(&a, &rn("ADMIN"), &up, 5).await.unwrap();
    assert_eq!(
        (r.max_session_duration, r.updated, r.trust_policy.as_str()),
        (7200, 5, "{}")
    );
    s.delete_role(&a, &rn("admin")).await.unwrap();
    assert!(matches!(
        s.role(&a, &rn("Admin")).await,
        Err(StoreError::NotFound(Entity::Role))
    ));
}

/// One login profile per user; it blocks deleting the user; the hash never shows in Debug.
pub async fn login_profiles(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["lee"]).await;
    let profile = |hash: &str| NewLoginProfile {
        password_hash: hash.into(),
        password_reset_required: false,
        mfa_bind_required: true,
        created: 3,
    };
    let lee = un("lee");
    assert!(matches!(
        s.login_profile(&a, &lee).await,
        Err(StoreError::NotFound(Entity::LoginProfile))
    ));
    assert!(matches!(
        s.create_login_profile(&a, &un("ghost"), &profile("h"))
            .await,
        Err(StoreError::NotFound(Entity::User))
    ));
    let p = s
        .create_login_profile(&a, &lee, &profile("h1"))
        .await
        .unwrap();
    assert_eq!(
        (
            p.user_name.as_str(),
            p.password_hash.as_str(),
            p.mfa_bind_required,
            p.created
        ),
        ("lee", "h1", true, 3)
    );
    assert!(!format!("{p:?}").contains("h1"), "Debug hides the hash");
    assert!(matches!(
        s.create_login_profile(&a, &lee, &profile("h2")).await,
        Err(StoreError::AlreadyExists(Entity::LoginProfile))
    ));
    let up = LoginProfileUpdate {
        password_reset_required: Some(true),
        ..Default::default()
    };
    let p = s.update_login_profile(&a, &lee, &up, 9).await.unwrap();
    assert_eq!(
        (
            p.password_hash.as_str(),
            p.password_reset_required,
            p.mfa_bind_required,
            p.updated
        ),
        ("h1", true, true, 9)
    );
    assert_eq!(s.login_profile(&a, &lee).await.unwrap(), p);
    assert!(matches!(
        s.delete_user(&a, &lee).await,
        Err(StoreError::DeleteConflict(Conflict::UserHasLoginProfile))
    ));
    s.delete_login_profile(&a, &lee).await.unwrap();
    assert!(matches!(
        s.delete_login_profile(&a, &lee).await,
        Err(StoreError::NotFound(Entity::LoginProfile))
    ));
    s.delete_user(&a, &lee).await.unwrap();
}

/// Custom policies, their versions and default, attachments and the conflicts they cause.
pub async fn policies_versions_and_attachments(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["ann"]).await;
    let doc1 = r#"{"Version":"1","Statement":[]}"#;
    s.create_policy(&policy(&a, "p"), doc1, 2).await.unwrap();
    assert!(matches!(
        s.create_policy(&policy(&a, "p"), doc1, 2).await,
        Err(StoreError::AlreadyExists(Entity::Policy))
    ));
    s.create_policy(&policy(&a, "q"), doc1, 2).await.unwrap();
    assert!(matches!(
        s.create_policy(&policy(&a, "r"), doc1, 2).await,
        Err(StoreError::LimitExceeded(Entity::Policy))
    ));
    let (rec, v1) = s.custom_policy(&a, &pn("p")).await.unwrap();
    assert_eq!(
        (rec.default_version, v1.version, v1.document.as_str()),
        (1, 1, doc1)
    );

    let new = |doc: &str, set_default: bool, rotate: bool| NewPolicyVersion {
        document: doc.into(),
        set_default,
        rotate,
        max_versions: 2,
        now: 4,
    };
    let v2 = s
        .create_policy_version(&a, &pn("p"), &new("two", true, false))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        s.custom_policy(&a, &pn("p")).await.unwrap().1.document,
        "two"
    );
    assert!(matches!(
        s.create_policy_version(&a, &pn("p"), &new("three", false, false))
            .await,
        Err(StoreError::LimitExceeded(Entity::PolicyVersion))
    ));
    // Rotation drops the oldest non-default version; version numbers are never reused.
    let v3 = s
        .create_policy_version(&a, &pn("p"), &new("three", false, true))
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    let (_, versions) = s.policy_versions(&a, &pn("p")).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(matches!(
        s.delete_policy_version(&a, &pn("p"), 2).await,
        Err(StoreError::DefaultPolicyVersion)
    ));
    s.set_default_policy_version(&a, &pn("p"), 3, 6)
        .await
        .unwrap();
    assert!(matches!(
        s.set_default_policy_version(&a, &pn("p"), 9, 6).await,
        Err(StoreError::NotFound(Entity::PolicyVersion))
    ));
    s.delete_policy_version(&a, &pn("p"), 2).await.unwrap();
    let rec = s
        .update_policy_description(&a, &pn("p"), "described", 7)
        .await
        .unwrap();
    assert_eq!(
        (rec.description.as_str(), rec.default_version),
        ("described", 3)
    );

    let ann = s.resolve_target(&a, TargetKind::User, "ann").await.unwrap();
    assert!(matches!(
        s.resolve_target(&a, TargetKind::Group, "ann").await,
        Err(StoreError::NotFound(Entity::Group))
    ));
    let attach = |t: &Target, ty: PolicyType, name: &str| Attachment {
        target: t.clone(),
        policy_type: ty,
        policy_name: pn(name),
        attached: 8,
    };
    let limits = AttachLimits {
        system: 1,
        custom: 5,
    };
    s.attach_policy(&a, &attach(&ann, PolicyType::Custom, "p"), limits)
        .await
        .unwrap();
    assert!(matches!(
        s.attach_policy(&a, &attach(&ann, PolicyType::Custom, "p"), limits)
            .await,
        Err(StoreError::AlreadyExists(Entity::Attachment(
            TargetKind::User
        )))
    ));
    assert!(matches!(
        s.attach_policy(&a, &attach(&ann, PolicyType::Custom, "missing"), limits)
            .await,
        Err(StoreError::NotFound(Entity::Policy))
    ));
    s.attach_policy(
        &a,
        &attach(&ann, PolicyType::System, "ReadOnlyAccess"),
        limits,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.attach_policy(
            &a,
            &attach(&ann, PolicyType::System, "AdministratorAccess"),
            limits
        )
        .await,
        Err(StoreError::LimitExceeded(Entity::Attachment(
            TargetKind::User
        )))
    ));
    assert_eq!(s.attachments_of(&a, &ann).await.unwrap().len(), 2);
    let entities = s
        .entities_for_policy(&a, PolicyType::Custom, &pn("p"))
        .await
        .unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0].name, "ann");
    assert!(matches!(
        s.delete_policy(&a, &pn("p"), true).await,
        Err(StoreError::PolicyInUse(PolicyInUse::User))
    ));
    assert!(matches!(
        s.delete_user(&a, &un("ann")).await,
        Err(StoreError::UserHasPolicies)
    ));
    s.detach_policy(&a, &ann, PolicyType::Custom, &pn("p"))
        .await
        .unwrap();
    assert!(matches!(
        s.detach_policy(&a, &ann, PolicyType::Custom, &pn("p"))
            .await,
        Err(StoreError::NotFound(Entity::Attachment(TargetKind::User)))
    ));
    assert_eq!(s.all_attachments(&a).await.unwrap().len(), 1);
    s.create_policy_version(&a, &pn("p"), &new("four", false, false))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_policy(&a, &pn("p"), false).await,
        Err(StoreError::PolicyInUse(PolicyInUse::Versions))
    ));
    s.delete_policy(&a, &pn("p"), true).await.unwrap();
    assert!(matches!(
        s.custom_policy(&a, &pn("p")).await,
        Err(StoreError::NotFound(Entity::Policy))
    ));
    let names: Vec<_> = s
        .custom_policies(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(names, ["q"]);
}

/// Token keys rotate (one current key at a time) and are dropped once retired long enough;
/// revocations only ever move forward.
pub async fn token_keys_and_revocations(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &[]).await;
    let k1 = s.add_token_key(&[1; 8], 10).await.unwrap();
    let k2 = s.add_token_key(&[2; 8], 20).await.unwrap();
    assert_ne!(k1, k2);
    let keys = s.token_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.iter().filter(|k| k.retired.is_none()).count(), 1);
    assert_eq!(
        keys.iter().find(|k| k.id == k1).and_then(|k| k.retired),
        Some(20)
    );
    assert_eq!(s.drop_token_keys_retired_before(20).await.unwrap(), 0);
    assert_eq!(s.drop_token_keys_retired_before(21).await.unwrap(), 1);
    let keys = s.token_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), [k2]);
    assert_eq!(keys[0].sealed_key, vec![2; 8]);

    let t = Target {
        kind: TargetKind::Role,
        id: "123".into(),
    };
    s.revoke_sessions(&a, &t, 50).await.unwrap();
    s.revoke_sessions(&a, &t, 40).await.unwrap();
    let snap = s.identities().await.unwrap();
    assert_eq!(snap.revocations.len(), 1);
    assert_eq!(snap.revocations[0].not_before, 50, "never moves back");
    s.revoke_sessions(&a, &t, 60).await.unwrap();
    let snap = s.identities().await.unwrap();
    assert_eq!(snap.revocations[0].not_before, 60);
}

/// Every kind of write records, in order and in its own revision, what it changed, with the
/// entity's new row or a tombstone.
pub async fn every_write_is_in_the_feed(f: Fixture) {
    let s = f.store.as_ref();
    let start = s.revision();
    let a = account_with_users(s, &[]).await;
    let u = user(&a, "ann");
    s.create_user(&u, 10).await.unwrap();
    let k = key(KeyOwner::User(a.clone(), u.id.clone()));
    s.create_access_key(&k, 2).await.unwrap();
    s.set_access_key_status(&k.owner, &k.id, KeyStatus::Inactive)
        .await
        .unwrap();
    let g = group(&a, "g");
    s.create_group(&g, 10).await.unwrap();
    s.add_user_to_group(&a, &g.name, &u.name, 5, 5)
        .await
        .unwrap();
    let doc = r#"{"Version":"1","Statement":[]}"#;
    s.create_policy(&policy(&a, "p"), doc, 10).await.unwrap();
    let r = role(&a, "R");
    s.create_role(&r, 10).await.unwrap();
    let target = Target {
        kind: TargetKind::Role,
        id: r.id.to_string(),
    };
    let at = Attachment {
        target: target.clone(),
        policy_type: PolicyType::Custom,
        policy_name: pn("p"),
        attached: 6,
    };
    s.attach_policy(
        &a,
        &at,
        AttachLimits {
            system: 5,
            custom: 5,
        },
    )
    .await
    .unwrap();
    s.create_login_profile(
        &a,
        &u.name,
        &NewLoginProfile {
            password_hash: "secret-hash".into(),
            password_reset_required: false,
            mfa_bind_required: false,
            created: 1,
        },
    )
    .await
    .unwrap();
    let tk = s.add_token_key(&[9; 4], 7).await.unwrap();
    s.revoke_sessions(&a, &target, 8).await.unwrap();
    s.detach_policy(&a, &target, PolicyType::Custom, &pn("p"))
        .await
        .unwrap();
    s.remove_user_from_group(&a, &g.name, &u.name)
        .await
        .unwrap();
    s.delete_access_key(&k.owner, &k.id).await.unwrap();

    let feed = feed_after(s, start).await;
    let revisions: Vec<u64> = feed.iter().map(|c| c.revision).collect();
    let mut distinct = revisions.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        (start + 1..=s.revision()).collect::<Vec<_>>(),
        "one revision per write, dense, in order"
    );
    assert_eq!(distinct.len(), 15, "fifteen writes");
    let kinds: Vec<&str> = feed.iter().map(|c| c.changed.kind()).collect();
    assert_eq!(
        kinds,
        [
            "Account",
            "AccessKey",
            "User",
            "AccessKey",
            "AccessKey",
            "Group",
            "Membership",
            "Policy",
            "Role",
            "Attachment",
            "LoginProfile",
            "TokenKey",
            "Revocation",
            "Attachment",
            "Membership",
            "AccessKey"
        ]
    );
    assert!(feed.iter().all(|c| match &c.changed {
        Changed::TokenKey { .. } => c.account.is_none(),
        _ => c.account.as_ref() == Some(&a),
    }));
    // The rows are the entities as stored.
    assert!(feed.iter().any(|c| c.changed
        == Changed::User {
            id: u.id.clone(),
            row: Some(u.clone())
        }));
    let mut inactive = k.clone();
    inactive.status = KeyStatus::Inactive;
    assert!(feed.iter().any(|c| c.changed
        == Changed::AccessKey {
            id: k.id.clone(),
            row: Some(inactive.clone())
        }));
    assert!(feed.iter().any(|c| matches!(&c.changed,
        Changed::Policy { name, row: Some(PolicyHead { record, document }) }
            if name.as_str() == "p" && record.default_version == 1 && document == doc)));
    assert!(feed.iter().any(|c| matches!(&c.changed,
        Changed::TokenKey { id, row: Some(r) } if *id == tk && r.sealed_key == vec![9; 4])));
    assert!(feed.iter().any(|c| matches!(&c.changed,
        Changed::Revocation(r) if r.not_before == 8 && r.target == target.id)));
    // Deletions are tombstones naming what went.
    let last = feed.last().unwrap();
    assert_eq!(
        last.changed,
        Changed::AccessKey {
            id: k.id.clone(),
            row: None
        }
    );
    assert!(last.changed.is_tombstone());
    assert!(feed.iter().any(|c| c.changed
        == Changed::Attachment {
            target: target.clone(),
            policy_type: PolicyType::Custom,
            policy_name: pn("p"),
            row: None
        }));
    // No feed entry copies the password hash.
    assert!(!format!("{feed:?}").contains("secret-hash"));
}

/// A refused write (a conflict, a limit) changes nothing, in the tables or in the feed.
pub async fn failed_writes_leave_no_trace_in_the_feed(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["ann"]).await;
    let before = s.revision();
    assert!(s.create_user(&user(&a, "ann"), 10).await.is_err());
    assert!(s.create_user(&user(&a, "bob"), 1).await.is_err());
    assert!(s.delete_user(&a, &un("nobody")).await.is_err());
    assert!(s.create_group(&group(&a, "g"), 0).await.is_err());
    assert_eq!(s.revision(), before);
    assert!(feed_after(s, before).await.is_empty());
    assert!(matches!(
        s.user(&a, &un("bob")).await,
        Err(StoreError::NotFound(Entity::User))
    ));
}

/// A reader asking for a few revisions at a time gets whole transactions, in order, and
/// reaches the end.
pub async fn feed_batches_end_with_whole_transactions(f: Fixture) {
    let s = f.store.as_ref();
    let start = s.revision();
    for _ in 0..5 {
        // Each account is one transaction with two changes (the account and its root key).
        account_with_users(s, &[]).await;
    }
    let mut at = start;
    let mut seen = Vec::new();
    loop {
        let batch = s.changes_since(at, 2).await.unwrap();
        if batch.is_empty() {
            break;
        }
        let revs: HashSet<u64> = batch.iter().map(|c| c.revision).collect();
        assert!(revs.len() <= 2, "at most the revisions asked for");
        for r in &revs {
            assert_eq!(
                batch.iter().filter(|c| c.revision == *r).count(),
                2,
                "a transaction is never split"
            );
        }
        at = batch.last().unwrap().revision;
        seen.extend(batch);
    }
    assert_eq!(at, s.revision());
    assert_eq!(seen.len(), 10);
}

/// Compaction keeps the newest revision; a reader older than what is kept is told to reload,
/// a reader at or past it is served.
pub async fn compacted_feed_asks_for_a_reload(f: Fixture) {
    let s = f.store.as_ref();
    let start = s.revision();
    let a = account_with_users(s, &["a", "b", "c"]).await;
    let newest = s.revision();
    let dropped = s.compact_changes(Duration::ZERO).await.unwrap();
    assert!(dropped >= 4, "the older entries went ({dropped})");
    match s.changes_since(start, 100).await {
        Err(StoreError::FeedCompacted { asked, kept_after }) => {
            assert_eq!(asked, start);
            assert_eq!(kept_after, newest - 1);
        }
        other => panic!("expected FeedCompacted, got {other:?}"),
    }
    let tail = s.changes_since(newest - 1, 100).await.unwrap();
    assert_eq!(tail.len(), 1, "the newest revision is kept");
    s.create_user(&user(&a, "d"), 10).await.unwrap();
    let after = s.changes_since(newest, 100).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].revision, newest + 1);
    assert_eq!(
        s.compact_changes(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    // A retention longer than time itself keeps everything (and overflows nothing).
    assert_eq!(s.compact_changes(Duration::MAX).await.unwrap(), 0);
}

/// A snapshot names the revision it is as of: it holds every write up to it, and the feed after
/// it holds exactly the later ones.
pub async fn snapshot_names_its_revision(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["ann"]).await;
    let g = group(&a, "g");
    s.create_group(&g, 10).await.unwrap();
    s.add_user_to_group(&a, &g.name, &un("ann"), 1, 5)
        .await
        .unwrap();
    s.create_role(&role(&a, "r"), 10).await.unwrap();
    s.create_policy(&policy(&a, "p"), "{}", 10).await.unwrap();
    let snap = s.identities().await.unwrap();
    assert_eq!(snap.revision, s.revision());
    assert_eq!(snap.users.len(), 1);
    assert_eq!(snap.access_keys.len(), 1, "the root key");
    assert_eq!(snap.memberships.len(), 1);
    assert_eq!(snap.roles.len(), 1);
    assert_eq!(snap.policies.len(), 1);
    assert_eq!(snap.policies[0].document, "{}");
    s.create_user(&user(&a, "bob"), 10).await.unwrap();
    let later = feed_after(s, snap.revision).await;
    assert_eq!(later.len(), 1);
    assert!(
        matches!(&later[0].changed, Changed::User { row: Some(u), .. } if u.name.as_str() == "bob")
    );
    // A snapshot replayed as changes names every entity once.
    let replay: Vec<_> = s.identities().await.unwrap().into_changes().collect();
    assert_eq!(replay.len(), 2 + 1 + 1 + 1 + 1);
}

/// Two writers racing for one name: exactly one wins, the other gets AlreadyExists, for every
/// entity with a unique name.
pub async fn racing_writers_one_name_one_winner(f: Fixture) {
    let s = Arc::clone(&f.store);
    let a = account_with_users(s.as_ref(), &[]).await;
    for round in 0..10 {
        let name = format!("u{round}");
        let (x, y) = (user(&a, &name), user(&a, &name));
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.create_user(&x, 1000).await }),
            tokio::spawn(async move { s2.create_user(&y, 1000).await }),
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(outcomes
            .iter()
            .any(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::User)))));

        // Roles race regardless of case.
        let (x, y) = (
            role(&a, &format!("R{round}")),
            role(&a, &format!("r{round}")),
        );
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.create_role(&x, 1000).await }),
            tokio::spawn(async move { s2.create_role(&y, 1000).await }),
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(outcomes
            .iter()
            .any(|r| matches!(r, Err(StoreError::AlreadyExists(Entity::Role)))));

        let (x, y) = (group(&a, &name), group(&a, &name));
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.create_group(&x, 1000).await }),
            tokio::spawn(async move { s2.create_group(&y, 1000).await }),
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );

        let (x, y) = (policy(&a, &name), policy(&a, &name));
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.create_policy(&x, "{}", 1000).await }),
            tokio::spawn(async move { s2.create_policy(&y, "{}", 1000).await }),
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
    }
    // Quotas hold under races too: 8 writers for the last 3 places.
    let b = account_with_users(s.as_ref(), &[]).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (s, u) = (Arc::clone(&s), user(&b, &format!("q{i}")));
            tokio::spawn(async move { s.create_user(&u, 3).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert!(
                matches!(e, StoreError::LimitExceeded(Entity::User)),
                "{e:?}"
            ),
        }
    }
    assert_eq!(ok, 3);
}

/// Many writers at once: every acknowledged write is in the feed exactly once and the feed has
/// no gap, so a reader that follows it misses nothing.
pub async fn concurrent_writers_keep_the_feed_dense(f: Fixture) {
    let s = Arc::clone(&f.store);
    let a = account_with_users(s.as_ref(), &[]).await;
    let start = s.revision();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (s, a) = (Arc::clone(&s), a.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..10 {
                    let u = user(&a, &format!("w{w}-{i}"));
                    s.create_user(&u, 1000).await.unwrap();
                    ids.push(u.id);
                }
                ids
            })
        })
        .collect();
    let mut acknowledged = HashSet::new();
    for t in tasks {
        acknowledged.extend(t.await.unwrap());
    }
    let feed = feed_after(s.as_ref(), start).await;
    let revisions: Vec<u64> = feed.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, (start + 1..=start + 80).collect::<Vec<_>>());
    let fed: HashSet<UserId> = feed
        .iter()
        .filter_map(|c| match &c.changed {
            Changed::User { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(fed, acknowledged);
}

/// A write that has returned is seen by the next read, from any task.
pub async fn reads_see_the_writes_before_them(f: Fixture) {
    let s = Arc::clone(&f.store);
    let a = account_with_users(s.as_ref(), &[]).await;
    for i in 0..20 {
        let u = user(&a, &format!("r{i}"));
        s.create_user(&u, 1000).await.unwrap();
        let (reader, name, acct) = (Arc::clone(&s), u.name.clone(), a.clone());
        let seen = tokio::spawn(async move { reader.user(&acct, &name).await })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, u);
        let k = key(KeyOwner::User(a.clone(), u.id.clone()));
        s.create_access_key(&k, 2).await.unwrap();
        assert_eq!(s.access_keys(&k.owner).await.unwrap(), vec![k.clone()]);
        let feed = s.changes_since(s.revision() - 1, 1).await.unwrap();
        assert_eq!(
            feed.last().map(|c| &c.changed),
            Some(&Changed::AccessKey {
                id: k.id.clone(),
                row: Some(k)
            }),
            "the feed shows the write as soon as it returns"
        );
    }
}

/// The names of a listing, in order.
fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_string()).collect()
}

/// Listings order names byte by byte (digits, then upper case, then `_`, then lower case, as
/// SQLite's BINARY collation does, whatever a database's locale would say), role names by their
/// ASCII lower case; markers compare the same way as the order.
pub async fn names_sort_bytewise(f: Fixture) {
    let s = f.store.as_ref();
    let users = ["b", "B", "a", "A", "_z", "0", ".x", "-y"];
    let a = account_with_users(s, &users).await;
    let bytewise = ["-y", ".x", "0", "A", "B", "_z", "a", "b"];
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = s.list_users(&a, after.as_deref(), 3).await.unwrap();
        listed.extend(names(&p.items, |u| u.name.as_str()));
        if !p.truncated {
            break;
        }
        after = listed.last().cloned();
    }
    assert_eq!(listed, bytewise);

    s.create_group(&group(&a, "g"), 10).await.unwrap();
    for name in users {
        s.add_user_to_group(&a, &gn("g"), &un(name), 1, 10)
            .await
            .unwrap();
    }
    let members = s
        .users_for_group(&a, &gn("g"), Some("B"), 10)
        .await
        .unwrap();
    assert_eq!(
        names(&members.items, |m| m.user.name.as_str()),
        ["_z", "a", "b"]
    );
    for name in ["G", "_g"] {
        s.create_group(&group(&a, name), 10).await.unwrap();
        s.add_user_to_group(&a, &gn(name), &un("a"), 1, 10)
            .await
            .unwrap();
    }
    let groups = s.list_groups(&a, None, 10).await.unwrap();
    assert_eq!(names(&groups.items, |g| g.name.as_str()), ["G", "_g", "g"]);
    let joined = s.groups_for_user(&a, &un("a")).await.unwrap();
    assert_eq!(names(&joined, |m| m.group.name.as_str()), ["G", "_g", "g"]);

    for name in ["beta", "Alpha", "-r", "Zed", ".q"] {
        s.create_role(&role(&a, name), 10).await.unwrap();
    }
    let roles = s.list_roles(&a, None, 10).await.unwrap();
    assert_eq!(
        names(&roles.items, |r| r.name.as_str()),
        ["-r", ".q", "Alpha", "beta", "Zed"]
    );
    let roles = s.list_roles(&a, Some("ALPHA"), 10).await.unwrap();
    assert_eq!(names(&roles.items, |r| r.name.as_str()), ["beta", "Zed"]);

    for name in ["p-b", "P-a", "p-a"] {
        s.create_policy(&policy(&a, name), "{}", 10).await.unwrap();
    }
    let policies = s.custom_policies(&a).await.unwrap();
    assert_eq!(names(&policies, |p| p.name.as_str()), ["P-a", "p-a", "p-b"]);
}

/// A target's policies, and a policy's targets, come in attachment time, then in the order
/// they were attached.
pub async fn attachments_keep_their_order(f: Fixture) {
    let s = f.store.as_ref();
    let a = account_with_users(s, &["u0", "u1", "u2"]).await;
    let limits = AttachLimits {
        system: 10,
        custom: 10,
    };
    let u0 = s.resolve_target(&a, TargetKind::User, "u0").await.unwrap();
    for (name, at) in [("Zeta", 5), ("Alpha", 3), ("Mid", 5)] {
        let at = Attachment {
            target: u0.clone(),
            policy_type: PolicyType::System,
            policy_name: pn(name),
            attached: at,
        };
        s.attach_policy(&a, &at, limits).await.unwrap();
    }
    let of = s.attachments_of(&a, &u0).await.unwrap();
    assert_eq!(
        names(&of, |at| at.policy_name.as_str()),
        ["Alpha", "Zeta", "Mid"]
    );
    for (user, at) in [("u2", 5), ("u1", 3), ("u0", 5)] {
        let target = s.resolve_target(&a, TargetKind::User, user).await.unwrap();
        let at = Attachment {
            target,
            policy_type: PolicyType::System,
            policy_name: pn("Shared"),
            attached: at,
        };
        s.attach_policy(&a, &at, limits).await.unwrap();
    }
    let entities = s
        .entities_for_policy(&a, PolicyType::System, &pn("Shared"))
        .await
        .unwrap();
    assert_eq!(names(&entities, |e| e.name.as_str()), ["u1", "u2", "u0"]);
}
