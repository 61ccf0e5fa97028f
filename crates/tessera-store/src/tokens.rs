//! STS state: the token keys that seal session tokens, and session revocations.

use crate::ids::AccountId;
use crate::{StoreResult, Target};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A token key: sealed under the master key, bound to its id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenKeyRecord {
    /// The key id written into every token it seals.
    pub id: u32,
    /// The 32-byte key, sealed.
    #[serde(with = "crate::base64_bytes")]
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

/// Token keys and revocations. Each method is one transaction.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Adds a token key that becomes the current one; the previous current key is retired at
    /// `now`. Returns the new key's id.
    async fn add_token_key(&self, sealed_key: &[u8], now: i64) -> StoreResult<u32>;

    /// Every token key still stored, oldest first.
    async fn token_keys(&self) -> StoreResult<Vec<TokenKeyRecord>>;

    /// Deletes token keys retired before `cutoff` (no token they sealed can still be valid).
    async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize>;

    /// Refuses from now on every session of a role, or started by a user, issued at or before
    /// `not_before`.
    async fn revoke_sessions(
        &self,
        account: &AccountId,
        target: &Target,
        not_before: i64,
    ) -> StoreResult<()>;
}
