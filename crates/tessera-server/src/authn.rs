//! Authentication: who signed this request, checked in the gateway's order (spec §7.2):
//! required parameters → Format → AccessKey (NotFound / Inactive) → signature method →
//! timestamp → signature → nonce → Version and Action.
//!
//! The style is chosen by the credential field: an `Authorization: ACS3-…` header is V3,
//! otherwise the request is RPC v1. Several V1 clients also send `x-acs-action` headers; those
//! are unsigned there and ignored.

use crate::catalog::Action;
use crate::error::ApiError;
use crate::identity::{CachedKey, IdentityCache, NamedPolicy};
use crate::ids::AccountId;
use crate::nonce::NonceError;
use crate::principal::Principal;
use crate::request::ApiRequest;
use crate::shared_replay::Seen;
use crate::state::AppState;
use crate::tokens::{SessionClaims, TokenError};
use std::sync::Arc;
use tessera_policy::Policy;
use tessera_protocol::render::Format;
use tessera_protocol::v1::{self, Verification};
use tessera_protocol::Secret;
use tessera_protocol::{timestamp, v3, GatewayError, TIMESTAMP_WINDOW_SECS};
use tessera_store::{KeyStatus, TargetKind};

/// A request whose signature checked out.
#[derive(Debug)]
pub struct Authenticated {
    caller: Caller,
    /// The identity policies that apply: a user's own and its groups', or a session's role's.
    pub policies: Arc<[NamedPolicy]>,
    /// What it asks for.
    pub action: Action,
}

/// Whose credential signed: a cached long-term key (shared with the identity cache, not copied)
/// or an STS session opened from its token.
#[derive(Debug)]
enum Caller {
    Key(Arc<CachedKey>),
    Session(Box<Session>),
}

impl Authenticated {
    /// Who signed it.
    pub fn principal(&self) -> &Principal {
        match &self.caller {
            Caller::Key(k) => &k.principal,
            Caller::Session(s) => &s.principal,
        }
    }

    /// For an STS session: its claims and compiled session policy.
    pub fn session(&self) -> Option<&Session> {
        match &self.caller {
            Caller::Key(_) => None,
            Caller::Session(s) => Some(s),
        }
    }
}

/// An authenticated STS session.
#[derive(Debug)]
pub struct Session {
    /// What its token says, but the identity, which moved into [`Session::principal`].
    pub claims: SessionClaims,
    /// The session as a principal.
    pub principal: Principal,
    /// The session policy, compiled; it narrows the role's permissions.
    pub policy: Option<Arc<Policy>>,
}

/// The credential a request names, resolved before its signature is checked. It lives on the
/// stack for one request: boxing the session's claims would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum Credential {
    Key(Arc<CachedKey>),
    Session {
        claims: SessionClaims,
        policies: Arc<[NamedPolicy]>,
    },
}

impl Credential {
    fn secret(&self) -> &Secret {
        match self {
            Credential::Key(k) => &k.secret,
            Credential::Session { claims, .. } => &claims.secret,
        }
    }
}

/// Authenticates `req` at time `now` (read once per request, so the timestamp and nonce checks
/// agree). See the module documentation for the order of checks.
pub async fn authenticate(
    state: &AppState,
    req: &ApiRequest<'_>,
    now: i64,
) -> Result<Authenticated, ApiError> {
    match req.header("authorization") {
        Some(auth) if auth.trim_start().starts_with("ACS3-") => {
            authenticate_v3(state, req, auth, now).await
        }
        _ => authenticate_v1(state, req, now).await,
    }
}

fn required<'a>(req: &'a ApiRequest, name: &'static str) -> Result<&'a str, GatewayError> {
    req.param(name)
        .filter(|v| !v.is_empty())
        .ok_or(GatewayError::MissingParameter(name))
}

fn required_header<'a>(req: &'a ApiRequest, name: &'static str) -> Result<&'a str, GatewayError> {
    req.header(name)
        .filter(|v| !v.is_empty())
        .ok_or(GatewayError::MissingHeader(name))
}

fn check_format(req: &ApiRequest) -> Result<(), GatewayError> {
    match req.param("Format") {
        Some(f) if Format::from_param(f).is_none() => Err(GatewayError::InvalidFormat),
        _ => Ok(()),
    }
}

/// Resolves the AccessKeyId (and, for an `STS.` id, its SecurityToken) to the secret that must
/// have signed the request. A long-term key comes from the identity cache; a session comes
/// whole from its sealed token. Neither reads the disk.
fn resolve(snap: &IdentityCache, id: &str, token: Option<&str>) -> Result<Credential, ApiError> {
    if id.starts_with("STS.") {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(GatewayError::MissingSecurityToken)?;
        let claims = snap.keyring().open(id, token).map_err(|e| match e {
            TokenError::Malformed => GatewayError::SecurityTokenMalformed,
            TokenError::Mismatch => GatewayError::SecurityTokenMismatch,
        })?;
        let policies = snap
            .role(&claims.account, &claims.role_id)
            .map(|r| Arc::clone(&r.policies))
            .unwrap_or_else(|| Arc::from(Vec::new()));
        return Ok(Credential::Session { claims, policies });
    }
    let key = snap.access_key(id).ok_or(GatewayError::AccessKeyNotFound)?;
    if key.status != KeyStatus::Active {
        return Err(GatewayError::AccessKeyInactive.into());
    }
    Ok(Credential::Key(key))
}

