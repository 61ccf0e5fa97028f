//! Turning an RPC call into a signed HTTP request: RPC v1 (HMAC-SHA1) or V3
//! (ACS3-HMAC-SHA256). Every parameter, the SecurityToken included, travels in a POST form body,
//! so no secret ever appears in a URL (and hence in a proxy or access log).

use crate::http::{HttpRequest, Method};
use crate::{Credential, CredentialKind, Error};
use std::time::Duration;
use tessera_protocol::encoding::encode;
use tessera_protocol::{timestamp, v1, v3};

/// Which signature scheme a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// RPC signature 1.0, HMAC-SHA1 over the canonicalised parameters (what every official
    /// credentials library uses for STS).
    #[default]
    V1,
    /// `ACS3-HMAC-SHA256` in an `Authorization` header.
    V3,
}

/// One RPC call, before signing.
#[derive(Clone)]
pub struct RpcCall {
    /// The action, e.g. `AssumeRole`.
    pub action: String,
    /// The API version, e.g. `2015-04-01`.
    pub version: String,
    /// The action's own parameters.
    pub params: Vec<(String, String)>,
}

impl std::fmt::Debug for RpcCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameter values may be secrets (an OIDC token, a password): names only.
        f.debug_struct("RpcCall")
            .field("action", &self.action)
            .field("version", &self.version)
            .field(
                "params",
                &self.params.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RpcCall {
    /// A call with no parameters yet.
    pub fn new(action: impl Into<String>, version: impl Into<String>) -> Self {
        RpcCall {
            action: action.into(),
            version: version.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Adds a parameter if it has a value.
    pub fn param_opt(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.param(name, v),
            None => self,
        }
    }
}

/// Limits for one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connection set-up.
    pub connect: Duration,
    /// The whole attempt.
    pub total: Duration,
}

/// Signs `call` for `endpoint` (`scheme://host[:port]`) with `cred`, at Unix time `now`
/// (already corrected for clock skew) and with a fresh `nonce`.
pub fn sign(
    call: &RpcCall,
    endpoint: &str,
    cred: &Credential,
    style: SignatureVersion,
    now: i64,
    nonce: &str,
    timeouts: Timeouts,
) -> Result<HttpRequest, Error> {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let req = HttpRequest::new(Method::Post, url, timeouts.connect, timeouts.total)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded");
    match style {
        SignatureVersion::V1 => Ok(sign_v1(call, req, cred, now, nonce)),
        SignatureVersion::V3 => sign_v3(call, endpoint, req, cred, now, nonce),
    }
}

/// An `application/x-www-form-urlencoded` body: the pairs encoded, sorted and joined, which is
/// also the canonical query both signature versions start from.
pub(crate) fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    v3::canonical_query(pairs)
}

