//! A request as the pipeline sees it: the HTTP parts it needs, and every parameter from the
//! query and a form body, decoded and merged.
//!
//! Nothing is copied that need not be: names and values that need no decoding are slices of
//! the request itself, and those that do are decoded into a [`Scratch`] buffer that lives beside
//! the request (on the handler's frame), so parsing a typical signed request allocates nothing.

use axum::http::{HeaderMap, Method};
use smallvec::SmallVec;
use std::net::SocketAddr;
use tessera_protocol::encoding::decode_into;
use tessera_protocol::render::Format;
use tessera_protocol::GatewayError;

/// The most parameters a request may carry (the widest action takes about twenty).
pub const MAX_PARAMS: usize = 128;

/// Parameters held inline before spilling to the heap: a signed call has about a dozen.
const INLINE_PARAMS: usize = 16;

/// Room for decoded parameters before a request needs the heap: a signed request's decoded
/// timestamp, nonce and signature fit many times over (a token is base64url and needs no
/// decoding). Kept small: the request's future is moved whole, and zeroed on every request.
const SCRATCH_BYTES: usize = 1024;

/// Where decoded parameters live for the length of one request: a fixed buffer first, then the
/// heap for whatever does not fit (long policy documents).
pub struct Scratch {
    inline: [u8; SCRATCH_BYTES],
    overflow: bumpalo::Bump,
}

impl Scratch {
    /// An empty scratch area (no heap memory until the inline buffer runs out).
    pub fn new() -> Self {
        Scratch {
            inline: [0; SCRATCH_BYTES],
            overflow: bumpalo::Bump::new(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// Hands out decoded strings that live as long as the [`Scratch`] they were written into.
struct Decoder<'s> {
    free: &'s mut [u8],
    overflow: &'s bumpalo::Bump,
}

impl<'s> Decoder<'s> {
    /// `raw` decoded as a form component: borrowed when it holds nothing to decode.
    fn decode<'r>(&mut self, raw: &'r str) -> &'r str
    where
        's: 'r,
    {
        if !raw.bytes().any(|b| b == b'+' || b == b'%') {
            return raw;
        }
        // Decoding never lengthens: it fits in the inline buffer if the raw form does.
        if raw.len() <= self.free.len() {
            let n = decode_into(raw, self.free);
            let (head, tail) = std::mem::take(&mut self.free).split_at_mut(n);
            self.free = tail;
            match std::str::from_utf8(head) {
                Ok(s) => return s,
                // Bytes that are not UTF-8: replaced, as the signature over them will fail.
                Err(_) => return self.overflow.alloc_str(&String::from_utf8_lossy(head)),
            }
        }
        // Only long values (policy documents) get here.
        let mut buf = vec![0u8; raw.len()];
        let n = decode_into(raw, &mut buf);
        self.overflow.alloc_str(&String::from_utf8_lossy(&buf[..n]))
    }
}

/// Parameters: inline up to [`INLINE_PARAMS`], then on the heap. (Not a `SmallVec`, which is
/// invariant in its items' lifetime: requests borrowed for shorter lifetimes must coerce.) The
/// inline array is the point: it lives in the handler's frame, not on the heap.
#[allow(clippy::large_enum_variant)]
enum Params<'a> {
    Inline([(&'a str, &'a str); INLINE_PARAMS], usize),
    Heap(Vec<(&'a str, &'a str)>),
}

impl<'a> Params<'a> {
    fn new() -> Self {
        Params::Inline([("", ""); INLINE_PARAMS], 0)
    }

