//! The identity cache against a real SQLite store: what it applies equals what a fresh load
//! sees, a write in one account leaves every other account's entries untouched, damaged rows
//! stay local, and a failed feed read changes nothing.

use super::*;
use crate::ids::{GroupName, RoleName};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_store::sqlite::SqliteStore;
use tessera_store::*;

struct World {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::create(&path).unwrap());
    let (master, _) = MasterKey::generate().unwrap();
    World {
        _dir: dir,
        path,
        store,
        master: Arc::new(master),
    }
}

impl World {
    async fn account(&self) -> (AccountId, AccessKeyId) {
        let a = AccountId::generate();
        let k = self.key(KeyOwner::Root(a.clone()));
        let id = k.id.clone();
        self.store
            .create_account(
                &AccountRecord {
                    id: a.clone(),
                    created: 1,
                },
                &k,
                &[],
            )
            .await
            .unwrap();
        (a, id)
    }

    fn key(&self, owner: KeyOwner) -> AccessKeyRecord {
        let id = AccessKeyId::generate();
        let secret = crate::ids::generate_access_key_secret();
        AccessKeyRecord {
            sealed_secret: self
                .master
                .seal_secret(id.as_str(), &owner.binding(), &secret),
            id,
            owner,
            status: KeyStatus::Active,
            created: 1,
        }
    }

    async fn cache(&self) -> IdentityCache {
        IdentityCache::load(Arc::clone(&self.store), Arc::clone(&self.master))
            .await
            .unwrap()
    }

