//! [`GroupStore`] on PostgreSQL: tables `groups` and `group_members`.

use super::conflicts::has_attachments;
use super::users::{get_user, user_from_row};
use super::{
    count, db, decode, execute, exists, get, limit_param, page, query, query_opt, snapshot, PgStore,
};
use crate::feed::{Changed, MembershipRecord};
use crate::ids::{AccountId, GroupId, GroupName, UserId, UserName};
use crate::{
    Conflict, Entity, GroupMember, GroupMembership, GroupRecord, GroupStore, GroupUpdate, Page,
    StoreError, StoreResult,
};
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`group_from_row`] reads, in its order.
macro_rules! group_columns {
    () => {
        "account_id, id, name, comments, created, updated"
    };
}

fn group_from_row(r: &Row) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        account: AccountId::from_trusted(get::<String>(r, 0)?),
        id: GroupId::from_trusted(get::<String>(r, 1)?),
        name: GroupName::from_trusted(get::<String>(r, 2)?),
        comments: get(r, 3)?,
        created: get(r, 4)?,
        updated: get(r, 5)?,
    })
}

async fn get_group<C: GenericClient>(c: &C, account: &str, name: &str) -> StoreResult<GroupRecord> {
    let row = query_opt(
        c,
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups WHERE account_id = $1 AND name = $2"
        ),
        &[&account, &name],
    )
    .await?;
    match row {
        Some(r) => group_from_row(&r),
        None => Err(StoreError::NotFound(Entity::Group)),
    }
}

/// Every group membership of every account (for the identity snapshot).
pub(super) async fn load_all_memberships<C: GenericClient>(
    c: &C,
) -> StoreResult<Vec<MembershipRecord>> {
    let rows = query(
        c,
        "SELECT account_id, group_id, user_id, joined FROM group_members",
        &[],
    )
    .await?;
    decode(&rows, |r| {
        Ok(MembershipRecord {
            account: AccountId::from_trusted(get::<String>(r, 0)?),
            group: GroupId::from_trusted(get::<String>(r, 1)?),
            user: UserId::from_trusted(get::<String>(r, 2)?),
            joined: get(r, 3)?,
        })
    })
}

