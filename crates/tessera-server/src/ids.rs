//! Identifiers: the stored entities' ids and names (from [`tessera_store::ids`]), and what only
//! the service generates: 30-character AccessKey secrets, upper-case UUID request ids, ARNs.

use rand::Rng;

pub use tessera_store::ids::*;

/// A fresh 30-character AccessKeySecret (≈178 bits from the thread CSPRNG).
pub fn generate_access_key_secret() -> tessera_protocol::Secret {
    tessera_protocol::Secret::new(alphanumerics(30))
}

/// A fresh request id: an upper-case UUID with dashes.
pub fn request_id() -> String {
    // From the thread CSPRNG rather than `Uuid::new_v4`, which asks the kernel for every id:
    // a system call on every response.
    let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid.hyphenated().encode_upper(&mut buf).to_string()
}

/// ARNs of the identities that exist so far.
pub mod arn {
    use super::{AccountId, GroupName, RoleName, UserName};

    /// `acs:ram::<acct>:root`
    pub fn root(account: &AccountId) -> String {
        format!("acs:ram::{account}:root")
    }

    /// `acs:ram::<acct>:user/<UserName>`
    pub fn user(account: &AccountId, name: &UserName) -> String {
        format!("acs:ram::{account}:user/{name}")
    }

    /// `acs:ram::<acct>:group/<GroupName>`
    pub fn group(account: &AccountId, name: &GroupName) -> String {
        format!("acs:ram::{account}:group/{name}")
    }

    /// `acs:ram::<acct>:role/<RoleName>`, in the name's original case.
    pub fn role(account: &AccountId, name: &RoleName) -> String {
        format!("acs:ram::{account}:role/{name}")
    }

    /// `acs:ram::<acct>:policy/<PolicyName>`, or `acs:ram::system:policy/<PolicyName>`.
    pub fn policy(account: Option<&AccountId>, name: &str) -> String {
        match account {
            Some(a) => format!("acs:ram::{a}:policy/{name}"),
            None => format!("acs:ram::system:policy/{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_generated_shapes() {
        assert_eq!(generate_access_key_secret().expose().len(), 30);
        let r = request_id();
        assert_eq!(r.len(), 36);
        assert_eq!(r, r.to_ascii_uppercase());
        assert_ne!(r, request_id());
    }
}
