//! # tessera-policy
//!
//! The RAM policy language: documents are parsed and grammar-checked once, compiled to
//! matchers, and then evaluated against any number of requests without allocating. Pure: no
//! I/O, no clocks (the caller puts the time in the [`Context`]).
//!
//! ```
//! use tessera_policy::{evaluate, parse, Context, Decision, PolicyKind, Request};
//!
//! let policy = parse(
//!     r#"{"Version": "1", "Statement": [{
//!         "Effect": "Allow", "Action": "ram:Get*", "Resource": "*",
//!         "Condition": {"Bool": {"acs:SecureTransport": "true"}}}]}"#,
//!     PolicyKind::Identity,
//! )?;
//! let context = Context::new().with_secure_transport(true);
//! let request = Request { action: "ram:GetUser", resource: "acs:ram::1:user/bob", context: &context };
//! let explanation = evaluate([&policy], &request);
//! assert_eq!(explanation.decision, Decision::Allow);
//! assert_eq!((explanation.policy, explanation.statement), (Some(0), Some(0)));
//! # Ok::<(), tessera_policy::PolicyError>(())
//! ```
//!
//! - [`parse`] checks a document's grammar for a [`PolicyKind`] and compiles it to a [`Policy`];
//!   a bad document gets a [`PolicyError`] that names the place, e.g.
//!   `Statement[1].Condition.StringEqualz: unknown condition operator`.
//! - [`evaluate`] decides a [`Request`] against identity or session policies: explicit Deny
//!   beats Allow beats implicit deny, and the [`Explanation`] names the deciding statement.
//! - [`evaluate_trust`] decides whether a [`Caller`] may assume a role under its trust policy.
//!
//! The choices made where Alibaba's documentation is silent are listed in the crate's README.

mod condition;
mod context;
mod error;
mod eval;
mod glob;
mod json;
mod policy;
mod principal;
mod scalar;

pub use context::{Context, CURRENT_TIME, MFA_PRESENT, SECURE_TRANSPORT, SOURCE_IP};
pub use error::PolicyError;
pub use eval::{evaluate, evaluate_trust, Decision, Explanation};
pub use policy::{parse, Policy, PolicyKind, MAX_DOCUMENT_BYTES};
pub use principal::Caller;

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, `<service>:<ApiName>` (e.g. `ram:CreateUser`, `sts:AssumeRole`); matched
    /// case-insensitively.
    pub action: &'a str,
    /// The resource's ARN (e.g. `acs:ram::<account>:user/<name>`), or `*` for actions without
    /// resource-level authorization; matched case-sensitively except a RAM role's name.
    pub resource: &'a str,
    /// The condition keys' values.
    pub context: &'a Context,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_policies_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<Context>();
        assert_send_sync::<PolicyError>();
    }
}
