//! RAM console login profiles: CreateLoginProfile, GetLoginProfile, UpdateLoginProfile,
//! DeleteLoginProfile. Passwords are checked against the password policy, hashed
//! ([`crate::password::Passwords`], a bounded number at a time) and dropped; no response ever carries a password or its hash.

use super::params::{self, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::UserName;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{LoginProfileRecord, LoginProfileUpdate, NewLoginProfile};

fn profile_node(p: &LoginProfileRecord) -> Node {
    Node::Obj(vec![
        ("UserName", p.user_name.as_str().into()),
        ("PasswordResetRequired", p.password_reset_required.into()),
        ("MFABindRequired", p.mfa_bind_required.into()),
        ("CreateDate", timestamp::format(p.created).into()),
    ])
}

fn user_name(call: &Call<'_>) -> Result<UserName, ApiError> {
    params::user_name("UserName", required(call.req, "UserName")?)
}

/// `CreateLoginProfile`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let user = user_name(call)?;
    let password = params::new_password(required(call.req, "Password")?)?;
    let reset = params::boolean(call.req, "PasswordResetRequired")?.unwrap_or(false);
    let mfa = params::boolean(call.req, "MFABindRequired")?.unwrap_or(false);
    let profile = NewLoginProfile {
        password_hash: state.passwords.hash(password).await?,
        password_reset_required: reset,
        mfa_bind_required: mfa,
        created: call.now,
    };
    let record = state
        .store
        .create_login_profile(call.principal.account(), &user, &profile)
        .await?;
    Ok(vec![("LoginProfile", profile_node(&record))])
}

/// `GetLoginProfile`.
pub async fn get(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let user = user_name(call)?;
    let record = state
        .store
        .login_profile(call.principal.account(), &user)
        .await?;
    Ok(vec![("LoginProfile", profile_node(&record))])
}

/// `UpdateLoginProfile`: optional `Password`, `PasswordResetRequired`, `MFABindRequired`;
/// answers with nothing but the request id, as the real API does.
pub async fn update(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let user = user_name(call)?;
    let password = params::optional(call.req, "Password")
        .map(params::new_password)
        .transpose()?;
    let reset = params::boolean(call.req, "PasswordResetRequired")?;
    let mfa = params::boolean(call.req, "MFABindRequired")?;
    let password_hash = match password {
        Some(p) => Some(state.passwords.hash(p).await?),
        None => None,
    };
    let update = LoginProfileUpdate {
        password_hash,
        password_reset_required: reset,
        mfa_bind_required: mfa,
    };
    state
        .store
        .update_login_profile(call.principal.account(), &user, &update, call.now)
        .await?;
    Ok(vec![])
}

/// `DeleteLoginProfile`.
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let user = user_name(call)?;
    state
        .store
        .delete_login_profile(call.principal.account(), &user)
        .await?;
    Ok(vec![])
}
