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
    String::from_utf8_lossy(&request_id_bytes()).into_owned()
}

/// The length of a request id.
pub const REQUEST_ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// A fresh request id in a fixed buffer (ASCII): every response carries one, so making it
/// allocates nothing.
pub fn request_id_bytes() -> [u8; REQUEST_ID_LEN] {
    // From the thread CSPRNG rather than `Uuid::new_v4`, which asks the kernel for every id:
    // a system call on every response.
    let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
    let mut buf = [0u8; REQUEST_ID_LEN];
    uuid.hyphenated().encode_upper(&mut buf);
    buf
}

/// Every ARN the server writes or reads, in one place (spec §10): entity ARNs have an empty
/// region slot; session ARNs carry the role name in lower case, as real ones do (spec §8.1).
/// Names are taken as given: callers pass validated names, or (for authorization resources) the
/// request's raw parameter.
pub mod arn {
    use super::AccountId;

    /// `acs:ram::<acct>:root`
    pub fn root(account: &AccountId) -> String {
        format!("acs:ram::{account}:root")
    }

    /// `acs:ram::<acct>:user/<UserName>`
    pub fn user(account: &AccountId, name: &str) -> String {
        format!("acs:ram::{account}:user/{name}")
    }

    /// `acs:ram::<acct>:group/<GroupName>`
    pub fn group(account: &AccountId, name: &str) -> String {
        format!("acs:ram::{account}:group/{name}")
    }

    /// `acs:ram::<acct>:role/<RoleName>`, in the name's case as given.
    pub fn role(account: &AccountId, name: &str) -> String {
        format!("acs:ram::{account}:role/{name}")
    }

    /// `acs:ram::<acct>:policy/<PolicyName>`, or `acs:ram::system:policy/<PolicyName>`.
    pub fn policy(account: Option<&AccountId>, name: &str) -> String {
        match account {
            Some(a) => format!("acs:ram::{a}:policy/{name}"),
            None => format!("acs:ram::system:policy/{name}"),
        }
    }

    /// The `AssumedRoleUser.Arn` of an AssumeRole answer:
    /// `acs:ram::<acct>:role/<rolename>/<session>`.
    pub fn role_session(account: &AccountId, role_name: &str, session: &str) -> String {
        format!(
            "acs:ram::{account}:role/{}/{session}",
            role_name.to_ascii_lowercase()
        )
    }

    /// A session as GetCallerIdentity shows it:
    /// `acs:ram::<acct>:assumed-role/<rolename>/<session>`.
    pub fn assumed_role(account: &AccountId, role_name: &str, session: &str) -> String {
        format!(
            "acs:ram::{account}:assumed-role/{}/{session}",
            role_name.to_ascii_lowercase()
        )
    }

    /// Parses `acs:ram::<16-digit account>:role/<RoleName>` (a name of 1–64 of
    /// `A-Za-z0-9.-`); anything else is `None`.
    pub fn parse_role(arn: &str) -> Option<(AccountId, &str)> {
        let rest = arn.strip_prefix("acs:ram::")?;
        let (account, name) = rest.split_once(":role/")?;
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
        (AccountId::is_well_formed(account) && name_ok)
            .then(|| (AccountId::from_trusted(account), name))
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

    #[test]
    fn arns() {
        let a = AccountId::from_trusted("1234567890123456");
        assert_eq!(arn::root(&a), "acs:ram::1234567890123456:root");
        assert_eq!(arn::user(&a, "u"), "acs:ram::1234567890123456:user/u");
        assert_eq!(arn::policy(None, "P"), "acs:ram::system:policy/P");
        assert_eq!(
            arn::role_session(&a, "Admin", "s"),
            "acs:ram::1234567890123456:role/admin/s"
        );
        assert_eq!(
            arn::assumed_role(&a, "Admin", "s"),
            "acs:ram::1234567890123456:assumed-role/admin/s"
        );
        let role = arn::role(&a, "Deploy.er-1");
        assert_eq!(arn::parse_role(&role), Some((a.clone(), "Deploy.er-1")));
        for bad in [
            "acs:ram::123:role/x",
            "acs:ram::1234567890123456:role/",
            "acs:ram::1234567890123456:role/a_b",
            "acs:ram::1234567890123456:user/x",
            "arn:ram::1234567890123456:role/x",
        ] {
            assert_eq!(arn::parse_role(bad), None, "{bad}");
        }
        assert_eq!(
            arn::parse_role(&format!(
                "acs:ram::1234567890123456:role/{}",
                "x".repeat(65)
            )),
            None
        );
    }
}
