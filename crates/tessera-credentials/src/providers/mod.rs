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
