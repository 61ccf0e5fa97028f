//! RAM users.

use crate::ids::{AccountId, UserId, UserName};
use crate::{Page, StoreResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A RAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The account that owns the user.
    pub account: AccountId,
    /// The numeric id.
    pub id: UserId,
    /// The unique (per account) name.
    pub name: UserName,
    /// Optional profile fields, stored as given.
    pub display_name: String,
    /// `<cc>-<number>`.
    pub mobile_phone: String,
    /// An e-mail address.
    pub email: String,
    /// Free text.
    pub comments: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// A new name (must be free).
    pub name: Option<UserName>,
    /// A new display name.
    pub display_name: Option<String>,
    /// A new phone number.
    pub mobile_phone: Option<String>,
    /// A new e-mail address.
    pub email: Option<String>,
    /// New comments.
    pub comments: Option<String>,
}

impl UserUpdate {
    /// `user` with this update applied at `now`, and whether it renames the user: the backend
    /// checks the new name is free before it writes. Every backend applies updates here, so they
    /// cannot disagree on a field.
    pub(crate) fn applied(self, mut user: UserRecord, now: i64) -> (UserRecord, bool) {
        let UserUpdate {
            name,
            display_name,
            mobile_phone,
            email,
            comments,
        } = self;
        let renamed = name.is_some_and(|n| {
            let differs = n != user.name;
            user.name = n;
            differs
        });
        if let Some(v) = display_name {
            user.display_name = v;
        }
        if let Some(v) = mobile_phone {
            user.mobile_phone = v;
        }
        if let Some(v) = email {
            user.email = v;
        }
        if let Some(v) = comments {
            user.comments = v;
        }
        user.updated = now;
        (user, renamed)
    }
}

/// Users. Each method is one transaction.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user unless the name is taken or the account already has `max_users`.
    async fn create_user(&self, user: &UserRecord, max_users: usize) -> StoreResult<()>;

    /// Reads a user by name.
    async fn user(&self, account: &AccountId, name: &UserName) -> StoreResult<UserRecord>;

    /// Applies `update` to a user, setting its update time to `now`; returns the new record.
    async fn update_user(
        &self,
        account: &AccountId,
        name: &UserName,
        update: &UserUpdate,
        now: i64,
    ) -> StoreResult<UserRecord>;

    /// Lists users ordered by name, starting after `after`.
    async fn list_users(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>>;

    /// Deletes a user that has no AccessKeys, attached policies, group memberships or login
    /// profile left.
    async fn delete_user(&self, account: &AccountId, name: &UserName) -> StoreResult<()>;
}
