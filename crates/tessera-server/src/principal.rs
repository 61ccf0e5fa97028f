//! Who is calling: an account root, a RAM user, or an STS session of a role. Authentication
//! produces one; authorization, the handlers and the identity cache read it.

use crate::ids::{AccountId, UserId, UserName};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root (its own AccessKey).
    Root {
        /// The account.
        account: AccountId,
    },
    /// A RAM user.
    User {
        /// The user's account.
        account: AccountId,
        /// The user's id.
        id: UserId,
        /// The user's current name.
        name: UserName,
    },
    /// An STS session of a role.
    Session {
        /// The role's account.
        account: AccountId,
        /// The role's id.
        role_id: String,
        /// The role's name as created.
        role_name: String,
        /// RoleSessionName.
        session_name: String,
    },
}

impl Principal {
    /// The principal's account.
    pub fn account(&self) -> &AccountId {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::Session { account, .. } => account,
        }
    }
}
