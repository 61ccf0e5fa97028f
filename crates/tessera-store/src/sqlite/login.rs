//! [`LoginProfileStore`] on SQLite: table `login_profiles` (migration 2), keyed by user id so a
//! profile follows its user through renames.

use super::users::get_user;
use super::{backend, Cached, SqliteStore};
use crate::feed::Changed;
use crate::ids::{AccountId, UserName};
use crate::{
    Entity, LoginProfileRecord, LoginProfileStore, LoginProfileUpdate, NewLoginProfile, StoreError,
    StoreResult, UserRecord,
};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

fn get_profile(c: &Connection, user: &UserRecord) -> StoreResult<LoginProfileRecord> {
    c.row(
        "SELECT password_hash, password_reset_required, mfa_bind_required, created, updated FROM login_profiles WHERE account_id = ?1 AND user_id = ?2",
        params![user.account.as_str(), user.id.as_str()],
        |r| {
            Ok(LoginProfileRecord {
                account: user.account.clone(),
                user_id: user.id.clone(),
                user_name: user.name.clone(),
                password_hash: r.get(0)?,
                password_reset_required: r.get(1)?,
                mfa_bind_required: r.get(2)?,
                created: r.get(3)?,
                updated: r.get(4)?,
            })
        },
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::LoginProfile))
}

#[async_trait]
impl LoginProfileStore for SqliteStore {
    async fn create_login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
        profile: &NewLoginProfile,
    ) -> StoreResult<LoginProfileRecord> {
        let (a, u, p) = (
            account.as_str().to_string(),
            user.as_str().to_string(),
            profile.clone(),
        );
        self.write(move |tx| {
            let user = get_user(tx, &a, &u)?;
            match get_profile(tx, &user) {
                Ok(_) => return Err(StoreError::AlreadyExists(Entity::LoginProfile)),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            tx.exec(
                "INSERT INTO login_profiles (account_id, user_id, password_hash, password_reset_required, mfa_bind_required, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![a, user.id.as_str(), p.password_hash, p.password_reset_required, p.mfa_bind_required, p.created],
            )
            .map_err(backend)?;
            let record = get_profile(tx, &user)?;
            tx.changed(
                Some(&user.account),
                Changed::LoginProfile {
                    user: user.id,
                    exists: true,
                },
            );
            Ok(record)
        })
        .await
    }

    async fn login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<LoginProfileRecord> {
        let (a, u) = (account.as_str().to_string(), user.as_str().to_string());
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let user = get_user(&tx, &a, &u)?;
            get_profile(&tx, &user)
        })
        .await
    }

    async fn update_login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
        update: &LoginProfileUpdate,
        now: i64,
    ) -> StoreResult<LoginProfileRecord> {
        let (a, u, up) = (
            account.as_str().to_string(),
            user.as_str().to_string(),
            update.clone(),
        );
        self.write(move |tx| {
            let user = get_user(tx, &a, &u)?;
            let p = up.applied(get_profile(tx, &user)?, now);
            tx.exec(
                "UPDATE login_profiles SET password_hash = ?3, password_reset_required = ?4, mfa_bind_required = ?5, updated = ?6 WHERE account_id = ?1 AND user_id = ?2",
                params![a, user.id.as_str(), p.password_hash, p.password_reset_required, p.mfa_bind_required, p.updated],
            )
            .map_err(backend)?;
            tx.changed(
                Some(&user.account),
                Changed::LoginProfile {
                    user: user.id,
                    exists: true,
                },
            );
            Ok(p)
        })
        .await
    }

    async fn delete_login_profile(&self, account: &AccountId, user: &UserName) -> StoreResult<()> {
        let (a, u) = (account.as_str().to_string(), user.as_str().to_string());
        self.write(move |tx| {
            let user = get_user(tx, &a, &u)?;
            let n = tx
                .exec(
                    "DELETE FROM login_profiles WHERE account_id = ?1 AND user_id = ?2",
                    params![a, user.id.as_str()],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound(Entity::LoginProfile));
            }
            tx.changed(
                Some(&user.account),
                Changed::LoginProfile {
                    user: user.id,
                    exists: false,
                },
            );
            Ok(())
        })
        .await
    }
}
