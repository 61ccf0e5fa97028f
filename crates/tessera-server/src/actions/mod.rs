//! The API actions: routing from (Version, Action) to a handler, and the handlers.

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
mod sts;

use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::arn;
use crate::request::ApiRequest;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::{GatewayError, RAM_VERSION, STS_VERSION};
use tessera_store::TargetKind;

/// The products this endpoint serves, told apart by their API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// STS 2015-04-01.
    Sts,
    /// RAM 2015-05-01.
    Ram,
    /// Tessera's own administration API (not Alibaba's): deployment-wide operations.
    Admin,
}

/// The version of Tessera's administration API.
pub const ADMIN_VERSION: &str = "2026-11-01";

impl Product {
    /// The product a `Version` belongs to.
    pub fn from_version(version: &str) -> Option<Product> {
        match version {
            STS_VERSION => Some(Product::Sts),
            RAM_VERSION => Some(Product::Ram),
            ADMIN_VERSION => Some(Product::Admin),
            _ => None,
        }
    }

    /// The service code in policy actions (`sts:AssumeRole`, `ram:CreateUser`).
    pub fn code(self) -> &'static str {
        match self {
            Product::Sts => "sts",
            Product::Admin => "tessera",
            Product::Ram => "ram",
        }
    }

    /// The product's name as Alibaba's troubleshooting links spell it.
    pub fn name(self) -> &'static str {
        match self {
            Product::Sts => "Sts",
            Product::Admin => "Tessera",
            Product::Ram => "Ram",
        }
    }
}

macro_rules! actions {
    ($($product:ident $name:ident $needs_permission:literal,)*) => {
        /// An action this server implements.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The action's wire name.
            pub fn name(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)* }
            }

            /// The product it belongs to.
            pub fn product(self) -> Product {
                match self { $(Action::$name => Product::$product,)* }
            }

            /// Whether a RAM identity needs a permission to call it (GetCallerIdentity needs none).
            pub fn needs_permission(self) -> bool {
                match self { $(Action::$name => $needs_permission,)* }
            }
        }
    };
}

actions! {
    Sts GetCallerIdentity false,
    Sts AssumeRole true,
    Ram RevokeRoleSessions true,
    Ram RevokeUserSessions true,
    Admin CreateAccount true,
    Admin RotateTokenKeys true,
    Admin VerifyIdentityCache true,
    Ram CreateUser true,
    Ram GetUser true,
    Ram UpdateUser true,
    Ram ListUsers true,
    Ram DeleteUser true,
    Ram CreateAccessKey true,
    Ram ListAccessKeys true,
    Ram UpdateAccessKey true,
    Ram DeleteAccessKey true,
    // RAM policies, versions and attachments: add below.
    Ram CreatePolicy true,
    Ram GetPolicy true,
    Ram UpdatePolicyDescription true,
    Ram ListPolicies true,
    Ram DeletePolicy true,
    Ram CreatePolicyVersion true,
    Ram GetPolicyVersion true,
    Ram ListPolicyVersions true,
    Ram SetDefaultPolicyVersion true,
    Ram DeletePolicyVersion true,
    Ram ListEntitiesForPolicy true,
    Ram AttachPolicyToUser true,
    Ram AttachPolicyToGroup true,
    Ram AttachPolicyToRole true,
    Ram DetachPolicyFromUser true,
    Ram DetachPolicyFromGroup true,
    Ram DetachPolicyFromRole true,
    Ram ListPoliciesForUser true,
    Ram ListPoliciesForGroup true,
    Ram ListPoliciesForRole true,

    // RAM groups, roles and login profiles: add below.
    Ram CreateGroup true,
    Ram GetGroup true,
    Ram UpdateGroup true,
    Ram ListGroups true,
    Ram DeleteGroup true,
    Ram AddUserToGroup true,
    Ram RemoveUserFromGroup true,
    Ram ListGroupsForUser true,
    Ram ListUsersForGroup true,
    Ram CreateRole true,
    Ram GetRole true,
    Ram UpdateRole true,
    Ram ListRoles true,
    Ram DeleteRole true,
    Ram CreateLoginProfile true,
    Ram GetLoginProfile true,
    Ram UpdateLoginProfile true,
    Ram DeleteLoginProfile true,
}

impl Action {
    /// Resolves a request's `Version` and `Action` (both case-sensitive, as on the real gateway).
    pub fn resolve(version: &str, action: &str) -> Result<Action, GatewayError> {
        let product = Product::from_version(version).ok_or(GatewayError::InvalidVersion)?;
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.product() == product && a.name() == action)
            .ok_or(GatewayError::InvalidAction)
    }
}

impl Action {
    /// The action as policies name it, e.g. `ram:CreateUser`.
    pub fn auth_action(self) -> String {
        format!("{}:{}", self.product().code(), self.name())
    }

