//! Custom policies, their versions, and policy attachments to users, groups and roles.
//! System policies live in code (in the server); attachments name a policy by type
//! and name, so they can point at either.

use super::StoreResult;
use crate::ids::{AccountId, PolicyName};
use async_trait::async_trait;

/// Whether a policy is Alibaba-managed or the account's own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PolicyType {
    /// Built in, read-only.
    System,
    /// Created by the account, versioned.
    Custom,
}

impl PolicyType {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }
    /// Parses the wire form (exact case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "System" => Some(PolicyType::System),
            "Custom" => Some(PolicyType::Custom),
            _ => None,
        }
    }
}

/// A custom policy (its documents are versions).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomPolicyRecord {
    /// The owning account.
    pub account: AccountId,
    /// The name.
    pub name: PolicyName,
    /// Free text.
    pub description: String,
    /// The default version number (`v<n>` on the wire).
    pub default_version: u32,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last change (description or default version), Unix seconds.
    pub updated: i64,
}

/// One version of a custom policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    /// The version number; `v<n>` on the wire. Never reused.
    pub version: u32,
    /// The document as submitted.
    pub document: String,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// What a policy can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TargetKind {
    /// A RAM user.
    User,
    /// A RAM group.
    Group,
    /// A RAM role.
    Role,
}

impl TargetKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::User => "User",
            TargetKind::Group => "Group",
            TargetKind::Role => "Role",
        }
    }
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "User" => Some(TargetKind::User),
            "Group" => Some(TargetKind::Group),
            "Role" => Some(TargetKind::Role),
            _ => None,
        }
    }
}

/// An attachment target: a user, group or role, by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// What it is.
    pub kind: TargetKind,
    /// Its id.
    pub id: String,
}

/// A policy attached to a target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// The target.
    pub target: Target,
    /// System or Custom.
    pub policy_type: PolicyType,
    /// The policy's name.
    pub policy_name: PolicyName,
    /// When it was attached, Unix seconds.
    pub attached: i64,
}

/// A target of an attachment, with what ListEntitiesForPolicy shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedEntity {
    /// The attachment.
    pub attachment: Attachment,
    /// The user, group or role name.
    pub name: String,
    /// DisplayName of a user, Comments of a group, Description of a role.
    pub detail: String,
}

/// How many attachments a target may have, per policy type (RAM's default quotas).
#[derive(Debug, Clone, Copy)]
pub struct AttachLimits {
    /// System policies per target.
    pub system: usize,
    /// Custom policies per target.
    pub custom: usize,
}

/// A version to add to a custom policy.
#[derive(Debug, Clone)]
pub struct NewPolicyVersion {
    /// The document.
    pub document: String,
    /// Make it the default version.
    pub set_default: bool,
    /// At the version limit, delete the oldest non-default version instead of failing.
    pub rotate: bool,
    /// The version limit.
    pub max_versions: usize,
    /// Creation time, Unix seconds.
    pub now: i64,
}

/// What may stop a policy deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyInUse {
    /// Attached to a user.
    User,
    /// Attached to a group.
    Group,
    /// Attached to a role.
    Role,
    /// Has versions besides the default.
    Versions,
}

/// Custom policies, versions and attachments.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Creates a custom policy with version 1 as its default, unless the name is taken or the
    /// account has `max_policies`.
    async fn create_policy(
        &self,
        policy: &CustomPolicyRecord,
        document: &str,
        max_policies: usize,
    ) -> StoreResult<()>;

    /// A custom policy and its default version.
    async fn custom_policy(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, PolicyVersionRecord)>;

    /// Every custom policy of the account, by name.
    async fn custom_policies(&self, account: &AccountId) -> StoreResult<Vec<CustomPolicyRecord>>;

    /// Changes a custom policy's description.
    async fn update_policy_description(
        &self,
        account: &AccountId,
        name: &PolicyName,
        description: &str,
        now: i64,
    ) -> StoreResult<CustomPolicyRecord>;

    /// Deletes a custom policy. Refused while attached, and while it has non-default versions
    /// unless `cascade` (which deletes them too).
    async fn delete_policy(
        &self,
        account: &AccountId,
        name: &PolicyName,
        cascade: bool,
    ) -> StoreResult<()>;

    /// Adds a version. At `max_versions`, `rotate` deletes the oldest non-default version first;
    /// otherwise the limit is an error.
    async fn create_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        new: &NewPolicyVersion,
    ) -> StoreResult<PolicyVersionRecord>;

    /// The policy and all its versions, oldest first.
    async fn policy_versions(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, Vec<PolicyVersionRecord>)>;

    /// Makes an existing version the default.
    async fn set_default_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        version: u32,
        now: i64,
    ) -> StoreResult<()>;

    /// Deletes a non-default version.
    async fn delete_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        version: u32,
    ) -> StoreResult<()>;

    /// Attaches a policy. The target must exist, and a custom policy too (system policies are
    /// checked by the caller); refused when already attached or over `limits`.
    async fn attach_policy(
        &self,
        account: &AccountId,
        attachment: &Attachment,
        limits: AttachLimits,
    ) -> StoreResult<()>;

    /// Detaches a policy.
    async fn detach_policy(
        &self,
        account: &AccountId,
        target: &Target,
        policy_type: PolicyType,
        name: &PolicyName,
    ) -> StoreResult<()>;

    /// The policies attached to a target, in attachment order.
    async fn attachments_of(
        &self,
        account: &AccountId,
        target: &Target,
    ) -> StoreResult<Vec<Attachment>>;

    /// The users, groups and roles a policy is attached to, with their names.
    async fn entities_for_policy(
        &self,
        account: &AccountId,
        policy_type: PolicyType,
        name: &PolicyName,
    ) -> StoreResult<Vec<AttachedEntity>>;

    /// Finds a user, group or role by name (role names case-insensitively).
    async fn resolve_target(
        &self,
        account: &AccountId,
        kind: TargetKind,
        name: &str,
    ) -> StoreResult<Target>;

    /// Every attachment of the account (for attachment counts).
    async fn all_attachments(&self, account: &AccountId) -> StoreResult<Vec<Attachment>>;
}
