//! Every error the server can answer with, and the one place where each becomes its wire form
//! (HTTP status, Code, Message) as the real service sends it.

use tessera_protocol::render::Node;
use tessera_protocol::{GatewayError, WireError};
use tessera_store::{Conflict, Entity, PolicyInUse, StoreError, TargetKind};

/// Why a RAM identity was refused, as `AccessDeniedDetail` tells the client (spec §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenied {
    /// The action evaluated, e.g. `ram:CreateUser`.
    pub auth_action: String,
    /// `SubUser`, `AssumedRoleUser` or `Federated`.
    pub principal_type: &'static str,
    /// The principal's account.
    pub owner_id: String,
    /// The user id, or `RoleName:RoleSessionName`.
    pub display_name: String,
    /// An explicit Deny (rather than no Allow) decided.
    pub explicit: bool,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Authentication, routing and common-parameter errors.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The caller may not perform the action; for a RAM identity, why.
    #[error("not authorized")]
    NoPermission(Option<Box<AccessDenied>>),
    /// A required action parameter is absent.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// A name-like parameter holds characters outside its alphabet.
    #[error("parameter {0} contains invalid characters")]
    InvalidChars(&'static str),
    /// A parameter is too long (or empty where it must not be).
    #[error("parameter {0} has an invalid length")]
    InvalidLength(&'static str),
    /// A parameter does not have the documented format (e-mail, phone).
    #[error("parameter {0} is not well formatted")]
    InvalidFormat(&'static str),
    /// A parameter has a value outside the documented set or range.
    #[error("parameter {0} is incorrect")]
    InvalidValue(&'static str),
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// No such AccessKey for that owner.
    #[error("access key not found")]
    AccessKeyNotFound,
    /// The user name is taken.
    #[error("user exists")]
    UserExists,
    /// The account has as many users as it may.
    #[error("user limit")]
    UserLimit,
    /// The owner has as many AccessKeys as it may.
    #[error("access key limit")]
    AccessKeyLimit,
    /// A user cannot be deleted while it has AccessKeys.
    #[error("user has access keys")]
    UserHasAccessKeys,
    /// The account root's last active AccessKey may be neither deleted nor disabled.
    #[error("last active root access key")]
    LastActiveRootKey,
    // Policies, versions and attachments: add below.
    /// A policy document failed the grammar check; the message says what and where.
    #[error("malformed policy document: {0}")]
    MalformedPolicyDocument(String),
    /// No such policy (of the given type).
    #[error("policy not found")]
    PolicyNotFound,
    /// A custom policy of that name exists.
    #[error("policy exists")]
    PolicyExists,
    /// The account has as many custom policies as it may.
    #[error("policy limit")]
    PolicyLimit,
    /// No such policy version.
    #[error("policy version not found")]
    PolicyVersionNotFound,
    /// The policy has as many versions as it may.
    #[error("policy version limit")]
    PolicyVersionLimit,
    /// The policy is attached, or has other versions.
    #[error("policy in use")]
    PolicyInUse(PolicyInUse),
    /// The default version cannot be deleted.
    #[error("default policy version")]
    DefaultPolicyVersion,
    /// The policy is already attached to that user, group or role.
    #[error("already attached")]
    AttachmentExists(TargetKind),
    /// The policy is not attached to that user, group or role.
    #[error("not attached")]
    AttachmentNotFound(TargetKind),
    /// The user, group or role has as many policies of that type as it may.
    #[error("attachment limit")]
    AttachmentLimit(TargetKind),
    /// No such group.
    #[error("group not found")]
    GroupNotFound,
    /// No such role.
    #[error("role not found")]
    RoleNotFound,
    /// A user cannot be deleted while policies are attached to it.
    #[error("user has policies")]
    UserHasPolicies,

    // STS.
    /// An STS parameter is malformed; STS words each message itself.
    #[error("invalid STS parameter {name}")]
    StsInvalidParameter {
        /// The parameter, e.g. `RoleSessionName` (code `InvalidParameter.<name>`).
        name: &'static str,
        /// STS's message for it.
        message: &'static str,
    },
    /// The account root may not assume roles.
    #[error("root cannot assume roles")]
    RootCannotAssumeRole,
    /// The role's trust policy does not admit the caller.
    #[error("role does not trust the caller")]
    RoleNotTrusted,
    /// AssumeRole names a role that does not exist.
    #[error("no such role to assume")]
    StsRoleNotFound,
    /// A role session at the deepest chain allowed tried to assume another role.
    #[error("role chain too deep")]
    RoleChainTooDeep {
        /// The most sessions a chain may hold.
        limit: u8,
    },

    // Groups, roles and login profiles: add below.
    /// The group name is taken.
    #[error("group exists")]
    GroupExists,
    /// The account has as many groups as it may.
    #[error("group limit")]
    GroupLimit,
    /// The user is already a member of the group.
    #[error("user already in group")]
    UserAlreadyInGroup,
    /// The user is not a member of the group.
    #[error("user not in group")]
    UserNotInGroup,
    /// The user has joined as many groups as it may.
    #[error("groups per user limit")]
    UserGroupLimit,
    /// A group cannot be deleted while it has members.
    #[error("group has members")]
    GroupHasUsers,
    /// A group cannot be deleted while policies are attached to it.
    #[error("group has policies")]
    GroupHasPolicies,
    /// The role name is taken (in any case).
    #[error("role exists")]
    RoleExists,
    /// The account has as many roles as it may.
    #[error("role limit")]
    RoleLimit,
    /// A role cannot be deleted while policies are attached to it.
    #[error("role has policies")]
    RoleHasPolicies,
    /// The user has no login profile.
    #[error("login profile not found")]
    LoginProfileNotFound,
    /// The user already has a login profile.
    #[error("login profile exists")]
    LoginProfileExists,
    /// A password breaks the password policy.
    #[error("password too weak")]
    PasswordTooWeak,
    /// A user cannot be deleted while it is a member of a group.
    #[error("user is in a group")]
    UserInGroup,
    /// A user cannot be deleted while it has a login profile.
    #[error("user has a login profile")]
    UserHasLoginProfile,
    /// A failure inside the server; logged with its cause, answered without it.
    #[error("internal: {0:#}")]
    Internal(anyhow::Error),
}

impl From<crate::password::HashError> for ApiError {
    fn from(e: crate::password::HashError) -> Self {
        match e {
            // Too many hashes running and waiting: the service as a whole is at its limit.
            crate::password::HashError::Busy => ApiError::Gateway(GatewayError::Throttling),
            crate::password::HashError::Failed(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Groups, roles and login profiles.
            StoreError::AlreadyExists(Entity::Group) => ApiError::GroupExists,
            StoreError::LimitExceeded(Entity::Group) => ApiError::GroupLimit,
            StoreError::NotFound(Entity::GroupMembership) => ApiError::UserNotInGroup,
            StoreError::AlreadyExists(Entity::GroupMembership) => ApiError::UserAlreadyInGroup,
            StoreError::LimitExceeded(Entity::GroupMembership) => ApiError::UserGroupLimit,
            StoreError::AlreadyExists(Entity::Role) => ApiError::RoleExists,
            StoreError::LimitExceeded(Entity::Role) => ApiError::RoleLimit,
            StoreError::NotFound(Entity::LoginProfile) => ApiError::LoginProfileNotFound,
            StoreError::AlreadyExists(Entity::LoginProfile) => ApiError::LoginProfileExists,
            StoreError::DeleteConflict(c) => match c {
                Conflict::GroupHasUsers => ApiError::GroupHasUsers,
                Conflict::GroupHasPolicies => ApiError::GroupHasPolicies,
                Conflict::RoleHasPolicies => ApiError::RoleHasPolicies,
                Conflict::UserInGroup => ApiError::UserInGroup,
                Conflict::UserHasLoginProfile => ApiError::UserHasLoginProfile,
            },
            StoreError::NotFound(Entity::User) => ApiError::UserNotFound,
            StoreError::NotFound(Entity::AccessKey) => ApiError::AccessKeyNotFound,
            StoreError::AlreadyExists(Entity::User) => ApiError::UserExists,
            StoreError::LimitExceeded(Entity::User) => ApiError::UserLimit,
            StoreError::LimitExceeded(Entity::AccessKey) => ApiError::AccessKeyLimit,
            StoreError::UserHasAccessKeys => ApiError::UserHasAccessKeys,
            StoreError::LastActiveRootKey => ApiError::LastActiveRootKey,
            StoreError::NotFound(Entity::Policy) => ApiError::PolicyNotFound,
            StoreError::NotFound(Entity::PolicyVersion) => ApiError::PolicyVersionNotFound,
            StoreError::NotFound(Entity::Attachment(kind)) => ApiError::AttachmentNotFound(kind),
            StoreError::NotFound(Entity::Group) => ApiError::GroupNotFound,
            StoreError::NotFound(Entity::Role) => ApiError::RoleNotFound,
            StoreError::AlreadyExists(Entity::Policy) => ApiError::PolicyExists,
            StoreError::AlreadyExists(Entity::Attachment(kind)) => ApiError::AttachmentExists(kind),
            StoreError::LimitExceeded(Entity::Policy) => ApiError::PolicyLimit,
            StoreError::LimitExceeded(Entity::PolicyVersion) => ApiError::PolicyVersionLimit,
            StoreError::LimitExceeded(Entity::Attachment(kind)) => ApiError::AttachmentLimit(kind),
            StoreError::PolicyInUse(what) => ApiError::PolicyInUse(what),
            StoreError::DefaultPolicyVersion => ApiError::DefaultPolicyVersion,
            StoreError::UserHasPolicies => ApiError::UserHasPolicies,
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl ApiError {
    /// The error as it goes on the wire.
    pub fn to_wire(&self) -> WireError {
        use ApiError::*;
        match self {
            Gateway(g) => g.to_wire(),
            NoPermission(detail) => {
                // RAM's own wording is shorter than the gateway's (spec §11 vs §8.1).
                let ram = detail
                    .as_ref()
                    .is_some_and(|d| d.auth_action.starts_with("ram:"));
                let message = if ram {
                    "You are not authorized to do this action."
                } else {
                    "You are not authorized to do this action. You should be authorized by RAM."
                };
                let mut w = WireError::new(403, "NoPermission", message);
                if let Some(d) = detail {
                    w.extra.push((
                        "AccessDeniedDetail",
                        Node::Obj(vec![
                            ("AuthAction", d.auth_action.as_str().into()),
                            ("AuthPrincipalType", d.principal_type.into()),
                            ("AuthPrincipalOwnerId", d.owner_id.as_str().into()),
                            ("AuthPrincipalDisplayName", d.display_name.as_str().into()),
                            (
                                "NoPermissionType",
                                if d.explicit {
                                    "ExplicitDeny"
                                } else {
                                    "ImplicitDeny"
                                }
                                .into(),
                            ),
                            ("PolicyType", "AccountLevelIdentityBasedPolicy".into()),
                        ]),
                    ));
                }
                w
            }
            MissingParameter(name) => GatewayError::MissingParameter(name).to_wire(),
            InvalidChars(name) => WireError::new(
                400,
                format!("InvalidParameter.{name}.InvalidChars"),
                format!("The parameter - \"{name}\" contains invalid chars."),
            ),
            InvalidLength(name) => WireError::new(
                400,
                format!("InvalidParameter.{name}.Length"),
                format!("The parameter - \"{name}\" beyond the length limit."),
            ),
            InvalidFormat(name) => WireError::new(
                400,
                format!("InvalidParameter.{name}.Format"),
                format!("The format of the parameter - \"{name}\" is incorrect."),
            ),
            InvalidValue(name) => WireError::new(
                400,
                format!("InvalidParameter.{name}"),
                format!("The parameter - \"{name}\" is incorrect."),
            ),
            UserNotFound => WireError::new(404, "EntityNotExist.User", "The user does not exist."),
            AccessKeyNotFound => WireError::new(
                404,
                "EntityNotExist.User.AccessKey",
                "The user access key does not exist.",
            ),
            UserExists => WireError::new(
                409,
                "EntityAlreadyExists.User",
                "The user does already EXIST.",
            ),
            UserLimit => WireError::new(
                409,
                "LimitExceeded.User",
                "The count of users beyond the current limits.",
            ),
            AccessKeyLimit => WireError::new(
                409,
                "LimitExceeded.User.AccessKey",
                "The access key count of the user access keys beyond the current limits.",
            ),
            UserHasAccessKeys => WireError::new(
                409,
                "DeleteConflict.User.AccessKey",
                "The user CAN NOT has any access key while deleting the user.",
            ),
            // Undocumented (RAM cannot lock its root out: the console remains); a conflict
            // with the account's state, worded as RAM words its conflicts.
            LastActiveRootKey => WireError::new(
                409,
                "Conflict.LastActiveRootAccessKey",
                "The last active access key of the account CAN NOT be deleted or disabled; create another access key first.",
            ),
            // Policies, versions and attachments: add below.
            MalformedPolicyDocument(detail) => {
                WireError::new(400, "MalformedPolicyDocument", detail.clone())
            }
            PolicyNotFound => {
                WireError::new(404, "EntityNotExist.Policy", "The policy does not exist.")
            }
            PolicyExists => WireError::new(
                409,
                "EntityAlreadyExists.Policy",
                "The policy does already EXIST.",
            ),
            PolicyLimit => WireError::new(
                409,
                "LimitExceeded.Policy",
                "The count of policies beyond the current limits.",
            ),
            PolicyVersionNotFound => WireError::new(
                404,
                "EntityNotExist.Policy.Version",
                "The policy version does not exist.",
            ),
            PolicyVersionLimit => WireError::new(
                409,
                "LimitExceeded.Policy.Version",
                "The count of versions of the policy beyond the current limits.",
            ),
            PolicyInUse(what) => {
                let (code, message) = match what {
                    tessera_store::PolicyInUse::User => (
                        "DeleteConflict.Policy.User",
                        "The policy CAN NOT be attached to any user while deleting the policy.",
                    ),
                    tessera_store::PolicyInUse::Group => (
                        "DeleteConflict.Policy.Group",
                        "The policy CAN NOT be attached to any group while deleting the policy.",
                    ),
                    tessera_store::PolicyInUse::Role => (
                        "DeleteConflict.Policy.Role",
                        "The policy CAN NOT be attached to any role while deleting the policy.",
                    ),
                    tessera_store::PolicyInUse::Versions => (
                        "DeleteConflict.Policy.Version",
                        "The policy CAN NOT has any version except the default version.",
                    ),
                };
                WireError::new(409, code, message)
            }
            DefaultPolicyVersion => WireError::new(
                409,
                "DeleteConflict.Policy.Version.Default",
                "The default policy version CAN NOT been deleted directly.",
            ),
            AttachmentExists(kind) => WireError::new(
                409,
                format!("EntityAlreadyExists.{}.Policy", kind.as_str()),
                format!(
                    "The {} has already been attached this policy.",
                    kind.as_str().to_ascii_lowercase()
                ),
            ),
            AttachmentNotFound(kind) => WireError::new(
                404,
                format!("EntityNotExist.{}.Policy", kind.as_str()),
                format!(
                    "The indicate policy of the {} does not exist.",
                    kind.as_str().to_ascii_lowercase()
                ),
            ),
            AttachmentLimit(kind) => WireError::new(
                409,
                format!("LimitExceeded.{}.Policy", kind.as_str()),
                format!(
                    "The count of policies attached to the {} beyond the current limits.",
                    kind.as_str().to_ascii_lowercase()
                ),
            ),
            GroupNotFound => {
                WireError::new(404, "EntityNotExist.Group", "The group does not exist.")
            }
            RoleNotFound => WireError::new(404, "EntityNotExist.Role", "The role does not exist."),
            UserHasPolicies => WireError::new(
                409,
                "DeleteConflict.User.Policy",
                "The user CAN NOT has any attached policy while deleting the user.",
            ),

            // STS.
            StsInvalidParameter { name, message } => WireError::new(400, format!("InvalidParameter.{name}"), *message),
            RootCannotAssumeRole => WireError::new(403, "NoPermission", "Roles may not be assumed by root accounts."),
            RoleNotTrusted => WireError::new(
                403,
                "NoPermission",
                "No permission perform sts:AssumeRole on this Role. Maybe you are not authorized to perform sts:AssumeRole or the specified role does not trust you",
            ),
            StsRoleNotFound => WireError::new(404, "EntityNotExist.Role", "The specified Role not exists."),
            // Refused for who the caller is, like the root's AssumeRole: NoPermission.
            RoleChainTooDeep { limit } => WireError::new(
                403,
                "NoPermission",
                format!("Role chaining is limited to {limit} sessions; this role session may not assume another role."),
            ),

            // Groups, roles and login profiles: add below.
            GroupExists => WireError::new(
                409,
                "EntityAlreadyExists.Group",
                "The group does already EXIST.",
            ),
            GroupLimit => WireError::new(
                409,
                "LimitExceeded.Group",
                "The count of groups beyond the current limits.",
            ),
            UserAlreadyInGroup => WireError::new(
                409,
                "EntityAlreadyExists.User.Group",
                "The user has already joined the group.",
            ),
            UserNotInGroup => WireError::new(
                404,
                "EntityNotExist.User.Group",
                "The user has not joined the group.",
            ),
            UserGroupLimit => WireError::new(
                409,
                "LimitExceeded.User.Group",
                "The count of groups the target user joined beyond the current limits.",
            ),
            GroupHasUsers => WireError::new(
                409,
                "DeleteConflict.Group.User",
                "The group CAN NOT has any user member while deleting the group.",
            ),
            GroupHasPolicies => WireError::new(
                409,
                "DeleteConflict.Group.Policy",
                "The entity CAN NOT has any attached policy while deleting the group.",
            ),
            RoleExists => WireError::new(
                409,
                "EntityAlreadyExists.Role",
                "The role does already EXIST.",
            ),
            RoleLimit => WireError::new(
                409,
                "LimitExceeded.Role",
                "The count of roles beyond the current limits.",
            ),
            RoleHasPolicies => WireError::new(
                409,
                "DeleteConflict.Role.Policy",
                "The role CAN NOT has any attached policy while deleting the role.",
            ),
            LoginProfileNotFound => WireError::new(
                404,
                "EntityNotExist.User.LoginProfile",
                "The user login profile does not exist.",
            ),
            LoginProfileExists => WireError::new(
                409,
                "EntityAlreadyExists.User.LoginProfile",
                "The user login profile does already EXIST.",
            ),
            PasswordTooWeak => WireError::new(
                400,
                "InvalidParameter.Password.TooWeak",
                "The parameter - \"Password\" is not compliant with the password policy.",
            ),
            UserInGroup => WireError::new(
                409,
                "DeleteConflict.User.Group",
                "The user CAN NOT be in any group while deleting the user.",
            ),
            UserHasLoginProfile => WireError::new(
                409,
                "DeleteConflict.User.LoginProfile",
                "The user CAN NOT has any login profile while deleting the user.",
            ),
            Internal(_) => GatewayError::InternalError.to_wire(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::Internal(anyhow::anyhow!("disk /var/lib/x exploded"));
        let w = e.to_wire();
        assert_eq!((w.status, w.code.as_ref()), (500, "InternalError"));
        assert!(!w.message.contains("disk"));
    }

    #[test]
    fn parameter_errors() {
        let w = ApiError::InvalidChars("UserName").to_wire();
        assert_eq!(w.code, "InvalidParameter.UserName.InvalidChars");
        assert_eq!(
            w.message,
            "The parameter - \"UserName\" contains invalid chars."
        );
        assert_eq!(
            ApiError::from(StoreError::UserHasAccessKeys)
                .to_wire()
                .status,
            409
        );
    }

    #[test]
    fn password_hashing_at_capacity_is_throttling() {
        let w = ApiError::from(crate::password::HashError::Busy).to_wire();
        assert_eq!(
            (w.status, w.code.as_ref(), w.message.as_ref()),
            (
                400,
                "Throttling",
                "Request was denied due to request throttling."
            )
        );
    }
}
