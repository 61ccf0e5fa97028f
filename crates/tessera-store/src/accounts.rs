//! Accounts and the deployment's metadata.

use crate::ids::AccountId;
use crate::{AccessKeyRecord, StoreResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The 16-digit id.
    pub id: AccountId,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Accounts. Each method is one transaction.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account with its root AccessKey, and sets metadata, in one transaction.
    async fn create_account(
        &self,
        account: &AccountRecord,
        root_key: &AccessKeyRecord,
        meta: &[(&str, &str)],
    ) -> StoreResult<()>;

    /// Whether the account exists.
    async fn account_exists(&self, account: &AccountId) -> StoreResult<bool>;

    /// Reads a metadata value.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
}
