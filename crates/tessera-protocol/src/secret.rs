//! Secrets that never show up in logs or debug output.

use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string (an AccessKeySecret, a password, a token). Its memory is zeroed when dropped,
/// `Debug` prints `Secret(***)`, and it offers no `Display` and no `PartialEq`: comparisons go
/// through [`Secret::ct_eq`], which runs in constant time.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself. Call this only where the plaintext is needed (signing, showing it to
    /// its owner once).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("wJalrXUtnFEMI");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!format!("{:?}", Some(&s)).contains("wJal"));
    }

    #[test]
    fn ct_eq_compares_content() {
        assert!(Secret::new("abc").ct_eq(&Secret::new("abc")));
        assert!(!Secret::new("abc").ct_eq(&Secret::new("abd")));
        assert!(!Secret::new("abc").ct_eq(&Secret::new("abcd")));
    }
}
