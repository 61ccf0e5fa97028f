//! # tessera-store
//!
//! Tessera's persistent state behind one [`Store`] trait, so that SQLite (embedded, the default)
//! and PostgreSQL (for several nodes) are interchangeable: the records, the traits by entity
//! (accounts, users, AccessKeys, groups, roles, login profiles, policies, STS token keys and
//! revocations), the [change feed](feed), the [SQLite backend](sqlite) and, behind the `postgres`
//! feature, the PostgreSQL backend (`postgres`) for deployments of several nodes.
//!
//! Each method is one transaction, so invariants such as "at most two AccessKeys per user" hold
//! under concurrency on any backend. Every committed write also records what it changed in the
//! feed, in the same transaction; readers such as the server's identity cache follow the feed and
//! apply only what changed.
//!
//! The store holds AccessKey secrets and token keys only sealed (under the server's master
//! key) and login passwords only hashed; it never sees a plaintext secret.
//!
//! Every backend runs the same contract suite ([`contract`], behind the `contract` feature):
//! instantiate it once with a function that makes an empty store.

mod accounts;
mod base64_bytes;
#[cfg(feature = "contract")]
pub mod contract;
pub mod feed;
mod groups;
pub mod ids;
mod keys;
mod login;
pub mod policies;
#[cfg(feature = "postgres")]
pub mod postgres;
mod roles;
pub mod sqlite;
mod tokens;
mod users;

pub use accounts::{AccountRecord, AccountStore};
pub use feed::{Change, Changed, IdentityRecords, MembershipRecord, PolicyHead, RevocationRecord};
pub use groups::{GroupMember, GroupMembership, GroupRecord, GroupStore, GroupUpdate};
pub use keys::{AccessKeyRecord, AccessKeyStore, KeyOwner, KeyStatus};
pub use login::{LoginProfileRecord, LoginProfileStore, LoginProfileUpdate, NewLoginProfile};
pub use policies::*;
pub use roles::{RoleRecord, RoleStore, RoleUpdate};
pub use tokens::{TokenKeyRecord, TokenStore};
pub use users::{UserRecord, UserStore, UserUpdate};

use async_trait::async_trait;

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Whether more follow the last item.
    pub truncated: bool,
}

/// Entities that can be missing, duplicated or in conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A RAM user.
    User,
    /// An AccessKey of a user (or of the root).
    AccessKey,
    /// A RAM user group.
    Group,
    /// A user's membership of a group (a user may join a limited number of groups).
    GroupMembership,
    /// A RAM role.
    Role,
    /// A user's console login profile.
    LoginProfile,
    /// An account.
    Account,
    /// A custom policy (or a system one, when looked up by name).
    Policy,
    /// A version of a custom policy.
    PolicyVersion,
    /// A policy attachment to a user, group or role.
    Attachment(TargetKind),
}

/// What can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The entity does not exist.
    #[error("{0:?} does not exist")]
    NotFound(Entity),
    /// An entity with that name already exists.
    #[error("{0:?} already exists")]
    AlreadyExists(Entity),
    /// A count limit would be exceeded.
    #[error("limit of {0:?} exceeded")]
    LimitExceeded(Entity),
    /// A delete was refused because something still depends on the entity.
    #[error("delete conflict: {0:?}")]
    DeleteConflict(Conflict),
    /// The user still has AccessKeys.
    #[error("the user still has access keys")]
    UserHasAccessKeys,
    /// Deleting or disabling this AccessKey would leave the account root with no active one:
    /// only an offline recovery could then act for the account as its root.
    #[error("the account root's last active access key")]
    LastActiveRootKey,
    /// The user still has policies attached.
    #[error("the user still has attached policies")]
    UserHasPolicies,
    /// A policy cannot be deleted while it is attached or has other versions.
    #[error("the policy is in use: {0:?}")]
    PolicyInUse(PolicyInUse),
    /// The default version of a policy cannot be deleted.
    #[error("the default policy version cannot be deleted")]
    DefaultPolicyVersion,
    /// The change feed no longer holds the changes after the revision asked for: they were
    /// compacted. The reader reloads from a snapshot.
    #[error("the change feed was compacted past revision {asked} (it keeps revisions after {kept_after})")]
    FeedCompacted {
        /// The revision the reader asked for changes after.
        asked: u64,
        /// The feed holds every change after this revision.
        kept_after: u64,
    },
    /// The backend failed (I/O, corruption, a bug). Logged, answered as `InternalError`.
    #[error("storage backend: {0}")]
    Backend(#[from] anyhow::Error),
}

/// Why a group, role or user cannot be deleted yet. RAM never cascades deletes: the client
/// removes the dependency first, so nothing disappears as a side effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The group still has members.
    GroupHasUsers,
    /// The group still has policies attached.
    GroupHasPolicies,
    /// The role still has policies attached.
    RoleHasPolicies,
    /// The user is still a member of a group.
    UserInGroup,
    /// The user still has a console login profile.
    UserHasLoginProfile,
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The persistent state of a Tessera deployment: every entity's trait, and the change feed.
/// Requiring the entity traits here lets an `Arc<dyn Store>` reach every method.
#[async_trait]
pub trait Store:
    AccountStore
    + UserStore
    + AccessKeyStore
    + GroupStore
    + RoleStore
    + LoginProfileStore
    + PolicyStore
    + TokenStore
    + Send
    + Sync
    + 'static
{
    /// The newest revision this process knows to be committed: its own writes as soon as they
    /// commit. Cheap (no I/O): readers compare it with what they have applied.
    fn revision(&self) -> u64;

    /// Wakes whenever [`Store::revision`] grows.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;

    /// The changes committed after revision `after`, in order, ending with whole transactions:
    /// at most `max_revisions` revisions' worth. [`StoreError::FeedCompacted`] when some of them
    /// were compacted away.
    async fn changes_since(&self, after: u64, max_revisions: u64) -> StoreResult<Vec<Change>>;

    /// Drops the feed's entries committed more than `retention` ago, keeping the newest
    /// revision's; returns how many were dropped.
    async fn compact_changes(&self, retention: std::time::Duration) -> StoreResult<usize>;

    /// Everything the identity cache mirrors, read in one transaction, with its revision.
    async fn identities(&self) -> StoreResult<IdentityRecords>;

    /// Flushes and tidies up before the process exits (SQLite: checkpoints the WAL).
    async fn close(&self) -> StoreResult<()>;
}
