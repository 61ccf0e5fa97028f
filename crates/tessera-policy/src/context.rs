//! The request context: the values that condition keys take for one request.

use crate::scalar::{self, Instant, Number};
use std::net::IpAddr;

/// `acs:CurrentTime`: when the request was received (a date).
pub const CURRENT_TIME: &str = "acs:CurrentTime";
/// `acs:SourceIp`: the client's IP address.
pub const SOURCE_IP: &str = "acs:SourceIp";
/// `acs:SecureTransport`: whether the request came over HTTPS (a boolean).
pub const SECURE_TRANSPORT: &str = "acs:SecureTransport";
/// `acs:MFAPresent`: whether the caller signed in with MFA (a boolean).
pub const MFA_PRESENT: &str = "acs:MFAPresent";

/// The condition keys of one request and their values, built once by the server per request.
///
/// Key names are case-insensitive (`sts:ExternalId` and `STS:externalid` are the same key).
/// The typed setters (`with_current_time`, ...) replace the key's value; [`Context::with_string`]
/// adds one, so calling it again for the same key makes the key multi-valued.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Few keys per request, so a vector searched in order beats a hash map.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Lower-cased, as policies' keys are at compile time.
    key: Box<str>,
    values: Vec<Value>,
}

/// One value of a key: its text (what string operators see) and, when the server supplied it
/// typed, the typed value (what the other operators see; text values are parsed on use).
#[derive(Debug, Clone)]
pub(crate) struct Value {
    text: Box<str>,
    typed: Typed,
}

#[derive(Debug, Clone, Copy)]
enum Typed {
    Text,
    Date(Instant),
    Ip(IpAddr),
    Bool(bool),
}

/// Lower-cases a key name the one way both policies and contexts use.
pub(crate) fn normalize_key(key: &str) -> Box<str> {
    key.to_lowercase().into_boxed_str()
}

impl Context {
    /// An empty context: every key is missing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `acs:CurrentTime` to `unix_secs` (seconds since the Unix epoch).
    pub fn with_current_time(self, unix_secs: i64) -> Self {
        let text = scalar::format_date(unix_secs);
        self.set(
            CURRENT_TIME,
            text,
            Typed::Date(Instant::from_secs(unix_secs)),
        )
    }

    /// Sets `acs:SourceIp`.
    pub fn with_source_ip(self, ip: IpAddr) -> Self {
        self.set(SOURCE_IP, ip.to_string(), Typed::Ip(ip))
    }

    /// Sets `acs:SecureTransport`.
    pub fn with_secure_transport(self, secure: bool) -> Self {
        self.set(SECURE_TRANSPORT, secure.to_string(), Typed::Bool(secure))
    }

    /// Sets `acs:MFAPresent`.
    pub fn with_mfa_present(self, mfa: bool) -> Self {
        self.set(MFA_PRESENT, mfa.to_string(), Typed::Bool(mfa))
    }

    /// Adds `value` to `key` (e.g. `sts:ExternalId`); repeated calls make the key multi-valued.
    /// Numeric, date, boolean and IP operators parse the text when they look at it.
    pub fn with_string(mut self, key: &str, value: &str) -> Self {
        let value = Value {
            text: value.into(),
            typed: Typed::Text,
        };
        let key = normalize_key(key);
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(entry) => entry.values.push(value),
            None => self.entries.push(Entry {
                key,
                values: vec![value],
            }),
        }
        self
    }

    /// Replaces whatever `key` had with one typed value.
    fn set(mut self, key: &str, text: String, typed: Typed) -> Self {
        let key = normalize_key(key);
        let values = vec![Value {
            text: text.into(),
            typed,
        }];
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(entry) => entry.values = values,
            None => self.entries.push(Entry { key, values }),
        }
        self
    }

    /// The values of `key` (already lower-cased); empty when the key is missing.
    pub(crate) fn get(&self, key: &str) -> &[Value] {
        self.entries
            .iter()
            .find(|e| &*e.key == key)
            .map_or(&[], |e| &e.values)
    }
}

impl Value {
    /// The value as text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value as a date, if it is one.
    pub(crate) fn date(&self) -> Option<Instant> {
        match self.typed {
            Typed::Date(d) => Some(d),
            Typed::Text => scalar::parse_date(&self.text),
            Typed::Ip(_) | Typed::Bool(_) => None,
        }
    }

    /// The value as an IP address, if it is one.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        match self.typed {
            Typed::Ip(ip) => Some(ip),
            Typed::Text => self.text.parse().ok(),
            Typed::Date(_) | Typed::Bool(_) => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub(crate) fn boolean(&self) -> Option<bool> {
        match self.typed {
            Typed::Bool(b) => Some(b),
            Typed::Text => scalar::parse_bool(&self.text),
            Typed::Date(_) | Typed::Ip(_) => None,
        }
    }

    /// The value as a number, if it is one.
    pub(crate) fn number(&self) -> Option<Number> {
        match self.typed {
            Typed::Text => Number::parse(&self.text),
            Typed::Date(_) | Typed::Ip(_) | Typed::Bool(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_strings_accumulate() {
        let ctx = Context::new()
            .with_string("sts:ExternalId", "a")
            .with_string("STS:EXTERNALID", "b");
        let v = ctx.get("sts:externalid");
        assert_eq!(v.iter().map(Value::text).collect::<Vec<_>>(), ["a", "b"]);
        assert!(ctx.get("sts:sourceidentity").is_empty());
    }

    #[test]
    fn typed_setters_replace() {
        let ctx = Context::new()
            .with_current_time(0)
            .with_current_time(1_352_678_399)
            .with_source_ip("10.0.0.1".parse().unwrap())
            .with_secure_transport(true)
            .with_mfa_present(false);
        let t = &ctx.get("acs:currenttime")[0];
        assert_eq!(t.text(), "2012-11-11T23:59:59Z");
        assert_eq!(t.date(), Some(Instant::from_secs(1_352_678_399)));
        assert_eq!(ctx.get("acs:currenttime").len(), 1);
        assert_eq!(ctx.get("acs:sourceip")[0].text(), "10.0.0.1");
        assert_eq!(ctx.get("acs:securetransport")[0].boolean(), Some(true));
        assert_eq!(ctx.get("acs:securetransport")[0].text(), "true");
        assert_eq!(ctx.get("acs:mfapresent")[0].boolean(), Some(false));
        assert_eq!(ctx.get("acs:securetransport")[0].number(), None);
    }

    #[test]
    fn text_values_parse_on_use() {
        let ctx = Context::new()
            .with_string("k", "42")
            .with_string("ip", "::1")
            .with_string("d", "2012-11-11T23:59:59Z")
            .with_string("b", "TRUE");
        assert_eq!(ctx.get("k")[0].number(), Some(Number::Int(42)));
        assert_eq!(ctx.get("k")[0].ip(), None);
        assert_eq!(ctx.get("ip")[0].ip(), Some("::1".parse().unwrap()));
        assert_eq!(
            ctx.get("d")[0].date(),
            Some(Instant::from_secs(1_352_678_399))
        );
        assert_eq!(ctx.get("b")[0].boolean(), Some(true));
    }
}
