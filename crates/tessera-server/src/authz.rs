//! Authorization: may this principal perform this action on these resources, in this request's
//! context? The account root may do everything. A RAM user is evaluated against its identity
//! policies (its own and its groups', already compiled in the identity cache) with the RAM
//! algorithm: an explicit Deny wins, then an Allow, else implicit deny. Every resource an action
//! touches must be allowed.

use crate::actions::Action;
use crate::error::{AccessDenied, ApiError};
use crate::identity::{CachedKey, Principal};
use crate::request::ApiRequest;
use tessera_policy::{Context, Decision, Request};

/// The request context policies see: `acs:CurrentTime`, `acs:SourceIp`, `acs:SecureTransport`,
/// `acs:MFAPresent` (no console logins yet, so never true).
pub fn context(req: &ApiRequest, now: i64) -> Context {
    Context::new()
        .with_current_time(now)
        .with_source_ip(req.peer.ip())
        .with_secure_transport(req.secure)
        .with_mfa_present(false)
}

/// Decides whether the caller that signed with `key` may perform `action` as `req` asks.
pub fn authorize(
    key: &CachedKey,
    action: Action,
    req: &ApiRequest,
    now: i64,
) -> Result<(), ApiError> {
    if !action.needs_permission() {
        return Ok(());
    }
    let (account, user_id) = match &key.principal {
        Principal::Root { .. } => return Ok(()),
        Principal::User { account, id, .. } => (account, id),
    };
    let auth_action = action.auth_action();
    let ctx = context(req, now);
    for resource in action.resources(req, &key.principal) {
        let request = Request {
            action: &auth_action,
            resource: &resource,
            context: &ctx,
        };
        let e = tessera_policy::evaluate(key.policies.iter().map(|p| &*p.policy), &request);
        if e.decision != Decision::Allow {
            let deciding = e.policy.and_then(|i| key.policies.get(i));
            tracing::debug!(
                action = %auth_action,
                resource = %resource,
                decision = ?e.decision,
                policy = deciding.map(|p| p.name.as_str()).unwrap_or("-"),
                statement = e.statement.map(|s| s as i64).unwrap_or(-1),
                "access denied"
            );
            return Err(ApiError::NoPermission(Some(Box::new(AccessDenied {
                auth_action,
                principal_type: "SubUser",
                owner_id: account.as_str().to_string(),
                display_name: user_id.as_str().to_string(),
                explicit: e.decision == Decision::ExplicitDeny,
            }))));
        }
    }
    Ok(())
}