    fn push(&mut self, pair: (&'a str, &'a str)) {
        match self {
            Params::Inline(items, len) if *len < INLINE_PARAMS => {
                items[*len] = pair;
                *len += 1;
            }
            Params::Inline(items, len) => {
                let mut v = Vec::with_capacity(*len * 2);
                v.extend_from_slice(&items[..*len]);
                v.push(pair);
                *self = Params::Heap(v);
            }
            Params::Heap(v) => v.push(pair),
        }
    }

    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        match self {
            Params::Inline(items, len) => &items[..*len],
            Params::Heap(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// See the module documentation.
pub struct ApiRequest<'a> {
    /// A defect found while parsing (too many or repeated parameters), reported before anything
    /// else is checked.
    pub problem: Option<GatewayError>,
    /// GET or POST.
    pub method: &'a Method,
    /// The request path (`/` for every RPC call).
    pub path: &'a str,
    /// Query parameters first (V3 signs these), then the form body's; V1 signs them all, and
    /// actions read them all.
    params: Params<'a>,
    /// How many of `params` came from the query.
    query_count: usize,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body (V3 hashes it).
    pub body: &'a [u8],
    /// Where the request came from.
    pub peer: SocketAddr,
    /// Whether it arrived over TLS.
    pub secure: bool,
}

impl<'a> ApiRequest<'a> {
    /// Parses the request, merging a form body's parameters after the query's; decoded text goes
    /// into `scratch`.
    #[allow(clippy::too_many_arguments)] // the parts of an HTTP request, each borrowed
    pub fn new(
        method: &'a Method,
        path: &'a str,
        raw_query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: &'a [u8],
        peer: SocketAddr,
        secure: bool,
        scratch: &'a mut Scratch,
    ) -> Self {
        let mut decoder = Decoder {
            free: &mut scratch.inline,
            overflow: &scratch.overflow,
        };
        let mut params = Params::new();
        // Parsing stops one past the limit: enough to know it was exceeded, without holding
        // every pair of a hostile body.
        let mut push_pairs = |text: &'a str, params: &mut Params<'a>| {
            for seg in text.split('&').filter(|seg| !seg.is_empty()) {
                if params.len() > MAX_PARAMS {
                    break;
                }
                let (n, v) = seg.split_once('=').unwrap_or((seg, ""));
                params.push((decoder.decode(n), decoder.decode(v)));
            }
        };
        if let Some(q) = raw_query {
            push_pairs(q, &mut params);
        }
        let query_count = params.len();
        if !body.is_empty() && is_form(headers) && params.len() <= MAX_PARAMS {
            let text: &'a str = match std::str::from_utf8(body) {
                Ok(t) => t,
                // A form body is ASCII when well formed; anything else is read as the lossy text
                // it decodes to, and its signature will not match.
                Err(_) => scratch_text(&scratch.overflow, body),
            };
            push_pairs(text, &mut params);
        }
        let problem = if params.len() > MAX_PARAMS {
            Some(GatewayError::TooManyParameters)
        } else {
            duplicate(params.as_slice())
        };
        ApiRequest {
            problem,
            method,
            path,
            params,
            query_count,
            headers,
            body,
            peer,
            secure,
        }
    }

    /// Every parameter, query's then form's.
    pub fn params(&self) -> &[(&'a str, &'a str)] {
        self.params.as_slice()
    }

    /// The query's parameters, in wire order.
    pub fn query(&self) -> &[(&'a str, &'a str)] {
        &self.params.as_slice()[..self.query_count]
    }

    /// Whether parameters were read from a form body.
    pub fn has_form_body(&self) -> bool {
        self.params.len() > self.query_count
    }

    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .as_slice()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The response format: a valid `Format` parameter, else the `Accept` header, else JSON.
    /// An invalid `Format` is reported by authentication; its error is rendered as JSON.
    pub fn format(&self) -> Format {
        match self.param("Format").and_then(Format::from_param) {
            Some(f) => f,
            None if self.param("Format").is_some() => Format::Json,
            None => self
                .header("accept")
                .map(Format::from_accept)
                .unwrap_or(Format::Json),
        }
    }

    /// The `HostId` for error bodies: the Host the client addressed, without a scheme (one
    /// Python provider sends `host: http://127.0.0.1:PORT`), cut to a sane length.
    pub fn host_id(&self) -> String {
        let host = self.header("host").unwrap_or("");
        let host = host
            .strip_prefix("http://")
            .or_else(|| host.strip_prefix("https://"))
            .unwrap_or(host);
        host.chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect()
    }
}

/// A body that is not UTF-8, as the lossy text it decodes to, kept in `arena`.
fn scratch_text<'s>(arena: &'s bumpalo::Bump, body: &[u8]) -> &'s str {
    arena.alloc_str(&String::from_utf8_lossy(body))
}

/// The first parameter name that appears twice: the signature covers both values but would not
/// say which one the action reads.
fn duplicate(params: &[(&str, &str)]) -> Option<GatewayError> {
    let mut names: SmallVec<[&str; INLINE_PARAMS]> = params.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| GatewayError::DuplicateParameter(w[0].chars().take(64).collect()))
}

