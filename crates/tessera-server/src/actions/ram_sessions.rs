//! Ending sessions early — actions of ours in RAM's style (Alibaba has no such API): every STS
//! session of a role, or every session a user started (including sessions chained from it),
//! issued up to now is refused from the next request on. Authorized like any RAM action
//! (`ram:RevokeRoleSessions`, `ram:RevokeUserSessions`).

use super::params::required;
use super::{Call, Fields};
use crate::error::ApiError;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::TargetKind;

async fn revoke(
    state: &AppState,
    call: &Call<'_>,
    kind: TargetKind,
    param: &'static str,
) -> Result<Fields, ApiError> {
    let name = required(call.req, param)?;
    let target = state
        .store
        .resolve_target(call.principal.account(), kind, name)
        .await?;
    state
        .store
        .revoke_sessions(call.principal.account(), &target, call.now)
        .await?;
    Ok(vec![(
        "RevokedBefore",
        Node::Str(timestamp::format(call.now + 1)),
    )])
}

/// `RevokeRoleSessions` (RoleName).
pub async fn revoke_role(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    revoke(state, call, TargetKind::Role, "RoleName").await
}

/// `RevokeUserSessions` (UserName).
pub async fn revoke_user(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    revoke(state, call, TargetKind::User, "UserName").await
}
