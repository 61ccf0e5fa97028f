//! The change feed: every committed write records, in its own transaction, what it changed.
//!
//! A write transaction takes the next **revision** (one per transaction, so the feed is dense:
//! revision `r + 1` follows `r` with no gap) and records one [`Change`] per entity it touched,
//! carrying the entity's new row or a tombstone. Readers ask for
//! [`Store::changes_since`](crate::Store::changes_since) their last revision and apply what comes
//! back in order, so a cache costs what a write changed instead of a reload of everything.
//!
//! Old entries are compacted after a retention the operator sets; a reader whose revision is
//! older than what is kept gets [`StoreError::FeedCompacted`](crate::StoreError::FeedCompacted)
//! and reloads once from a consistent [`IdentityRecords`] snapshot, which names the revision it
//! is as of.
//!
//! Login profiles appear in the feed without their password hash: no reader of the feed needs
//! it, and the feed is not where a secret should be copied to.

use crate::ids::{AccessKeyId, AccountId, GroupId, PolicyName, RoleId, UserId};
use crate::{
    AccessKeyRecord, AccountRecord, Attachment, CustomPolicyRecord, GroupRecord, PolicyType,
    RoleRecord, Target, TargetKind, TokenKeyRecord, UserRecord,
};
use serde::{Deserialize, Serialize};

/// A user's membership of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRecord {
    /// The account of both.
    pub account: AccountId,
    /// The group's id.
    pub group: GroupId,
    /// The user's id.
    pub user: UserId,
    /// When the user joined, Unix seconds.
    pub joined: i64,
}

/// A custom policy as authorization sees it: its record and its default version's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyHead {
    /// The policy.
    pub record: CustomPolicyRecord,
    /// The document of `record.default_version`.
    pub document: String,
}

/// A session revocation: sessions of a role, or started by a user, issued at or before
/// `not_before` are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// The account of the role or user.
    pub account: AccountId,
    /// Role or User.
    pub kind: TargetKind,
    /// The role's or user's id.
    pub target: String,
    /// Unix seconds.
    pub not_before: i64,
}

/// What one change did to one entity: its new row, or `None` when it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Changed {
    /// An account was created (accounts are never deleted).
    Account(AccountRecord),
    /// A user was created, updated or deleted.
    User {
        /// The user's id.
        id: UserId,
        /// The new row.
        row: Option<UserRecord>,
    },
    /// An AccessKey (a user's or the root's) was created, changed status, or was deleted.
    AccessKey {
        /// The key's id.
        id: AccessKeyId,
        /// The new row.
        row: Option<AccessKeyRecord>,
    },
    /// A group was created, updated or deleted.
    Group {
        /// The group's id.
        id: GroupId,
        /// The new row.
        row: Option<GroupRecord>,
    },
    /// A user joined or left a group.
    Membership {
        /// The group's id.
        group: GroupId,
        /// The user's id.
        user: UserId,
        /// The membership, or `None` when the user left.
        row: Option<MembershipRecord>,
    },
    /// A role was created, updated or deleted.
    Role {
        /// The role's id.
        id: RoleId,
        /// The new row.
        row: Option<RoleRecord>,
    },
    /// A custom policy was created, deleted, or its description, versions or default version
    /// changed.
    Policy {
        /// The policy's name (unique per account).
        name: PolicyName,
        /// The policy and its default document.
        row: Option<PolicyHead>,
    },
    /// A policy was attached to or detached from a user, group or role.
    Attachment {
        /// The user, group or role.
        target: Target,
        /// System or Custom.
        policy_type: PolicyType,
        /// The policy's name.
        policy_name: PolicyName,
        /// The attachment, or `None` when detached.
        row: Option<Attachment>,
    },
    /// A user's console login profile was created, updated or deleted.
    LoginProfile {
        /// The user's id.
        user: UserId,
        /// Whether the user has a login profile now.
        exists: bool,
    },
    /// A token key was added, retired or dropped (deployment-wide: no account).
    TokenKey {
        /// The key id.
        id: u32,
        /// The new row.
        row: Option<TokenKeyRecord>,
    },
    /// Sessions were revoked.
    Revocation(RevocationRecord),
}

