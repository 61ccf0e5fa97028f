//! Percent-encoding as the POP protocol uses it.
//!
//! The standard canonicalisation (spec §3 step 2) is RFC 3986: `A-Z a-z 0-9 - _ . ~` stay,
//! every other byte of the UTF-8 form becomes `%XY` with upper-case hex. Two official clients
//! deviate, and the server accepts their forms as fallbacks only (see [`Canonicalization`]).

use std::borrow::Cow;

/// How a client turned parameter names and values into the canonical query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canonicalization {
    /// RFC 3986, as the specification and most clients do it.
    Rfc3986,
    /// Python `alibabacloud_credentials` providers: `urllib.parse.quote_plus`, so a space becomes
    /// `+` (and `%2B` after the outer encoding). Everything else as RFC 3986.
    QuotePlus,
    /// Node `@alicloud/sts-sdk`: `encodeURIComponent`, which leaves `! ' ( ) *` unescaped.
    UriComponent,
}

impl Canonicalization {
    /// The fallbacks tried, in order, after the standard form failed.
    pub const FALLBACKS: [Canonicalization; 2] =
        [Canonicalization::QuotePlus, Canonicalization::UriComponent];

    /// Whether encoding `s` this way gives something other than RFC 3986 would. A fallback that
    /// changes nothing need not be tried.
    pub fn differs_for(self, s: &str) -> bool {
        match self {
            Canonicalization::Rfc3986 => false,
            Canonicalization::QuotePlus => s.contains(' '),
            Canonicalization::UriComponent => s.bytes().any(is_uri_component_extra),
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn is_uri_component_extra(b: u8) -> bool {
    matches!(b, b'!' | b'\'' | b'(' | b')' | b'*')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_escaped(out: &mut String, b: u8) {
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xF)] as char);
}

/// Appends `s` percent-encoded with `style` to `out`.
pub fn encode_into(out: &mut String, s: &str, style: Canonicalization) {
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else if b == b' ' && style == Canonicalization::QuotePlus {
            out.push('+');
        } else if style == Canonicalization::UriComponent && is_uri_component_extra(b) {
            out.push(b as char);
        } else {
            push_escaped(out, b);
        }
    }
}

/// `s` percent-encoded per RFC 3986.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    encode_into(&mut out, s, Canonicalization::Rfc3986);
    out
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space and `%XY` a byte.
/// A malformed escape is kept literally, as browsers and the WHATWG URL parser do; bytes that are
/// not UTF-8 are replaced, which makes any signature over them fail cleanly.
pub fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                bytes.get(i + 1).and_then(hex_val),
                bytes.get(i + 2).and_then(hex_val),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex_val(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits an `application/x-www-form-urlencoded` string (a query or a form body) into decoded
/// name/value pairs. Empty segments are skipped; a segment without `=` has an empty value.
pub fn parse_pairs(s: &str) -> impl Iterator<Item = (String, String)> + '_ {
    s.split('&').filter(|seg| !seg.is_empty()).map(|seg| {
        let (n, v) = seg.split_once('=').unwrap_or((seg, ""));
        (decode(n).into_owned(), decode(v).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3986_table() {
        assert_eq!(encode("a b"), "a%20b");
        assert_eq!(encode("*~"), "%2A~");
        assert_eq!(encode("acs:ram::1:role/x"), "acs%3Aram%3A%3A1%3Arole%2Fx");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode("+/="), "%2B%2F%3D");
    }

    #[test]
    fn variants() {
        let mut s = String::new();
        encode_into(&mut s, "a b*(!)'", Canonicalization::QuotePlus);
        assert_eq!(s, "a+b%2A%28%21%29%27");
        s.clear();
        encode_into(&mut s, "a b*(!)'", Canonicalization::UriComponent);
        assert_eq!(s, "a%20b*(!)'");
    }

    #[test]
    fn decode_forms() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("%2B"), "+");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%E4%B8%AD"), "中");
    }

    #[test]
    fn pairs() {
        let v: Vec<_> = parse_pairs("A=1&&B=&C&D=x%3Dy").collect();
        assert_eq!(
            v,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "".into()),
                ("C".into(), "".into()),
                ("D".into(), "x=y".into())
            ]
        );
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(s in "\\PC*") {
            let e = encode(&s);
            prop_assert_eq!(decode(&e), s.as_str());
        }

        #[test]
        fn encoding_uses_only_safe_ascii(s in "\\PC*") {
            let e = encode(&s);
            prop_assert!(e.bytes().all(|b| is_unreserved(b) || b == b'%' || b.is_ascii_hexdigit()));
        }

        #[test]
        fn variants_round_trip_through_form_decoding(s in "\\PC*") {
            for style in Canonicalization::FALLBACKS {
                let mut e = String::new();
                encode_into(&mut e, &s, style);
                prop_assert_eq!(decode(&e), s.as_str());
                prop_assert_eq!(style.differs_for(&s), e != encode(&s));
            }
        }
    }
}
