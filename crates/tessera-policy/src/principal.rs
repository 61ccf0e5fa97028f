//! The `Principal` element of trust policies, and who it admits.

use crate::error::{Path, PolicyError};
use crate::json::Json;

/// Who is asking to assume a role, as the server authenticated them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A RAM user of `account`, signing with its own AccessKey.
    RamUser {
        /// The user's account id.
        account: &'a str,
        /// The user's name.
        user_name: &'a str,
    },
    /// An STS session of role `role_name` in `account` (role chaining).
    AssumedRole {
        /// The role's account id.
        account: &'a str,
        /// The role's name (compared case-insensitively, as RAM role names are).
        role_name: &'a str,
    },
    /// A cloud service such as `ecs.aliyuncs.com`.
    Service(&'a str),
    /// An identity provider, by its ARN: `acs:ram::<acct>:saml-provider/<name>` or
    /// `acs:ram::<acct>:oidc-provider/<name>`.
    Federated(&'a str),
}

/// One compiled principal of a trust policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// `{"RAM": "acs:ram::<acct>:root"}`: any RAM user or role session of the account (never
    /// the account's own root credentials, which have no [`Caller`] form: the server refuses
    /// them before asking).
    Account(Box<str>),
    /// `{"RAM": "acs:ram::<acct>:user/<name>"}`.
    User { account: Box<str>, name: Box<str> },
    /// `{"RAM": "acs:ram::<acct>:role/<name>"}`: sessions of that role.
    Role { account: Box<str>, name: Box<str> },
    /// `{"Service": "<service>.aliyuncs.com"}`.
    Service(Box<str>),
    /// `{"Federated": "<provider ARN>"}`.
    Federated(Box<str>),
}

impl Principal {
    /// Does this principal admit `caller`?
    pub(crate) fn admits(&self, caller: &Caller<'_>) -> bool {
        match (self, *caller) {
            (Principal::Account(a), Caller::RamUser { account, .. })
            | (Principal::Account(a), Caller::AssumedRole { account, .. }) => **a == *account,
            (Principal::User { account: a, name }, Caller::RamUser { account, user_name }) => {
                **a == *account && **name == *user_name
            }
            (Principal::Role { account: a, name }, Caller::AssumedRole { account, role_name }) => {
                **a == *account && name.eq_ignore_ascii_case(role_name)
            }
            // Service names are DNS names: case does not matter.
            (Principal::Service(s), Caller::Service(service)) => s.eq_ignore_ascii_case(service),
            (Principal::Federated(p), Caller::Federated(provider)) => **p == *provider,
            _ => false,
        }
    }
}

/// Compiles a `Principal` element: an object with `RAM`, `Service` and/or `Federated` members,
/// each a string or a non-empty array of strings.
pub(crate) fn compile(json: &Json, path: &Path<'_>) -> Result<Vec<Principal>, PolicyError> {
    let Json::Object(members) = json else {
        let extra = if matches!(json, Json::String(s) if s == "*") {
            "; the wildcard principal \"*\" is not supported"
        } else {
            ""
        };
        return Err(PolicyError::at(
            path,
            format_args!(
                "must be an object such as {{\"RAM\": [\"acs:ram::<account>:root\"]}}, not {}{extra}",
                json.kind()
            ),
        ));
    };
    if members.is_empty() {
        return Err(PolicyError::at(path, "names no principal"));
    }
    let mut out = Vec::new();
    for (i, (kind, values)) in members.iter().enumerate() {
        let kind_path = path.key(kind);
        if members[..i].iter().any(|(k, _)| k == kind) {
            return Err(PolicyError::at(&kind_path, "principal type appears twice"));
        }
        let parse: fn(&str) -> Result<Principal, String> = match kind.as_str() {
            "RAM" => parse_ram,
            "Service" => parse_service,
            "Federated" => parse_federated,
            _ => {
                return Err(PolicyError::at(
                    &kind_path,
                    "unknown principal type (RAM, Service or Federated)",
                ))
            }
        };
        for_each_string(values, &kind_path, |text, p| {
            out.push(parse(text).map_err(|m| PolicyError::at(p, m))?);
            Ok(())
        })?;
    }
    Ok(out)
}

