//! [`UserStore`] on SQLite: table `users` (migration 1).

use super::conflicts;
use super::{all, backend, exists, page, Cached, SqliteStore};
use crate::feed::Changed;
use crate::ids::{AccountId, UserId, UserName};
use crate::{Entity, Page, StoreError, StoreResult, UserRecord, UserStore, UserUpdate};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

pub(crate) fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        id: UserId::from_trusted(r.get::<_, String>(1)?),
        name: UserName::from_trusted(r.get::<_, String>(2)?),
        display_name: r.get(3)?,
        mobile_phone: r.get(4)?,
        email: r.get(5)?,
        comments: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
    })
}

pub(crate) const USER_COLUMNS: &str =
    "account_id, id, name, display_name, mobile_phone, email, comments, created, updated";

pub(crate) fn get_user(c: &Connection, account: &str, name: &str) -> StoreResult<UserRecord> {
    c.row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name = ?2"),
        params![account, name],
        user_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::User))
}

/// Every user of every account (for the identity snapshot).
pub(super) fn load_all(c: &Connection) -> StoreResult<Vec<UserRecord>> {
    all(
        c,
        &format!("SELECT {USER_COLUMNS} FROM users"),
        user_from_row,
    )
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &UserRecord, max_users: usize) -> StoreResult<()> {
        let u = user.clone();
        self.write(move |w| {
            if exists(get_user(w, u.account.as_str(), u.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::User));
            }
            let count: i64 = w
                .row(
                    "SELECT COUNT(*) FROM users WHERE account_id = ?1",
                    [u.account.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= max_users {
                return Err(StoreError::LimitExceeded(Entity::User));
            }
            w.exec(
                &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![u.account.as_str(), u.id.as_str(), u.name.as_str(), u.display_name, u.mobile_phone, u.email, u.comments, u.created, u.updated],
            )
            .map_err(backend)?;
            let account = u.account.clone();
            w.changed(
                Some(&account),
                Changed::User {
                    id: u.id.clone(),
                    row: Some(u),
                },
            );
            Ok(())
        })
        .await
    }

    async fn user(&self, account: &AccountId, name: &UserName) -> StoreResult<UserRecord> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| get_user(c, &a, &n)).await
    }

    async fn update_user(
        &self,
        account: &AccountId,
        name: &UserName,
        update: &UserUpdate,
        now: i64,
    ) -> StoreResult<UserRecord> {
        let (a, n, up) = (
            account.as_str().to_string(),
            name.as_str().to_string(),
            update.clone(),
        );
        self.write(move |w| {
            let (u, renamed) = up.applied(get_user(w, &a, &n)?, now);
            if renamed && exists(get_user(w, &a, u.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::User));
            }
            w.exec(
                "UPDATE users SET name = ?3, display_name = ?4, mobile_phone = ?5, email = ?6, comments = ?7, updated = ?8 WHERE account_id = ?1 AND id = ?2",
                params![a, u.id.as_str(), u.name.as_str(), u.display_name, u.mobile_phone, u.email, u.comments, u.updated],
            )
            .map_err(backend)?;
            w.changed(
                Some(&u.account),
                Changed::User {
                    id: u.id.clone(),
                    row: Some(u.clone()),
                },
            );
            Ok(u)
        })
        .await
    }

    async fn list_users(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let (a, after) = (
            account.as_str().to_string(),
            after.unwrap_or("").to_string(),
        );
        self.read(move |c| {
            page(c, &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"), &a, &after, limit, user_from_row)
        })
        .await
    }

    async fn delete_user(&self, account: &AccountId, name: &UserName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            let u = get_user(w, &a, &n)?;
            let keys: i64 = w
                .row(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND user_id = ?2",
                    params![a, u.id.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if keys > 0 {
                return Err(StoreError::UserHasAccessKeys);
            }
            if conflicts::has_attachments(w, &a, "User", u.id.as_str())? {
                return Err(StoreError::UserHasPolicies);
            }
            conflicts::refuse_if_member(w, &a, u.id.as_str())?;
            conflicts::refuse_if_login_profile(w, &a, u.id.as_str())?;
            w.exec(
                "DELETE FROM users WHERE account_id = ?1 AND id = ?2",
                params![a, u.id.as_str()],
            )
            .map_err(backend)?;
            w.changed(
                Some(&u.account),
                Changed::User {
                    id: u.id,
                    row: None,
                },
            );
            Ok(())
        })
        .await
    }
}
