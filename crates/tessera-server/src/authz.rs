//! Authorization: may this principal perform this action on these resources, in this request's
//! context? The account root may do everything. A RAM user is evaluated against its identity
//! policies (its own and its groups'); a role session against its role's current policies,
//! after its session policy, which can only narrow them (spec §9). All were compiled in the
//! identity cache; nothing is read from disk. The RAM algorithm: an explicit Deny wins, then an
//! Allow, else implicit deny. Every resource an action touches must be allowed.

use crate::authn::Authenticated;
use crate::catalog::{Action, Product, NAME_LIMITS};
use crate::error::{AccessDenied, ApiError};
use crate::ids::{arn, AccountId};
use crate::principal::Principal;
use crate::request::ApiRequest;
use tessera_policy::{Context, Decision, Explanation, Request};

/// The request context policies see: `acs:CurrentTime`, `acs:SourceIp`, `acs:SecureTransport`,
/// `acs:MFAPresent` (no console logins yet, so never true). Built only when a policy evaluated
/// has conditions: most have none, and an empty context costs nothing.
pub fn context(req: &ApiRequest<'_>, now: i64) -> Context {
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
    req: &ApiRequest<'_>,
    now: i64,
) -> Result<(), ApiError> {
    let action = authn.action;
    if !action.needs_permission() {
        return Ok(());
    }
    // Deployment administration belongs to the operator's root alone; no policy grants it.
    if action.product() == Product::Admin {
        return match authn.principal() {
            Principal::Root { account } if *account == *operator => Ok(()),
            _ => Err(ApiError::NoPermission(None)),
        };
    }
    let principal = authn.principal();
    if let Principal::Root { .. } = principal {
        return Ok(());
    }
    let auth_action = action.auth_action();
    let session_policy = authn.session().and_then(|s| s.policy.as_deref());
    let needs_context = session_policy.is_some_and(|p| p.has_conditions())
        || authn.policies.iter().any(|p| p.policy.has_conditions());
    let ctx = if needs_context {
        context(req, now)
    } else {
        Context::new()
    };
    for resource in resources(action, req, principal)? {
        let request = Request {
            action: auth_action,
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
            return Err(denied(principal, auth_action, decided.decision));
        }
    }
    Ok(())
}

/// The `AccessDeniedDetail` of a refusal.
fn denied(principal: &Principal, auth_action: &str, decision: Decision) -> ApiError {
    let (principal_type, owner, display_name) = match principal {
        Principal::Root { account } => ("Account", account, account.as_str().to_string()),
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
    ApiError::NoPermission(Some(Box::new(AccessDenied {
        auth_action: auth_action.to_string(),
        principal_type,
        owner_id: owner.as_str().to_string(),
        display_name,
        explicit: decision == Decision::ExplicitDeny,
    })))
}

/// The resources the action touches, as RAM's authorization table names them (spec §11.9),
/// with the empty region slot of entity ARNs. Each must be allowed. Listing actions use a `*`
/// name; a missing name parameter leaves the name empty (the action then reports it).
///
/// A name longer than any entity can have is refused here, with the length error the action
/// itself would give: evaluating wildcard patterns against a megabyte-long resource costs
/// pattern × input time, so a session policy could otherwise burn a second of CPU per
/// request.
pub fn resources(
    action: Action,
    req: &ApiRequest<'_>,
    principal: &Principal,
) -> Result<Vec<String>, ApiError> {
    use Action::*;
    let account = principal.account();
    for (name, max) in NAME_LIMITS {
        if req.param(name).is_some_and(|v| v.chars().count() > max) {
            return Err(if name == "RoleArn" {
                ApiError::StsInvalidParameter {
                    name,
                    message: "The parameter RoleArn is wrongly formed.",
                }
            } else {
                ApiError::InvalidLength(name)
            });
        }
    }
    let param = |name: &str| req.param(name).unwrap_or("").to_string();
    let user = |name: &str| arn::user(account, name);
    let group = |name: &str| arn::group(account, name);
    let role = |name: &str| arn::role(account, name);
    let policy = || match req.param("PolicyType") {
        Some("System") => arn::policy(None, &param("PolicyName")),
        _ => arn::policy(Some(account), &param("PolicyName")),
    };
    // AccessKey actions without UserName act on the caller's own keys.
    let key_owner = || match (req.param("UserName"), principal) {
        (Some(n), _) => user(n),
        (None, Principal::User { name, .. }) => user(name.as_str()),
        (None, Principal::Root { .. }) => arn::root(account),
        (None, Principal::Session { .. }) => user(""),
    };
    Ok(match action {
        GetCallerIdentity => vec![],
        RevokeRoleSessions => vec![role(&param("RoleName"))],
        RevokeUserSessions => vec![user(&param("UserName"))],
        // Operator-only: never granted by a policy.
        CreateAccount | RotateTokenKeys | VerifyIdentityCache => vec![],
        // The target role, normalised; an unparsable ARN is evaluated as given (and then
        // refused by the action's own validation if allowed at all).
        AssumeRole => vec![arn::parse_role(&param("RoleArn"))
            .map(|(a, n)| arn::role(&a, n))
            .unwrap_or_else(|| param("RoleArn"))],
        CreateUser | GetUser | UpdateUser | DeleteUser | ListPoliciesForUser => {
            vec![user(&param("UserName"))]
        }
        ListUsers => vec![user("*")],
        CreateAccessKey | ListAccessKeys | UpdateAccessKey | DeleteAccessKey => {
            vec![key_owner()]
        }
        CreatePolicy
        | GetPolicy
        | UpdatePolicyDescription
        | DeletePolicy
        | CreatePolicyVersion
        | GetPolicyVersion
        | ListPolicyVersions
        | SetDefaultPolicyVersion
        | DeletePolicyVersion
        | ListEntitiesForPolicy => vec![policy()],
        ListPolicies => vec![arn::policy(Some(account), "*")],
        AttachPolicyToUser | DetachPolicyFromUser => vec![policy(), user(&param("UserName"))],
        AttachPolicyToGroup | DetachPolicyFromGroup => {
            vec![policy(), group(&param("GroupName"))]
        }
        AttachPolicyToRole | DetachPolicyFromRole => vec![policy(), role(&param("RoleName"))],
        ListPoliciesForGroup => vec![group(&param("GroupName"))],
        ListPoliciesForRole => vec![role(&param("RoleName"))],
        // Groups, roles and login profiles. Membership changes touch both the group and the
        // user, so both must be allowed.
        CreateGroup | GetGroup | UpdateGroup | DeleteGroup | ListUsersForGroup => {
            vec![group(&param("GroupName"))]
        }
        ListGroups => vec![group("*")],
        AddUserToGroup | RemoveUserFromGroup => {
            vec![group(&param("GroupName")), user(&param("UserName"))]
        }
        ListGroupsForUser | CreateLoginProfile | GetLoginProfile | UpdateLoginProfile
        | DeleteLoginProfile => vec![user(&param("UserName"))],
        CreateRole | GetRole | UpdateRole | DeleteRole => vec![role(&param("RoleName"))],
        ListRoles => vec![role("*")],
    })
}
