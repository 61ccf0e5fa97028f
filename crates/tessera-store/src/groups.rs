//! RAM user groups and their memberships.

use super::{Page, StoreResult, UserRecord};
use crate::ids::{AccountId, GroupId, GroupName, UserName};
use async_trait::async_trait;

/// A RAM user group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupRecord {
    /// The account that owns the group.
    pub account: AccountId,
    /// The numeric id.
    pub id: GroupId,
    /// The unique (per account, case-sensitive) name.
    pub name: GroupName,
    /// Free text.
    pub comments: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
}

/// Changes to a group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    /// A new name (must be free).
    pub name: Option<GroupName>,
    /// New comments.
    pub comments: Option<String>,
}

/// A group a user belongs to, with the time the user joined it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    /// The group.
    pub group: GroupRecord,
    /// When the user joined, Unix seconds.
    pub joined: i64,
}

/// A member of a group, with the time it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The user.
    pub user: UserRecord,
    /// When the user joined, Unix seconds.
    pub joined: i64,
}

impl GroupUpdate {
    /// `group` with this update applied at `now`, and whether it renames the group: the backend
    /// checks the new name is free before it writes.
    pub(crate) fn applied(self, mut group: GroupRecord, now: i64) -> (GroupRecord, bool) {
        let GroupUpdate { name, comments } = self;
        let renamed = name.is_some_and(|n| {
            let differs = n != group.name;
            group.name = n;
            differs
        });
        if let Some(v) = comments {
            group.comments = v;
        }
        group.updated = now;
        (group, renamed)
    }
}

/// Groups and memberships. Each method is one transaction.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates a group unless the name is taken or the account already has `max_groups`.
    async fn create_group(&self, group: &GroupRecord, max_groups: usize) -> StoreResult<()>;

    /// Reads a group by name.
    async fn group(&self, account: &AccountId, name: &GroupName) -> StoreResult<GroupRecord>;

    /// Applies `update` to a group, setting its update time to `now`; returns the new record.
    async fn update_group(
        &self,
        account: &AccountId,
        name: &GroupName,
        update: &GroupUpdate,
        now: i64,
    ) -> StoreResult<GroupRecord>;

    /// Lists groups ordered by name, starting after `after`.
    async fn list_groups(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupRecord>>;

    /// Deletes a group that has no members and no attached policies.
    async fn delete_group(&self, account: &AccountId, name: &GroupName) -> StoreResult<()>;

    /// Adds a user to a group at time `now`, unless it is already a member or has joined
    /// `max_groups_per_user` groups.
    async fn add_user_to_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        user: &UserName,
        now: i64,
        max_groups_per_user: usize,
    ) -> StoreResult<()>;

    /// Removes a user from a group it belongs to.
    async fn remove_user_from_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        user: &UserName,
    ) -> StoreResult<()>;

    /// The groups a user belongs to, ordered by group name.
    async fn groups_for_user(
        &self,
        account: &AccountId,
        user: &UserName,
    ) -> StoreResult<Vec<GroupMembership>>;

    /// The members of a group ordered by user name, starting after `after`.
    async fn users_for_group(
        &self,
        account: &AccountId,
        group: &GroupName,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<GroupMember>>;
}
