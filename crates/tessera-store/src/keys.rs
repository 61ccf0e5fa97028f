//! Long-term AccessKeys, of account roots and of RAM users.

use crate::ids::{AccessKeyId, AccountId, UserId};
use crate::StoreResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Whether an AccessKey may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The public id.
    pub id: AccessKeyId,
    /// Its owner.
    pub owner: KeyOwner,
    /// The secret sealed under the master key, bound to `id`.
    #[serde(with = "crate::base64_bytes")]
    pub sealed_secret: Vec<u8>,
    /// Active or Inactive.
    pub status: KeyStatus,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// AccessKeys. Each method is one transaction.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Adds an AccessKey unless its owner already has `max_keys`.
    async fn create_access_key(&self, key: &AccessKeyRecord, max_keys: usize) -> StoreResult<()>;

    /// The AccessKeys of one owner, oldest first.
    async fn access_keys(&self, owner: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>>;

    /// Sets the status of an owner's AccessKey. Disabling the account root's last active
    /// AccessKey is refused ([`StoreError::LastActiveRootKey`](crate::StoreError)).
    async fn set_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> StoreResult<()>;

    /// Deletes an owner's AccessKey. Deleting the account root's last active AccessKey is
    /// refused ([`StoreError::LastActiveRootKey`](crate::StoreError)).
    async fn delete_access_key(&self, owner: &KeyOwner, id: &AccessKeyId) -> StoreResult<()>;
}
