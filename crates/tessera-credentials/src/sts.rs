//! STS (2015-04-01): the typed calls and their answers.

use crate::rpc::Reply;
use crate::signing::RpcCall;
use crate::{Credential, Error};
use serde_json::Value;
use tessera_protocol::STS_VERSION;

/// The shortest session STS grants.
pub const MIN_DURATION_SECS: u32 = 900;
/// The longest session a role can allow.
pub const MAX_DURATION_SECS: u32 = 43_200;
/// What is asked for when nothing is said, as in every official library.
pub const DEFAULT_DURATION_SECS: u32 = 3600;

/// Parameters of `AssumeRole`.
#[derive(Clone, Default)]
pub struct AssumeRoleRequest {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// The session's name (2–64 characters of `[A-Za-z0-9.@_-]`).
    pub role_session_name: String,
    /// Lifetime in seconds, 900..=43200 (default 3600).
    pub duration_seconds: Option<u32>,
    /// A session policy that narrows the role's permissions.
    pub policy: Option<String>,
    /// The external id the role's trust policy may require.
    pub external_id: Option<String>,
    /// The source identity to carry along the session.
    pub source_identity: Option<String>,
}

impl std::fmt::Debug for AssumeRoleRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRoleRequest")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration_seconds", &self.duration_seconds)
            .field("policy", &self.policy.as_ref().map(|_| "…"))
            .field("external_id", &self.external_id.as_ref().map(|_| "***"))
            .field("source_identity", &self.source_identity)
            .finish()
    }
}

impl AssumeRoleRequest {
    /// A request for `role_arn` under `session_name`.
    pub fn new(role_arn: impl Into<String>, session_name: impl Into<String>) -> Self {
        AssumeRoleRequest {
            role_arn: role_arn.into(),
            role_session_name: session_name.into(),
            ..Default::default()
        }
    }

    /// Checks what can be checked before calling STS.
    pub fn validate(&self) -> Result<(), Error> {
        if self.role_arn.is_empty() {
            return Err(Error::config("AssumeRole", "RoleArn is empty"));
        }
        check_session_name(&self.role_session_name)?;
        check_duration(self.duration_seconds)
    }

    /// The RPC call, for callers that want the raw answer (`Client::call_with`).
    pub fn to_call(&self) -> RpcCall {
        RpcCall::new("AssumeRole", STS_VERSION)
            .param("RoleArn", &self.role_arn)
            .param("RoleSessionName", &self.role_session_name)
            .param(
                "DurationSeconds",
                self.duration_seconds
                    .unwrap_or(DEFAULT_DURATION_SECS)
                    .to_string(),
            )
            .param_opt("Policy", self.policy.as_deref())
            .param_opt("ExternalId", self.external_id.as_deref())
            .param_opt("SourceIdentity", self.source_identity.as_deref())
    }
}

pub(crate) fn check_session_name(name: &str) -> Result<(), Error> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "RoleSessionName",
            format!("{name:?} must be 2 to 64 characters of letters, digits and . @ _ -"),
        ))
    }
}

pub(crate) fn check_duration(d: Option<u32>) -> Result<(), Error> {
    match d {
        Some(d) if !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&d) => Err(Error::config(
            "DurationSeconds",
            format!("{d} is outside {MIN_DURATION_SECS}..={MAX_DURATION_SECS}"),
        )),
        _ => Ok(()),
    }
}

/// The user an assumed-role session acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRoleUser {
    /// `acs:ram::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// `<role id>:<session>`.
    pub assumed_role_id: String,
}

/// The answer to `AssumeRole` / `AssumeRoleWithOIDC`.
#[derive(Debug, Clone)]
pub struct AssumeRoleResponse {
    /// The request id.
    pub request_id: String,
    /// Who the session is.
    pub assumed_role_user: AssumedRoleUser,
    /// The STS credential, its expiry corrected for the server's clock.
    pub credentials: Credential,
    /// The source identity, if the session carries one.
    pub source_identity: Option<String>,
}

/// The answer to `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The request id.
    pub request_id: String,
    /// The account.
    pub account_id: String,
    /// The caller's ARN.
    pub arn: String,
    /// `Account`, `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
    /// The principal id.
    pub principal_id: String,
    /// The user id (root and RAM users).
    pub user_id: Option<String>,
    /// The role id (sessions).
    pub role_id: Option<String>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn missing(endpoint: &str, what: &str) -> Error {
    Error::InvalidResponse {
        endpoint: endpoint.to_string(),
        message: format!("the answer has no {what}"),
    }
}

