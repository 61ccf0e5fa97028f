//! One response model, two renderings: JSON (`{"Users":{"User":[...]}}`) and XML
//! (`<Users><User>..</User></Users>`), as the official SDK models expect (spec §6).

use crate::error::WireError;
pub use crate::node::Node;
use std::fmt::Write;

/// The response format a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json;charset=utf-8`
    Json,
    /// `text/xml;charset=utf-8`
    Xml,
}

impl Format {
    /// The `Content-Type` for this format, spelled as the Tea SDKs compare it.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=utf-8",
            Format::Xml => "text/xml;charset=utf-8",
        }
    }

    /// Parses a `Format` parameter (case-insensitive `json` / `xml`).
    pub fn from_param(s: &str) -> Option<Format> {
        if s.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if s.eq_ignore_ascii_case("xml") {
            Some(Format::Xml)
        } else {
            None
        }
    }

    /// Picks a format from an `Accept` header: XML only when XML is asked for and JSON is not.
    pub fn from_accept(accept: &str) -> Format {
        let a = accept.to_ascii_lowercase();
        if (a.contains("/xml")) && !a.contains("json") {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

/// Renders a success body: `RequestId` first, then `fields`.
pub fn success(
    format: Format,
    action: &str,
    request_id: &str,
    fields: &[(&'static str, Node)],
) -> String {
    match format {
        Format::Json => {
            let mut out = String::with_capacity(256);
            out.push_str("{\"RequestId\":");
            json_str(&mut out, request_id);
            for (k, v) in fields {
                out.push(',');
                json_str(&mut out, k);
                out.push(':');
                json(&mut out, v);
            }
            out.push('}');
            out
        }
        Format::Xml => {
            let mut out = String::with_capacity(256);
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            let _ = write!(out, "<{action}Response><RequestId>");
            xml_text(&mut out, request_id);
            out.push_str("</RequestId>");
            for (k, v) in fields {
                xml_elem(&mut out, k, v);
            }
            let _ = write!(out, "</{action}Response>");
            out
        }
    }
}

/// Renders an error body: RequestId, HostId, Code, Message, Recommend.
pub fn error(
    format: Format,
    err: &WireError,
    request_id: &str,
    host_id: &str,
    recommend: &str,
) -> String {
    match format {
        Format::Json => {
            let mut out = String::with_capacity(256);
            for (i, (k, v)) in [
                ("RequestId", request_id),
                ("HostId", host_id),
                ("Code", &err.code),
                ("Message", &err.message),
                ("Recommend", recommend),
            ]
            .iter()
            .enumerate()
            {
                out.push(if i == 0 { '{' } else { ',' });
                json_str(&mut out, k);
                out.push(':');
                json_str(&mut out, v);
            }
            for (k, v) in &err.extra {
                out.push(',');
                json_str(&mut out, k);
                out.push(':');
                json(&mut out, v);
            }
            out.push('}');
            out
        }
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>");
            for (k, v) in [
                ("RequestId", request_id),
                ("HostId", host_id),
                ("Code", &err.code),
                ("Message", &err.message),
            ] {
                xml_elem(&mut out, k, &Node::Str(v.to_string()));
            }
            out.push_str("<Recommend><![CDATA[");
            out.push_str(&recommend.replace("]]>", "]]]]><![CDATA[>"));
            out.push_str("]]></Recommend>");
            for (k, v) in &err.extra {
                xml_elem(&mut out, k, v);
            }
            out.push_str("</Error>");
            out
        }
    }
}

fn json_str(out: &mut String, s: &str) {
    // serde_json's escaping is exact and fast; writing into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn json(out: &mut String, v: &Node) {
    match v {
        Node::Str(s) => json_str(out, s),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Obj(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, k);
                out.push(':');
                json(out, v);
            }
            out.push('}');
        }
        Node::List { item, items } => {
            out.push('{');
            json_str(out, item);
            out.push_str(":[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(out, v);
            }
            out.push_str("]}");
        }
    }
}

fn xml_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn xml_elem(out: &mut String, name: &str, v: &Node) {
    let _ = write!(out, "<{name}>");
    match v {
        Node::Str(s) => xml_text(out, s),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Obj(members) => {
            for (k, v) in members {
                xml_elem(out, k, v);
            }
        }
        Node::List { item, items } => {
            for v in items {
                xml_elem(out, item, v);
            }
        }
    }
    let _ = write!(out, "</{name}>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn users() -> Vec<(&'static str, Node)> {
        vec![
            ("IsTruncated", Node::Bool(false)),
            (
                "Users",
                Node::List {
                    item: "User",
                    items: vec![Node::Obj(vec![
                        ("UserName", "a<b".into()),
                        ("Count", Node::Int(3)),
                    ])],
                },
            ),
        ]
    }

    #[test]
    fn json_shape() {
        let body = success(Format::Json, "ListUsers", "R-1", &users());
        assert_eq!(
            body,
            r#"{"RequestId":"R-1","IsTruncated":false,"Users":{"User":[{"UserName":"a<b","Count":3}]}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Users"]["User"][0]["Count"], 3);
    }

    #[test]
    fn xml_shape() {
        let body = success(Format::Xml, "ListUsers", "R-1", &users());
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListUsersResponse><RequestId>R-1</RequestId><IsTruncated>false</IsTruncated><Users><User><UserName>a&lt;b</UserName><Count>3</Count></User></Users></ListUsersResponse>"
        );
    }

    #[test]
    fn empty_list_is_wrapped() {
        let body = success(
            Format::Json,
            "ListUsers",
            "R",
            &[(
                "Users",
                Node::List {
                    item: "User",
                    items: vec![],
                },
            )],
        );
        assert_eq!(body, r#"{"RequestId":"R","Users":{"User":[]}}"#);
    }

    #[test]
    fn error_bodies() {
        let e = WireError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        );
        let j: serde_json::Value =
            serde_json::from_str(&error(Format::Json, &e, "R", "h", "u")).unwrap();
        assert_eq!(j["Code"], "InvalidAccessKeyId.NotFound");
        assert_eq!(j["Message"], "Specified access key is not found.");
        assert_eq!(j["HostId"], "h");
        let x = error(Format::Xml, &e, "R", "h", "u?a=1&b]]>");
        assert!(x.contains("<Code>InvalidAccessKeyId.NotFound</Code>"));
        assert!(x.ends_with("<Recommend><![CDATA[u?a=1&b]]]]><![CDATA[>]]></Recommend></Error>"));
        let mut denied = WireError::new(403, "NoPermission", "no");
        denied.extra.push((
            "AccessDeniedDetail",
            Node::Obj(vec![("AuthAction", "ram:GetUser".into())]),
        ));
        let j: serde_json::Value =
            serde_json::from_str(&error(Format::Json, &denied, "R", "h", "u")).unwrap();
        assert_eq!(j["AccessDeniedDetail"]["AuthAction"], "ram:GetUser");
        assert!(error(Format::Xml, &denied, "R", "h", "u").ends_with(
            "<AccessDeniedDetail><AuthAction>ram:GetUser</AuthAction></AccessDeniedDetail></Error>"
        ));
    }

    #[test]
    fn xml_never_carries_characters_xml_forbids() {
        let body = success(
            Format::Xml,
            "GetUser",
            "R",
            &[("Comments", "a\u{1}b\u{FFFE}c\u{FFFF}".into())],
        );
        assert!(body.contains("<Comments>a\u{FFFD}b\u{FFFD}c\u{FFFD}</Comments>"));
    }

    #[test]
    fn format_selection() {
        assert_eq!(Format::from_param("json"), Some(Format::Json));
        assert_eq!(Format::from_param("XML"), Some(Format::Xml));
        assert_eq!(Format::from_param("yaml"), None);
        assert_eq!(Format::from_accept("application/json"), Format::Json);
        assert_eq!(Format::from_accept("text/xml"), Format::Xml);
        assert_eq!(Format::from_accept("*/*"), Format::Json);
    }

    /// The text of the element at `path` (names from the root), read by a real XML parser.
    fn xml_text_at(body: &str, path: &[&str]) -> Option<String> {
        let doc = roxmltree::Document::parse(body).expect("well-formed XML");
        let mut node = doc.root_element();
        assert_eq!(node.tag_name().name(), path[0]);
        for name in &path[1..] {
            node = node.children().find(|c| c.tag_name().name() == *name)?;
        }
        Some(node.text().unwrap_or("").to_string())
    }

    #[test]
    fn xml_parses_and_reads_back() {
        let body = success(Format::Xml, "ListUsers", "R-1", &users());
        assert_eq!(
            xml_text_at(&body, &["ListUsersResponse", "RequestId"]).as_deref(),
            Some("R-1")
        );
        assert_eq!(
            xml_text_at(&body, &["ListUsersResponse", "Users", "User", "UserName"]).as_deref(),
            Some("a<b")
        );
        assert_eq!(
            xml_text_at(&body, &["ListUsersResponse", "IsTruncated"]).as_deref(),
            Some("false")
        );
        let mut e = WireError::new(400, "Code.X", "it's <bad> & \"wrong\"");
        e.extra.push((
            "AccessDeniedDetail",
            Node::Obj(vec![("AuthAction", "a&b".into())]),
        ));
        let body = error(Format::Xml, &e, "R", "h", "https://x/?a=1&b=]]>");
        assert_eq!(
            xml_text_at(&body, &["Error", "Message"]).as_deref(),
            Some("it's <bad> & \"wrong\"")
        );
        assert_eq!(
            xml_text_at(&body, &["Error", "Recommend"]).as_deref(),
            Some("https://x/?a=1&b=]]>"),
            "CDATA split around ]]> reads back whole"
        );
        assert_eq!(
            xml_text_at(&body, &["Error", "AccessDeniedDetail", "AuthAction"]).as_deref(),
            Some("a&b")
        );
    }

    proptest! {
        #[test]
        fn any_text_survives_json_and_xml(text in "\\PC*", id in "[A-F0-9-]{0,36}") {
            let fields = [("Comments", Node::Str(text.clone())), ("N", Node::Int(-7))];
            let j: serde_json::Value =
                serde_json::from_str(&success(Format::Json, "GetUser", &id, &fields)).unwrap();
            prop_assert_eq!(j["Comments"].as_str(), Some(text.as_str()));
            prop_assert_eq!(j["RequestId"].as_str(), Some(id.as_str()));
            let body = success(Format::Xml, "GetUser", &id, &fields);
            // XML 1.0 cannot carry these characters at all; they come back as U+FFFD.
            let expected: String = text
                .chars()
                .map(|c| match c {
                    '\t' | '\n' | '\r' => c,
                    c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
                    c => c,
                })
                .collect();
            // A parser normalises a bare CR to LF (XML 1.0 §2.11).
            let expected = expected.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(xml_text_at(&body, &["GetUserResponse", "Comments"]), Some(expected));
            prop_assert_eq!(xml_text_at(&body, &["GetUserResponse", "N"]), Some("-7".to_string()));
        }
    }
}