// Parameters and headers can carry secrets (SecurityToken), so Debug shows their names only.
impl std::fmt::Debug for ApiRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "params",
                &self.params().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field(
                "headers",
                &self.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .field("peer", &self.peer)
            .field("secure", &self.secure)
            .finish()
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    match headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        // Old clients send no Content-Type at all.
        None => true,
        Some(ct) => {
            let ct = ct.trim_start().as_bytes();
            const FORM: &[u8] = b"application/x-www-form-urlencoded";
            ct.len() >= FORM.len() && ct[..FORM.len()].eq_ignore_ascii_case(FORM)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a request and hands it to `check` (the request borrows what this builds).
    fn with_req(query: &str, ct: Option<&str>, body: &str, check: impl FnOnce(&ApiRequest<'_>)) {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert("content-type", ct.parse().unwrap());
        }
        let mut scratch = Scratch::new();
        let method = Method::POST;
        let req = ApiRequest::new(
            &method,
            "/",
            Some(query),
            &h,
            body.as_bytes(),
            "127.0.0.1:1".parse().unwrap(),
            false,
            &mut scratch,
        );
        check(&req);
    }

    #[test]
    fn merges_query_and_form() {
        with_req(
            "Action=A&X=1",
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            "RoleArn=acs%3Aram&Y=a+b",
            |r| {
                assert_eq!(r.param("Action"), Some("A"));
                assert_eq!(r.param("RoleArn"), Some("acs:ram"));
                assert_eq!(r.param("Y"), Some("a b"));
                assert_eq!(r.query().len(), 2);
                assert_eq!(r.params().len(), 4);
                assert!(r.has_form_body());
            },
        );
    }

    #[test]
    fn repeated_and_excess_parameters_are_found() {
        with_req("A=1&B=2", None, "A=3", |r| {
            assert_eq!(
                r.problem,
                Some(GatewayError::DuplicateParameter("A".into()))
            )
        });
        let many: Vec<String> = (0..200).map(|i| format!("P{i}=x")).collect();
        with_req(&many.join("&"), None, "", |r| {
            assert_eq!(r.problem, Some(GatewayError::TooManyParameters));
            assert_eq!(r.params().len(), MAX_PARAMS + 1);
        });
        with_req("A=1", None, "B=2", |r| assert_eq!(r.problem, None));
        with_req("SecurityToken=CAISsecret", None, "", |r| {
            assert!(!format!("{r:?}").contains("CAISsecret"))
        });
    }

    #[test]
    fn json_bodies_are_not_parameters() {
        with_req("A=1", Some("application/json"), "{\"B\":2}", |r| {
            assert_eq!(r.params().len(), 1)
        });
    }

    #[test]
    fn format_choice() {
        with_req("Format=xml", None, "", |r| {
            assert_eq!(r.format(), Format::Xml)
        });
        with_req("Format=yaml", None, "", |r| {
            assert_eq!(r.format(), Format::Json)
        });
        with_req("", None, "", |r| assert_eq!(r.format(), Format::Json));
    }

    #[test]
    fn decoding_fills_the_scratch_then_the_heap() {
        // More encoded text than the inline buffer holds: every value still decodes exactly.
        let long = "%41".repeat(SCRATCH_BYTES);
        let q = format!("A=x%2By&B={long}&C=%E4%B8%AD&D=%FF&E=plain");
        with_req(&q, None, "", |r| {
            assert_eq!(r.param("A"), Some("x+y"));
            assert_eq!(r.param("B").map(str::len), Some(SCRATCH_BYTES));
            assert!(r.param("B").unwrap().bytes().all(|b| b == b'A'));
            assert_eq!(r.param("C"), Some("中"));
            assert_eq!(r.param("D"), Some("\u{FFFD}"));
            assert_eq!(r.param("E"), Some("plain"));
        });
        // A body that is not UTF-8 reads as its lossy text.
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let mut scratch = Scratch::new();
        let method = Method::POST;
        let body = b"K=v\xff";
        let r = ApiRequest::new(
            &method,
            "/",
            None,
            &h,
            body,
            "127.0.0.1:1".parse().unwrap(),
            false,
            &mut scratch,
        );
        assert_eq!(r.param("K"), Some("v\u{FFFD}"));
    }
}