/// Calls `f` on a string, or on every string of a non-empty array, with its path.
pub(crate) fn for_each_string(
    json: &Json,
    path: &Path<'_>,
    mut f: impl FnMut(&str, &Path<'_>) -> Result<(), PolicyError>,
) -> Result<(), PolicyError> {
    match json {
        Json::String(s) => f(s, path),
        Json::Array(items) if items.is_empty() => {
            Err(PolicyError::at(path, "must not be an empty array"))
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = path.index(i);
                match item {
                    Json::String(s) => f(s, &p)?,
                    other => {
                        return Err(PolicyError::at(
                            &p,
                            format_args!("must be a string, not {}", other.kind()),
                        ))
                    }
                }
            }
            Ok(())
        }
        other => Err(PolicyError::at(
            path,
            format_args!(
                "must be a string or an array of strings, not {}",
                other.kind()
            ),
        )),
    }
}

/// A name or id inside a principal ARN: not empty, no wildcard (principals are exact).
fn plain(part: &str) -> bool {
    !part.is_empty() && !part.contains(['*', '?', ':', '/'])
}

fn parse_ram(text: &str) -> Result<Principal, String> {
    let bad = || {
        format!(
            "{text:?} is not a RAM principal (acs:ram::<account>:root, \
             acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"
        )
    };
    // A bare account id means the account, as in AWS.
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Principal::Account(text.into()));
    }
    let rest = text.strip_prefix("acs:ram::").ok_or_else(bad)?;
    let (account, relative) = rest.split_once(':').ok_or_else(bad)?;
    if !plain(account) {
        return Err(bad());
    }
    let account: Box<str> = account.into();
    if relative == "root" {
        return Ok(Principal::Account(account));
    }
    if let Some(name) = relative.strip_prefix("user/").filter(|n| plain(n)) {
        return Ok(Principal::User {
            account,
            name: name.into(),
        });
    }
    if let Some(name) = relative.strip_prefix("role/").filter(|n| plain(n)) {
        return Ok(Principal::Role {
            account,
            name: name.into(),
        });
    }
    Err(bad())
}

fn parse_service(text: &str) -> Result<Principal, String> {
    if text.is_empty() || text.contains(['*', '?', '/', ':']) || text.contains(char::is_whitespace)
    {
        return Err(format!(
            "{text:?} is not a service principal (such as ecs.aliyuncs.com)"
        ));
    }
    Ok(Principal::Service(text.into()))
}

