//! Reading and validating action parameters, with RAM's limits and error codes (spec §11).

use crate::error::ApiError;
use crate::ids::{GroupName, PolicyName, RoleName, UserName};
use crate::password;
use crate::request::ApiRequest;
use tessera_protocol::Secret;
use tessera_store::PolicyType;

/// A required parameter; absent or empty is `Missing<Name>`.
pub fn required<'a>(req: &'a ApiRequest, name: &'static str) -> Result<&'a str, ApiError> {
    req.param(name)
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingParameter(name))
}

/// An optional parameter; empty counts as absent.
pub fn optional<'a>(req: &'a ApiRequest, name: &'static str) -> Option<&'a str> {
    req.param(name).filter(|v| !v.is_empty())
}

/// A user name: 1–64 of `A-Za-z0-9._-`.
pub fn user_name(field: &'static str, value: &str) -> Result<UserName, ApiError> {
    if value.chars().count() > 64 {
        return Err(ApiError::InvalidLength(field));
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ApiError::InvalidChars(field));
    }
    Ok(UserName::from_trusted(value))
}

/// A name of 1–`max` characters, each accepted by `allowed`.
fn checked_name<'a>(
    field: &'static str,
    value: &'a str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<&'a str, ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::InvalidLength(field));
    }
    if value.is_empty() || !value.bytes().all(allowed) {
        return Err(ApiError::InvalidChars(field));
    }
    Ok(value)
}

/// A group name: 1–64 of `A-Za-z0-9._-` (the same alphabet as user names).
pub fn group_name(field: &'static str, value: &str) -> Result<GroupName, ApiError> {
    checked_name(field, value, 64, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
    })
    .map(GroupName::from_trusted)
}

/// A role name: 1–64 of `A-Za-z0-9.-`. Unlike user and group names, no underscore.
pub fn role_name(field: &'static str, value: &str) -> Result<RoleName, ApiError> {
    checked_name(field, value, 64, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
    })
    .map(RoleName::from_trusted)
}

/// Shortest `MaxSessionDuration` a role may have, in seconds (and its default).
pub const MIN_SESSION_DURATION: i64 = 3600;
/// Longest `MaxSessionDuration` a role may have, in seconds.
pub const MAX_SESSION_DURATION: i64 = 43200;

/// A role's maximum session duration: an integer number of seconds in 3600–43200.
pub fn session_duration(field: &'static str, value: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (MIN_SESSION_DURATION..=MAX_SESSION_DURATION).contains(n))
        .ok_or(ApiError::InvalidValue(field))
}

/// Longest trust policy (`AssumeRolePolicyDocument`) accepted, in characters. RAM does not
/// document one; this is the older limit for custom policy documents, ample for a trust
/// policy listing dozens of principals.
pub const MAX_TRUST_POLICY: usize = 4096;

/// A role's trust policy: at most [`MAX_TRUST_POLICY`] characters, and valid in the policy
/// grammar for trust policies (`Principal` required); a bad one is `MalformedPolicyDocument`
/// with the parser's account of what is wrong and where. Returned exactly as given: RAM echoes
/// the submitter's text, so the server stores it unnormalised and compiles it again when needed.
pub fn trust_policy(field: &'static str, value: &str) -> Result<String, ApiError> {
    if value.chars().count() > MAX_TRUST_POLICY {
        return Err(ApiError::InvalidLength(field));
    }
    tessera_policy::parse(value, tessera_policy::PolicyKind::Trust)
        .map_err(|e| ApiError::MalformedPolicyDocument(e.message))?;
    Ok(value.to_string())
}

/// A console password that satisfies the password policy ([`password::meets_policy`]).
pub fn new_password(value: &str) -> Result<Secret, ApiError> {
    if password::meets_policy(value) {
        Ok(Secret::new(value))
    } else {
        Err(ApiError::PasswordTooWeak)
    }
}

/// Free text of at most `max` characters without control characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::InvalidLength(field));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::InvalidChars(field));
    }
    Ok(value.to_string())
}