    /// The resources the action touches, as RAM's authorization table names them (spec §11.9),
    /// with the empty region slot of entity ARNs. Each must be allowed. Listing actions use a `*`
    /// name; a missing name parameter leaves the name empty (the action then reports it).
    ///
    /// A name longer than any entity can have is refused here, with the length error the action
    /// itself would give: evaluating wildcard patterns against a megabyte-long resource costs
    /// pattern × input time, so a session policy could otherwise burn a second of CPU per
    /// request.
    pub fn resources(
        self,
        req: &ApiRequest,
        principal: &Principal,
    ) -> Result<Vec<String>, ApiError> {
        use Action::*;
        let account = principal.account();
        for (name, max) in NAME_LIMITS {
            if req.param(name).is_some_and(|v| v.chars().count() > max) {
                return Err(if name == "RoleArn" {
                    ApiError::StsInvalidParameter {
                        name,
                        message: "The parameter RoleArn is wrongly formed.",
                    }
                } else {
                    ApiError::InvalidLength(name)
                });
            }
        }
        let param = |name: &str| req.param(name).unwrap_or("").to_string();
        let user = |name: &str| format!("acs:ram::{account}:user/{name}");
        let group = |name: &str| format!("acs:ram::{account}:group/{name}");
        let role = |name: &str| format!("acs:ram::{account}:role/{name}");
        let policy = || match req.param("PolicyType") {
            Some("System") => arn::policy(None, &param("PolicyName")),
            _ => arn::policy(Some(account), &param("PolicyName")),
        };
        // AccessKey actions without UserName act on the caller's own keys.
        let key_owner = || match (req.param("UserName"), principal) {
            (Some(n), _) => user(n),
            (None, Principal::User { name, .. }) => user(name.as_str()),
            (None, Principal::Root { .. }) => arn::root(account),
            (None, Principal::Session { .. }) => user(""),
        };
        Ok(match self {
            GetCallerIdentity => vec![],
            RevokeRoleSessions => vec![role(&param("RoleName"))],
            RevokeUserSessions => vec![user(&param("UserName"))],
            // Operator-only: never granted by a policy.
            CreateAccount | RotateTokenKeys | VerifyIdentityCache => vec![],
            // The target role, normalised; an unparsable ARN is evaluated as given (and then
            // refused by the action's own validation if allowed at all).
            AssumeRole => vec![sts::parse_role_arn(&param("RoleArn"))
                .map(|(a, n)| format!("acs:ram::{a}:role/{n}"))
                .unwrap_or_else(|| param("RoleArn"))],
            CreateUser | GetUser | UpdateUser | DeleteUser | ListPoliciesForUser => {
                vec![user(&param("UserName"))]
            }
            ListUsers => vec![user("*")],
            CreateAccessKey | ListAccessKeys | UpdateAccessKey | DeleteAccessKey => {
                vec![key_owner()]
            }
            CreatePolicy
            | GetPolicy
            | UpdatePolicyDescription
            | DeletePolicy
            | CreatePolicyVersion
            | GetPolicyVersion
            | ListPolicyVersions
            | SetDefaultPolicyVersion
            | DeletePolicyVersion
            | ListEntitiesForPolicy => vec![policy()],
            ListPolicies => vec![arn::policy(Some(account), "*")],
            AttachPolicyToUser | DetachPolicyFromUser => vec![policy(), user(&param("UserName"))],
            AttachPolicyToGroup | DetachPolicyFromGroup => {
                vec![policy(), group(&param("GroupName"))]
            }
            AttachPolicyToRole | DetachPolicyFromRole => vec![policy(), role(&param("RoleName"))],
            ListPoliciesForGroup => vec![group(&param("GroupName"))],
            ListPoliciesForRole => vec![role(&param("RoleName"))],
            // Groups, roles and login profiles. Membership changes touch both the group and the
            // user, so both must be allowed.
            CreateGroup | GetGroup | UpdateGroup | DeleteGroup | ListUsersForGroup => {
                vec![group(&param("GroupName"))]
            }
            ListGroups => vec![group("*")],
            AddUserToGroup | RemoveUserFromGroup => {
                vec![group(&param("GroupName")), user(&param("UserName"))]
            }
            ListGroupsForUser | CreateLoginProfile | GetLoginProfile | UpdateLoginProfile
            | DeleteLoginProfile => vec![user(&param("UserName"))],
            CreateRole | GetRole | UpdateRole | DeleteRole => vec![role(&param("RoleName"))],
            ListRoles => vec![role("*")],
        })
    }
}

/// The longest value each parameter that names a resource can have (spec §11: user, group and
/// role names 64 characters, policy names 128; a role ARN is a 16-digit account and such a name
/// in a fixed frame, far below 256).
const NAME_LIMITS: [(&str, usize); 5] = [
    ("UserName", 64),
    ("GroupName", 64),
    ("RoleName", 64),
    ("PolicyName", 128),
    ("RoleArn", 256),
];

/// What a handler gets: the caller, the request, and the time it is served at.
pub struct Call<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The caller's STS session, when it signed with one.
    pub session: Option<&'a crate::authn::Session>,
    /// The request (parameters).
    pub req: &'a ApiRequest,
    /// Now, Unix seconds, from the server's clock.
    pub now: i64,
}

/// The members of a success body after `RequestId`.
pub type Fields = Vec<(&'static str, Node)>;

/// Runs an action.
pub async fn run(action: Action, state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    match action {
        Action::GetCallerIdentity => Ok(sts::get_caller_identity(call)),
        Action::AssumeRole => sts::assume_role(state, call).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        assert_eq!(
            Action::resolve("2015-04-01", "GetCallerIdentity"),
            Ok(Action::GetCallerIdentity)
        );
        assert_eq!(
            Action::resolve("2015-05-01", "CreateUser"),
            Ok(Action::CreateUser)
        );
        assert_eq!(
            Action::resolve("2015-05-01", "GetCallerIdentity"),
            Err(GatewayError::InvalidAction)
        );
        assert_eq!(
            Action::resolve("2015-04-01", "getcalleridentity"),
            Err(GatewayError::InvalidAction)
        );
        assert_eq!(
            Action::resolve("2014-01-01", "CreateUser"),
            Err(GatewayError::InvalidVersion)
        );
    }
}
