//! Tessera's administration API (version [`super::ADMIN_VERSION`]), for the operator's root
//! only: accounts, so one server can hold several (cross-account roles), and token-key
//! rotation.

use super::{Call, Fields};
use crate::error::ApiError;
use crate::identity::IdentityCache;
use crate::ids::{generate_access_key_secret, AccessKeyId, AccountId};
use crate::state::AppState;
use std::sync::Arc;
use tessera_protocol::render::Node;
use tessera_store::{AccessKeyRecord, AccountRecord, KeyOwner, KeyStatus, StoreError};

/// `CreateAccount`: a new account and its root AccessKey (the secret is shown only here).
pub async fn create_account(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let account = AccountRecord {
        id: AccountId::generate(),
        created: call.now,
    };
    let key_id = AccessKeyId::generate();
    let secret = generate_access_key_secret();
    let key = AccessKeyRecord {
        sealed_secret: state.master.seal_secret(
            key_id.as_str(),
            &KeyOwner::Root(account.id.clone()).binding(),
            &secret,
        ),
        id: key_id.clone(),
        owner: KeyOwner::Root(account.id.clone()),
        status: KeyStatus::Active,
        created: call.now,
    };
    state
        .store
        .create_account(&account, &key, &[])
        .await
        .map_err(|e| match e {
            // 10^15 ids: a collision is a retry, not a client error.
            StoreError::AlreadyExists(_) => {
                ApiError::Internal(anyhow::anyhow!("account id collision"))
            }
            other => other.into(),
        })?;
    Ok(vec![
        ("AccountId", account.id.as_str().into()),
        ("AccessKeyId", key_id.as_str().into()),
        ("AccessKeySecret", Node::Str(secret.expose().to_string())),
    ])
}

/// `RotateTokenKeys`: a new token key seals from now on; tokens sealed under older keys stay
/// valid until they expire, and keys retired longer than the longest session are dropped.
pub async fn rotate_token_keys(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let sealed = crate::tokens::new_sealed_key(&state.master).map_err(ApiError::Internal)?;
    let id = state.store.add_token_key(&sealed, call.now).await?;
    crate::tokens::ensure_token_key(state.store.as_ref(), &state.master, call.now)
        .await
        .map_err(ApiError::Internal)?;
    Ok(vec![("KeyId", Node::Int(i64::from(id)))])
}

/// Compares the identity cache, as the change feed has built it, with a cache loaded afresh
/// from the store: the operator's check that no change was lost or misapplied. It reads the
/// whole store, so it is for the operator's occasional use, not for monitoring at a high rate.
pub async fn verify_identity_cache(state: &AppState) -> Result<Fields, ApiError> {
    state.identities.catch_up().await?;
    let live = state.identities.describe();
    let fresh = IdentityCache::load(Arc::clone(&state.store), Arc::clone(&state.master))
        .await?
        .describe();
    // Writes that land between the two reads show up as differences; a second look after
    // catching up again tells them from real ones.
    let differences = if live == fresh {
        0
    } else {
        state.identities.catch_up().await?;
        let live = state.identities.describe();
        let live_set: std::collections::HashSet<&String> = live.iter().collect();
        let fresh_set: std::collections::HashSet<&String> = fresh.iter().collect();
        live_set.symmetric_difference(&fresh_set).count()
    };
    if differences > 0 {
        tracing::error!(
            differences,
            "the identity cache differs from the store; restart the server to reload it"
        );
    }
    Ok(vec![
        ("Consistent", Node::Bool(differences == 0)),
        ("Revision", Node::Int(state.identities.revision() as i64)),
        ("Entries", Node::Int(fresh.len() as i64)),
        ("Differences", Node::Int(differences as i64)),
    ])
}