/// The checks a session passes once its signature is known good: not expired, its role still
/// there (deleting a role ends its sessions), its session policy compilable.
fn finish(
    state: &AppState,
    snap: &IdentityCache,
    credential: Credential,
    action: Action,
    now: i64,
) -> Result<Authenticated, ApiError> {
    let (caller, policies) = match credential {
        Credential::Key(key) => {
            let policies = Arc::clone(&key.policies);
            (Caller::Key(key), policies)
        }
        Credential::Session {
            mut claims,
            policies,
        } => {
            let revoked = snap.revoked(
                &claims.account,
                TargetKind::Role,
                &claims.role_id,
                claims.issued,
            ) || claims
                .origin_user
                .as_ref()
                .is_some_and(|(a, u)| snap.revoked(a, TargetKind::User, u, claims.issued));
            // A chained session lives only as long as every session it was chained from: one
            // revoked, or whose role was deleted, ends it. (Expiry needs no check: a chained
            // session never outlives its parent.)
            let ancestor_ended = claims.ancestors.iter().any(|a| {
                snap.revoked(&a.account, TargetKind::Role, &a.role_id, a.issued)
                    || snap.role(&a.account, &a.role_id).is_none()
            });
            if now >= claims.expires
                || revoked
                || ancestor_ended
                || snap.role(&claims.account, &claims.role_id).is_none()
            {
                return Err(GatewayError::SecurityTokenExpired.into());
            }
            let policy = match &claims.policy {
                None => None,
                Some(text) => Some(
                    state
                        .identities
                        .session_policy(text)
                        .map_err(|_| GatewayError::SecurityTokenMalformed)?,
                ),
            };
            // The identity moves from the claims into the principal (nothing reads it from the
            // claims after this): four strings fewer per request of a session.
            let principal = Principal::Session {
                account: std::mem::replace(&mut claims.account, AccountId::from_trusted("")),
                role_id: std::mem::take(&mut claims.role_id),
                role_name: std::mem::take(&mut claims.role_name),
                session_name: std::mem::take(&mut claims.session_name),
            };
            let session = Session {
                claims,
                principal,
                policy,
            };
            (Caller::Session(Box::new(session)), policies)
        }
    };
    Ok(Authenticated {
        caller,
        policies,
        action,
    })
}

/// Parses a timestamp and checks it is within the window; returns it.
fn check_timestamp(now: i64, value: &str) -> Result<i64, GatewayError> {
    let ts = timestamp::parse(value).map_err(|_| GatewayError::TimestampFormat)?;
    if (ts - now).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(GatewayError::TimestampExpired);
    }
    Ok(ts)
}

fn remember_nonce(
    state: &AppState,
    access_key_id: &str,
    nonce: &str,
    ts: i64,
    now: i64,
) -> Result<(), GatewayError> {
    // The timestamp check passes while now <= ts + WINDOW, and a nonce counts as used while
    // its expiry is later than now: so it must expire at ts + WINDOW + 1, not a second sooner,
    // or a replay in the window's last second would get through.
    match state
        .nonces
        .check_and_insert(access_key_id, nonce, ts + TIMESTAMP_WINDOW_SECS + 1, now)
    {
        Ok(()) => Ok(()),
        Err(NonceError::Used) => Err(GatewayError::NonceUsed),
        Err(NonceError::KeyShareFull) => {
            tracing::warn!(
                access_key_id,
                "this AccessKey holds its whole share of the replay window; throttling it"
            );
            Err(GatewayError::ThrottlingUser)
        }
        Err(NonceError::Full) => {
            tracing::warn!(
                "replay window memory (--replay-memory) full of live nonces; throttling"
            );
            Err(GatewayError::Throttling)
        }
    }
}

/// Records the nonce in the replay window shared by the cluster's nodes, when there is one: a
/// request replayed to another node within the window is refused there too.
async fn remember_shared(
    state: &AppState,
    access_key_id: &str,
    nonce: &str,
    ts: i64,
) -> Result<(), GatewayError> {
    let Some(shared) = &state.shared_replay else {
        return Ok(());
    };
    // Kept exactly as long as the node's own window keeps it (see `remember_nonce`).
    match shared
        .remember(access_key_id, nonce, ts + TIMESTAMP_WINDOW_SECS + 1)
        .await?
    {
        Seen::New => Ok(()),
        Seen::Replay => Err(GatewayError::NonceUsed),
    }
}

