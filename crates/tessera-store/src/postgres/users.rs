//! [`UserStore`] on PostgreSQL: table `users`.

use super::conflicts;
use super::{count, exists, get, page, query, query_opt, PgStore};
use crate::feed::Changed;
use crate::ids::{AccountId, UserId, UserName};
use crate::{Entity, Page, StoreError, StoreResult, UserRecord, UserStore, UserUpdate};
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`user_from_row`] reads, in its order.
macro_rules! user_columns {
    () => {
        "account_id, id, name, display_name, mobile_phone, email, comments, created, updated"
    };
}

/// A user from the first nine columns of a row, in `user_columns!()` order.
pub(super) fn user_from_row(r: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        account: AccountId::from_trusted(get::<String>(r, 0)?),
        id: UserId::from_trusted(get::<String>(r, 1)?),
        name: UserName::from_trusted(get::<String>(r, 2)?),
        display_name: get(r, 3)?,
        mobile_phone: get(r, 4)?,
        email: get(r, 5)?,
        comments: get(r, 6)?,
        created: get(r, 7)?,
        updated: get(r, 8)?,
    })
}

/// A user by name.
pub(super) async fn get_user<C: GenericClient>(
    c: &C,
    account: &str,
    name: &str,
) -> StoreResult<UserRecord> {
    let row = query_opt(
        c,
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE account_id = $1 AND name = $2"
        ),
        &[&account, &name],
    )
    .await?;
    match row {
        Some(r) => user_from_row(&r),
        None => Err(StoreError::NotFound(Entity::User)),
    }
}

/// Every user of every account (for the identity snapshot).
pub(super) async fn load_all<C: GenericClient>(c: &C) -> StoreResult<Vec<UserRecord>> {
    let rows = query(c, concat!("SELECT ", user_columns!(), " FROM users"), &[]).await?;
    super::decode(&rows, user_from_row)
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &UserRecord, max_users: usize) -> StoreResult<()> {
        let u = user.clone();
        self.write(move |w| {
            Box::pin(async move {
                let a = u.account.as_str();
                if exists(get_user(&w.tx, a, u.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::User));
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM users WHERE account_id = $1",
                    &[&a],
                )
                .await?;
                if n >= max_users {
                    return Err(StoreError::LimitExceeded(Entity::User));
                }
                super::execute(
                    &w.tx,
                    concat!(
                        "INSERT INTO users (",
                        user_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ),
                    &[
                        &a,
                        &u.id.as_str(),
                        &u.name.as_str(),
                        &u.display_name,
                        &u.mobile_phone,
                        &u.email,
                        &u.comments,
                        &u.created,
                        &u.updated,
                    ],
                )
                .await?;
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
        })
        .await
    }

    async fn user(&self, account: &AccountId, name: &UserName) -> StoreResult<UserRecord> {
        let c = self.client().await?;
        get_user(&c, account.as_str(), name.as_str()).await
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
            Box::pin(async move {
                let (u, renamed) = up.applied(get_user(&w.tx, &a, &n).await?, now);
                if renamed && exists(get_user(&w.tx, &a, u.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::User));
                }
                super::execute(
                    &w.tx,
                    "UPDATE users SET name = $3, display_name = $4, mobile_phone = $5, email = $6, comments = $7, updated = $8 WHERE account_id = $1 AND id = $2",
                    &[
                        &a,
                        &u.id.as_str(),
                        &u.name.as_str(),
                        &u.display_name,
                        &u.mobile_phone,
                        &u.email,
                        &u.comments,
                        &u.updated,
                    ],
                )
                .await?;
                w.changed(
                    Some(&u.account),
                    Changed::User {
                        id: u.id.clone(),
                        row: Some(u.clone()),
                    },
                );
                Ok(u)
            })
        })
        .await
    }

    async fn list_users(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let c = self.client().await?;
        page(
            &c,
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT $3"
            ),
            account.as_str(),
            after.unwrap_or(""),
            limit,
            user_from_row,
        )
        .await
    }

    async fn delete_user(&self, account: &AccountId, name: &UserName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let u = get_user(&w.tx, &a, &n).await?;
                let keys = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_id = $2",
                    &[&a, &u.id.as_str()],
                )
                .await?;
                if keys > 0 {
                    return Err(StoreError::UserHasAccessKeys);
                }
                if conflicts::has_attachments(&w.tx, &a, "User", u.id.as_str()).await? {
                    return Err(StoreError::UserHasPolicies);
                }
                conflicts::refuse_if_member(&w.tx, &a, u.id.as_str()).await?;
                conflicts::refuse_if_login_profile(&w.tx, &a, u.id.as_str()).await?;
                super::execute(
                    &w.tx,
                    "DELETE FROM users WHERE account_id = $1 AND id = $2",
                    &[&a, &u.id.as_str()],
                )
                .await?;
                w.changed(
                    Some(&u.account),
                    Changed::User {
                        id: u.id,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }
}
