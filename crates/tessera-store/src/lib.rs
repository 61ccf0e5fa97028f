//! Persistent state behind one trait, so SQLite (embedded, the default) and PostgreSQL (for
//! several nodes, later) are interchangeable. Each method is one transaction, so invariants such
//! as "at most two AccessKeys per user" hold under concurrency on any backend.
//!
//! The store holds AccessKey secrets only sealed (under the server's master key); it never sees a
//! plaintext secret.

mod groups;
pub mod ids;
mod login;
pub mod policies;
mod roles;
pub mod sqlite;

pub use groups::{GroupMember, GroupMembership, GroupRecord, GroupStore, GroupUpdate};
pub use login::{LoginProfileRecord, LoginProfileStore, LoginProfileUpdate, NewLoginProfile};
pub use policies::*;
pub use roles::{RoleRecord, RoleStore, RoleUpdate};

use crate::ids::{AccessKeyId, AccountId, PolicyName, UserId, UserName};
use async_trait::async_trait;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The 16-digit id.
    pub id: AccountId,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// A RAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Whether an AccessKey may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused with `InvalidAccessKeyId.Inactive`.
    Inactive,
}

impl KeyStatus {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
    /// Parses the wire form (exact case, as the API documents it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

/// Who owns an AccessKey: the account root or one of its users.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// The account root.
    Root(AccountId),
    /// A RAM user of the account.
    User(AccountId, UserId),
}

impl KeyOwner {
    /// The owner as the sealed secret is bound to it.
    pub fn binding(&self) -> String {
        match self {
            KeyOwner::Root(a) => format!("root:{a}"),
            KeyOwner::User(a, u) => format!("user:{a}:{u}"),
        }
    }

    /// The owning account.
    pub fn account(&self) -> &AccountId {
        match self {
            KeyOwner::Root(a) | KeyOwner::User(a, _) => a,
        }
    }
}

/// A long-term AccessKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The public id.
    pub id: AccessKeyId,
    /// Its owner.
    pub owner: KeyOwner,
    /// The secret sealed under the master key, bound to `id`.
    pub sealed_secret: Vec<u8>,
    /// Active or Inactive.
    pub status: KeyStatus,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Everything authentication needs, loaded at once into the identity cache.
#[derive(Debug, Clone, Default)]
pub struct IdentityRecords {
    /// Every user: (account, id, name).
    pub users: Vec<(AccountId, UserId, UserName)>,
    /// Every AccessKey.
    pub access_keys: Vec<AccessKeyRecord>,
    /// Every group membership: (account, group id, user id).
    pub memberships: Vec<(AccountId, String, UserId)>,
    /// Every policy attachment, with its account.
    pub attachments: Vec<(AccountId, Attachment)>,
    /// The default version of every custom policy: (account, name, version, document).
    pub default_documents: Vec<(AccountId, PolicyName, u32, String)>,
    /// Every role (sessions are authorized by its current policies and trust).
    pub roles: Vec<RoleRecord>,
    /// Every token key still able to open tokens.
    pub token_keys: Vec<TokenKeyRecord>,
    /// Session revocations: (account, Role or User, target id, not-before time).
    pub revocations: Vec<(AccountId, TargetKind, String, i64)>,
}

/// A token key: sealed under the master key, bound to its id.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKeyRecord {
    /// The key id written into every token it seals.
    pub id: u32,
    /// The 32-byte key, sealed.
    pub sealed_key: Vec<u8>,
    /// When it was created, Unix seconds.
    pub created: i64,
    /// When a newer key replaced it for sealing; `None` for the current key.
    pub retired: Option<i64>,
}

impl std::fmt::Debug for TokenKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeyRecord")
            .field("id", &self.id)
            .field("created", &self.created)
            .field("retired", &self.retired)
            .finish()
    }
}

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
    /// The user still has policies attached.
    #[error("the user still has attached policies")]
    UserHasPolicies,
    /// A policy cannot be deleted while it is attached or has other versions.
    #[error("the policy is in use: {0:?}")]
    PolicyInUse(PolicyInUse),
    /// The default version of a policy cannot be deleted.
    #[error("the default policy version cannot be deleted")]
    DefaultPolicyVersion,
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

/// The persistent state of a Tessera deployment. Groups, roles and login profiles live in their
/// own traits; requiring them here lets an `Arc<dyn Store>` reach every method.
#[async_trait]
pub trait Store:
    GroupStore + RoleStore + LoginProfileStore + PolicyStore + Send + Sync + 'static
{
    /// A counter that grows with every committed write. Cheap (no I/O): caches compare it to
    /// know whether they are stale.
    fn revision(&self) -> u64;

    /// Adds a token key that becomes the current one; the previous current key is retired at
    /// `now`. Returns the new key's id.
    async fn add_token_key(&self, sealed_key: &[u8], now: i64) -> StoreResult<u32>;

    /// Refuses from now on every session of a role, or started by a user, issued at or before
    /// `not_before`.
    async fn revoke_sessions(
        &self,
        account: &AccountId,
        target: &Target,
        not_before: i64,
    ) -> StoreResult<()>;

    /// Deletes token keys retired before `cutoff` (no token they sealed can still be valid).
    async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize>;

    /// Flushes and tidies up before the process exits (SQLite: checkpoints the WAL).
    async fn close(&self) -> StoreResult<()>;

    /// Reads a metadata value.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Creates an account with its root AccessKey, and sets metadata, in one transaction.
    async fn create_account(
        &self,
        account: &AccountRecord,
        root_key: &AccessKeyRecord,
        meta: &[(&str, &str)],
    ) -> StoreResult<()>;

    /// Whether the account exists.
    async fn account_exists(&self, account: &AccountId) -> StoreResult<bool>;

    /// Loads what the identity cache holds.
    async fn identities(&self) -> StoreResult<IdentityRecords>;

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

    /// Deletes a user that has no AccessKeys left.
    async fn delete_user(&self, account: &AccountId, name: &UserName) -> StoreResult<()>;

    /// Adds an AccessKey unless its owner already has `max_keys`.
    async fn create_access_key(&self, key: &AccessKeyRecord, max_keys: usize) -> StoreResult<()>;

    /// The AccessKeys of one owner, oldest first.
    async fn access_keys(&self, owner: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>>;

    /// Sets the status of an owner's AccessKey.
    async fn set_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> StoreResult<()>;

    /// Deletes an owner's AccessKey.
    async fn delete_access_key(&self, owner: &KeyOwner, id: &AccessKeyId) -> StoreResult<()>;
}