    /// Asserts that `cache` equals a cache freshly loaded from the store.
    async fn assert_equal_to_fresh(&self, cache: &IdentityCache, context: &str) {
        let fresh = self.cache().await;
        let (have, want) = (cache.describe(), fresh.describe());
        if have != want {
            let missing: Vec<_> = want.iter().filter(|l| !have.contains(l)).collect();
            let extra: Vec<_> = have.iter().filter(|l| !want.contains(l)).collect();
            panic!("{context}: the cache differs from a fresh load\nmissing: {missing:#?}\nextra: {extra:#?}");
        }
        assert_eq!(cache.revision(), fresh.revision(), "{context}");
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

const ALLOW_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const DENY_RAM: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:*","Resource":"*"}]}"#;
const TRUST_ACCOUNT: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1234567890123456:root"]}}]}"#;

/// One random RAM write; failures (conflicts, missing entities) are part of the mix.
async fn random_write(w: &World, rng: &mut StdRng, accounts: &[AccountId]) {
    let a = &accounts[rng.random_range(0..accounts.len())];
    let s = w.store.as_ref();
    let name = |rng: &mut StdRng, prefix: &str| format!("{prefix}{}", rng.random_range(0..6));
    let limits = AttachLimits {
        system: 5,
        custom: 5,
    };
    match rng.random_range(0..17) {
        0 => {
            let _ = s.create_user(&user(a, &name(rng, "u")), 100).await;
        }
        1 => {
            let up = UserUpdate {
                name: Some(UserName::from_trusted(name(rng, "u"))),
                ..Default::default()
            };
            let _ = s
                .update_user(a, &UserName::from_trusted(name(rng, "u")), &up, 2)
                .await;
        }
        2 => {
            if let Ok(u) = s.user(a, &UserName::from_trusted(name(rng, "u"))).await {
                let _ = s
                    .create_access_key(&w.key(KeyOwner::User(a.clone(), u.id)), 2)
                    .await;
            }
        }
        3 => {
            if let Ok(u) = s.user(a, &UserName::from_trusted(name(rng, "u"))).await {
                let owner = KeyOwner::User(a.clone(), u.id);
                if let Some(k) = s.access_keys(&owner).await.unwrap().first() {
                    let status = if rng.random() {
                        KeyStatus::Active
                    } else {
                        KeyStatus::Inactive
                    };
                    s.set_access_key_status(&owner, &k.id, status)
                        .await
                        .unwrap();
                }
            }
        }
        4 => {
            if let Ok(u) = s.user(a, &UserName::from_trusted(name(rng, "u"))).await {
                let owner = KeyOwner::User(a.clone(), u.id);
                for k in s.access_keys(&owner).await.unwrap() {
                    s.delete_access_key(&owner, &k.id).await.unwrap();
                }
                let _ = s.delete_user(a, &u.name).await;
            }
        }
        5 => {
            let g = GroupRecord {
                account: a.clone(),
                id: GroupId::generate(),
                name: GroupName::from_trusted(name(rng, "g")),
                comments: String::new(),
                created: 1,
                updated: 1,
            };
            let _ = s.create_group(&g, 100).await;
        }
        6 => {
            let _ = s
                .add_user_to_group(
                    a,
                    &GroupName::from_trusted(name(rng, "g")),
                    &UserName::from_trusted(name(rng, "u")),
                    3,
                    5,
                )
                .await;
        }
        7 => {
            let _ = s
                .remove_user_from_group(
                    a,
                    &GroupName::from_trusted(name(rng, "g")),
                    &UserName::from_trusted(name(rng, "u")),
                )
                .await;
        }
        8 => {
            let doc = if rng.random() { ALLOW_ALL } else { DENY_RAM };
            let p = CustomPolicyRecord {
                account: a.clone(),
                name: PolicyName::from_trusted(name(rng, "p")),
                description: String::new(),
                default_version: 1,
                created: 1,
                updated: 1,
            };
            let _ = s.create_policy(&p, doc, 100).await;
        }
        9 => {
            let doc = if rng.random() { ALLOW_ALL } else { DENY_RAM };
            let new = NewPolicyVersion {
                document: doc.into(),
                set_default: rng.random(),
                rotate: true,
                max_versions: 3,
                now: 4,
            };
            let _ = s
                .create_policy_version(a, &PolicyName::from_trusted(name(rng, "p")), &new)
                .await;
        }
        10 => {
            let pname = PolicyName::from_trusted(name(rng, "p"));
            if let Ok((_, versions)) = s.policy_versions(a, &pname).await {
                let v = versions[rng.random_range(0..versions.len())].version;
                s.set_default_policy_version(a, &pname, v, 5).await.unwrap();
            }
        }
        11 | 12 => {
            let kind =
                [TargetKind::User, TargetKind::Group, TargetKind::Role][rng.random_range(0..3)];
            let prefix = match kind {
                TargetKind::User => "u",
                TargetKind::Group => "g",
                TargetKind::Role => "r",
            };
            let Ok(target) = s.resolve_target(a, kind, &name(rng, prefix)).await else {
                return;
            };
            let (ptype, pname) = if rng.random() {
                (PolicyType::Custom, name(rng, "p"))
            } else {
                (PolicyType::System, "AdministratorAccess".to_string())
            };
            let pname = PolicyName::from_trusted(pname);
            if rng.random_range(0..2) == 0 {
                let at = Attachment {
                    target,
                    policy_type: ptype,
                    policy_name: pname,
                    attached: 6,
                };
                let _ = s.attach_policy(a, &at, limits).await;
            } else {
                let _ = s.detach_policy(a, &target, ptype, &pname).await;
            }
        }
        13 => {
            let r = RoleRecord {
                account: a.clone(),
                id: RoleId::generate(),
                name: RoleName::from_trusted(name(rng, "r")),
                description: String::new(),
                trust_policy: TRUST_ACCOUNT.into(),
                max_session_duration: 3600,
                created: 1,
                updated: 1,
            };
            let _ = s.create_role(&r, 100).await;
        }
        14 => {
            let up = RoleUpdate {
                max_session_duration: Some(rng.random_range(3600..7200)),
                ..Default::default()
            };
            let _ = s
                .update_role(a, &RoleName::from_trusted(name(rng, "R")), &up, 6)
                .await;
        }
        15 => {
            let rname = RoleName::from_trusted(name(rng, "r"));
            if let Ok(r) = s.role(a, &rname).await {
                let target = Target {
                    kind: TargetKind::Role,
                    id: r.id.to_string(),
                };
                for at in s.attachments_of(a, &target).await.unwrap() {
                    s.detach_policy(a, &target, at.policy_type, &at.policy_name)
                        .await
                        .unwrap();
                }
                if rng.random() {
                    s.delete_role(a, &rname).await.unwrap();
                } else {
                    s.revoke_sessions(a, &target, rng.random_range(0..100))
                        .await
                        .unwrap();
                }
            }
        }
        _ => {
            let sealed = crate::tokens::new_sealed_key(&w.master).unwrap();
            s.add_token_key(&sealed, rng.random_range(0..1000))
                .await
                .unwrap();
            if rng.random() {
                s.drop_token_keys_retired_before(rng.random_range(0..1000))
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_changes_equal_a_fresh_load() {
    for seed in 0..4u64 {
        let w = world().await;
        let accounts = vec![w.account().await.0, w.account().await.0];
        let cache = w.cache().await;
        let mut rng = StdRng::seed_from_u64(seed);
        for step in 0..400 {
            random_write(&w, &mut rng, &accounts).await;
            if step % 7 == 0 {
                cache.catch_up().await.unwrap();
            }
            if step % 50 == 49 {
                cache.catch_up().await.unwrap();
                w.assert_equal_to_fresh(&cache, &format!("seed {seed}, step {step}"))
                    .await;
            }
        }
        let (keys, roles) = cache.sizes();
        assert!(
            keys > 2 && roles > 0,
            "the mix built something ({keys} keys, {roles} roles)"
        );
    }
}

#[tokio::test]
async fn a_write_in_one_account_leaves_the_others_untouched() {
    let w = world().await;
    let (a, _) = w.account().await;
    let (b, b_root) = w.account().await;
    let bu = user(&b, "bob");
    w.store.create_user(&bu, 10).await.unwrap();
    let bk = w.key(KeyOwner::User(b.clone(), bu.id.clone()));
    w.store.create_access_key(&bk, 2).await.unwrap();
    let cache = w.cache().await;
    let before = (
        cache.access_key(b_root.as_str()).unwrap(),
        cache.access_key(bk.id.as_str()).unwrap(),
        cache.keyring().clone(),
    );

    let au = user(&a, "ann");
    w.store.create_user(&au, 10).await.unwrap();
    let ak = w.key(KeyOwner::User(a.clone(), au.id.clone()));
    w.store.create_access_key(&ak, 2).await.unwrap();
    w.store
        .update_user(
            &a,
            &au.name,
            &UserUpdate {
                name: Some(UserName::from_trusted("anna")),
                ..Default::default()
            },
            2,
        )
        .await
        .unwrap();
    cache.catch_up().await.unwrap();

    // Account A's change is there…
    let ann = cache.access_key(ak.id.as_str()).unwrap();
    assert!(matches!(&ann.principal, Principal::User { name, .. } if name.as_str() == "anna"));
    // …and account B's entries are the very same allocations: nothing was rebuilt.
    assert!(Arc::ptr_eq(
        &before.0,
        &cache.access_key(b_root.as_str()).unwrap()
    ));
    assert!(Arc::ptr_eq(
        &before.1,
        &cache.access_key(bk.id.as_str()).unwrap()
    ));
    assert!(Arc::ptr_eq(&before.2, &cache.keyring()));
}

#[tokio::test]
async fn group_and_policy_changes_reach_every_member_key() {
    let w = world().await;
    let (a, _) = w.account().await;
    let s = w.store.as_ref();
    let mut keys = Vec::new();
    for n in ["m1", "m2", "m3"] {
        let u = user(&a, n);
        s.create_user(&u, 10).await.unwrap();
        let k = w.key(KeyOwner::User(a.clone(), u.id.clone()));
        s.create_access_key(&k, 2).await.unwrap();
        keys.push(k.id);
    }
    let g = GroupRecord {
        account: a.clone(),
        id: GroupId::generate(),
        name: GroupName::from_trusted("team"),
        comments: String::new(),
        created: 1,
        updated: 1,
    };
    s.create_group(&g, 10).await.unwrap();
    for n in ["m1", "m2"] {
        s.add_user_to_group(&a, &g.name, &UserName::from_trusted(n), 1, 5)
            .await
            .unwrap();
    }
    let cache = w.cache().await;
    let p = CustomPolicyRecord {
        account: a.clone(),
        name: PolicyName::from_trusted("team-policy"),
        description: String::new(),
        default_version: 1,
        created: 1,
        updated: 1,
    };
    s.create_policy(&p, ALLOW_ALL, 10).await.unwrap();
    let target = Target {
        kind: TargetKind::Group,
        id: g.id.to_string(),
    };
    s.attach_policy(
        &a,
        &Attachment {
            target,
            policy_type: PolicyType::Custom,
            policy_name: p.name.clone(),
            attached: 2,
        },
        AttachLimits {
            system: 5,
            custom: 5,
        },
    )
    .await
    .unwrap();
    cache.catch_up().await.unwrap();
    let names = |id: &AccessKeyId| sorted_names(&cache.access_key(id.as_str()).unwrap().policies);
    assert_eq!(names(&keys[0]), ["Custom:team-policy"]);
    assert_eq!(names(&keys[1]), ["Custom:team-policy"]);
    assert!(names(&keys[2]).is_empty(), "not a member");
    let compiled_before =
        Arc::clone(&cache.access_key(keys[0].as_str()).unwrap().policies[0].policy);

    // A new default version is what members are authorized with from the next request on.
    s.create_policy_version(
        &a,
        &p.name,
        &NewPolicyVersion {
            document: DENY_RAM.into(),
            set_default: true,
            rotate: false,
            max_versions: 5,
            now: 3,
        },
    )
    .await
    .unwrap();
    cache.catch_up().await.unwrap();
    let compiled_after =
        Arc::clone(&cache.access_key(keys[1].as_str()).unwrap().policies[0].policy);
    assert!(!Arc::ptr_eq(&compiled_before, &compiled_after));
    w.assert_equal_to_fresh(&cache, "after the new default version")
        .await;
}

#[tokio::test]
async fn a_damaged_secret_leaves_out_only_its_key() {
    let w = world().await;
    let (a, root) = w.account().await;
    let u = user(&a, "ann");
    w.store.create_user(&u, 10).await.unwrap();
    let mut bad = w.key(KeyOwner::User(a.clone(), u.id.clone()));
    bad.sealed_secret[0] ^= 0xff;
    w.store.create_access_key(&bad, 2).await.unwrap();
    let good = w.key(KeyOwner::User(a.clone(), u.id.clone()));
    w.store.create_access_key(&good, 2).await.unwrap();

    let cache = w.cache().await;
    assert!(cache.access_key(bad.id.as_str()).is_none());
    assert!(cache.access_key(good.id.as_str()).is_some());
    assert!(cache.access_key(root.as_str()).is_some());
    // The same when the damaged row arrives through the feed.
    let mut bad2 = w.key(KeyOwner::Root(a.clone()));
    bad2.sealed_secret.truncate(3);
    w.store.create_access_key(&bad2, 2).await.unwrap();
    cache.catch_up().await.unwrap();
    assert!(cache.access_key(bad2.id.as_str()).is_none());
    assert!(cache.access_key(root.as_str()).is_some());
    assert!(cache.access_key(good.id.as_str()).is_some());
}

#[tokio::test]
async fn a_failed_feed_read_applies_nothing_and_a_retry_applies_everything() {
    let w = world().await;
    let (a, _) = w.account().await;
    let cache = w.cache().await;
    let before = (cache.describe(), cache.revision());
    let u = user(&a, "ann");
    w.store.create_user(&u, 10).await.unwrap();
    let k = w.key(KeyOwner::User(a.clone(), u.id.clone()));
    w.store.create_access_key(&k, 2).await.unwrap();

    // The feed becomes unreadable (as a failing disk would make it) after the writes commit.
    let side = rusqlite::Connection::open(&w.path).unwrap();
    side.execute_batch("ALTER TABLE changes RENAME TO changes_away")
        .unwrap();
    assert!(cache.catch_up().await.is_err());
    assert_eq!(
        (cache.describe(), cache.revision()),
        before,
        "nothing half-applied"
    );
    assert!(cache.access_key(k.id.as_str()).is_none());

    side.execute_batch("ALTER TABLE changes_away RENAME TO changes")
        .unwrap();
    cache.catch_up().await.unwrap();
    assert!(cache.access_key(k.id.as_str()).is_some());
    w.assert_equal_to_fresh(&cache, "after the retry").await;
}

#[tokio::test]
async fn a_cache_behind_the_feeds_retention_reloads() {
    let w = world().await;
    let (a, _) = w.account().await;
    let cache = w.cache().await;
    let u = user(&a, "ann");
    w.store.create_user(&u, 10).await.unwrap();
    let k = w.key(KeyOwner::User(a.clone(), u.id.clone()));
    w.store.create_access_key(&k, 2).await.unwrap();
    let old_root = w.key(KeyOwner::Root(a.clone()));
    w.store.create_access_key(&old_root, 2).await.unwrap();
    w.store
        .delete_access_key(&old_root.owner, &old_root.id)
        .await
        .unwrap();
    w.store
        .compact_changes(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(matches!(
        w.store.changes_since(cache.revision(), 10).await,
        Err(StoreError::FeedCompacted { .. })
    ));
    cache.catch_up().await.unwrap();
    assert!(cache.access_key(k.id.as_str()).is_some());
    assert!(cache.access_key(old_root.id.as_str()).is_none());
    w.assert_equal_to_fresh(&cache, "after the reload").await;
}

#[tokio::test]
async fn renamed_and_deleted_roles_leave_no_stale_name() {
    let w = world().await;
    let (a, _) = w.account().await;
    let cache = w.cache().await;
    let r = RoleRecord {
        account: a.clone(),
        id: RoleId::generate(),
        name: RoleName::from_trusted("Deployer"),
        description: String::new(),
        trust_policy: TRUST_ACCOUNT.into(),
        max_session_duration: 3600,
        created: 1,
        updated: 1,
    };
    w.store.create_role(&r, 10).await.unwrap();
    cache.catch_up().await.unwrap();
    let found = cache.role_named(&a, "DEPLOYER").unwrap();
    assert_eq!(found.name, "Deployer");
    assert!(found.trust.is_some());
    assert!(cache.role(&a, r.id.as_str()).is_some());
    assert!(cache.role_named(&a, &"x".repeat(65)).is_none());
    w.store.delete_role(&a, &r.name).await.unwrap();
    cache.catch_up().await.unwrap();
    assert!(cache.role_named(&a, "deployer").is_none());
    assert!(cache.role(&a, r.id.as_str()).is_none());
}
