//! `ALIBABA_CLOUD_CREDENTIALS_URI`: a local endpoint that hands out STS tokens.

use crate::http::{Authority, HttpRequest, Method};
use crate::{Context, Credential, Error, ProvideCredentials, RetryPolicy};
use async_trait::async_trait;
use std::time::Duration;

/// Fetches `{"Code":"Success","AccessKeyId",…,"Expiration"}` from a URI. Hardened beyond the
/// official libraries: the URI must be https, or http to a loopback address (a sidecar);
/// redirects are not followed and proxies are bypassed for loopback; the body is capped;
/// `Code`, when present, must be `Success`; all four fields are required; an `Authorization`
/// header can be sent (see `authorization`).
#[derive(Debug, Clone)]
pub struct CredentialsUriProvider {
    ctx: Context,
    uri: String,
}

impl CredentialsUriProvider {
    /// A provider for `uri`, checked now.
    pub fn new(ctx: &Context, uri: impl Into<String>) -> Result<Self, Error> {
        let uri = uri.into();
        check_uri(&uri)?;
        Ok(CredentialsUriProvider {
            ctx: ctx.clone(),
            uri,
        })
    }

    /// From `ALIBABA_CLOUD_CREDENTIALS_URI`.
    pub fn from_env(ctx: &Context) -> Result<Self, Error> {
        match ctx.var("ALIBABA_CLOUD_CREDENTIALS_URI") {
            Some(uri) => CredentialsUriProvider::new(ctx, uri),
            None => Err(Error::NotConfigured(
                "ALIBABA_CLOUD_CREDENTIALS_URI is not set".into(),
            )),
        }
    }
}

/// The URI without its query, which may carry a token: what messages may show.
pub(crate) fn without_query(uri: &str) -> &str {
    uri.split(['?', '#']).next().unwrap_or(uri)
}

impl CredentialsUriProvider {
    /// The `Authorization` header to send, if the endpoint wants one: a Tessera extension
    /// after AWS's container credentials. `ALIBABA_CLOUD_CREDENTIALS_URI_AUTH_TOKEN_FILE`
    /// (re-read on every fetch, so a rotated token is picked up) wins over
    /// `ALIBABA_CLOUD_CREDENTIALS_URI_AUTH_TOKEN`.
    fn authorization(&self) -> Result<Option<String>, Error> {
        let token = match self
            .ctx
            .var("ALIBABA_CLOUD_CREDENTIALS_URI_AUTH_TOKEN_FILE")
        {
            Some(file) => {
                let path = self.ctx.expand_home(&file);
                let text = self.ctx.read_optional(&path)?.ok_or_else(|| {
                    Error::config(
                        "ALIBABA_CLOUD_CREDENTIALS_URI_AUTH_TOKEN_FILE",
                        format!("{} does not exist", path.display()),
                    )
                })?;
                Some(text.trim().to_string())
            }
            None => self.ctx.var("ALIBABA_CLOUD_CREDENTIALS_URI_AUTH_TOKEN"),
        };
        match token {
            // A header value cannot hold a line break: refuse rather than let a file inject
            // another header.
            Some(t) if t.contains(['\r', '\n']) || t.is_empty() => Err(Error::config(
                "credentials URI authorization token",
                "is empty or spans several lines",
            )),
            other => Ok(other),
        }
    }
}

fn check_uri(uri: &str) -> Result<(), Error> {
    let Some(a) = Authority::parse(uri) else {
        return Err(Error::config(
            "credentials URI",
            format!("{:?} is not an http(s) URL", without_query(uri)),
        ));
    };
    // Messages show scheme and host only: the rest may carry a password or a token.
    let bad = |why: &str| {
        Error::config(
            "credentials URI",
            format!("{}://{}… {why}", a.scheme, a.host),
        )
    };
    if a.has_userinfo {
        return Err(bad("must not carry user information"));
    }
    match a.scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if a.is_loopback() => Ok(()),
        "http" => Err(bad("must be https, or http to a loopback address")),
        _ => Err(bad("is not an http(s) URL")),
    }
}

#[async_trait]
impl ProvideCredentials for CredentialsUriProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let mut req = HttpRequest::new(
            Method::Get,
            &self.uri,
            Duration::from_secs(5),
            Duration::from_secs(10),
        );
        if let Some(auth) = self.authorization()? {
            req = req.header("Authorization", auth);
        }
        // A sidecar that is restarting or briefly overloaded gets two more chances.
        let policy = RetryPolicy {
            max_attempts: 3,
            budget: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let (resp, local) = crate::rpc::retrying("the credentials URI", &policy, || async {
            let local = self.ctx.clock.now();
            let resp = self
                .ctx
                .http
                .send(req.clone())
                .await
                .map_err(|e| e.into_error(&req))?;
            if resp.status >= 500 {
                return Err(Error::Service {
                    status: resp.status,
                    code: format!("HTTP{}", resp.status),
                    message: "the credentials URI answered with a server error".into(),
                    request_id: String::new(),
                });
            }
            Ok((resp, local))
        })
        .await
        .map_err(|e| e.in_provider("credentials_uri"))?;
        let fail = |message: String| {
            Error::InvalidResponse {
                endpoint: req.endpoint().to_string(),
                message,
            }
            .in_provider("credentials_uri")
        };
        if resp.status != 200 {
            return Err(fail(format!("HTTP {}", resp.status)));
        }
        super::parse_session_json(&resp, local, false, "credentials_uri").map_err(fail)
    }

    fn name(&self) -> &str {
        "credentials_uri"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        for ok in [
            "https://creds.example.com/x",
            "http://127.0.0.1:9000/creds",
            "http://localhost/c",
            "http://[::1]:80/c",
            "http://127.8.9.10/c",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.254/c",
            "http://example.com/c",
            "http://127.0.0.1.evil.com/c",
            "http://user@127.0.0.1/c",
            "ftp://127.0.0.1/c",
            "127.0.0.1/c",
            "http:///c",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
    }
}
