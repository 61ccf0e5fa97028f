//! RAM roles: CreateRole, GetRole, UpdateRole, ListRoles, DeleteRole. Role names are unique
//! and looked up regardless of case; responses show a name as it was created.

use super::params::{self, marker, optional, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::{arn, RoleId, RoleName};
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{RoleRecord, RoleUpdate};

/// Roles per account (RAM's current default quota).
pub const MAX_ROLES_PER_ACCOUNT: usize = 1000;
/// Longest `Description`.
const MAX_DESCRIPTION: usize = 1024;

/// What a role response shows besides the common members.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// CreateRole: the trust policy, no update date.
    Created,
    /// GetRole, UpdateRole: everything.
    Full,
    /// ListRoles items: no trust policy.
    Listed,
}

fn role_node(r: &RoleRecord, shape: Shape) -> Node {
    let mut m: Vec<(&'static str, Node)> = vec![
        ("RoleId", r.id.as_str().into()),
        ("RoleName", r.name.as_str().into()),
        ("Arn", arn::role(&r.account, r.name.as_str()).into()),
        ("Description", r.description.as_str().into()),
    ];
    if shape != Shape::Listed {
        m.push(("AssumeRolePolicyDocument", r.trust_policy.as_str().into()));
    }
    m.push(("MaxSessionDuration", r.max_session_duration.into()));
    m.push(("CreateDate", timestamp::format(r.created).into()));
    if shape != Shape::Created {
        m.push(("UpdateDate", timestamp::format(r.updated).into()));
    }
    Node::Obj(m)
}

fn role_name(call: &Call<'_>) -> Result<RoleName, ApiError> {
    params::role_name("RoleName", required(call.req, "RoleName")?)
}

fn description(call: &Call<'_>, name: &'static str) -> Result<Option<String>, ApiError> {
    optional(call.req, name)
        .map(|v| params::text(name, v, MAX_DESCRIPTION))
        .transpose()
}

/// `CreateRole`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = role_name(call)?;
    let trust_policy = params::trust_policy(
        "AssumeRolePolicyDocument",
        required(call.req, "AssumeRolePolicyDocument")?,
    )?;
    let role = RoleRecord {
        account: call.principal.account().clone(),
        id: RoleId::generate(),
        name,
        description: description(call, "Description")?.unwrap_or_default(),
        trust_policy,
        max_session_duration: optional(call.req, "MaxSessionDuration")
            .map(|v| params::session_duration("MaxSessionDuration", v))
            .transpose()?
            .unwrap_or(params::MIN_SESSION_DURATION),
        created: call.now,
        updated: call.now,
    };
    state
        .store
        .create_role(&role, MAX_ROLES_PER_ACCOUNT)
        .await?;
    Ok(vec![("Role", role_node(&role, Shape::Created))])
}

/// `GetRole`.
pub async fn get(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = role_name(call)?;
    let role = state.store.role(call.principal.account(), &name).await?;
    Ok(vec![("Role", role_node(&role, Shape::Full))])
}

/// `UpdateRole`: `NewAssumeRolePolicyDocument`, `NewDescription`, `NewMaxSessionDuration`.
pub async fn update(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = role_name(call)?;
    let update = RoleUpdate {
        trust_policy: optional(call.req, "NewAssumeRolePolicyDocument")
            .map(|v| params::trust_policy("NewAssumeRolePolicyDocument", v))
            .transpose()?,
        description: description(call, "NewDescription")?,
        max_session_duration: optional(call.req, "NewMaxSessionDuration")
            .map(|v| params::session_duration("NewMaxSessionDuration", v))
            .transpose()?,
    };
    let role = state
        .store
        .update_role(call.principal.account(), &name, &update, call.now)
        .await?;
    Ok(vec![("Role", role_node(&role, Shape::Full))])
}

/// `ListRoles`, paged with `Marker` / `MaxItems`, ordered by name regardless of case.
pub async fn list(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let limit = params::max_items(call.req)?;
    let after = marker::decode(call.req)?;
    let page = state
        .store
        .list_roles(call.principal.account(), after.as_deref(), limit)
        .await?;
    Ok(marker::paged(
        &page,
        |r| r.name.as_str(),
        "Roles",
        "Role",
        |r| role_node(r, Shape::Listed),
    ))
}

/// `DeleteRole`; refused while policies are attached to the role.
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = role_name(call)?;
    state
        .store
        .delete_role(call.principal.account(), &name)
        .await?;
    Ok(vec![])
}
