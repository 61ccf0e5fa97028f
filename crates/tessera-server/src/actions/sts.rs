//! STS actions.

use super::{Call, Fields};
use crate::identity::Principal;
use crate::ids::arn;
use tessera_protocol::render::Node;

/// `GetCallerIdentity`: who signed this request (spec §8.4). For the root, `PrincipalId` and
/// `UserId` are the account id (UNCONFIRMED: what mocks and the aliyun CLI show).
pub fn get_caller_identity(call: &Call<'_>) -> Fields {
    match call.principal {
        Principal::Root { account } => vec![
            ("IdentityType", "Account".into()),
            ("AccountId", account.as_str().into()),
            ("Arn", arn::root(account).into()),
            ("PrincipalId", account.as_str().into()),
            ("UserId", account.as_str().into()),
        ],
        Principal::User { account, id, name } => vec![
            ("IdentityType", "RAMUser".into()),
            ("AccountId", account.as_str().into()),
            ("Arn", Node::Str(arn::user(account, name))),
            ("PrincipalId", id.as_str().into()),
            ("UserId", id.as_str().into()),
        ],
    }
}
