//! One response model, two renderings: JSON (`{"Users":{"User":[...]}}`) and XML
//! (`<Users><User>..</User></Users>`), as the official SDK models expect (spec §6).

use crate::error::WireError;
pub use crate::node::Node;

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

/// A field's value as a handler hands it over: borrowed, so that a hot action (GetCallerIdentity)
/// renders without building a tree or a string.
#[derive(Debug, Clone, Copy)]
pub enum Value<'v> {
    /// A string.
    Str(&'v str),
    /// A string given in pieces (an ARN from its parts), rendered as one.
    Concat(&'v [&'v str]),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An object of borrowed members.
    Obj(&'v [(&'v str, Value<'v>)]),
    /// A tree.
    Node(&'v Node),
}

/// Renders a success body into `out`: `RequestId` first, then `fields`.
pub fn success_into(
    out: &mut Vec<u8>,
    format: Format,
    action: &str,
    request_id: &str,
    fields: &[(&str, Value<'_>)],
) {
    match format {
        Format::Json => {
            out.extend_from_slice(b"{\"RequestId\":");
            json_str(out, request_id);
            for (k, v) in fields {
                out.push(b',');
                json_str(out, k);
                out.push(b':');
                json_value(out, v);
            }
            out.push(b'}');
        }
        Format::Xml => {
            out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><");
            out.extend_from_slice(action.as_bytes());
            out.extend_from_slice(b"Response><RequestId>");
            xml_text(out, request_id);
            out.extend_from_slice(b"</RequestId>");
            for (k, v) in fields {
                xml_value(out, k, v);
            }
            out.extend_from_slice(b"</");
            out.extend_from_slice(action.as_bytes());
            out.extend_from_slice(b"Response>");
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
    let refs: Vec<(&str, Value<'_>)> = fields.iter().map(|(k, v)| (*k, Value::Node(v))).collect();
    let mut out = Vec::with_capacity(256);
    success_into(&mut out, format, action, request_id, &refs);
    into_string(out)
}

/// Renders an error body into `out`: RequestId, HostId, Code, Message, Recommend.
pub fn error_into(
    out: &mut Vec<u8>,
    format: Format,
    err: &WireError,
    request_id: &str,
    host_id: &str,
    recommend: &str,
) {
    let members = [
        ("RequestId", request_id),
        ("HostId", host_id),
        ("Code", &*err.code),
        ("Message", &*err.message),
    ];
    match format {
        Format::Json => {
            for (i, (k, v)) in members
                .iter()
                .chain([("Recommend", recommend)].iter())
                .enumerate()
            {
                out.push(if i == 0 { b'{' } else { b',' });
                json_str(out, k);
                out.push(b':');
                json_str(out, v);
            }
            for (k, v) in &err.extra {
                out.push(b',');
                json_str(out, k);
                out.push(b':');
                json(out, v);
            }
            out.push(b'}');
        }
        Format::Xml => {
            out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>");
            for (k, v) in members {
                xml_value(out, k, &Value::Str(v));
            }
            out.extend_from_slice(b"<Recommend><![CDATA[");
            let mut rest = recommend;
            // "]]>" cannot appear inside CDATA: the section is closed and reopened around it.
            while let Some(i) = rest.find("]]>") {
                out.extend_from_slice(&rest.as_bytes()[..i]);
                out.extend_from_slice(b"]]]]><![CDATA[>");
                rest = &rest[i + 3..];
            }
            out.extend_from_slice(rest.as_bytes());
            out.extend_from_slice(b"]]></Recommend>");
            for (k, v) in &err.extra {
                xml_value(out, k, &Value::Node(v));
            }
            out.extend_from_slice(b"</Error>");
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
    let mut out = Vec::with_capacity(256);
    error_into(&mut out, format, err, request_id, host_id, recommend);
    into_string(out)
}

fn into_string(out: Vec<u8>) -> String {
    // Everything written is UTF-8: whole strings, ASCII punctuation and escapes.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes `s` as a JSON string literal (RFC 8259 escaping: quotes, backslashes and control
/// characters; everything else as it is, UTF-8).
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_str_contents(out, s);
    out.push(b'"');
}

fn json_str_contents(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Tokens and ARNs are long and need no escaping: skip eight clean bytes at a time.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if !needs_json_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[run..i]);
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
                i += 1;
                run = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        i += 1;
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (the bytes JSON
/// escapes). Exact as a yes/no answer (the classic "has zero byte" and "has byte less than"
/// word tests); bytes of multi-byte UTF-8 characters (0x80 and up) never match.
fn needs_json_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

fn json_value(out: &mut Vec<u8>, v: &Value<'_>) {
    match v {
        Value::Str(s) => json_str(out, s),
        Value::Concat(parts) => {
            out.push(b'"');
            for p in *parts {
                json_str_contents(out, p);
            }
            out.push(b'"');
        }
        Value::Int(i) => write_int(out, *i),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Obj(members) => {
            out.push(b'{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                json_value(out, v);
            }
            out.push(b'}');
        }
        Value::Node(n) => json(out, n),
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(i).as_bytes());
}

fn json(out: &mut Vec<u8>, v: &Node) {
    match v {
        Node::Str(s) => json_str(out, s),
        Node::Int(i) => write_int(out, *i),
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Node::Obj(members) => {
            out.push(b'{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                json(out, v);
            }
            out.push(b'}');
        }
        Node::List { item, items } => {
            out.push(b'{');
            json_str(out, item);
            out.extend_from_slice(b":[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(out, v);
            }
            out.extend_from_slice(b"]}");
        }
    }
}

fn xml_text(out: &mut Vec<u8>, s: &str) {
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '&' => out.extend_from_slice(b"&amp;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\'' => out.extend_from_slice(b"&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.extend_from_slice('\u{FFFD}'.encode_utf8(&mut buf).as_bytes())
            }
            '\u{FFFE}' | '\u{FFFF}' => {
                out.extend_from_slice('\u{FFFD}'.encode_utf8(&mut buf).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
}

fn xml_open(out: &mut Vec<u8>, name: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn xml_close(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn xml_value(out: &mut Vec<u8>, name: &str, v: &Value<'_>) {
    match v {
        Value::Node(n) => xml_elem(out, name, n),
        Value::Str(s) => {
            xml_open(out, name);
            xml_text(out, s);
            xml_close(out, name);
        }
        Value::Concat(parts) => {
            xml_open(out, name);
            for p in *parts {
                xml_text(out, p);
            }
            xml_close(out, name);
        }
        Value::Int(i) => {
            xml_open(out, name);
            write_int(out, *i);
            xml_close(out, name);
        }
        Value::Bool(b) => {
            xml_open(out, name);
            out.extend_from_slice(if *b { b"true" } else { b"false" });
            xml_close(out, name);
        }
        Value::Obj(members) => {
            xml_open(out, name);
            for (k, v) in *members {
                xml_value(out, k, v);
            }
            xml_close(out, name);
        }
    }
}

fn xml_elem(out: &mut Vec<u8>, name: &str, v: &Node) {
    xml_open(out, name);
    match v {
        Node::Str(s) => xml_text(out, s),
        Node::Int(i) => write_int(out, *i),
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
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
    xml_close(out, name);
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

    #[test]
    fn json_escaping_agrees_with_serde_json_for_every_byte_position() {
        // Every escapable character at every offset of a 17-byte string: the eight-byte fast
        // path and the byte loop must agree with serde_json everywhere.
        for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '中'] {
            for at in 0..17 {
                let mut text: Vec<char> = "abcdefghijklmnopq".chars().collect();
                text[at] = c;
                let text: String = text.into_iter().collect();
                let mut out = Vec::new();
                json_str(&mut out, &text);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&text).unwrap(),
                    "{c:?} at {at}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_text_survives_json_and_xml(text in "\\PC*", id in "[A-F0-9-]{0,36}") {
            let mut direct = Vec::new();
            json_str(&mut direct, &text);
            prop_assert_eq!(String::from_utf8(direct).unwrap(), serde_json::to_string(&text).unwrap());
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
