//! [`RoleStore`] on PostgreSQL: table `roles`, whose unique index on `lower(name)` (under the
//! "C" collation, which folds ASCII only, like SQLite's NOCASE) makes names unique regardless of
//! case. Every lookup and the listing order use the same expression, so they agree with that
//! index.

use super::conflicts::has_attachments;
use super::{count, decode, execute, get, page, query, query_opt, PgStore};
use crate::feed::Changed;
use crate::ids::{AccountId, RoleId, RoleName};
use crate::{Conflict, Entity, Page, RoleRecord, RoleStore, RoleUpdate, StoreError, StoreResult};
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`role_from_row`] reads, in its order.
macro_rules! role_columns {
    () => {
        "account_id, id, name, description, trust_policy, max_session_duration, created, updated"
    };
}

/// Every role of every account (for the identity snapshot).
pub(super) async fn load_all_roles<C: GenericClient>(c: &C) -> StoreResult<Vec<RoleRecord>> {
    let rows = query(c, concat!("SELECT ", role_columns!(), " FROM roles"), &[]).await?;
    decode(&rows, role_from_row)
}

fn role_from_row(r: &Row) -> StoreResult<RoleRecord> {
    Ok(RoleRecord {
        account: AccountId::from_trusted(get::<String>(r, 0)?),
        id: RoleId::from_trusted(get::<String>(r, 1)?),
        name: RoleName::from_trusted(get::<String>(r, 2)?),
        description: get(r, 3)?,
        trust_policy: get(r, 4)?,
        max_session_duration: get(r, 5)?,
        created: get(r, 6)?,
        updated: get(r, 7)?,
    })
}

async fn get_role<C: GenericClient>(c: &C, account: &str, name: &str) -> StoreResult<RoleRecord> {
    // The parameter is folded under "C" too: the database's default collation could fold
    // non-ASCII letters that the index does not.
    let row = query_opt(
        c,
        concat!(
            "SELECT ",
            role_columns!(),
            r#" FROM roles WHERE account_id = $1 AND lower(name) = lower($2::text COLLATE "C")"#
        ),
        &[&account, &name],
    )
    .await?;
    match row {
        Some(r) => role_from_row(&r),
        None => Err(StoreError::NotFound(Entity::Role)),
    }
}

#[async_trait]
impl RoleStore for PgStore {
    async fn create_role(&self, role: &RoleRecord, max_roles: usize) -> StoreResult<()> {
        let r = role.clone();
        self.write(move |w| {
            Box::pin(async move {
                let a = r.account.as_str();
                if super::exists(get_role(&w.tx, a, r.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::Role));
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM roles WHERE account_id = $1",
                    &[&a],
                )
                .await?;
                if n >= max_roles {
                    return Err(StoreError::LimitExceeded(Entity::Role));
                }
                execute(
                    &w.tx,
                    concat!(
                        "INSERT INTO roles (",
                        role_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ),
                    &[
                        &a,
                        &r.id.as_str(),
                        &r.name.as_str(),
                        &r.description,
                        &r.trust_policy,
                        &r.max_session_duration,
                        &r.created,
                        &r.updated,
                    ],
                )
                .await?;
                let account = r.account.clone();
                w.changed(
                    Some(&account),
                    Changed::Role {
                        id: r.id.clone(),
                        row: Some(r),
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn role(&self, account: &AccountId, name: &RoleName) -> StoreResult<RoleRecord> {
        let c = self.client().await?;
        get_role(&c, account.as_str(), name.as_str()).await
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
        self.write(move |w| {
            Box::pin(async move {
                let r = up.applied(get_role(&w.tx, &a, &n).await?, now);
                execute(
                    &w.tx,
                    "UPDATE roles SET description = $3, trust_policy = $4, max_session_duration = $5, updated = $6 WHERE account_id = $1 AND id = $2",
                    &[
                        &a,
                        &r.id.as_str(),
                        &r.description,
                        &r.trust_policy,
                        &r.max_session_duration,
                        &r.updated,
                    ],
                )
                .await?;
                w.changed(
                    Some(&r.account),
                    Changed::Role {
                        id: r.id.clone(),
                        row: Some(r.clone()),
                    },
                );
                Ok(r)
            })
        })
        .await
    }

    async fn list_roles(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<RoleRecord>> {
        let c = self.client().await?;
        page(
            &c,
            concat!(
                "SELECT ",
                role_columns!(),
                r#" FROM roles WHERE account_id = $1 AND lower(name) > lower($2::text COLLATE "C") ORDER BY lower(name) LIMIT $3"#
            ),
            account.as_str(),
            after.unwrap_or(""),
            limit,
            role_from_row,
        )
        .await
    }

    async fn delete_role(&self, account: &AccountId, name: &RoleName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let r = get_role(&w.tx, &a, &n).await?;
                if has_attachments(&w.tx, &a, "Role", r.id.as_str()).await? {
                    return Err(StoreError::DeleteConflict(Conflict::RoleHasPolicies));
                }
                execute(
                    &w.tx,
                    "DELETE FROM roles WHERE account_id = $1 AND id = $2",
                    &[&a, &r.id.as_str()],
                )
                .await?;
                w.changed(
                    Some(&r.account),
                    Changed::Role {
                        id: r.id,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }
}
