//! [`GroupStore`] on SQLite: tables `groups` and `group_members` (migration 2).

use super::conflicts::has_attachments;
use super::users::{get_user, user_from_row, USER_COLUMNS};
use super::{all, backend, exists, page, Cached, SqliteStore};
use crate::feed::{Changed, MembershipRecord};
use crate::ids::{AccountId, GroupId, GroupName, UserId, UserName};
use crate::{
    Conflict, Entity, GroupMember, GroupMembership, GroupRecord, GroupStore, GroupUpdate, Page,
    StoreError, StoreResult,
};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

const GROUP_COLUMNS: &str = "account_id, id, name, comments, created, updated";

/// `columns` (a comma-separated list) qualified with `alias`, for joins where names clash.
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        id: GroupId::from_trusted(r.get::<_, String>(1)?),
        name: GroupName::from_trusted(r.get::<_, String>(2)?),
        comments: r.get(3)?,
        created: r.get(4)?,
        updated: r.get(5)?,
    })
}

fn get_group(c: &Connection, account: &str, name: &str) -> StoreResult<GroupRecord> {
    c.row(
        &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = ?1 AND name = ?2"),
        params![account, name],
        group_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::Group))
}

fn count(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<usize> {
    let n: i64 = c.row(sql, p, |r| r.get(0)).map_err(backend)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Every group membership of every account (for the identity snapshot).
pub(super) fn load_all_memberships(c: &Connection) -> StoreResult<Vec<MembershipRecord>> {
    all(
        c,
        "SELECT account_id, group_id, user_id, joined FROM group_members",
        |r| {
            Ok(MembershipRecord {
                account: AccountId::from_trusted(r.get::<_, String>(0)?),
                group: GroupId::from_trusted(r.get::<_, String>(1)?),
                user: UserId::from_trusted(r.get::<_, String>(2)?),
                joined: r.get(3)?,
            })
        },
    )
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &GroupRecord, max_groups: usize) -> StoreResult<()> {
        let g = group.clone();
        self.write(move |tx| {
            let a = g.account.as_str();
            if exists(get_group(tx, a, g.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::Group));
            }
            let n = count(tx, "SELECT COUNT(*) FROM groups WHERE account_id = ?1", [a])?;
            if n >= max_groups {
                return Err(StoreError::LimitExceeded(Entity::Group));
            }
            tx.exec(
                &format!("INSERT INTO groups ({GROUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    a,
                    g.id.as_str(),
                    g.name.as_str(),
                    g.comments,
                    g.created,
                    g.updated
                ],
            )
            .map_err(backend)?;
            let account = g.account.clone();
            tx.changed(
                Some(&account),
                Changed::Group {
                    id: g.id.clone(),
                    row: Some(g),
                },
            );
            Ok(())
        })
        .await
    }

    async fn group(&self, account: &AccountId, name: &GroupName) -> StoreResult<GroupRecord> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| get_group(c, &a, &n)).await
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
        self.write(move |tx| {
            let (g, renamed) = up.applied(get_group(tx, &a, &n)?, now);
            if renamed && exists(get_group(tx, &a, g.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::Group));
            }
            tx.exec(
                "UPDATE groups SET name = ?3, comments = ?4, updated = ?5 WHERE account_id = ?1 AND id = ?2",
                params![a, g.id.as_str(), g.name.as_str(), g.comments, g.updated],
            )
            .map_err(backend)?;
            tx.changed(
                Some(&g.account),
                Changed::Group {
                    id: g.id.clone(),
                    row: Some(g.clone()),
                },
            );
            Ok(g)
        })
        .await
    }

    async fn list_groups(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>> {
        let (a, after) = (
            account.as_str().to_string(),
            after.unwrap_or("").to_string(),
        );
        self.read(move |c| {
            page(c, &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"), &a, &after, limit, group_from_row)
        })
        .await
    }

    async fn delete_group(&self, account: &AccountId, name: &GroupName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |tx| {
            let g = get_group(tx, &a, &n)?;
            let members = count(
                tx,
                "SELECT COUNT(*) FROM group_members WHERE account_id = ?1 AND group_id = ?2",
                params![a, g.id.as_str()],
            )?;
            if members > 0 {
                return Err(StoreError::DeleteConflict(Conflict::GroupHasUsers));
            }
            if has_attachments(tx, &a, "Group", g.id.as_str())? {
                return Err(StoreError::DeleteConflict(Conflict::GroupHasPolicies));
            }
            tx.exec(
                "DELETE FROM groups WHERE account_id = ?1 AND id = ?2",
                params![a, g.id.as_str()],
            )
            .map_err(backend)?;
            tx.changed(
                Some(&g.account),
                Changed::Group {
                    id: g.id,
                    row: None,
                },
            );
            Ok(())
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
        self.write(move |tx| {
            let group = get_group(tx, &a, &g)?;
            let user = get_user(tx, &a, &u)?;
            let member = tx
                .row(
                    "SELECT 1 FROM group_members WHERE account_id = ?1 AND group_id = ?2 AND user_id = ?3",
                    params![a, group.id.as_str(), user.id.as_str()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if member {
                return Err(StoreError::AlreadyExists(Entity::GroupMembership));
            }
            let joined = count(
                tx,
                "SELECT COUNT(*) FROM group_members WHERE account_id = ?1 AND user_id = ?2",
                params![a, user.id.as_str()],
            )?;
            if joined >= max_groups_per_user {
                return Err(StoreError::LimitExceeded(Entity::GroupMembership));
            }
            tx.exec(
                "INSERT INTO group_members (account_id, group_id, user_id, joined) VALUES (?1, ?2, ?3, ?4)",
                params![a, group.id.as_str(), user.id.as_str(), now],
            )
            .map_err(backend)?;
            tx.changed(
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
        self.write(move |tx| {
            let group = get_group(tx, &a, &g)?;
            let user = get_user(tx, &a, &u)?;
            let n = tx
                .exec(
                    "DELETE FROM group_members WHERE account_id = ?1 AND group_id = ?2 AND user_id = ?3",
                    params![a, group.id.as_str(), user.id.as_str()],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound(Entity::GroupMembership));
            }
            tx.changed(
                Some(&group.account),
                Changed::Membership {
                    group: group.id,
                    user: user.id,
                    row: None,
                },
            );
            Ok(())
        })
        .await
    }

    async fn groups_for_user(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<Vec<GroupMembership>> {
        let (a, u) = (account.as_str().to_string(), user.as_str().to_string());
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let user = get_user(&tx, &a, &u)?;
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {}, m.joined FROM group_members m JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id WHERE m.account_id = ?1 AND m.user_id = ?2 ORDER BY g.name",
                    qualified(GROUP_COLUMNS, "g")
                ))
                .map_err(backend)?;
            let rows = st
                .query_map(params![a, user.id.as_str()], |r| {
                    Ok(GroupMembership {
                        group: group_from_row(r)?,
                        joined: r.get(6)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)?;
            Ok(rows)
        })
        .await
    }

    async fn users_for_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupMember>> {
        let (a, g, after) = (
            account.as_str().to_string(),
            group.as_str().to_string(),
            after.unwrap_or("").to_string(),
        );
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let group = get_group(&tx, &a, &g)?;
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {}, m.joined FROM group_members m JOIN users u ON u.account_id = m.account_id AND u.id = m.user_id WHERE m.account_id = ?1 AND m.group_id = ?2 AND u.name > ?3 ORDER BY u.name LIMIT ?4",
                    qualified(USER_COLUMNS, "u")
                ))
                .map_err(backend)?;
            let mut items = st
                .query_map(
                    params![a, group.id.as_str(), after, (limit + 1) as i64],
                    |r| {
                        Ok(GroupMember {
                            user: user_from_row(r)?,
                            joined: r.get(9)?,
                        })
                    },
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)?;
            let truncated = items.len() > limit;
            items.truncate(limit);
            Ok(Page { items, truncated })
        })
        .await
    }
}
