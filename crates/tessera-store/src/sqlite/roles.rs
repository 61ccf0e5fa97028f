//! [`RoleStore`] on SQLite: table `roles` (migration 2), whose unique index on
//! `name COLLATE NOCASE` makes names unique regardless of case. Every lookup and the listing
//! order use the same collation, so they agree with that index.

use super::conflicts::has_attachments;
use super::{all, backend, exists, page, Cached, SqliteStore};
use crate::feed::Changed;
use crate::ids::{AccountId, RoleId, RoleName};
use crate::{Conflict, Entity, Page, RoleRecord, RoleStore, RoleUpdate, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

const ROLE_COLUMNS: &str =
    "account_id, id, name, description, trust_policy, max_session_duration, created, updated";

/// Every role of every account (for the identity snapshot).
pub(super) fn load_all_roles(c: &Connection) -> StoreResult<Vec<RoleRecord>> {
    all(
        c,
        &format!("SELECT {ROLE_COLUMNS} FROM roles"),
        role_from_row,
    )
}

fn role_from_row(r: &Row<'_>) -> rusqlite::Result<RoleRecord> {
    Ok(RoleRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        id: RoleId::from_trusted(r.get::<_, String>(1)?),
        name: RoleName::from_trusted(r.get::<_, String>(2)?),
        description: r.get(3)?,
        trust_policy: r.get(4)?,
        max_session_duration: r.get(5)?,
        created: r.get(6)?,
        updated: r.get(7)?,
    })
}

fn get_role(c: &Connection, account: &str, name: &str) -> StoreResult<RoleRecord> {
    c.row(
        &format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = ?1 AND name = ?2 COLLATE NOCASE"
        ),
        params![account, name],
        role_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::Role))
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn create_role(&self, role: &RoleRecord, max_roles: usize) -> StoreResult<()> {
        let r = role.clone();
        self.write(move |tx| {
            let a = r.account.as_str();
            if exists(get_role(tx, a, r.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::Role));
            }
            let n: i64 = tx
                .row(
                    "SELECT COUNT(*) FROM roles WHERE account_id = ?1",
                    [a],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if usize::try_from(n).unwrap_or(usize::MAX) >= max_roles {
                return Err(StoreError::LimitExceeded(Entity::Role));
            }
            tx.exec(
                &format!(
                    "INSERT INTO roles ({ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    a,
                    r.id.as_str(),
                    r.name.as_str(),
                    r.description,
                    r.trust_policy,
                    r.max_session_duration,
                    r.created,
                    r.updated
                ],
            )
            .map_err(backend)?;
            let account = r.account.clone();
            tx.changed(
                Some(&account),
                Changed::Role {
                    id: r.id.clone(),
                    row: Some(r),
                },
            );
            Ok(())
        })
        .await
    }

    async fn role(&self, account: &AccountId, name: &RoleName) -> StoreResult<RoleRecord> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| get_role(c, &a, &n)).await
    }

    async fn update_role(
        &self,
        account: &AccountId,
        name: &RoleName,
        update: &RoleUpdate,
        now: i64,
    ) -> StoreResult<RoleRecord> {
        let (a, n, up) = (
            account.as_str().to_string(),
            name.as_str().to_string(),
            update.clone(),
        );
        self.write(move |tx| {
            let r = up.applied(get_role(tx, &a, &n)?, now);
            tx.exec(
                "UPDATE roles SET description = ?3, trust_policy = ?4, max_session_duration = ?5, updated = ?6 WHERE account_id = ?1 AND id = ?2",
                params![a, r.id.as_str(), r.description, r.trust_policy, r.max_session_duration, r.updated],
            )
            .map_err(backend)?;
            tx.changed(
                Some(&r.account),
                Changed::Role {
                    id: r.id.clone(),
                    row: Some(r.clone()),
                },
            );
            Ok(r)
        })
        .await
    }

    async fn list_roles(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<RoleRecord>> {
        let (a, after) = (
            account.as_str().to_string(),
            after.unwrap_or("").to_string(),
        );
        self.read(move |c| {
            page(c, &format!("SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = ?1 AND name > ?2 COLLATE NOCASE ORDER BY name COLLATE NOCASE LIMIT ?3"), &a, &after, limit, role_from_row)
        })
        .await
    }

    async fn delete_role(&self, account: &AccountId, name: &RoleName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |tx| {
            let r = get_role(tx, &a, &n)?;
            if has_attachments(tx, &a, "Role", r.id.as_str())? {
                return Err(StoreError::DeleteConflict(Conflict::RoleHasPolicies));
            }
            tx.exec(
                "DELETE FROM roles WHERE account_id = ?1 AND id = ?2",
                params![a, r.id.as_str()],
            )
            .map_err(backend)?;
            tx.changed(
                Some(&r.account),
                Changed::Role {
                    id: r.id,
                    row: None,
                },
            );
            Ok(())
        })
        .await
    }
}
