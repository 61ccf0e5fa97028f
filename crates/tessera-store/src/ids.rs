//! Identifiers and names of stored entities, parsed once at the edge and generated the way the
//! real service shapes them: 16-digit account, user and group ids, 18-digit role ids, `LTAI`
//! AccessKeyIds.

use rand::distr::{Alphanumeric, Uniform};
use rand::Rng;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
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

        // Lets maps keyed by the id be searched with a borrowed `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
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
    let mut buf = vec![0u8; n];
    fill_alphanumerics(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Fills `out` with random alphanumerics (ASCII) from the thread CSPRNG, without allocating.
pub fn fill_alphanumerics(out: &mut [u8]) {
    let mut rng = rand::rng();
    for b in out {
        *b = rng.sample(Alphanumeric);
    }
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
        assert_ne!(AccessKeyId::generate(), AccessKeyId::generate());
        let g = GroupId::generate();
        assert!(g.as_str().len() == 16 && g.as_str().bytes().all(|b| b.is_ascii_digit()));
        let r = RoleId::generate();
        assert!(r.as_str().len() == 18 && r.as_str().bytes().all(|b| b.is_ascii_digit()));
        assert!(!r.as_str().starts_with('0'));
    }
}