/// A phone number as RAM stores it: `<country code>-<number>`, e.g. `86-18600008888`.
pub fn mobile_phone(field: &'static str, value: &str) -> Result<String, ApiError> {
    let ok = match value.split_once('-') {
        Some((cc, num)) => {
            (1..=4).contains(&cc.len())
                && (4..=20).contains(&num.len())
                && cc.bytes().all(|b| b.is_ascii_digit())
                && num.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(ApiError::InvalidFormat(field))
    }
}

/// An e-mail address: `local@domain.tld`, at most 128 characters.
pub fn email(field: &'static str, value: &str) -> Result<String, ApiError> {
    let ok = value.len() <= 128
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && value.chars().all(|c| c.is_ascii_graphic())
            }
            None => false,
        };
    if ok {
        Ok(value.to_string())
    } else {
        Err(ApiError::InvalidFormat(field))
    }
}

/// A policy name: 1–128 of `A-Za-z0-9-`.
pub fn policy_name(field: &'static str, value: &str) -> Result<PolicyName, ApiError> {
    if value.chars().count() > 128 {
        return Err(ApiError::InvalidLength(field));
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::InvalidChars(field));
    }
    Ok(PolicyName::from_trusted(value))
}

/// `PolicyType`: `System` or `Custom`.
pub fn policy_type(value: &str) -> Result<PolicyType, ApiError> {
    PolicyType::parse(value).ok_or(ApiError::InvalidValue("PolicyType"))
}

/// A policy version id, `v<n>`.
pub fn version_id(value: &str) -> Result<u32, ApiError> {
    value
        .strip_prefix('v')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or(ApiError::InvalidFormat("VersionId"))
}

/// An optional boolean parameter (`true` / `false`, any case).
pub fn boolean(req: &ApiRequest, name: &'static str) -> Result<Option<bool>, ApiError> {
    match optional(req, name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::InvalidValue(name)),
    }
}

/// `MaxItems`: 1–1000, default 100.
pub fn max_items(req: &ApiRequest) -> Result<usize, ApiError> {
    match optional(req, "MaxItems") {
        None => Ok(100),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or(ApiError::InvalidValue("MaxItems")),
    }
}

/// Markers are opaque to clients: the last name of the previous page, base64url-encoded.
pub mod marker {
    use super::*;
    use crate::actions::Fields;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use tessera_protocol::render::Node;
    use tessera_store::Page;

    /// The marker that continues after `last`.
    pub fn encode(last: &str) -> String {
        B64.encode(last.as_bytes())
    }

    /// Decodes the request's `Marker`, if any.
    pub fn decode(req: &ApiRequest) -> Result<Option<String>, ApiError> {
        match optional(req, "Marker") {
            None => Ok(None),
            Some(m) => B64
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(Some)
                .ok_or(ApiError::InvalidValue("Marker")),
        }
    }

    /// `IsTruncated`, `Marker` (only when truncated, continuing after `last_name` of the last
    /// item) and the list itself, as every paged RAM listing answers.
    pub fn paged<T>(
        page: &Page<T>,
        last_name: impl Fn(&T) -> &str,
        list: &'static str,
        item: &'static str,
        node: impl Fn(&T) -> Node,
    ) -> Fields {
        let mut fields: Fields = vec![("IsTruncated", Node::Bool(page.truncated))];
        if page.truncated {
            if let Some(last) = page.items.last() {
                fields.push(("Marker", encode(last_name(last)).into()));
            }
        }
        fields.push((
            list,
            Node::List {
                item,
                items: page.items.iter().map(node).collect(),
            },
        ));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert!(user_name("UserName", "alice.b_c-1").is_ok());
        assert!(matches!(
            user_name("UserName", "a b"),
            Err(ApiError::InvalidChars("UserName"))
        ));
        assert!(matches!(
            user_name("UserName", "é"),
            Err(ApiError::InvalidChars(_))
        ));
        assert!(matches!(
            user_name("NewUserName", &"a".repeat(65)),
            Err(ApiError::InvalidLength("NewUserName"))
        ));
        assert!(user_name("UserName", &"a".repeat(64)).is_ok());
    }

    #[test]
    fn group_and_role_names() {
        assert!(group_name("GroupName", "dev.team_1-a").is_ok());
        assert!(matches!(
            group_name("GroupName", "dev team"),
            Err(ApiError::InvalidChars("GroupName"))
        ));
        assert!(matches!(
            group_name("NewGroupName", &"g".repeat(65)),
            Err(ApiError::InvalidLength("NewGroupName"))
        ));
        assert!(group_name("GroupName", &"g".repeat(64)).is_ok());
        assert!(role_name("RoleName", "ECS-Admin.v2").is_ok());
        assert!(matches!(
            role_name("RoleName", "ecs_admin"),
            Err(ApiError::InvalidChars("RoleName"))
        ));
        assert!(matches!(
            role_name("RoleName", "a@b"),
            Err(ApiError::InvalidChars("RoleName"))
        ));
        assert!(matches!(
            role_name("RoleName", &"r".repeat(65)),
            Err(ApiError::InvalidLength("RoleName"))
        ));
        assert!(role_name("RoleName", &"r".repeat(64)).is_ok());
    }

