//! Every credential source of the official libraries, and the default chain over them.
//!
//! Each provider reads its configuration from a [`crate::Context`] when it is built (or, for the
//! `from_env` constructors, from the context's environment), answers
//! [`crate::Error::NotConfigured`] when it has nothing to go on, and never caches by itself:
//! a [`crate::CredentialsCache`] (which [`crate::Client`] adds for you) does that, once.

mod chain;
mod cli_profile;
mod ecs;
mod env;
mod external;
mod ini;
mod oidc;
mod ram_role_arn;
mod static_keys;
mod uri;

pub use chain::{DefaultChain, Explanation, Outcome, Step};
pub use cli_profile::CliProfileProvider;
pub use ecs::EcsRamRoleProvider;
pub use env::EnvProvider;
pub use external::ExternalProcessProvider;
pub use ini::IniProfileProvider;
pub use oidc::OidcRoleArnProvider;
pub use ram_role_arn::{RamRoleArnBuilder, RamRoleArnProvider};
pub use static_keys::StaticProvider;
pub use uri::CredentialsUriProvider;

/// The session name the official libraries fall back to, in Tessera's spelling:
/// `ALIBABA_CLOUD_ROLE_SESSION_NAME`, else `tessera-credentials-<unix-ms>`.
pub(crate) fn default_session_name(ctx: &crate::Context) -> String {
    ctx.var("ALIBABA_CLOUD_ROLE_SESSION_NAME")
        .unwrap_or_else(|| {
            let ms = ctx
                .clock
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("tessera-credentials-{ms}")
        })
}

/// Reads the `{"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken",
/// "Expiration"}` answer that the metadata service and credentials URIs share. The metadata
/// service always sends `Code`; a URI may leave it out. The error is a message for the caller's
/// own error type, naming what is wrong but never echoing the body.
pub(crate) fn parse_session_json(
    resp: &crate::http::HttpResponse,
    fetched_at: std::time::SystemTime,
    code_required: bool,
    provider: &str,
) -> Result<crate::Credential, String> {
    use serde_json::Value;
    let v: Value =
        serde_json::from_slice(&resp.body).map_err(|_| "the answer is not JSON".to_string())?;
    match v.get("Code").and_then(Value::as_str) {
        Some("Success") => {}
        None if !code_required => {}
        code => {
            return Err(format!(
                "Code is {:?}, not \"Success\"",
                code.unwrap_or_default()
            ))
        }
    }
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("the answer has no {k}"))
    };
    let exp = tessera_protocol::timestamp::parse(field("Expiration")?)
        .map_err(|_| "Expiration is not YYYY-MM-DDThh:mm:ssZ".to_string())?;
    Ok(crate::Credential::sts_token(
        field("AccessKeyId")?,
        field("AccessKeySecret")?,
        field("SecurityToken")?,
    )
    .with_expiration(crate::credential::from_unix_secs(exp))
    .with_clock_skew(crate::rpc::skew_of(resp, fetched_at))
    .with_provider_name(provider))
}

/// The provider a profile resolved to, kept while the profile's configuration is unchanged, so
/// that its state survives from one refresh to the next: a chained role's source session is
/// reused until it nears expiry instead of being assumed again, and a role's shortened
/// duration is remembered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Memo(std::sync::Arc<std::sync::Mutex<Option<(u64, crate::SharedProvider)>>>);

impl Memo {
    /// The provider built for `key` last time, or a new one.
    pub(crate) fn get_or_build(
        &self,
        key: u64,
        build: impl FnOnce() -> Result<Box<dyn crate::ProvideCredentials>, crate::Error>,
    ) -> Result<crate::SharedProvider, crate::Error> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, p)) = slot.as_ref() {
            if *k == key {
                return Ok(p.clone());
            }
        }
        let p: crate::SharedProvider = std::sync::Arc::from(build()?);
        *slot = Some((key, p.clone()));
        Ok(p)
    }
}

/// A fingerprint of the configuration a profile provider was built from.
pub(crate) fn fingerprint(parts: &[&[u8]]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}