fn sign_v1(
    call: &RpcCall,
    mut req: HttpRequest,
    cred: &Credential,
    now: i64,
    nonce: &str,
) -> HttpRequest {
    let ts = timestamp::format(now);
    let mut params: Vec<(&str, &str)> = vec![
        ("Action", &call.action),
        ("Version", &call.version),
        ("Format", "JSON"),
        ("Timestamp", &ts),
        ("SignatureNonce", nonce),
    ];
    match cred.kind() {
        CredentialKind::BearerToken => {
            params.push(("BearerToken", cred.bearer().map_or("", |b| b.expose())));
            params.push(("SignatureType", "BEARERTOKEN"));
        }
        CredentialKind::AccessKey | CredentialKind::StsToken => {
            params.push(("AccessKeyId", cred.access_key_id()));
            params.push(("SignatureMethod", v1::SIGNATURE_METHOD));
            params.push(("SignatureVersion", v1::SIGNATURE_VERSION));
            if let Some(token) = cred.security_token() {
                params.push(("SecurityToken", token.expose()));
            }
        }
    }
    params.extend(call.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut body = form(params);
    if cred.kind() != CredentialKind::BearerToken {
        let sts = v1::string_to_sign_for_canonical("POST", &body);
        let signature = v1::sign(cred.access_key_secret().expose(), &sts);
        body.push_str("&Signature=");
        body.push_str(&encode(&signature));
    }
    req.body = body.into_bytes();
    req
}

fn host_of(endpoint: &str) -> &str {
    crate::http::Authority::parse(endpoint).map_or(endpoint, |a| a.host_header(endpoint))
}

fn sign_v3(
    call: &RpcCall,
    endpoint: &str,
    mut req: HttpRequest,
    cred: &Credential,
    now: i64,
    nonce: &str,
) -> Result<HttpRequest, Error> {
    let body = form(call.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).into_bytes();
    let hash = v3::payload_hash(&body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host_of(endpoint).to_string()),
        (
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ),
        ("x-acs-action".into(), call.action.clone()),
        ("x-acs-version".into(), call.version.clone()),
        ("x-acs-date".into(), timestamp::format(now)),
        ("x-acs-signature-nonce".into(), nonce.to_string()),
        ("x-acs-content-sha256".into(), hash.clone()),
    ];
    match cred.kind() {
        CredentialKind::BearerToken => {
            headers.push((
                "x-acs-bearer-token".into(),
                cred.bearer().map_or("", |b| b.expose()).to_string(),
            ));
            headers.push(("x-acs-signature-type".into(), "BEARERTOKEN".into()));
            req.headers = vec![("accept".into(), "application/json".into())];
            req.headers.extend(headers);
            req.body = body;
            return Ok(req);
        }
        CredentialKind::StsToken => {
            if let Some(t) = cred.security_token() {
                headers.push(("x-acs-security-token".into(), t.expose().to_string()));
            }
        }
        CredentialKind::AccessKey => {}
    }
    let signed: Vec<String> = {
        let mut names: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    };
    let canonical = v3::canonical_request(
        "POST",
        "/",
        "",
        &signed,
        |name| {
            headers
                .iter()
                .filter(move |(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        },
        &hash,
    );
    let signature = v3::sign(
        cred.access_key_secret().expose(),
        &v3::string_to_sign(&canonical),
    );
    let authorization = format!(
        "{} Credential={},SignedHeaders={},Signature={}",
        v3::ALGORITHM,
        cred.access_key_id(),
        signed.join(";"),
        signature
    );
    // reqwest derives Host from the URL; sending it twice would be wrong.
    req.headers = vec![("accept".into(), "application/json".into())];
    req.headers
        .extend(headers.into_iter().filter(|(n, _)| n != "host"));
    req.headers.push(("authorization".into(), authorization));
    req.body = body;
    if cred.access_key_id().is_empty() {
        return Err(Error::config("credential", "the AccessKeyId is empty"));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(1),
            total: Duration::from_secs(1),
        }
    }

    #[test]
    fn v1_puts_everything_in_the_body_and_verifies() {
        let cred = Credential::sts_token("STS.k", "sec", "tok en");
        let call = RpcCall::new("AssumeRole", "2015-04-01").param("RoleArn", "acs:ram::1:role/r");
        let req = sign(
            &call,
            "http://127.0.0.1:1",
            &cred,
            SignatureVersion::V1,
            1_700_000_000,
            "n1",
            t(),
        )
        .unwrap();
        assert_eq!(req.url, "http://127.0.0.1:1/");
        let body = String::from_utf8(req.body).unwrap();
        let pairs: Vec<(String, String)> = tessera_protocol::encoding::parse_pairs(&body).collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("SecurityToken").as_deref(), Some("tok en"));
        assert_eq!(get("Timestamp").as_deref(), Some("2023-11-14T22:13:20Z"));
        let sig = get("Signature").unwrap();
        let sts = v1::string_to_sign(
            "POST",
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            tessera_protocol::encoding::Canonicalization::Rfc3986,
        );
        assert!(v1::signature_matches("sec", &sts, &sig));
        assert!(!v1::signature_matches("other", &sts, &sig));
    }

    #[test]
    fn v3_signs_every_acs_header() {
        let cred = Credential::access_key("LTAIx", "sec");
        let call = RpcCall::new("GetCallerIdentity", "2015-04-01");
        let req = sign(
            &call,
            "https://sts.aliyuncs.com:443",
            &cred,
            SignatureVersion::V3,
            1_700_000_000,
            "n",
            t(),
        )
        .unwrap();
        let auth = req
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1
            .clone();
        let parsed = v3::parse_authorization(&auth).unwrap();
        assert_eq!(parsed.credential, "LTAIx");
        assert!(parsed.signed_headers.contains(&"host".to_string()));
        assert!(parsed.signed_headers.contains(&"content-type".to_string()));
        assert_eq!(host_of("https://sts.aliyuncs.com:443"), "sts.aliyuncs.com");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
