//! The catalogue of what this endpoint serves: the products (told apart by their API
//! version) and every action with its wire name, its product and whether a RAM identity needs a
//! permission to call it. It sits at the bottom of the server: authentication resolves a
//! request's action here, authorization names the action as policies do, and the handlers are
//! chosen by it; it imports none of them.

use tessera_protocol::{GatewayError, RAM_VERSION, STS_VERSION};

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

/// The service code of a product in policy actions; must agree with [`Product::code`].
macro_rules! product_code {
    (Sts) => {
        "sts"
    };
    (Ram) => {
        "ram"
    };
    (Admin) => {
        "tessera"
    };
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

            /// The action as policies name it, e.g. `ram:CreateUser` (a constant: authorization
            /// reads it on every request).
            pub fn auth_action(self) -> &'static str {
                match self { $(Action::$name => concat!(product_code!($product), ":", stringify!($name)),)* }
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

/// The longest value each parameter that names a resource can have (spec §11: user, group and
/// role names 64 characters, policy names 128; a role ARN is a 16-digit account and such a name
/// in a fixed frame, far below 256).
pub const NAME_LIMITS: [(&str, usize); 5] = [
    ("UserName", 64),
    ("GroupName", 64),
    ("RoleName", 64),
    ("PolicyName", 128),
    ("RoleArn", 256),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_agree_with_the_product_codes() {
        for a in Action::ALL {
            assert_eq!(
                a.auth_action(),
                format!("{}:{}", a.product().code(), a.name())
            );
        }
    }

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
