//! The credential a provider hands out.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tessera_protocol::Secret;

/// What kind of credential this is; decides how a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A long-term AccessKey pair (`LTAI…`).
    AccessKey,
    /// An STS token: AccessKey pair (`STS.…`) plus `SecurityToken`, valid until `Expiration`.
    StsToken,
    /// A bearer token (sent as `x-acs-bearer-token`, for the few products that take one).
    BearerToken,
}

impl CredentialKind {
    /// The `type` string the official libraries report for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::AccessKey => "access_key",
            CredentialKind::StsToken => "sts",
            CredentialKind::BearerToken => "bearer",
        }
    }
}

/// A resolved credential. Secrets are zeroized on drop and `Debug` never prints them.
///
/// `expiration` is what the issuer stated; [`Credential::valid_until`] is the same instant on the
/// local clock, corrected by the clock skew measured from the issuer's `Date` header, and is what
/// caches and callers should compare with their own clock.
///
/// Cloning is cheap (a reference count): caches hand out clones on every call.
#[derive(Clone)]
pub struct Credential(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    kind: CredentialKind,
    access_key_id: String,
    access_key_secret: Secret,
    security_token: Option<Secret>,
    bearer_token: Option<Secret>,
    expiration: Option<SystemTime>,
    clock_skew_secs: i64,
    provider_name: String,
}

impl Credential {
    /// A long-term AccessKey.
    pub fn access_key(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credential(Arc::new(Inner {
            kind: CredentialKind::AccessKey,
            access_key_id: id.into(),
            access_key_secret: Secret::new(secret),
            security_token: None,
            bearer_token: None,
            expiration: None,
            clock_skew_secs: 0,
            provider_name: "static_ak".into(),
        }))
    }

    /// An STS token (as `StsTokenCredential` takes it).
    pub fn sts_token(
        id: impl Into<String>,
        secret: impl Into<String>,
        security_token: impl Into<String>,
    ) -> Self {
        let mut c = Credential::access_key(id, secret);
        let inner = Arc::make_mut(&mut c.0);
        inner.kind = CredentialKind::StsToken;
        inner.security_token = Some(Secret::new(security_token));
        inner.provider_name = "static_sts".into();
        c
    }

    /// A bearer token.
    pub fn bearer_token(token: impl Into<String>) -> Self {
        let mut c = Credential::access_key("", "");
        let inner = Arc::make_mut(&mut c.0);
        inner.kind = CredentialKind::BearerToken;
        inner.bearer_token = Some(Secret::new(token));
        inner.provider_name = "bearer".into();
        c
    }

    /// Sets the expiration the issuer stated.
    pub fn with_expiration(mut self, expiration: SystemTime) -> Self {
        Arc::make_mut(&mut self.0).expiration = Some(expiration);
        self
    }

    /// Records how far the issuer's clock was ahead of ours (negative: behind) when it issued
    /// this credential.
    pub fn with_clock_skew(mut self, skew_secs: i64) -> Self {
        Arc::make_mut(&mut self.0).clock_skew_secs = skew_secs;
        self
    }

    /// Sets the provenance path, e.g. `default/cli_profile/ram_role_arn`.
    pub fn with_provider_name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).provider_name = name.into();
        self
    }

    /// Prefixes the provenance path with `outer/`.
    pub fn nested_in(mut self, outer: &str) -> Self {
        let inner = Arc::make_mut(&mut self.0);
        inner.provider_name = format!("{outer}/{}", inner.provider_name);
        self
    }

    /// The kind of credential.
    pub fn kind(&self) -> CredentialKind {
        self.0.kind
    }

    /// The AccessKeyId (empty for a bearer token).
    pub fn access_key_id(&self) -> &str {
        &self.0.access_key_id
    }

    /// The AccessKeySecret.
    pub fn access_key_secret(&self) -> &Secret {
        &self.0.access_key_secret
    }

    /// The STS SecurityToken, for an STS credential.
    pub fn security_token(&self) -> Option<&Secret> {
        self.0.security_token.as_ref()
    }

    /// The bearer token, for a bearer credential.
    pub fn bearer(&self) -> Option<&Secret> {
        self.0.bearer_token.as_ref()
    }

    /// The expiration as the issuer stated it (`None`: does not expire).
    pub fn expiration(&self) -> Option<SystemTime> {
        self.0.expiration
    }

    /// The issuer's clock minus ours, in seconds, measured when the credential was fetched.
    pub fn clock_skew_secs(&self) -> i64 {
        self.0.clock_skew_secs
    }

    /// The expiration on the local clock: `expiration - skew`.
    pub fn valid_until(&self) -> Option<SystemTime> {
        self.0.expiration.map(|e| shift(e, -self.0.clock_skew_secs))
    }

    /// Whether the credential is still valid at `now` (local clock).
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        self.valid_until().is_none_or(|until| now < until)
    }

    /// The provenance path.
    pub fn provider_name(&self) -> &str {
        &self.0.provider_name
    }

    /// Whether `other` is this very credential (the same fetch, or an identical key and token):
    /// how a cache tells whether a rejection report is about the value it holds.
    pub fn is_same(&self, other: &Credential) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        let (a, b) = (&self.0, &other.0);
        a.kind == b.kind
            && a.access_key_id == b.access_key_id
            && a.expiration == b.expiration
            && match (&a.security_token, &b.security_token) {
                (Some(x), Some(y)) => x.ct_eq(y),
                (None, None) => true,
                _ => false,
            }
    }
}

/// `t` moved by `secs` seconds (either way), saturating at the epoch.
pub(crate) fn shift(t: SystemTime, secs: i64) -> SystemTime {
    if secs >= 0 {
        t + Duration::from_secs(secs.unsigned_abs())
    } else {
        t.checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Unix seconds of `t` (0 before the epoch).
pub fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The instant `secs` seconds after the epoch.
pub(crate) fn from_unix_secs(secs: i64) -> SystemTime {
    shift(SystemTime::UNIX_EPOCH, secs)
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        f.debug_struct("Credential")
            .field("kind", &c.kind)
            .field("access_key_id", &c.access_key_id)
            .field("access_key_secret", &"***")
            .field("security_token", &c.security_token.as_ref().map(|_| "***"))
            .field("bearer_token", &c.bearer_token.as_ref().map(|_| "***"))
            .field(
                "expiration",
                &c.expiration
                    .map(|e| tessera_protocol::timestamp::format(unix_secs(e))),
            )
            .field("clock_skew_secs", &c.clock_skew_secs)
            .field("provider_name", &c.provider_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::sts_token("STS.abc", "s3cr3tvalue", "tok3nvalue");
        let d = format!("{c:?}");
        assert!(d.contains("STS.abc"));
        assert!(!d.contains("s3cr3t") && !d.contains("tok3n"), "{d}");
        let b = format!("{:?}", Credential::bearer_token("b3arer"));
        assert!(!b.contains("b3arer"));
    }

    #[test]
    fn valid_until_corrects_for_skew() {
        let exp = from_unix_secs(10_000);
        // The issuer's clock was 100 s ahead of ours: its 10 000 is our 9 900.
        let c = Credential::sts_token("a", "b", "c")
            .with_expiration(exp)
            .with_clock_skew(100);
        assert_eq!(c.valid_until(), Some(from_unix_secs(9_900)));
        assert!(c.is_valid_at(from_unix_secs(9_899)));
        assert!(!c.is_valid_at(from_unix_secs(9_900)));
        assert!(Credential::access_key("a", "b").is_valid_at(from_unix_secs(i64::MAX / 4)));
    }
}
