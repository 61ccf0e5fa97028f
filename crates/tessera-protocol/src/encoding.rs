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

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const fn is_uri_component_extra(b: u8) -> bool {
    matches!(b, b'!' | b'\'' | b'(' | b')' | b'*')
}

impl Canonicalization {
    /// Whether this style copies byte `b` unchanged. Every such byte is ASCII.
    pub(crate) fn keeps(self, b: u8) -> bool {
        // Signature checks encode every parameter twice per request, so a byte costs one table
        // load rather than a chain of comparisons.
        let table = match self {
            Canonicalization::Rfc3986 | Canonicalization::QuotePlus => &KEPT_RFC3986,
            Canonicalization::UriComponent => &KEPT_URI_COMPONENT,
        };
        table[usize::from(b)]
    }
}

const KEPT_RFC3986: [bool; 256] = kept_table(false);
const KEPT_URI_COMPONENT: [bool; 256] = kept_table(true);

const fn kept_table(uri_component: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = is_unreserved(b as u8) || (uri_component && is_uri_component_extra(b as u8));
        b += 1;
    }
    t
}

/// `%00%01…%FF`: the escape of byte `b` is `ESCAPES[3 * b..3 * b + 3]`.
const ESCAPES: &str = ascii_str(&escape_table::<768>(b"%"));

/// `%2500%2501…%25FF`, each byte's escape escaped once more: what a byte that the inner
/// encoding escapes becomes in a version 1.0 string to sign.
const ESCAPES_TWICE: &str = ascii_str(&escape_table::<1280>(b"%25"));

/// The escapes of all 256 bytes, each `prefix` followed by two upper-case hex digits.
const fn escape_table<const N: usize>(prefix: &[u8]) -> [u8; N] {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let width = prefix.len() + 2;
    assert!(N == 256 * width);
    let mut t = [0u8; N];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < prefix.len() {
            t[width * b + j] = prefix[j];
            j += 1;
        }
        t[width * b + width - 2] = HEX[b >> 4];
        t[width * b + width - 1] = HEX[b & 0xF];
        b += 1;
    }
    t
}

// Evaluated at compile time only (for the constant tables): a failure is a build error, never a
// panic at run time.
#[allow(clippy::panic)]
const fn ascii_str(bytes: &'static [u8]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => panic!("the table is ASCII"),
    }
}

fn escape(b: u8) -> &'static str {
    let i = 3 * usize::from(b);
    &ESCAPES[i..i + 3]
}

/// Every byte from 0 to 127, so that a kept (ASCII) byte can be handed out as a `&'static str`.
const ASCII: &str = ascii_str(&ASCII_BYTES);
const ASCII_BYTES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = b as u8;
        b += 1;
    }
    t
};

impl Canonicalization {
    /// What byte `b` becomes under this style, `+` or its escape; `None` if it is kept.
    fn replaced(self, b: u8) -> Option<&'static str> {
        if self.keeps(b) {
            None
        } else if b == b' ' && self == Canonicalization::QuotePlus {
            Some("+")
        } else {
            Some(escape(b))
        }
    }

    /// What byte `b` becomes under this style: itself, `+`, or its escape.
    fn encoded(self, b: u8) -> &'static str {
        self.replaced(b).unwrap_or_else(|| {
            // Kept bytes are ASCII.
            let i = usize::from(b & 0x7F);
            &ASCII[i..i + 1]
        })
    }

    /// What byte `b` becomes when encoded twice with this style, as the parameters are inside a
    /// version 1.0 string to sign; `None` for a byte that is kept as it is.
    fn encoded_twice(self, b: u8) -> Option<&'static str> {
        if self.keeps(b) {
            None
        } else if b == b' ' && self == Canonicalization::QuotePlus {
            // `+`, which no style keeps.
            Some("%2B")
        } else {
            let i = 5 * usize::from(b);
            Some(&ESCAPES_TWICE[i..i + 5])
        }
    }
}

