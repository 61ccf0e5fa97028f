//! A request as the pipeline sees it: the HTTP parts it needs, and every parameter from the
//! query and a form body, decoded and merged.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use std::net::SocketAddr;
use tessera_protocol::encoding::parse_pairs;
use tessera_protocol::render::Format;
use tessera_protocol::GatewayError;

/// The most parameters a request may carry (the widest action takes about twenty).
pub const MAX_PARAMS: usize = 128;

/// See the module documentation.
pub struct ApiRequest {
    /// A defect found while parsing (too many or repeated parameters), reported before anything
    /// else is checked.
    pub problem: Option<GatewayError>,
    /// GET or POST.
    pub method: Method,
    /// The request path (`/` for every RPC call).
    pub path: String,
    /// Decoded query parameters, in wire order (V3 signs these).
    pub query: Vec<(String, String)>,
    /// Query and form parameters together (V1 signs these; actions read these).
    pub params: Vec<(String, String)>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body (V3 hashes it).
    pub body: Bytes,
    /// Where the request came from.
    pub peer: SocketAddr,
    /// Whether it arrived over TLS.
    pub secure: bool,
}

impl ApiRequest {
    /// Builds the request, merging a form body's parameters after the query's.
    pub fn new(
        method: Method,
        path: &str,
        raw_query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
        peer: SocketAddr,
        secure: bool,
    ) -> Self {
        // Parsing stops one past the limit: enough to know it was exceeded, without allocating
        // for every pair of a hostile body.
        let query: Vec<(String, String)> = raw_query
            .map(|q| parse_pairs(q).take(MAX_PARAMS + 1).collect())
            .unwrap_or_default();
        let mut params = query.clone();
        if !body.is_empty() && is_form(&headers) && params.len() <= MAX_PARAMS {
            let room = MAX_PARAMS + 1 - params.len();
            params.extend(parse_pairs(&String::from_utf8_lossy(&body)).take(room));
        }
        let problem = if params.len() > MAX_PARAMS {
            Some(GatewayError::TooManyParameters)
        } else {
            duplicate(&params)
        };
        ApiRequest {
            problem,
            method,
            path: path.to_string(),
            query,
            params,
            headers,
            body,
            peer,
            secure,
        }
    }

    /// Whether parameters were read from a form body.
    pub fn has_form_body(&self) -> bool {
        self.params.len() > self.query.len()
    }

    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
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

/// The first parameter name that appears twice: the signature covers both values but would not
/// say which one the action reads.
fn duplicate(params: &[(String, String)]) -> Option<GatewayError> {
    let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| GatewayError::DuplicateParameter(w[0].chars().take(64).collect()))
}

// Parameters and headers can carry secrets (SecurityToken), so Debug shows their names only.
impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "params",
                &self
                    .params
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
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
        Some(ct) => ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str, ct: Option<&str>, body: &str) -> ApiRequest {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert("content-type", ct.parse().unwrap());
        }
        ApiRequest::new(
            Method::POST,
            "/",
            Some(query),
            h,
            Bytes::from(body.to_string()),
            "127.0.0.1:1".parse().unwrap(),
            false,
        )
    }

    #[test]
    fn merges_query_and_form() {
        let r = req(
            "Action=A&X=1",
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            "RoleArn=acs%3Aram&Y=a+b",
        );
        assert_eq!(r.param("Action"), Some("A"));
        assert_eq!(r.param("RoleArn"), Some("acs:ram"));
        assert_eq!(r.param("Y"), Some("a b"));
        assert_eq!(r.query.len(), 2);
        assert_eq!(r.params.len(), 4);
    }

    #[test]
    fn repeated_and_excess_parameters_are_found() {
        assert_eq!(
            req("A=1&B=2", None, "A=3").problem,
            Some(GatewayError::DuplicateParameter("A".into()))
        );
        let many: Vec<String> = (0..200).map(|i| format!("P{i}=x")).collect();
        let r = req(&many.join("&"), None, "");
        assert_eq!(r.problem, Some(GatewayError::TooManyParameters));
        assert_eq!(r.params.len(), MAX_PARAMS + 1);
        assert_eq!(req("A=1", None, "B=2").problem, None);
        let secret = req("SecurityToken=CAISsecret", None, "");
        assert!(!format!("{secret:?}").contains("CAISsecret"));
    }

    #[test]
    fn json_bodies_are_not_parameters() {
        let r = req("A=1", Some("application/json"), "{\"B\":2}");
        assert_eq!(r.params.len(), 1);
    }

    #[test]
    fn format_choice() {
        assert_eq!(req("Format=xml", None, "").format(), Format::Xml);
        assert_eq!(req("Format=yaml", None, "").format(), Format::Json);
        assert_eq!(req("", None, "").format(), Format::Json);
    }
}
