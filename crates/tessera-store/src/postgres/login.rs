//! [`LoginProfileStore`] on PostgreSQL: table `login_profiles`, keyed by user id so a profile
//! follows its user through renames.

use super::users::get_user;
use super::{db, execute, get, query_opt, snapshot, PgStore};
use crate::feed::Changed;
use crate::ids::{AccountId, UserName};
use crate::{
    Entity, LoginProfileRecord, LoginProfileStore, LoginProfileUpdate, NewLoginProfile, StoreError,
    StoreResult, UserRecord,
};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;

async fn get_profile<C: GenericClient>(
    c: &C,
    user: &UserRecord,
) -> StoreResult<LoginProfileRecord> {
    let row = query_opt(
        c,
        "SELECT password_hash, password_reset_required, mfa_bind_required, created, updated FROM login_profiles WHERE account_id = $1 AND user_id = $2",
        &[&user.account.as_str(), &user.id.as_str()],
    )
    .await?;
    let Some(r) = row else {
        return Err(StoreError::NotFound(Entity::LoginProfile));
    };
    Ok(LoginProfileRecord {
        account: user.account.clone(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        password_hash: get(&r, 0)?,
        password_reset_required: get(&r, 1)?,
        mfa_bind_required: get(&r, 2)?,
        created: get(&r, 3)?,
        updated: get(&r, 4)?,
    })
}

#[async_trait]
impl LoginProfileStore for PgStore {
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
        self.write(move |w| {
            Box::pin(async move {
                let user = get_user(&w.tx, &a, &u).await?;
                match get_profile(&w.tx, &user).await {
                    Ok(_) => return Err(StoreError::AlreadyExists(Entity::LoginProfile)),
                    Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
                execute(
                    &w.tx,
                    "INSERT INTO login_profiles (account_id, user_id, password_hash, password_reset_required, mfa_bind_required, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    &[
                        &a,
                        &user.id.as_str(),
                        &p.password_hash,
                        &p.password_reset_required,
                        &p.mfa_bind_required,
                        &p.created,
                    ],
                )
                .await?;
                let record = get_profile(&w.tx, &user).await?;
                w.changed(
                    Some(&user.account),
                    Changed::LoginProfile {
                        user: user.id,
                        exists: true,
                    },
                );
                Ok(record)
            })
        })
        .await
    }

    async fn login_profile(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<LoginProfileRecord> {
        let mut c = self.client().await?;
        let tx = snapshot(&mut c).await?;
        let user = get_user(&tx, account.as_str(), user.as_str()).await?;
        let profile = get_profile(&tx, &user).await?;
        tx.commit().await.map_err(db)?;
        Ok(profile)
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
        self.write(move |w| {
            Box::pin(async move {
                let user = get_user(&w.tx, &a, &u).await?;
                let p = up.applied(get_profile(&w.tx, &user).await?, now);
                execute(
                    &w.tx,
                    "UPDATE login_profiles SET password_hash = $3, password_reset_required = $4, mfa_bind_required = $5, updated = $6 WHERE account_id = $1 AND user_id = $2",
                    &[
                        &a,
                        &user.id.as_str(),
                        &p.password_hash,
                        &p.password_reset_required,
                        &p.mfa_bind_required,
                        &p.updated,
                    ],
                )
                .await?;
                w.changed(
                    Some(&user.account),
                    Changed::LoginProfile {
                        user: user.id,
                        exists: true,
                    },
                );
                Ok(p)
            })
        })
        .await
    }

    async fn delete_login_profile(&self, account: &AccountId, user: &UserName) -> StoreResult<()> {
        let (a, u) = (account.as_str().to_string(), user.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let user = get_user(&w.tx, &a, &u).await?;
                let n = execute(
                    &w.tx,
                    "DELETE FROM login_profiles WHERE account_id = $1 AND user_id = $2",
                    &[&a, &user.id.as_str()],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound(Entity::LoginProfile));
                }
                w.changed(
                    Some(&user.account),
                    Changed::LoginProfile {
                        user: user.id,
                        exists: false,
                    },
                );
                Ok(())
            })
        })
        .await
    }
}
