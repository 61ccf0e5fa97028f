//! Reading and validating action parameters, with RAM's limits and error codes (spec §11).

use crate::error::ApiError;
use crate::ids::{PolicyName, UserName};
use crate::request::ApiRequest;
use crate::store::PolicyType;

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
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;

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
