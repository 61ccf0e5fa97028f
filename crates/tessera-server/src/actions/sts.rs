//! STS actions: GetCallerIdentity and AssumeRole.

use super::params::{optional, required};
use super::{Call, Reply};
use crate::authz;
use crate::error::ApiError;
use crate::ids::{self, arn};
use crate::principal::Principal;
use crate::state::AppState;
use crate::tokens::{Ancestor, SessionClaims};
use tessera_policy::{Caller, Context, Decision, Policy, Request};
use tessera_protocol::render::Value;
use tessera_protocol::{timestamp, Secret};

/// `GetCallerIdentity`: who signed this request (spec §8.4), handed to `render` as borrowed
/// fields (nothing is built: this is the hottest action). For the root, `PrincipalId` and
/// `UserId` are the account id (UNCONFIRMED: what mocks and the aliyun CLI show).
pub fn with_caller_identity<R>(
    principal: &Principal,
    render: impl FnOnce(&[(&str, Value<'_>)]) -> R,
) -> R {
    match principal {
        Principal::Root { account } => {
            let a = account.as_str();
            render(&[
                ("IdentityType", Value::Str("Account")),
                ("AccountId", Value::Str(a)),
                ("Arn", Value::Concat(&["acs:ram::", a, ":root"])),
                ("PrincipalId", Value::Str(a)),
                ("UserId", Value::Str(a)),
            ])
        }
        // Session ARNs carry the role name in lower case, as real ones do (spec §8.1).
        Principal::Session {
            account,
            role_id,
            role_name,
            session_name,
        } => {
            let arn = arn::assumed_role(account, role_name, session_name);
            render(&[
                ("IdentityType", Value::Str("AssumedRoleUser")),
                ("AccountId", Value::Str(account.as_str())),
                ("Arn", Value::Str(&arn)),
                ("PrincipalId", Value::Concat(&[role_id, ":", session_name])),
                ("RoleId", Value::Str(role_id)),
            ])
        }
        Principal::User { account, id, name } => {
            let a = account.as_str();
            render(&[
                ("IdentityType", Value::Str("RAMUser")),
                ("AccountId", Value::Str(a)),
                (
                    "Arn",
                    Value::Concat(&["acs:ram::", a, ":user/", name.as_str()]),
                ),
                ("PrincipalId", Value::Str(id.as_str())),
                ("UserId", Value::Str(id.as_str())),
            ])
        }
    }
}

/// The shortest session, seconds.
pub const MIN_DURATION: i64 = 900;
/// A session started by another session lasts at most this long (spec §9; as AWS).
pub const MAX_CHAINED_DURATION: i64 = 3600;
/// The longest chain of role sessions: a user's session is the first, and a session this deep
/// may not assume another role. Each ancestor rides in every descendant's token and is checked
/// on each of its requests, so the bound keeps tokens and checks small; real chains (user →
/// role → cross-account role) are two or three deep. (Alibaba documents no limit: UNCONFIRMED.)
pub const MAX_CHAIN_DEPTH: u8 = 5;
/// Session policies up to this many bytes.
pub const MAX_SESSION_POLICY: usize = 2048;

fn invalid(name: &'static str, message: &'static str) -> ApiError {
    ApiError::StsInvalidParameter { name, message }
}

fn charset_ok(s: &str, min: usize, max: usize, extra: &[u8]) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// `AssumeRole` (spec §8.1, §9, §13.6): the caller needs `sts:AssumeRole` on the role by its own
/// policies (checked before this runs) and the role's trust policy must admit it. Issuing writes
/// nothing: the credentials are sealed into the SecurityToken.
pub async fn assume_role(state: &AppState, call: &Call<'_>) -> Result<Reply, ApiError> {
    let caller = match call.principal {
        Principal::Root { .. } => return Err(ApiError::RootCannotAssumeRole),
        Principal::User { account, name, .. } => Caller::RamUser {
            account: account.as_str(),
            user_name: name.as_str(),
        },
        Principal::Session {
            account, role_name, ..
        } => Caller::AssumedRole {
            account: account.as_str(),
            role_name,
        },
    };
    let req = call.req;
    let (account, role_name) = arn::parse_role(required(req, "RoleArn")?).ok_or(invalid(
        "RoleArn",
        "The parameter RoleArn is wrongly formed.",
    ))?;
    let session_name = required(req, "RoleSessionName")?;
    if !charset_ok(session_name, 2, 64, b".@_-") {
        return Err(invalid(
            "RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        ));
    }
    let duration_error = || {
        invalid(
            "DurationSeconds",
            "The Min/Max value of DurationSeconds is 15min/1hr.",
        )
    };
    let duration = match optional(req, "DurationSeconds") {
        None => 3600,
        Some(d) => d.parse::<i64>().map_err(|_| duration_error())?,
    };
    let policy = optional(req, "Policy");
    if let Some(p) = policy {
        if p.len() > MAX_SESSION_POLICY {
            return Err(invalid(
                "PolicySize",
                "The size of Policy must be smaller than 2048 bytes.",
            ));
        }
        state.identities.session_policy(p).map_err(|_| {
            invalid(
                "PolicyGrammar",
                "The parameter Policy has not passed grammar check.",
            )
        })?;
    }
    let external_id = optional(req, "ExternalId");
    if let Some(e) = external_id {
        if !charset_ok(e, 2, 1224, b"_+=,.@:/-") {
            return Err(invalid(
                "ExternalId",
                "The parameter ExternalId is wrongly formed.",
            ));
        }
    }
    // A source identity, once set, follows the chain and cannot change (spec §9).
    let inherited = call.session.and_then(|s| s.claims.source_identity.clone());
    let source_identity = match (optional(req, "SourceIdentity"), inherited) {
        (Some(s), _) if !charset_ok(s, 2, 64, b"_+=,.@-") => {
            return Err(invalid(
                "SourceIdentity",
                "The parameter SourceIdentity is wrongly formed.",
            ));
        }
        (Some(s), Some(old)) if s != old => {
            return Err(invalid(
                "SourceIdentity",
                "The SourceIdentity of a role session cannot be changed.",
            ));
        }
        (Some(s), _) => Some(s.to_string()),
        (None, old) => old,
    };

    let snap = &*state.identities;
    let role = snap
        .role_named(&account, role_name)
        .ok_or(ApiError::StsRoleNotFound)?;
    let parent = call.session;
    if parent.is_some_and(|p| p.claims.depth >= MAX_CHAIN_DEPTH) {
        return Err(ApiError::RoleChainTooDeep {
            limit: MAX_CHAIN_DEPTH,
        });
    }
    let chained = parent.is_some();
    let max = if chained {
        role.max_session_duration.min(MAX_CHAINED_DURATION)
    } else {
        role.max_session_duration
    };
    if !(MIN_DURATION..=max).contains(&duration) {
        return Err(duration_error());
    }

    let role_arn = arn::role(&account, &role.name);
    // A trust policy without conditions never reads the context: most have none.
    let mut context = Context::new();
    if role.trust.as_deref().is_some_and(Policy::has_conditions) {
        context = authz::context(req, call.now);
        if let Some(e) = external_id {
            context = context.with_string("sts:ExternalId", e);
        }
        if let Some(s) = &source_identity {
            context = context.with_string("sts:SourceIdentity", s);
        }
    }
    let trust_request = Request {
        action: "sts:AssumeRole",
        resource: &role_arn,
        context: &context,
    };
    let trusted = role.trust.as_deref().map(|t| {
        tessera_policy::evaluate_trust(t, &caller, &trust_request).decision == Decision::Allow
    });
    if trusted != Some(true) {
        return Err(ApiError::RoleNotTrusted);
    }

    // A chained session never outlives the one that started it (UNCONFIRMED: Alibaba documents
    // nothing; the requested duration is still checked as asked, then the expiry is capped).
    let expires = match parent {
        Some(p) => (call.now + duration).min(p.claims.expires),
        None => call.now + duration,
    };
    // The chain so far, and the calling session itself last: revoking any of them (or deleting
    // its role) ends this session too.
    let ancestors = match (parent, call.principal) {
        (
            Some(p),
            Principal::Session {
                account, role_id, ..
            },
        ) => {
            let mut chain = Vec::with_capacity(p.claims.ancestors.len() + 1);
            chain.extend_from_slice(&p.claims.ancestors);
            chain.push(Ancestor {
                account: account.clone(),
                role_id: role_id.clone(),
                issued: p.claims.issued,
            });
            chain
        }
        _ => Vec::new(),
    };

    let mut id = *b"STS.0000000000000000000000000";
    ids::fill_alphanumerics(&mut id[4..]);
    let claims = SessionClaims {
        access_key_id: String::from_utf8_lossy(&id).into_owned(),
        secret: Secret::new(ids::alphanumerics(44)),
        account: account.clone(),
        role_id: role.id.clone(),
        role_name: role.name.clone(),
        session_name: session_name.to_string(),
        issued: call.now,
        expires,
        policy: policy.map(str::to_string),
        source_identity: source_identity.clone(),
        origin_user: match (call.principal, call.session) {
            (Principal::User { account, id, .. }, _) => {
                Some((account.clone(), id.as_str().to_string()))
            }
            (_, Some(s)) => s.claims.origin_user.clone(),
            _ => None,
        },
        depth: call
            .session
            .map(|s| s.claims.depth.saturating_add(1))
            .unwrap_or(1),
        ancestors,
    };
    let token = snap
        .keyring()
        .seal(&claims)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no token key to seal with")))?;
    Ok(Reply::AssumedRole(Box::new(AssumedRole { claims, token })))
}

/// What AssumeRole answers: the session it sealed and its token.
pub struct AssumedRole {
    /// The session.
    pub claims: SessionClaims,
    /// Its SecurityToken.
    pub token: String,
}

/// AssumeRole's answer (spec §8.1), handed to `render` as borrowed fields: the session's role
/// ARN carries the role name in lower case, as real ones do.
pub fn with_assumed_role<R>(
    reply: &AssumedRole,
    render: impl FnOnce(&[(&str, Value<'_>)]) -> R,
) -> R {
    let c = &reply.claims;
    let mut lower = [0u8; 64];
    let name = c.role_name.as_bytes();
    let role = match lower.get_mut(..name.len()) {
        Some(l) => {
            l.copy_from_slice(name);
            l.make_ascii_lowercase();
            std::str::from_utf8(l).unwrap_or(&c.role_name)
        }
        // Role names are at most 64 characters; anything longer is shown as it is.
        None => &c.role_name,
    };
    let account = c.account.as_str();
    let expiration = timestamp::format_bytes(c.expires);
    let expiration = std::str::from_utf8(&expiration).unwrap_or("");
    let user = [
        (
            "Arn",
            Value::Concat(&["acs:ram::", account, ":role/", role, "/", &c.session_name]),
        ),
        (
            "AssumedRoleId",
            Value::Concat(&[&c.role_id, ":", &c.session_name]),
        ),
    ];
    let credentials = [
        ("AccessKeyId", Value::Str(&c.access_key_id)),
        ("AccessKeySecret", Value::Str(c.secret.expose())),
        ("SecurityToken", Value::Str(&reply.token)),
        ("Expiration", Value::Str(expiration)),
    ];
    let mut fields = [
        ("AssumedRoleUser", Value::Obj(&user)),
        ("Credentials", Value::Obj(&credentials)),
        ("SourceIdentity", Value::Str("")),
    ];
    match &c.source_identity {
        Some(s) => {
            fields[2].1 = Value::Str(s);
            render(&fields)
        }
        None => render(&fields[..2]),
    }
}
