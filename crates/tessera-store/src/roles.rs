//! RAM roles.

use super::{Page, StoreResult};
use crate::ids::{AccountId, RoleId, RoleName};
use async_trait::async_trait;

/// A RAM role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleRecord {
    /// The account that owns the role.
    pub account: AccountId,
    /// The numeric id.
    pub id: RoleId,
    /// The name as created; unique per account regardless of case.
    pub name: RoleName,
    /// Free text.
    pub description: String,
    /// The trust policy (`AssumeRolePolicyDocument`), exactly as submitted.
    pub trust_policy: String,
    /// The longest session `AssumeRole` may grant, in seconds.
    pub max_session_duration: i64,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update time, Unix seconds.
    pub updated: i64,
}

/// Changes to a role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoleUpdate {
    /// A new trust policy (already validated).
    pub trust_policy: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new maximum session duration, in seconds.
    pub max_session_duration: Option<i64>,
}

impl RoleUpdate {
    /// `role` with this update applied at `now`.
    pub(crate) fn applied(self, mut role: RoleRecord, now: i64) -> RoleRecord {
        let RoleUpdate {
            trust_policy,
            description,
            max_session_duration,
        } = self;
        if let Some(v) = trust_policy {
            role.trust_policy = v;
        }
        if let Some(v) = description {
            role.description = v;
        }
        if let Some(v) = max_session_duration {
            role.max_session_duration = v;
        }
        role.updated = now;
        role
    }
}

/// Roles. Names are looked up without regard to case. Each method is one transaction.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates a role unless the name is taken (in any case) or the account already has
    /// `max_roles`.
    async fn create_role(&self, role: &RoleRecord, max_roles: usize) -> StoreResult<()>;

    /// Reads a role by name, ignoring case.
    async fn role(&self, account: &AccountId, name: &RoleName) -> StoreResult<RoleRecord>;

    /// Applies `update` to a role, setting its update time to `now`; returns the new record.
    async fn update_role(
        &self,
        account: &AccountId,
        name: &RoleName,
        update: &RoleUpdate,
        now: i64,
    ) -> StoreResult<RoleRecord>;

    /// Lists roles ordered by name (ignoring case), starting after `after`.
    async fn list_roles(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<RoleRecord>>;

    /// Deletes a role that has no attached policies.
    async fn delete_role(&self, account: &AccountId, name: &RoleName) -> StoreResult<()>;
}