async fn authenticate_v1(
    state: &AppState,
    req: &ApiRequest<'_>,
    now: i64,
) -> Result<Authenticated, ApiError> {
    let action = required(req, "Action")?;
    let version = required(req, "Version")?;
    let key_id = required(req, "AccessKeyId")?;
    // A request with no signature at all is not signed to the standard (spec §7.2).
    let signature = req
        .param("Signature")
        .filter(|v| !v.is_empty())
        .ok_or(GatewayError::IncompleteSignature)?;
    let method = required(req, "SignatureMethod")?;
    let sig_version = required(req, "SignatureVersion")?;
    let nonce = required(req, "SignatureNonce")?;
    let ts = required(req, "Timestamp")?;
    check_format(req)?;
    let snap = &*state.identities;
    // sts-sdk also repeats the token in a header; the parameter is what the signature covers.
    let token = req
        .param("SecurityToken")
        .or_else(|| req.header("x-acs-security-token"));
    let credential = resolve(snap, key_id, token)?;
    if method != v1::SIGNATURE_METHOD || sig_version != v1::SIGNATURE_VERSION {
        return Err(GatewayError::InvalidSignatureMethod.into());
    }
    let ts = check_timestamp(now, ts)?;
    match v1::verify(
        credential.secret().expose(),
        req.method.as_str(),
        req.params().iter().copied(),
        signature,
    ) {
        Verification::Valid(_) => {}
        Verification::Mismatch { string_to_sign } => {
            return Err(GatewayError::SignatureDoesNotMatch { string_to_sign }.into())
        }
    }
    remember_nonce(state, key_id, nonce, ts, now)?;
    remember_shared(state, key_id, nonce, ts).await?;
    let action = Action::resolve(version, action)?;
    finish(state, snap, credential, action, now)
}

/// Headers every V3 signature must cover, so none of them can be altered in transit.
const V3_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

async fn authenticate_v3(
    state: &AppState,
    req: &ApiRequest<'_>,
    authorization: &str,
    now: i64,
) -> Result<Authenticated, ApiError> {
    let auth =
        v3::parse_authorization(authorization).map_err(|_| GatewayError::IncompleteSignature)?;
    let action = required_header(req, "x-acs-action")?;
    let version = required_header(req, "x-acs-version")?;
    let date = required_header(req, "x-acs-date")?;
    let nonce = required_header(req, "x-acs-signature-nonce")?;
    let content_sha256 = required_header(req, "x-acs-content-sha256")?;
    check_format(req)?;
    let snap = &*state.identities;
    let credential = resolve(snap, &auth.credential, req.header("x-acs-security-token"))?;
    if auth.algorithm != v3::ALGORITHM {
        return Err(GatewayError::InvalidSignatureMethod.into());
    }
    let must_sign = V3_SIGNED.iter().copied().chain(
        req.headers
            .contains_key("x-acs-security-token")
            .then_some("x-acs-security-token"),
    );
    for h in must_sign {
        if !auth.signed_headers.iter().any(|s| s == h) {
            return Err(GatewayError::IncompleteSignature.into());
        }
    }
    // The body hash proves the bytes, not how they are read: form parameters from the body count
    // only if the Content-Type that made them parameters was signed too.
    if req.has_form_body() && !auth.signed_headers.iter().any(|h| h == "content-type") {
        return Err(GatewayError::IncompleteSignature.into());
    }
    // A signed header must have exactly one readable value, so what was signed is what is read.
    for name in &auth.signed_headers {
        let mut values = req.headers.get_all(name.as_str()).iter();
        let one = values.next().map(|v| v.to_str().is_ok()).unwrap_or(true);
        if !one || values.next().is_some() {
            return Err(GatewayError::IncompleteSignature.into());
        }
    }
    let ts = check_timestamp(now, date)?;
    let query = v3::canonical_query(req.query().iter().copied());
    let canonical = v3::canonical_request(
        req.method.as_str(),
        req.path,
        &query,
        &auth.signed_headers,
        |name| {
            req.headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        },
        content_sha256,
    );
    let string_to_sign = v3::string_to_sign(&canonical);
    if !v3::signature_matches(
        credential.secret().expose(),
        &string_to_sign,
        &auth.signature,
    ) {
        return Err(GatewayError::SignatureDoesNotMatch { string_to_sign }.into());
    }
    if !content_sha256.eq_ignore_ascii_case(&v3::payload_hash(req.body)) {
        return Err(GatewayError::ContentHashMismatch.into());
    }
    remember_nonce(state, &auth.credential, nonce, ts, now)?;
    remember_shared(state, &auth.credential, nonce, ts).await?;
    let action = Action::resolve(version, action)?;
    finish(state, snap, credential, action, now)
}
