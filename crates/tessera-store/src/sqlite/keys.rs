//! [`AccessKeyStore`] on SQLite: table `access_keys` (migration 1); a root key has no
//! `user_id`.

use super::{all, backend, Cached, SqliteStore};
use crate::feed::Changed;
use crate::ids::{AccessKeyId, AccountId, UserId};
use crate::{
    AccessKeyRecord, AccessKeyStore, Entity, KeyOwner, KeyStatus, StoreError, StoreResult,
};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

const KEY_COLUMNS: &str = "id, account_id, user_id, sealed_secret, status, created";

fn owner_user(owner: &KeyOwner) -> Option<String> {
    match owner {
        KeyOwner::Root(_) => None,
        KeyOwner::User(_, u) => Some(u.as_str().to_string()),
    }
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    let account = AccountId::from_trusted(r.get::<_, String>(1)?);
    let owner = match r.get::<_, Option<String>>(2)? {
        None => KeyOwner::Root(account),
        Some(u) => KeyOwner::User(account, UserId::from_trusted(u)),
    };
    let status: String = r.get(4)?;
    Ok(AccessKeyRecord {
        id: AccessKeyId::from_trusted(r.get::<_, String>(0)?),
        owner,
        sealed_secret: r.get(3)?,
        // The schema's CHECK admits only the two values; anything else is not usable.
        status: KeyStatus::parse(&status).unwrap_or(KeyStatus::Inactive),
        created: r.get(5)?,
    })
}

/// Inserts a key row (the caller records the change).
pub(super) fn insert_key(c: &Connection, key: &AccessKeyRecord) -> StoreResult<()> {
    c.exec(
        "INSERT INTO access_keys (id, account_id, user_id, sealed_secret, status, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.id.as_str(), key.owner.account().as_str(), owner_user(&key.owner), key.sealed_secret, key.status.as_str(), key.created],
    )
    .map(|_| ())
    .map_err(backend)
}

/// An owner's key by id.
fn get_key(c: &Connection, owner: &KeyOwner, id: &str) -> StoreResult<AccessKeyRecord> {
    c.row(
        &format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE id = ?1 AND account_id = ?2 AND user_id IS ?3"),
        params![id, owner.account().as_str(), owner_user(owner)],
        key_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::AccessKey))
}

/// Refuses to take away the account root's last active AccessKey: `id` is about to be deleted
/// or disabled. Run inside the write, so two calls cannot each leave the other's key as the
/// last one (SQLite has one writer at a time).
fn keep_an_active_root_key(c: &Connection, owner: &KeyOwner, id: &str) -> StoreResult<()> {
    let KeyOwner::Root(account) = owner else {
        return Ok(());
    };
    let others: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND user_id IS NULL AND status = ?2 AND id != ?3",
            params![account.as_str(), KeyStatus::Active.as_str(), id],
            |r| r.get(0),
        )
        .map_err(backend)?;
    // An inactive key takes nothing away; a missing one is reported as missing.
    if others == 0 && get_key(c, owner, id)?.status == KeyStatus::Active {
        return Err(StoreError::LastActiveRootKey);
    }
    Ok(())
}

/// Every AccessKey of every account (for the identity snapshot).
pub(super) fn load_all(c: &Connection) -> StoreResult<Vec<AccessKeyRecord>> {
    all(
        c,
        &format!("SELECT {KEY_COLUMNS} FROM access_keys"),
        key_from_row,
    )
}

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn create_access_key(&self, key: &AccessKeyRecord, max_keys: usize) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |w| {
            let user = owner_user(&k.owner);
            if let Some(u) = &user {
                let exists = w
                    .row(
                        "SELECT 1 FROM users WHERE account_id = ?1 AND id = ?2",
                        params![k.owner.account().as_str(), u],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound(Entity::User));
                }
            }
            let count: i64 = w
                .row(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND user_id IS ?2",
                    params![k.owner.account().as_str(), user],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= max_keys {
                return Err(StoreError::LimitExceeded(Entity::AccessKey));
            }
            insert_key(w, &k)?;
            let account = k.owner.account().clone();
            w.changed(
                Some(&account),
                Changed::AccessKey {
                    id: k.id.clone(),
                    row: Some(k),
                },
            );
            Ok(())
        })
        .await
    }

    async fn access_keys(&self, owner: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>> {
        let (a, u) = (owner.account().as_str().to_string(), owner_user(owner));
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = ?1 AND user_id IS ?2 ORDER BY created, id"))
                .map_err(backend)?;
            st.query_map(params![a, u], key_from_row).and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(backend)
        })
        .await
    }

    async fn set_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> StoreResult<()> {
        let (owner, id) = (owner.clone(), id.as_str().to_string());
        self.write(move |w| {
            if status == KeyStatus::Inactive {
                keep_an_active_root_key(w, &owner, &id)?;
            }
            let n = w
                .exec(
                    "UPDATE access_keys SET status = ?4 WHERE id = ?1 AND account_id = ?2 AND user_id IS ?3",
                    params![id, owner.account().as_str(), owner_user(&owner), status.as_str()],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound(Entity::AccessKey));
            }
            let key = get_key(w, &owner, &id)?;
            w.changed(
                Some(owner.account()),
                Changed::AccessKey {
                    id: key.id.clone(),
                    row: Some(key),
                },
            );
            Ok(())
        })
        .await
    }

    async fn delete_access_key(&self, owner: &KeyOwner, id: &AccessKeyId) -> StoreResult<()> {
        let (owner, id) = (owner.clone(), id.clone());
        self.write(move |w| {
            keep_an_active_root_key(w, &owner, id.as_str())?;
            let n = w
                .exec(
                    "DELETE FROM access_keys WHERE id = ?1 AND account_id = ?2 AND user_id IS ?3",
                    params![id.as_str(), owner.account().as_str(), owner_user(&owner)],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound(Entity::AccessKey));
            }
            w.changed(Some(owner.account()), Changed::AccessKey { id, row: None });
            Ok(())
        })
        .await
    }
}
