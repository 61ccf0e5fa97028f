//! Authorization. Until the policy engine exists, the account root may do everything and a RAM
//! user may only call actions that need no permission (GetCallerIdentity); everything else is
//! refused with the real `NoPermission`.

use crate::actions::{Action, Product};
use crate::error::ApiError;
use crate::identity::Principal;

/// Decides whether `principal` may perform `action`.
pub fn authorize(principal: &Principal, action: Action) -> Result<(), ApiError> {
    if !action.needs_permission() {
        return Ok(());
    }
    match (principal, action.product()) {
        (Principal::Root { .. }, _) => Ok(()),
        (Principal::User { .. }, Product::Ram | Product::Sts) => Err(ApiError::NoPermission),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, UserId, UserName};

    #[test]
    fn root_and_users() {
        let root = Principal::Root {
            account: AccountId::generate(),
        };
        let user = Principal::User {
            account: AccountId::generate(),
            id: UserId::generate(),
            name: UserName::from_trusted("u"),
        };
        for a in Action::ALL {
            assert!(authorize(&root, *a).is_ok());
            assert_eq!(authorize(&user, *a).is_ok(), !a.needs_permission(), "{a:?}");
        }
        assert!(authorize(&user, Action::GetCallerIdentity).is_ok());
        assert!(matches!(
            authorize(&user, Action::CreateUser),
            Err(ApiError::NoPermission)
        ));
    }
}
