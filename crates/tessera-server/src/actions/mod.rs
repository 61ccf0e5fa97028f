//! The action handlers, and [`run`], which calls the one an [`Action`] names.

mod admin;
mod params;
mod ram_attachments;
mod ram_groups;
mod ram_keys;
mod ram_login;
mod ram_policies;
mod ram_roles;
mod ram_sessions;
mod ram_users;
pub mod sts;

pub use ram_keys::MAX_KEYS_PER_OWNER;

use crate::catalog::Action;
use crate::error::ApiError;
use crate::principal::Principal;
use crate::request::ApiRequest;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_store::TargetKind;

/// What a handler gets: the caller, the request, and the time it is served at.
pub struct Call<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The caller's STS session, when it signed with one.
    pub session: Option<&'a crate::authn::Session>,
    /// The request (parameters).
    pub req: &'a ApiRequest<'a>,
    /// Now, Unix seconds, from the server's clock.
    pub now: i64,
}

/// The members of a success body after `RequestId`.
pub type Fields = Vec<(&'static str, Node)>;

/// What a handler answers with.
pub enum Reply {
    /// The members of the success body, built as a tree.
    Fields(Fields),
    /// GetCallerIdentity's answer, rendered straight from the caller: the hottest action builds
    /// nothing.
    CallerIdentity,
    /// AssumeRole's answer, rendered straight from the session it sealed.
    AssumedRole(Box<sts::AssumedRole>),
}

/// Runs an action.
pub async fn run(action: Action, state: &AppState, call: &Call<'_>) -> Result<Reply, ApiError> {
    match action {
        Action::GetCallerIdentity => Ok(Reply::CallerIdentity),
        Action::AssumeRole => sts::assume_role(state, call).await,
        _ => handle(action, state, call).await.map(Reply::Fields),
    }
}

async fn handle(action: Action, state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    match action {
        Action::GetCallerIdentity | Action::AssumeRole => Err(ApiError::Internal(anyhow::anyhow!(
            "{} has a reply of its own",
            action.name()
        ))),
        Action::RevokeRoleSessions => ram_sessions::revoke_role(state, call).await,
        Action::RevokeUserSessions => ram_sessions::revoke_user(state, call).await,
        Action::CreateAccount => admin::create_account(state, call).await,
        Action::RotateTokenKeys => admin::rotate_token_keys(state, call).await,
        Action::VerifyIdentityCache => admin::verify_identity_cache(state).await,
        Action::CreateUser => ram_users::create(state, call).await,
        Action::GetUser => ram_users::get(state, call).await,
        Action::UpdateUser => ram_users::update(state, call).await,
        Action::ListUsers => ram_users::list(state, call).await,
        Action::DeleteUser => ram_users::delete(state, call).await,
        Action::CreateAccessKey => ram_keys::create(state, call).await,
        Action::ListAccessKeys => ram_keys::list(state, call).await,
        Action::UpdateAccessKey => ram_keys::update(state, call).await,
        Action::DeleteAccessKey => ram_keys::delete(state, call).await,
        // RAM policies, versions and attachments: add below.
        Action::CreatePolicy => ram_policies::create(state, call).await,
        Action::GetPolicy => ram_policies::get(state, call).await,
        Action::UpdatePolicyDescription => ram_policies::update_description(state, call).await,
        Action::ListPolicies => ram_policies::list(state, call).await,
        Action::DeletePolicy => ram_policies::delete(state, call).await,
        Action::CreatePolicyVersion => ram_policies::create_version(state, call).await,
        Action::GetPolicyVersion => ram_policies::get_version(state, call).await,
        Action::ListPolicyVersions => ram_policies::list_versions(state, call).await,
        Action::SetDefaultPolicyVersion => ram_policies::set_default_version(state, call).await,
        Action::DeletePolicyVersion => ram_policies::delete_version(state, call).await,
        Action::ListEntitiesForPolicy => ram_policies::list_entities(state, call).await,
        Action::AttachPolicyToUser => ram_attachments::attach(state, call, TargetKind::User).await,
        Action::AttachPolicyToGroup => {
            ram_attachments::attach(state, call, TargetKind::Group).await
        }
        Action::AttachPolicyToRole => ram_attachments::attach(state, call, TargetKind::Role).await,
        Action::DetachPolicyFromUser => {
            ram_attachments::detach(state, call, TargetKind::User).await
        }
        Action::DetachPolicyFromGroup => {
            ram_attachments::detach(state, call, TargetKind::Group).await
        }
        Action::DetachPolicyFromRole => {
            ram_attachments::detach(state, call, TargetKind::Role).await
        }
        Action::ListPoliciesForUser => ram_attachments::list(state, call, TargetKind::User).await,
        Action::ListPoliciesForGroup => ram_attachments::list(state, call, TargetKind::Group).await,
        Action::ListPoliciesForRole => ram_attachments::list(state, call, TargetKind::Role).await,
        // RAM groups, roles and login profiles: add below.
        Action::CreateGroup => ram_groups::create(state, call).await,
        Action::GetGroup => ram_groups::get(state, call).await,
        Action::UpdateGroup => ram_groups::update(state, call).await,
        Action::ListGroups => ram_groups::list(state, call).await,
        Action::DeleteGroup => ram_groups::delete(state, call).await,
        Action::AddUserToGroup => ram_groups::add_user(state, call).await,
        Action::RemoveUserFromGroup => ram_groups::remove_user(state, call).await,
        Action::ListGroupsForUser => ram_groups::list_for_user(state, call).await,
        Action::ListUsersForGroup => ram_groups::list_users(state, call).await,
        Action::CreateRole => ram_roles::create(state, call).await,
        Action::GetRole => ram_roles::get(state, call).await,
        Action::UpdateRole => ram_roles::update(state, call).await,
        Action::ListRoles => ram_roles::list(state, call).await,
        Action::DeleteRole => ram_roles::delete(state, call).await,
        Action::CreateLoginProfile => ram_login::create(state, call).await,
        Action::GetLoginProfile => ram_login::get(state, call).await,
        Action::UpdateLoginProfile => ram_login::update(state, call).await,
        Action::DeleteLoginProfile => ram_login::delete(state, call).await,
    }
}