/// Orders `a` and `b` as their encodings with `style` would sort, without encoding them.
///
/// Equal prefixes encode equally, and no byte's encoding is a proper prefix of another's (each
/// is a single kept byte, `+`, or a three-byte escape starting with `%`, which is never kept),
/// so the first differing byte decides, compared through its encoding.
pub fn cmp_encoded(a: &str, b: &str, style: Canonicalization) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        // Parameter names nearly always differ at a kept byte, which encodes as itself.
        Some(i) if style.keeps(a[i]) && style.keeps(b[i]) => a[i].cmp(&b[i]),
        Some(i) => style.encoded(a[i]).cmp(style.encoded(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

/// Where encoded text goes: a `String`, or straight into a MAC (see
/// [`crate::v1`]), so a signature check needs no intermediate string.
pub trait Sink {
    /// Appends `s`.
    fn put(&mut self, s: &str);
    /// Room for about `additional` more bytes is about to be needed.
    fn reserve(&mut self, _additional: usize) {}
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    fn reserve(&mut self, additional: usize) {
        String::reserve(self, additional);
    }
}

/// Appends `s` encoded twice with `style` (the encoding of its encoding) to `out`: how a
/// parameter name or value appears inside a version 1.0 string to sign.
pub fn encode_twice_into(out: &mut impl Sink, s: &str, style: Canonicalization) {
    encode_with(out, s, |b| style.encoded_twice(b));
}

/// Appends `s` to `out` with each byte for which `map` gives a replacement replaced. Runs of
/// kept bytes are copied whole; a byte is kept only if it is ASCII, so every run starts and ends
/// on a character boundary.
fn encode_with(out: &mut impl Sink, s: &str, map: impl Fn(u8) -> Option<&'static str>) {
    out.reserve(s.len());
    let mut run = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let Some(replacement) = map(b) else {
            continue;
        };
        if run < i {
            out.put(&s[run..i]);
        }
        out.put(replacement);
        run = i + 1;
    }
    if run < s.len() {
        out.put(&s[run..]);
    }
}

/// Appends `s` percent-encoded with `style` to `out`.
pub fn encode_into(out: &mut impl Sink, s: &str, style: Canonicalization) {
    encode_with(out, s, |b| style.replaced(b));
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
    let mut out = vec![0u8; s.len()];
    let n = decode_into(s, &mut out);
    out.truncate(n);
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Decodes one form component into `out` (which must be at least as long as `s`: decoding never
/// lengthens) and returns the decoded length. The same rules as [`decode`]; the bytes are not
/// checked for UTF-8.
pub fn decode_into(s: &str, out: &mut [u8]) -> usize {
    let bytes = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() && n < out.len() {
        let (b, used) = match bytes[i] {
            b'+' => (b' ', 1),
            b'%' => match (
                bytes.get(i + 1).and_then(hex_val),
                bytes.get(i + 2).and_then(hex_val),
            ) {
                (Some(h), Some(l)) => (h << 4 | l, 3),
                _ => (b'%', 1),
            },
            b => (b, 1),
        };
        out[n] = b;
        n += 1;
        i += used;
    }
    n
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

    /// The byte-at-a-time definition the table-driven encoder must agree with.
    fn reference_encode(s: &str, style: Canonicalization) -> String {
        let mut out = String::new();
        for &b in s.as_bytes() {
            if is_unreserved(b) {
                out.push(b as char);
            } else if b == b' ' && style == Canonicalization::QuotePlus {
                out.push('+');
            } else if style == Canonicalization::UriComponent && is_uri_component_extra(b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    #[test]
    fn every_byte_encodes_as_the_reference_says() {
        for style in [
            Canonicalization::Rfc3986,
            Canonicalization::QuotePlus,
            Canonicalization::UriComponent,
        ] {
            for b in 0u8..=127 {
                let s = format!("a{}b", b as char);
                let mut e = String::new();
                encode_into(&mut e, &s, style);
                assert_eq!(e, reference_encode(&s, style), "byte {b:#x}, {style:?}");
            }
        }
    }

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
        fn comparing_in_place_orders_as_the_encodings_do(a in "[aZ0~ %+!'*é{_.-]{0,6}", b in "[aZ0~ %+!'*é{_.-]{0,6}") {
            for style in [Canonicalization::Rfc3986, Canonicalization::QuotePlus, Canonicalization::UriComponent] {
                let (mut ea, mut eb) = (String::new(), String::new());
                encode_into(&mut ea, &a, style);
                encode_into(&mut eb, &b, style);
                prop_assert_eq!(cmp_encoded(&a, &b, style), ea.cmp(&eb));
                let mut twice = String::new();
                encode_twice_into(&mut twice, &a, style);
                let mut again = String::new();
                encode_into(&mut again, &ea, style);
                prop_assert_eq!(twice, again);
            }
        }

        #[test]
        fn table_encoder_matches_the_reference(s in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for style in [Canonicalization::Rfc3986, Canonicalization::QuotePlus, Canonicalization::UriComponent] {
                for input in [s.as_str(), lossy.as_str()] {
                    let mut e = String::from("prefix");
                    encode_into(&mut e, input, style);
                    prop_assert_eq!(&e[6..], reference_encode(input, style));
                }
            }
        }

        #[test]
        fn encoders_agree_with_the_percent_encoding_crate(s in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
            // RFC 3986's unreserved characters stay; encodeURIComponent also keeps !'()*.
            const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
            const URI_COMPONENT: &AsciiSet = &RFC3986.remove(b'!').remove(b'\'').remove(b'(').remove(b')').remove(b'*');
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for input in [s.as_str(), lossy.as_str()] {
                let rfc = utf8_percent_encode(input, RFC3986).to_string();
                prop_assert_eq!(encode(input), rfc.clone());
                let mut e = String::new();
                encode_into(&mut e, input, Canonicalization::UriComponent);
                prop_assert_eq!(e, utf8_percent_encode(input, URI_COMPONENT).to_string());
                // Python's quote_plus: RFC 3986 with the space as '+'.
                let mut e = String::new();
                encode_into(&mut e, input, Canonicalization::QuotePlus);
                prop_assert_eq!(e, rfc.replace("%20", "+"));
                // And decoding agrees with the crate's decoder on what the encoder made.
                let decoded = percent_encoding::percent_decode_str(&rfc).decode_utf8().unwrap();
                prop_assert_eq!(decode(&rfc), decoded);
            }
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
