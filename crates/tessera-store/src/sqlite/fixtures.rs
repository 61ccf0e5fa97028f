//! Test fixtures for the group, role and login-profile stores: a fresh database with one
//! account and some users.

use super::SqliteStore;
use crate::ids::{AccessKeyId, AccountId, UserId, UserName};
use crate::{AccessKeyRecord, AccountRecord, KeyOwner, KeyStatus, Store, UserRecord};

/// A store in a temporary directory (kept alive by the returned guard) with one account and
/// the named users.
pub(super) async fn store_with_users(
    users: &[&str],
) -> (tempfile::TempDir, SqliteStore, AccountId) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::create(&dir.path().join("t.db")).expect("database");
    let account = AccountId::generate();
    let root_key = AccessKeyRecord {
        id: AccessKeyId::generate(),
        owner: KeyOwner::Root(account.clone()),
        sealed_secret: vec![0],
        status: KeyStatus::Active,
        created: 1,
    };
    store
        .create_account(
            &AccountRecord {
                id: account.clone(),
                created: 1,
            },
            &root_key,
            &[],
        )
        .await
        .expect("account");
    for name in users {
        let user = UserRecord {
            account: account.clone(),
            id: UserId::generate(),
            name: UserName::from_trusted(*name),
            display_name: String::new(),
            mobile_phone: String::new(),
            email: String::new(),
            comments: String::new(),
            created: 1,
            updated: 1,
        };
        store.create_user(&user, 100).await.expect("user");
    }
    (dir, store, account)
}
