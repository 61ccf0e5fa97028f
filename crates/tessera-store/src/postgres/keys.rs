//! [`AccessKeyStore`] on PostgreSQL: table `access_keys`; a root key has no `user_id`, so an
//! owner is matched with `IS NOT DISTINCT FROM` (SQLite's `IS`).

use super::{count, decode, execute, get, query, query_opt, PgStore};
use crate::feed::Changed;
use crate::ids::{AccessKeyId, AccountId, UserId};
use crate::{
    AccessKeyRecord, AccessKeyStore, Entity, KeyOwner, KeyStatus, StoreError, StoreResult,
};
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`key_from_row`] reads, in its order.
macro_rules! key_columns {
    () => {
        "id, account_id, user_id, sealed_secret, status, created"
    };
}

fn owner_user(owner: &KeyOwner) -> Option<&str> {
    match owner {
        KeyOwner::Root(_) => None,
        KeyOwner::User(_, u) => Some(u.as_str()),
    }
}

fn key_from_row(r: &Row) -> StoreResult<AccessKeyRecord> {
    let account = AccountId::from_trusted(get::<String>(r, 1)?);
    let owner = match get::<Option<String>>(r, 2)? {
        None => KeyOwner::Root(account),
        Some(u) => KeyOwner::User(account, UserId::from_trusted(u)),
    };
    let status: &str = get(r, 4)?;
    Ok(AccessKeyRecord {
        id: AccessKeyId::from_trusted(get::<String>(r, 0)?),
        owner,
        sealed_secret: get(r, 3)?,
        // The schema's CHECK admits only the two values; anything else is not usable.
        status: KeyStatus::parse(status).unwrap_or(KeyStatus::Inactive),
        created: get(r, 5)?,
    })
}

/// Inserts a key row (the caller records the change).
pub(super) async fn insert_key<C: GenericClient>(c: &C, key: &AccessKeyRecord) -> StoreResult<()> {
    execute(
        c,
        concat!(
            "INSERT INTO access_keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ),
        &[
            &key.id.as_str(),
            &key.owner.account().as_str(),
            &owner_user(&key.owner),
            &key.sealed_secret,
            &key.status.as_str(),
            &key.created,
        ],
    )
    .await
    .map(|_| ())
}

/// Refuses to take away the account root's last active AccessKey: `id` is about to be deleted
/// or disabled. Run inside the write, which holds the feed's lock, so two calls cannot each
/// leave the other's key as the last one.
async fn keep_an_active_root_key<C: GenericClient>(
    c: &C,
    owner: &KeyOwner,
    id: &AccessKeyId,
) -> StoreResult<()> {
    let KeyOwner::Root(account) = owner else {
        return Ok(());
    };
    let (a, id) = (account.as_str(), id.as_str());
    let others = count(
        c,
        "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id IS NULL AND status = $2 AND id <> $3",
        &[&a, &KeyStatus::Active.as_str(), &id],
    )
    .await?;
    if others > 0 {
        return Ok(());
    }
    // An inactive key takes nothing away; a missing one is reported as missing by the caller.
    let this = query_opt(
        c,
        "SELECT status FROM access_keys WHERE id = $1 AND account_id = $2 AND user_id IS NULL",
        &[&id, &a],
    )
    .await?;
    match this {
        Some(row) if get::<&str>(&row, 0)? == KeyStatus::Active.as_str() => {
            Err(StoreError::LastActiveRootKey)
        }
        _ => Ok(()),
    }
}

/// Every AccessKey of every account (for the identity snapshot).
pub(super) async fn load_all<C: GenericClient>(c: &C) -> StoreResult<Vec<AccessKeyRecord>> {
    let rows = query(
        c,
        concat!("SELECT ", key_columns!(), " FROM access_keys"),
        &[],
    )
    .await?;
    decode(&rows, key_from_row)
}

#[async_trait]
impl AccessKeyStore for PgStore {
    async fn create_access_key(&self, key: &AccessKeyRecord, max_keys: usize) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |w| {
            Box::pin(async move {
                let a = k.owner.account().as_str();
                let user = owner_user(&k.owner);
                if let Some(u) = user {
                    let found = query_opt(
                        &w.tx,
                        "SELECT 1 FROM users WHERE account_id = $1 AND id = $2",
                        &[&a, &u],
                    )
                    .await?;
                    if found.is_none() {
                        return Err(StoreError::NotFound(Entity::User));
                    }
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id IS NOT DISTINCT FROM $2",
                    &[&a, &user],
                )
                .await?;
                if n >= max_keys {
                    return Err(StoreError::LimitExceeded(Entity::AccessKey));
                }
                insert_key(&w.tx, &k).await?;
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
        })
        .await
    }

    async fn access_keys(&self, owner: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            concat!(
                "SELECT ",
                key_columns!(),
                " FROM access_keys WHERE account_id = $1 AND user_id IS NOT DISTINCT FROM $2 ORDER BY created, id"
            ),
            &[&owner.account().as_str(), &owner_user(owner)],
        )
        .await?;
        decode(&rows, key_from_row)
    }

    async fn set_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> StoreResult<()> {
        let (owner, id) = (owner.clone(), id.clone());
        self.write(move |w| {
            Box::pin(async move {
                if status == KeyStatus::Inactive {
                    keep_an_active_root_key(&w.tx, &owner, &id).await?;
                }
                // RETURNING gives the new row without a second statement.
                let row = query_opt(
                    &w.tx,
                    concat!(
                        "UPDATE access_keys SET status = $4 WHERE id = $1 AND account_id = $2 AND user_id IS NOT DISTINCT FROM $3 RETURNING ",
                        key_columns!()
                    ),
                    &[
                        &id.as_str(),
                        &owner.account().as_str(),
                        &owner_user(&owner),
                        &status.as_str(),
                    ],
                )
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound(Entity::AccessKey));
                };
                let key = key_from_row(&row)?;
                w.changed(
                    Some(owner.account()),
                    Changed::AccessKey {
                        id: key.id.clone(),
                        row: Some(key),
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn delete_access_key(&self, owner: &KeyOwner, id: &AccessKeyId) -> StoreResult<()> {
        let (owner, id) = (owner.clone(), id.clone());
        self.write(move |w| {
            Box::pin(async move {
                keep_an_active_root_key(&w.tx, &owner, &id).await?;
                let n = execute(
                    &w.tx,
                    "DELETE FROM access_keys WHERE id = $1 AND account_id = $2 AND user_id IS NOT DISTINCT FROM $3",
                    &[&id.as_str(), &owner.account().as_str(), &owner_user(&owner)],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound(Entity::AccessKey));
                }
                w.changed(Some(owner.account()), Changed::AccessKey { id, row: None });
                Ok(())
            })
        })
        .await
    }
}
