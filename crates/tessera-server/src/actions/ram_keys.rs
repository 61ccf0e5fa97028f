//! RAM AccessKeys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey. The secret
//! is returned by CreateAccessKey only and stored sealed under the master key.

use super::params::{self, optional, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::{generate_access_key_secret, AccessKeyId};
use crate::principal::Principal;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{AccessKeyRecord, KeyOwner, KeyStatus};

/// AccessKeys per user (and per account root).
pub const MAX_KEYS_PER_OWNER: usize = 2;

/// Whose keys a call is about: the named user, or else the caller itself.
async fn owner(state: &AppState, call: &Call<'_>) -> Result<KeyOwner, ApiError> {
    match optional(call.req, "UserName") {
        Some(name) => {
            let name = params::user_name("UserName", name)?;
            let user = state.store.user(call.principal.account(), &name).await?;
            Ok(KeyOwner::User(user.account, user.id))
        }
        None => Ok(match call.principal {
            Principal::Root { account } => KeyOwner::Root(account.clone()),
            Principal::User { account, id, .. } => KeyOwner::User(account.clone(), id.clone()),
            // A role session owns no AccessKeys; it must name the user.
            Principal::Session { .. } => return Err(ApiError::MissingParameter("UserName")),
        }),
    }
}

/// `CreateAccessKey`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let owner = owner(state, call).await?;
    let id = AccessKeyId::generate();
    let secret = generate_access_key_secret();
    let record = AccessKeyRecord {
        sealed_secret: state
            .master
            .seal_secret(id.as_str(), &owner.binding(), &secret),
        id,
        owner,
        status: KeyStatus::Active,
        created: call.now,
    };
    state
        .store
        .create_access_key(&record, MAX_KEYS_PER_OWNER)
        .await?;
    Ok(vec![(
        "AccessKey",
        Node::Obj(vec![
            ("AccessKeyId", record.id.as_str().into()),
            ("AccessKeySecret", secret.expose().into()),
            ("Status", record.status.as_str().into()),
            ("CreateDate", timestamp::format(record.created).into()),
        ]),
    )])
}

/// `ListAccessKeys` (never shows secrets).
pub async fn list(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let owner = owner(state, call).await?;
    let keys = state.store.access_keys(&owner).await?;
    let items = keys
        .iter()
        .map(|k| {
            Node::Obj(vec![
                ("AccessKeyId", k.id.as_str().into()),
                ("Status", k.status.as_str().into()),
                ("CreateDate", timestamp::format(k.created).into()),
            ])
        })
        .collect();
    Ok(vec![(
        "AccessKeys",
        Node::List {
            item: "AccessKey",
            items,
        },
    )])
}

fn key_id(call: &Call<'_>) -> Result<AccessKeyId, ApiError> {
    // An id that cannot exist is reported as the missing key it is.
    AccessKeyId::parse(required(call.req, "UserAccessKeyId")?).ok_or(ApiError::AccessKeyNotFound)
}

/// `UpdateAccessKey`: Active / Inactive.
pub async fn update(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let id = key_id(call)?;
    let status =
        KeyStatus::parse(required(call.req, "Status")?).ok_or(ApiError::InvalidValue("Status"))?;
    let owner = owner(state, call).await?;
    state
        .store
        .set_access_key_status(&owner, &id, status)
        .await?;
    Ok(vec![])
}

/// `DeleteAccessKey`.
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let id = key_id(call)?;
    let owner = owner(state, call).await?;
    state.store.delete_access_key(&owner, &id).await?;
    Ok(vec![])
}