impl Changed {
    /// The entity kind, as the feed's `kind` column records it.
    pub fn kind(&self) -> &'static str {
        match self {
            Changed::Account(_) => "Account",
            Changed::User { .. } => "User",
            Changed::AccessKey { .. } => "AccessKey",
            Changed::Group { .. } => "Group",
            Changed::Membership { .. } => "Membership",
            Changed::Role { .. } => "Role",
            Changed::Policy { .. } => "Policy",
            Changed::Attachment { .. } => "Attachment",
            Changed::LoginProfile { .. } => "LoginProfile",
            Changed::TokenKey { .. } => "TokenKey",
            Changed::Revocation(_) => "Revocation",
        }
    }

    /// The entity's id within its account, as the feed's `entity_id` column records it (for
    /// people and queries; readers use the typed value).
    pub fn entity_id(&self) -> String {
        match self {
            Changed::Account(a) => a.id.to_string(),
            Changed::User { id, .. } => id.to_string(),
            Changed::AccessKey { id, .. } => id.to_string(),
            Changed::Group { id, .. } => id.to_string(),
            Changed::Membership { group, user, .. } => format!("{group}/{user}"),
            Changed::Role { id, .. } => id.to_string(),
            Changed::Policy { name, .. } => name.to_string(),
            Changed::Attachment {
                target,
                policy_type,
                policy_name,
                ..
            } => format!(
                "{}/{}/{}/{policy_name}",
                target.kind.as_str(),
                target.id,
                policy_type.as_str()
            ),
            Changed::LoginProfile { user, .. } => user.to_string(),
            Changed::TokenKey { id, .. } => id.to_string(),
            Changed::Revocation(r) => format!("{}/{}", r.kind.as_str(), r.target),
        }
    }

    /// Whether the entity no longer exists after this change.
    pub fn is_tombstone(&self) -> bool {
        match self {
            Changed::Account(_) | Changed::Revocation(_) => false,
            Changed::User { row, .. } => row.is_none(),
            Changed::AccessKey { row, .. } => row.is_none(),
            Changed::Group { row, .. } => row.is_none(),
            Changed::Membership { row, .. } => row.is_none(),
            Changed::Role { row, .. } => row.is_none(),
            Changed::Policy { row, .. } => row.is_none(),
            Changed::Attachment { row, .. } => row.is_none(),
            Changed::LoginProfile { exists, .. } => !exists,
            Changed::TokenKey { row, .. } => row.is_none(),
        }
    }
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The revision of the transaction that made it; every change of one transaction shares it.
    pub revision: u64,
    /// The account the entity belongs to; `None` for deployment-wide entities (token keys).
    pub account: Option<AccountId>,
    /// What changed.
    pub changed: Changed,
}

/// Everything the identity cache mirrors, read in one consistent snapshot.
#[derive(Debug, Clone, Default)]
pub struct IdentityRecords {
    /// The revision the snapshot is as of: apply `changes_since(revision)` after it.
    pub revision: u64,
    /// Every user.
    pub users: Vec<UserRecord>,
    /// Every AccessKey.
    pub access_keys: Vec<AccessKeyRecord>,
    /// Every group membership.
    pub memberships: Vec<MembershipRecord>,
    /// Every policy attachment, with its account.
    pub attachments: Vec<(AccountId, Attachment)>,
    /// Every custom policy with its default document.
    pub policies: Vec<PolicyHead>,
    /// Every role.
    pub roles: Vec<RoleRecord>,
    /// Every token key still able to open tokens.
    pub token_keys: Vec<TokenKeyRecord>,
    /// Every session revocation.
    pub revocations: Vec<RevocationRecord>,
}

impl IdentityRecords {
    /// The snapshot as the feed would have delivered it, in an order that satisfies every
    /// reference (users before their keys and memberships, policies before attachments), so a
    /// reader builds its state from a snapshot and from the feed with one code path.
    pub fn into_changes(self) -> impl Iterator<Item = (Option<AccountId>, Changed)> {
        let token_keys = self.token_keys.into_iter().map(|k| {
            (
                None,
                Changed::TokenKey {
                    id: k.id,
                    row: Some(k),
                },
            )
        });
        let users = self.users.into_iter().map(|u| {
            (
                Some(u.account.clone()),
                Changed::User {
                    id: u.id.clone(),
                    row: Some(u),
                },
            )
        });
        let memberships = self.memberships.into_iter().map(|m| {
            (
                Some(m.account.clone()),
                Changed::Membership {
                    group: m.group.clone(),
                    user: m.user.clone(),
                    row: Some(m),
                },
            )
        });
        let policies = self.policies.into_iter().map(|p| {
            (
                Some(p.record.account.clone()),
                Changed::Policy {
                    name: p.record.name.clone(),
                    row: Some(p),
                },
            )
        });
        let roles = self.roles.into_iter().map(|r| {
            (
                Some(r.account.clone()),
                Changed::Role {
                    id: r.id.clone(),
                    row: Some(r),
                },
            )
        });
        let attachments = self.attachments.into_iter().map(|(account, a)| {
            (
                Some(account),
                Changed::Attachment {
                    target: a.target.clone(),
                    policy_type: a.policy_type,
                    policy_name: a.policy_name.clone(),
                    row: Some(a),
                },
            )
        });
        let keys = self.access_keys.into_iter().map(|k| {
            (
                Some(k.owner.account().clone()),
                Changed::AccessKey {
                    id: k.id.clone(),
                    row: Some(k),
                },
            )
        });
        let revocations = self
            .revocations
            .into_iter()
            .map(|r| (Some(r.account.clone()), Changed::Revocation(r)));
        token_keys
            .chain(users)
            .chain(memberships)
            .chain(policies)
            .chain(roles)
            .chain(attachments)
            .chain(keys)
            .chain(revocations)
    }
}
