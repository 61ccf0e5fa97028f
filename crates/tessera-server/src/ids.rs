//! Identifiers and names, parsed once at the edge and generated the way the real service shapes
//! them: 16-digit account and user ids, `LTAI` AccessKeyIds, 30-character secrets, upper-case
//! UUID request ids.

use rand::distr::{Alphanumeric, Uniform};
use rand::Rng;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value already known to be well formed (from the store or a generator).
            pub fn from_trusted(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

string_id!(
    /// A 16-digit account id (the account's UID).
    AccountId
);
string_id!(
    /// A numeric RAM user id.
    UserId
);
string_id!(
    /// A long-term AccessKeyId: `LTAI` and 20 alphanumerics.
    AccessKeyId
);
string_id!(
    /// A RAM user name: 1–64 of `A-Za-z0-9._-`. Unique per account, case-sensitive.
    UserName
);
string_id!(
    /// A numeric RAM group id (16 digits, like user ids).
    GroupId
);
string_id!(
    /// A RAM group name: 1–64 of `A-Za-z0-9._-`. Unique per account, case-sensitive.
    GroupName
);
string_id!(
    /// A numeric RAM role id (18 digits, the length of current real role ids).
    RoleId
);
string_id!(
    /// A RAM role name: 1–64 of `A-Za-z0-9.-` (no underscore). Unique per account regardless of
    /// case; lookups ignore case, responses show the name as created.
    RoleName
);
string_id!(
    /// A policy name: 1–128 of `A-Za-z0-9-`. Custom names are unique per account; system
    /// policies share one namespace of their own.
    PolicyName
);

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    // No leading zero, so the id reads as the number it is.
    let first = char::from(b'1' + rng.sample(Uniform::new(0u8, 9).expect("valid range")));
    std::iter::once(first)
        .chain(
            (1..n).map(|_| {
                char::from(b'0' + rng.sample(Uniform::new(0u8, 10).expect("valid range")))
            }),
        )
        .collect()
}

/// `n` random alphanumerics from the thread CSPRNG.
pub fn alphanumerics(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

impl AccountId {
    /// A fresh random 16-digit account id.
    pub fn generate() -> Self {
        AccountId(digits(16))
    }

    /// Whether `s` has the shape of an account id.
    pub fn is_well_formed(s: &str) -> bool {
        s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit())
    }
}

impl UserId {
    /// A fresh random 16-digit user id.
    pub fn generate() -> Self {
        UserId(digits(16))
    }
}

impl GroupId {
    /// A fresh random 16-digit group id.
    pub fn generate() -> Self {
        GroupId(digits(16))
    }
}

impl RoleId {
    /// A fresh random 18-digit role id.
    pub fn generate() -> Self {
        RoleId(digits(18))
    }
}

impl AccessKeyId {
    /// Parses an AccessKeyId from a request: 1–128 ASCII alphanumerics (and the `.` of STS ids).
    /// Anything else names no key.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
        ok.then(|| AccessKeyId(s.to_string()))
    }

    /// A fresh `LTAI` + 20 alphanumerics id.
    pub fn generate() -> Self {
        AccessKeyId(format!("LTAI{}", alphanumerics(20)))
    }
}

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
    fn shapes() {
        let a = AccountId::generate();
        assert!(AccountId::is_well_formed(a.as_str()), "{a}");
        assert!(!a.as_str().starts_with('0'));
        let k = AccessKeyId::generate();
        assert_eq!(k.as_str().len(), 24);
        assert!(k.as_str().starts_with("LTAI"));
        assert!(k.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(generate_access_key_secret().expose().len(), 30);
        let r = request_id();
        assert_eq!(r.len(), 36);
        assert_eq!(r, r.to_ascii_uppercase());
        assert_ne!(AccessKeyId::generate(), AccessKeyId::generate());
        let g = GroupId::generate();
        assert!(g.as_str().len() == 16 && g.as_str().bytes().all(|b| b.is_ascii_digit()));
        let r = RoleId::generate();
        assert!(r.as_str().len() == 18 && r.as_str().bytes().all(|b| b.is_ascii_digit()));
        assert!(!r.as_str().starts_with('0'));
    }
}
