//! Reading and validating action parameters, with RAM's limits and error codes (spec §11).

use crate::error::ApiError;
use crate::ids::UserName;
use crate::request::ApiRequest;

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
