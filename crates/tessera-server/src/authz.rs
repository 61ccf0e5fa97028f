//! Authorization: may this principal perform this action on these resources, in this request's
//! context? The account root may do everything. A RAM user is evaluated against its identity
//! policies (its own and its groups'); a role session against its role's current policies,
//! after its session policy, which can only narrow them (spec §9). All were compiled in the
//! identity cache; nothing is read from disk. The RAM algorithm: an explicit Deny wins, then an
//! Allow, else implicit deny. Every resource an action touches must be allowed.

use crate::actions::Product;
use crate::authn::Authenticated;
use crate::error::{AccessDenied, ApiError};
use crate::identity::Principal;
use crate::ids::AccountId;
use crate::request::ApiRequest;
use tessera_policy::{Context, Decision, Explanation, Request};

/// The request context policies see: `acs:CurrentTime`, `acs:SourceIp`, `acs:SecureTransport`,
/// `acs:MFAPresent` (no console logins yet, so never true).
pub fn context(req: &ApiRequest, now: i64) -> Context {
    Context::new()
        .with_current_time(now)
        .with_source_ip(req.peer.ip())
        .with_secure_transport(req.secure)
        .with_mfa_present(false)
}

/// Decides whether the authenticated caller may perform its action as `req` asks.
pub fn authorize(
    authn: &Authenticated,
    operator: &AccountId,
    req: &ApiRequest,
    now: i64,
) -> Result<(), ApiError> {
    let action = authn.action;
    if !action.needs_permission() {
        return Ok(());
    }
    // Deployment administration belongs to the operator's root alone; no policy grants it.
    if action.product() == Product::Admin {
        return match &authn.principal {
            Principal::Root { account } if *account == *operator => Ok(()),
            _ => Err(ApiError::NoPermission(None)),
        };
    }
    let (principal_type, owner, display_name) = match &authn.principal {
        Principal::Root { .. } => return Ok(()),
        Principal::User { account, id, .. } => ("SubUser", account, id.as_str().to_string()),
        Principal::Session {
            account,
            role_name,
            session_name,
            ..
        } => (
            "AssumedRoleUser",
            account,
            format!("{role_name}:{session_name}"),
        ),
    };
    let auth_action = action.auth_action();
    let ctx = context(req, now);
    let session_policy = authn.session.as_ref().and_then(|s| s.policy.as_deref());
    for resource in action.resources(req, &authn.principal)? {
        let request = Request {
            action: &auth_action,
            resource: &resource,
            context: &ctx,
        };
        let mut decided: Explanation = match session_policy {
            Some(p) => tessera_policy::evaluate([p], &request),
            None => Explanation {
                decision: Decision::Allow,
                policy: None,
                statement: None,
            },
        };
        if decided.decision == Decision::Allow {
            decided = tessera_policy::evaluate(authn.policies.iter().map(|p| &*p.policy), &request);
        }
        if decided.decision != Decision::Allow {
            tracing::debug!(
                action = %auth_action,
                resource = %resource,
                decision = ?decided.decision,
                policy = decided.policy.and_then(|i| authn.policies.get(i)).map(|p| p.name.as_str()).unwrap_or("-"),
                "access denied"
            );
            return Err(ApiError::NoPermission(Some(Box::new(AccessDenied {
                auth_action,
                principal_type,
                owner_id: owner.as_str().to_string(),
                display_name,
                explicit: decided.decision == Decision::ExplicitDeny,
            }))));
        }
    }
    Ok(())
}