/// Reads `Credentials` out of an AssumeRole-shaped answer.
pub(crate) fn parse_assume_role(
    endpoint: &str,
    reply: &Reply,
    provider_name: &str,
) -> Result<AssumeRoleResponse, Error> {
    let v = &reply.body;
    let get = |path: &[&str], what: &str| {
        str_at(v, path)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(endpoint, what))
    };
    let id = get(&["Credentials", "AccessKeyId"], "Credentials.AccessKeyId")?;
    let secret = get(
        &["Credentials", "AccessKeySecret"],
        "Credentials.AccessKeySecret",
    )?;
    let token = get(
        &["Credentials", "SecurityToken"],
        "Credentials.SecurityToken",
    )?;
    let exp = get(&["Credentials", "Expiration"], "Credentials.Expiration")?;
    let exp = tessera_protocol::timestamp::parse(exp).map_err(|_| Error::InvalidResponse {
        endpoint: endpoint.to_string(),
        message: "Credentials.Expiration is not YYYY-MM-DDThh:mm:ssZ".into(),
    })?;
    let credentials = Credential::sts_token(id, secret, token)
        .with_expiration(crate::credential::from_unix_secs(exp))
        .with_clock_skew(reply.skew_secs)
        .with_provider_name(provider_name);
    Ok(AssumeRoleResponse {
        request_id: str_at(v, &["RequestId"]).unwrap_or_default().to_string(),
        assumed_role_user: AssumedRoleUser {
            arn: str_at(v, &["AssumedRoleUser", "Arn"])
                .unwrap_or_default()
                .to_string(),
            assumed_role_id: str_at(v, &["AssumedRoleUser", "AssumedRoleId"])
                .unwrap_or_default()
                .to_string(),
        },
        credentials,
        source_identity: str_at(v, &["SourceIdentity"]).map(str::to_string),
    })
}

pub(crate) fn parse_caller_identity(endpoint: &str, v: &Value) -> Result<CallerIdentity, Error> {
    let s = |k: &str| str_at(v, &[k]).map(str::to_string);
    Ok(CallerIdentity {
        request_id: s("RequestId").unwrap_or_default(),
        account_id: s("AccountId").ok_or_else(|| missing(endpoint, "AccountId"))?,
        arn: s("Arn").ok_or_else(|| missing(endpoint, "Arn"))?,
        identity_type: s("IdentityType").unwrap_or_default(),
        principal_id: s("PrincipalId").unwrap_or_default(),
        user_id: s("UserId").filter(|u| !u.is_empty()),
        role_id: s("RoleId").filter(|u| !u.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(AssumeRoleRequest::new("acs:ram::1:role/r", "ok-name")
            .validate()
            .is_ok());
        assert!(AssumeRoleRequest::new("acs:ram::1:role/r", "x")
            .validate()
            .is_err());
        assert!(AssumeRoleRequest::new("acs:ram::1:role/r", "bad name")
            .validate()
            .is_err());
        let mut r = AssumeRoleRequest::new("acs:ram::1:role/r", "ok");
        r.duration_seconds = Some(899);
        assert!(r.validate().is_err());
        r.duration_seconds = Some(43_201);
        assert!(r.validate().is_err());
        r.duration_seconds = Some(43_200);
        assert!(r.validate().is_ok());
        assert!(!format!(
            "{:?}",
            AssumeRoleRequest {
                external_id: Some("ext-sekrit".into()),
                ..r
            }
        )
        .contains("sekrit"));
    }

    #[test]
    fn parses_credentials_with_skew() {
        let reply = Reply {
            body: serde_json::json!({
                "RequestId": "R",
                "AssumedRoleUser": {"Arn": "acs:ram::1:assumed-role/r/s", "AssumedRoleId": "3:s"},
                "Credentials": {"AccessKeyId": "STS.a", "AccessKeySecret": "b",
                                "SecurityToken": "c", "Expiration": "2030-01-01T00:00:00Z"}
            }),
            skew_secs: 30,
        };
        let r = parse_assume_role("e", &reply, "ram_role_arn").unwrap();
        assert_eq!(r.credentials.access_key_id(), "STS.a");
        assert_eq!(r.credentials.clock_skew_secs(), 30);
        assert_eq!(r.credentials.provider_name(), "ram_role_arn");
        let bad = Reply {
            body: serde_json::json!({"Credentials": {}}),
            skew_secs: 0,
        };
        let e = parse_assume_role("e", &bad, "x").unwrap_err();
        assert!(e.to_string().contains("Credentials.AccessKeyId"), "{e}");
    }
}