    #[test]
    fn session_durations() {
        assert_eq!(
            session_duration("MaxSessionDuration", "3600").ok(),
            Some(3600)
        );
        assert_eq!(
            session_duration("MaxSessionDuration", "43200").ok(),
            Some(43200)
        );
        for bad in ["3599", "43201", "-1", "1h", "", "3600.0"] {
            assert!(
                matches!(
                    session_duration("MaxSessionDuration", bad),
                    Err(ApiError::InvalidValue("MaxSessionDuration"))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn booleans() {
        let (method, headers) = (axum::http::Method::GET, axum::http::HeaderMap::new());
        let mut scratch = crate::request::Scratch::new();
        let r = ApiRequest::new(
            &method,
            "/",
            Some("A=true&B=FALSE&C=True&D=yes&E=1&F="),
            &headers,
            &[],
            "127.0.0.1:1".parse().expect("address"),
            false,
            &mut scratch,
        );
        assert_eq!(boolean(&r, "A").ok(), Some(Some(true)));
        assert_eq!(boolean(&r, "B").ok(), Some(Some(false)));
        assert_eq!(boolean(&r, "C").ok(), Some(Some(true)));
        assert!(matches!(boolean(&r, "D"), Err(ApiError::InvalidValue("D"))));
        assert!(matches!(boolean(&r, "E"), Err(ApiError::InvalidValue("E"))));
        assert_eq!(boolean(&r, "F").ok(), Some(None), "empty counts as absent");
        assert_eq!(boolean(&r, "G").ok(), Some(None));
    }

    #[test]
    fn trust_policies() {
        let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1234567890123456:root"}}]}"#;
        assert_eq!(
            trust_policy("AssumeRolePolicyDocument", doc)
                .ok()
                .as_deref(),
            Some(doc),
            "kept byte for byte"
        );
        let big = doc.replace("root", &format!("user/{}", "u".repeat(MAX_TRUST_POLICY)));
        assert!(matches!(
            trust_policy("AssumeRolePolicyDocument", &big),
            Err(ApiError::InvalidLength("AssumeRolePolicyDocument"))
        ));
        for (bad, says) in [
            ("{", ""),
            ("[]", ""),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#,
                "Principal",
            ),
            (
                r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"}}]}"#,
                "Version",
            ),
        ] {
            match trust_policy("NewAssumeRolePolicyDocument", bad) {
                Err(ApiError::MalformedPolicyDocument(m)) => {
                    assert!(!m.is_empty() && m.contains(says), "{bad}: {m}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn passwords() {
        assert!(new_password("Abcdefg1").is_ok());
        assert!(matches!(
            new_password("short"),
            Err(ApiError::PasswordTooWeak)
        ));
    }

    #[test]
    fn policy_parameters() {
        assert!(policy_name("PolicyName", "My-Policy-1").is_ok());
        assert!(matches!(
            policy_name("PolicyName", "my_policy"),
            Err(ApiError::InvalidChars(_))
        ));
        assert!(matches!(
            policy_name("PolicyName", &"p".repeat(129)),
            Err(ApiError::InvalidLength(_))
        ));
        assert_eq!(version_id("v12").unwrap(), 12);
        for bad in ["12", "v", "v0", "V1", "v1a", "v99999999999"] {
            assert!(version_id(bad).is_err(), "{bad}");
        }
        assert!(policy_type("System").is_ok());
        assert!(policy_type("system").is_err());
    }

    #[test]
    fn formats() {
        assert!(mobile_phone("MobilePhone", "86-18600008888").is_ok());
        assert!(mobile_phone("MobilePhone", "18600008888").is_err());
        assert!(email("Email", "a@example.com").is_ok());
        for bad in ["a", "a@b", "@b.c", "a@b@c.d", "a b@c.d", "a@.c"] {
            assert!(email("Email", bad).is_err(), "{bad}");
        }
        assert!(text("Comments", &"中".repeat(128), 128).is_ok());
        assert!(text("Comments", &"中".repeat(129), 128).is_err());
        assert!(text("Comments", "a\u{0}b", 128).is_err());
    }
}