#[async_trait]
impl GroupStore for PgStore {
    async fn create_group(&self, group: &GroupRecord, max_groups: usize) -> StoreResult<()> {
        let g = group.clone();
        self.write(move |w| {
            Box::pin(async move {
                let a = g.account.as_str();
                if exists(get_group(&w.tx, a, g.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::Group));
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM groups WHERE account_id = $1",
                    &[&a],
                )
                .await?;
                if n >= max_groups {
                    return Err(StoreError::LimitExceeded(Entity::Group));
                }
                execute(
                    &w.tx,
                    concat!(
                        "INSERT INTO groups (",
                        group_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6)"
                    ),
                    &[
                        &a,
                        &g.id.as_str(),
                        &g.name.as_str(),
                        &g.comments,
                        &g.created,
                        &g.updated,
                    ],
                )
                .await?;
                let account = g.account.clone();
                w.changed(
                    Some(&account),
                    Changed::Group {
                        id: g.id.clone(),
                        row: Some(g),
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn group(&self, account: &AccountId, name: &GroupName) -> StoreResult<GroupRecord> {
        let c = self.client().await?;
        get_group(&c, account.as_str(), name.as_str()).await
    }

    async fn update_group(
        &self,
        account: &AccountId,
        name: &GroupName,
        update: &GroupUpdate,
        now: i64,
    ) -> StoreResult<GroupRecord> {
        let (a, n, up) = (
            account.as_str().to_string(),
            name.as_str().to_string(),
            update.clone(),
        );
        self.write(move |w| {
            Box::pin(async move {
                let (g, renamed) = up.applied(get_group(&w.tx, &a, &n).await?, now);
                if renamed && exists(get_group(&w.tx, &a, g.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::Group));
                }
                execute(
                    &w.tx,
                    "UPDATE groups SET name = $3, comments = $4, updated = $5 WHERE account_id = $1 AND id = $2",
                    &[&a, &g.id.as_str(), &g.name.as_str(), &g.comments, &g.updated],
                )
                .await?;
                w.changed(
                    Some(&g.account),
                    Changed::Group {
                        id: g.id.clone(),
                        row: Some(g.clone()),
                    },
                );
                Ok(g)
            })
        })
        .await
    }

    async fn list_groups(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>> {
        let c = self.client().await?;
        page(
            &c,
            concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT $3"
            ),
            account.as_str(),
            after.unwrap_or(""),
            limit,
            group_from_row,
        )
        .await
    }

    async fn delete_group(&self, account: &AccountId, name: &GroupName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let g = get_group(&w.tx, &a, &n).await?;
                let members = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM group_members WHERE account_id = $1 AND group_id = $2",
                    &[&a, &g.id.as_str()],
                )
                .await?;
                if members > 0 {
                    return Err(StoreError::DeleteConflict(Conflict::GroupHasUsers));
                }
                if has_attachments(&w.tx, &a, "Group", g.id.as_str()).await? {
                    return Err(StoreError::DeleteConflict(Conflict::GroupHasPolicies));
                }
                execute(
                    &w.tx,
                    "DELETE FROM groups WHERE account_id = $1 AND id = $2",
                    &[&a, &g.id.as_str()],
                )
                .await?;
                w.changed(
                    Some(&g.account),
                    Changed::Group {
                        id: g.id,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn add_user_to_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        user: &UserName,
        now: i64,
        max_groups_per_user: usize,
    ) -> StoreResult<()> {
        let (a, g, u) = (
            account.as_str().to_string(),
            group.as_str().to_string(),
            user.as_str().to_string(),
        );
        self.write(move |w| {
            Box::pin(async move {
                let group = get_group(&w.tx, &a, &g).await?;
                let user = get_user(&w.tx, &a, &u).await?;
                let member = query_opt(
                    &w.tx,
                    "SELECT 1 FROM group_members WHERE account_id = $1 AND group_id = $2 AND user_id = $3",
                    &[&a, &group.id.as_str(), &user.id.as_str()],
                )
                .await?;
                if member.is_some() {
                    return Err(StoreError::AlreadyExists(Entity::GroupMembership));
                }
                let joined = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM group_members WHERE account_id = $1 AND user_id = $2",
                    &[&a, &user.id.as_str()],
                )
                .await?;
                if joined >= max_groups_per_user {
                    return Err(StoreError::LimitExceeded(Entity::GroupMembership));
                }
                execute(
                    &w.tx,
                    "INSERT INTO group_members (account_id, group_id, user_id, joined) VALUES ($1, $2, $3, $4)",
                    &[&a, &group.id.as_str(), &user.id.as_str(), &now],
                )
                .await?;
                w.changed(
                    Some(&group.account),
                    Changed::Membership {
                        group: group.id.clone(),
                        user: user.id.clone(),
                        row: Some(MembershipRecord {
                            account: group.account.clone(),
                            group: group.id,
                            user: user.id,
                            joined: now,
                        }),
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn remove_user_from_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        user: &UserName,
    ) -> StoreResult<()> {
        let (a, g, u) = (
            account.as_str().to_string(),
            group.as_str().to_string(),
            user.as_str().to_string(),
        );
        self.write(move |w| {
            Box::pin(async move {
                let group = get_group(&w.tx, &a, &g).await?;
                let user = get_user(&w.tx, &a, &u).await?;
                let n = execute(
                    &w.tx,
                    "DELETE FROM group_members WHERE account_id = $1 AND group_id = $2 AND user_id = $3",
                    &[&a, &group.id.as_str(), &user.id.as_str()],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound(Entity::GroupMembership));
                }
                w.changed(
                    Some(&group.account),
                    Changed::Membership {
                        group: group.id,
                        user: user.id,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn groups_for_user(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<Vec<GroupMembership>> {
        let a = account.as_str();
        let mut c = self.client().await?;
        let tx = snapshot(&mut c).await?;
        let user = get_user(&tx, a, user.as_str()).await?;
        let rows = query(
            &tx,
            "SELECT g.account_id, g.id, g.name, g.comments, g.created, g.updated, m.joined
             FROM group_members m JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
             WHERE m.account_id = $1 AND m.user_id = $2 ORDER BY g.name",
            &[&a, &user.id.as_str()],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        decode(&rows, |r| {
            Ok(GroupMembership {
                group: group_from_row(r)?,
                joined: get(r, 6)?,
            })
        })
    }

    async fn users_for_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupMember>> {
        let a = account.as_str();
        let mut c = self.client().await?;
        let tx = snapshot(&mut c).await?;
        let group = get_group(&tx, a, group.as_str()).await?;
        let rows = query(
            &tx,
            // The user's columns, qualified: both tables have an id and a name.
            "SELECT u.account_id, u.id, u.name, u.display_name, u.mobile_phone, u.email, u.comments, u.created, u.updated, m.joined
             FROM group_members m JOIN users u ON u.account_id = m.account_id AND u.id = m.user_id
             WHERE m.account_id = $1 AND m.group_id = $2 AND u.name > $3 ORDER BY u.name LIMIT $4",
            &[
                &a,
                &group.id.as_str(),
                &after.unwrap_or(""),
                &limit_param(limit.saturating_add(1)),
            ],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        let mut items = decode(&rows, |r| {
            Ok(GroupMember {
                user: user_from_row(r)?,
                joined: get(r, 9)?,
            })
        })?;
        let truncated = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, truncated })
    }
}