fn parse_federated(text: &str) -> Result<Principal, String> {
    let ok = text
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(account, relative)| {
            plain(account)
                && ["saml-provider/", "oidc-provider/"]
                    .iter()
                    .any(|kind| relative.strip_prefix(kind).is_some_and(plain))
        });
    if ok {
        Ok(Principal::Federated(text.into()))
    } else {
        Err(format!(
            "{text:?} is not an identity provider (acs:ram::<account>:saml-provider/<name> \
             or acs:ram::<account>:oidc-provider/<name>)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_str(text: &str) -> Result<Vec<Principal>, PolicyError> {
        compile(
            &crate::json::parse(text).unwrap(),
            &Path::Root.key("Principal"),
        )
    }

    #[test]
    fn forms() {
        let p = compile_str(
            r#"{"RAM": ["acs:ram::123:root", "acs:ram::456:user/alice", "acs:ram::456:role/Admin", "789"],
                "Service": "ecs.aliyuncs.com",
                "Federated": ["acs:ram::123:saml-provider/idp", "acs:ram::123:oidc-provider/gh"]}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            [
                Principal::Account("123".into()),
                Principal::User {
                    account: "456".into(),
                    name: "alice".into()
                },
                Principal::Role {
                    account: "456".into(),
                    name: "Admin".into()
                },
                Principal::Account("789".into()),
                Principal::Service("ecs.aliyuncs.com".into()),
                Principal::Federated("acs:ram::123:saml-provider/idp".into()),
                Principal::Federated("acs:ram::123:oidc-provider/gh".into()),
            ]
        );
    }

    #[test]
    fn who_is_admitted() {
        let user = |a, n| Caller::RamUser {
            account: a,
            user_name: n,
        };
        let role = |a, n| Caller::AssumedRole {
            account: a,
            role_name: n,
        };
        let root = Principal::Account("123".into());
        assert!(root.admits(&user("123", "alice")));
        assert!(root.admits(&role("123", "Admin")));
        assert!(!root.admits(&user("1234", "alice")));
        assert!(!root.admits(&Caller::Service("123")));

        let alice = Principal::User {
            account: "123".into(),
            name: "alice".into(),
        };
        assert!(alice.admits(&user("123", "alice")));
        assert!(!alice.admits(&user("123", "Alice")));
        assert!(!alice.admits(&user("456", "alice")));
        assert!(!alice.admits(&role("123", "alice")));

        let admin = Principal::Role {
            account: "123".into(),
            name: "Admin".into(),
        };
        assert!(admin.admits(&role("123", "admin")));
        assert!(admin.admits(&role("123", "ADMIN")));
        assert!(!admin.admits(&role("123", "admins")));
        assert!(!admin.admits(&user("123", "Admin")));

        let ecs = Principal::Service("ecs.aliyuncs.com".into());
        assert!(ecs.admits(&Caller::Service("ECS.aliyuncs.com")));
        assert!(!ecs.admits(&Caller::Service("fc.aliyuncs.com")));

        let idp = Principal::Federated("acs:ram::123:saml-provider/idp".into());
        assert!(idp.admits(&Caller::Federated("acs:ram::123:saml-provider/idp")));
        assert!(!idp.admits(&Caller::Federated("acs:ram::123:saml-provider/other")));
        assert!(!idp.admits(&Caller::Service("acs:ram::123:saml-provider/idp")));
    }

    #[test]
    fn errors_name_the_place() {
        let rows: &[(&str, &str)] = &[
            (r#""*""#, "Principal: must be an object such as {\"RAM\": [\"acs:ram::<account>:root\"]}, not a string; the wildcard principal \"*\" is not supported"),
            (r#"{}"#, "Principal: names no principal"),
            (r#"{"AWS": "x"}"#, "Principal.AWS: unknown principal type (RAM, Service or Federated)"),
            (r#"{"RAM": []}"#, "Principal.RAM: must not be an empty array"),
            (r#"{"RAM": 123}"#, "Principal.RAM: must be a string or an array of strings, not a number"),
            (r#"{"RAM": ["acs:ram::1:root", 2]}"#, "Principal.RAM[1]: must be a string, not a number"),
            (r#"{"RAM": ["acs:ram::1:root", "acs:ram::*:root"]}"#, "Principal.RAM[1]: \"acs:ram::*:root\" is not a RAM principal (acs:ram::<account>:root, acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"),
            (r#"{"RAM": "acs:ram::1:group/g"}"#, "Principal.RAM: \"acs:ram::1:group/g\" is not a RAM principal (acs:ram::<account>:root, acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"),
            (r#"{"RAM": "acs:ram::1:user/"}"#, "Principal.RAM: \"acs:ram::1:user/\" is not a RAM principal (acs:ram::<account>:root, acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"),
            (r#"{"RAM": "acs:ram::1:role/a*"}"#, "Principal.RAM: \"acs:ram::1:role/a*\" is not a RAM principal (acs:ram::<account>:root, acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"),
            (r#"{"Service": "*.aliyuncs.com"}"#, "Principal.Service: \"*.aliyuncs.com\" is not a service principal (such as ecs.aliyuncs.com)"),
            (r#"{"Federated": "acs:ram::1:user/x"}"#, "Principal.Federated: \"acs:ram::1:user/x\" is not an identity provider (acs:ram::<account>:saml-provider/<name> or acs:ram::<account>:oidc-provider/<name>)"),
            (r#"{"RAM": "1", "RAM": "2"}"#, "Principal.RAM: principal type appears twice"),
        ];
        for (text, want) in rows {
            assert_eq!(compile_str(text).expect_err(text).message, *want, "{text}");
        }
    }
}
