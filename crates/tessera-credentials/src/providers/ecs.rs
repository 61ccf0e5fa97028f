//! EcsRamRole: the instance's RAM role from the ECS metadata service.

use crate::http::{HttpRequest, HttpResponse, Method};
use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use std::time::Duration;

/// The metadata service's address.
pub const METADATA_ENDPOINT: &str = "http://100.100.100.200";
const TOKEN_TTL_SECS: &str = "21600";
const CREDENTIALS_PATH: &str = "/latest/meta-data/ram/security-credentials/";

/// Credentials of the ECS instance's RAM role. Uses an IMDSv2 session token (`PUT
/// /latest/api/token`), falling back to plain IMDSv1 requests when the token cannot be had,
/// unless `ALIBABA_CLOUD_IMDSV1_DISABLED=true`. The role is `ALIBABA_CLOUD_ECS_METADATA` or
/// the one the service names. Timeouts are the official 1 s connect / 1 s read.
///
/// A metadata service that cannot be reached at all means "not on ECS": the provider reports
/// [`Error::NotConfigured`] so a chain moves on, and so does an instance with no RAM role
/// attached (when no role name is configured); any other error answer is a failure.
#[derive(Debug, Clone)]
pub struct EcsRamRoleProvider {
    ctx: Context,
    role_name: Option<String>,
    endpoint: String,
    imdsv1_disabled: bool,
}

impl EcsRamRoleProvider {
    /// A provider reading its settings from `ctx`'s environment: `ALIBABA_CLOUD_ECS_METADATA`
    /// (role), `ALIBABA_CLOUD_IMDSV1_DISABLED`, and `ALIBABA_CLOUD_ECS_METADATA_SERVICE_ENDPOINT`
    /// (an endpoint override reqsign also reads; for tests and proxies).
    pub fn new(ctx: &Context) -> Self {
        EcsRamRoleProvider {
            ctx: ctx.clone(),
            role_name: ctx.var("ALIBABA_CLOUD_ECS_METADATA"),
            endpoint: ctx
                .var("ALIBABA_CLOUD_ECS_METADATA_SERVICE_ENDPOINT")
                .map(|e| crate::endpoint::normalize_http(&e))
                .unwrap_or_else(|| METADATA_ENDPOINT.to_string()),
            imdsv1_disabled: ctx.flag("ALIBABA_CLOUD_IMDSV1_DISABLED"),
        }
    }

    /// Uses this role instead of asking the service.
    pub fn role_name(mut self, name: impl Into<String>) -> Self {
        self.role_name = Some(name.into()).filter(|n: &String| !n.is_empty());
        self
    }

    /// Refuses to fall back to IMDSv1.
    pub fn disable_imdsv1(mut self, disabled: bool) -> Self {
        self.imdsv1_disabled = disabled;
        self
    }

    fn request(&self, method: Method, path: &str) -> HttpRequest {
        HttpRequest::new(
            method,
            format!("{}{path}", self.endpoint),
            Duration::from_secs(1),
            Duration::from_secs(2),
        )
    }

    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, Error> {
        self.ctx
            .http
            .send(req.clone())
            .await
            .map_err(|e| e.into_error(&req))
    }

    async fn session_token(&self) -> Result<Option<String>, Error> {
        let req = self
            .request(Method::Put, "/latest/api/token")
            .header("X-aliyun-ecs-metadata-token-ttl-seconds", TOKEN_TTL_SECS);
        let outcome = match self.send(req).await {
            Ok(r) if r.status == 200 && !r.body.is_empty() => return Ok(Some(r.text())),
            Ok(r) => Error::InvalidResponse {
                endpoint: self.endpoint.clone(),
                message: format!("the metadata token request answered HTTP {}", r.status),
            },
            Err(e) => e,
        };
        // Nothing listening at all is "not on ECS" (when no role was configured), not a reason
        // to try IMDSv1 as well.
        let unreachable = matches!(
            outcome,
            Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. }
        );
        if self.imdsv1_disabled || (unreachable && self.role_name.is_none()) {
            return Err(outcome);
        }
        tracing::debug!(error = %outcome, "no IMDSv2 token; falling back to IMDSv1");
        Ok(None)
    }

    async fn get_any(&self, path: &str, token: Option<&str>) -> Result<HttpResponse, Error> {
        let mut req = self.request(Method::Get, path);
        if let Some(t) = token {
            req = req.header("X-aliyun-ecs-metadata-token", t);
        }
        self.send(req).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<HttpResponse, Error> {
        let resp = self.get_any(path, token).await?;
        if resp.status == 200 {
            Ok(resp)
        } else if resp.status >= 500 {
            Err(Error::Service {
                status: resp.status,
                code: format!("HTTP{}", resp.status),
                message: format!("GET {path} answered a server error"),
                request_id: String::new(),
            })
        } else {
            Err(Error::InvalidResponse {
                endpoint: self.endpoint.clone(),
                message: format!("GET {path} answered HTTP {}", resp.status),
            })
        }
    }

    /// GET with the session token; on a refusal retry once without it (as the Python, Node
    /// and Java libraries do), unless IMDSv1 is disabled.
    async fn get_tokened(&self, path: &str, token: Option<&str>) -> Result<HttpResponse, Error> {
        match self.get(path, token).await {
            Err(Error::InvalidResponse { .. }) if token.is_some() && !self.imdsv1_disabled => {
                self.get(path, None).await
            }
            other => other,
        }
    }

    /// The role attached to the instance. An instance without one (the service answers 404, or
    /// an empty list) has nothing for this provider: not configured, so a chain moves on.
    async fn discover_role(&self, token: Option<&str>) -> Result<String, Error> {
        let mut resp = self.get_any(CREDENTIALS_PATH, token).await?;
        if resp.status != 200 && token.is_some() && !self.imdsv1_disabled {
            resp = self.get_any(CREDENTIALS_PATH, None).await?;
        }
        let no_role = || {
            Error::NotConfigured(format!(
                "the ECS instance (metadata service {}) has no RAM role attached",
                self.endpoint
            ))
        };
        match resp.status {
            200 => {}
            404 => return Err(no_role()),
            s if s >= 500 => {
                return Err(Error::Service {
                    status: s,
                    code: format!("HTTP{s}"),
                    message: format!("GET {CREDENTIALS_PATH} answered a server error"),
                    request_id: String::new(),
                })
            }
            s => {
                return Err(Error::InvalidResponse {
                    endpoint: self.endpoint.clone(),
                    message: format!("GET {CREDENTIALS_PATH} answered HTTP {s}"),
                })
            }
        }
        let body = resp.text();
        let role = body.lines().next().unwrap_or_default().trim().to_string();
        if role.is_empty() {
            return Err(no_role());
        }
        Ok(role)
    }

    async fn fetch(&self) -> Result<Credential, Error> {
        let token = self.session_token().await?;
        let role = match &self.role_name {
            Some(r) => r.clone(),
            None => self.discover_role(token.as_deref()).await?,
        };
        // The name is sent percent-encoded as one path segment; only the dot segments, which
        // encoding leaves alone, could still climb the path.
        if role == "." || role == ".." {
            return Err(Error::config(
                if self.role_name.is_some() {
                    "the configured ECS role name"
                } else {
                    "the role name the metadata service gave"
                },
                format!("{role:?} is not a role name"),
            ));
        }
        let local = self.ctx.clock.now();
        let resp = self
            .get_tokened(
                &format!(
                    "{CREDENTIALS_PATH}{}",
                    tessera_protocol::encoding::encode(&role)
                ),
                token.as_deref(),
            )
            .await?;
        let bad = |message: String| Error::InvalidResponse {
            endpoint: self.endpoint.clone(),
            message,
        };
        super::parse_session_json(&resp, local, true, "ecs_ram_role").map_err(bad)
    }
}

#[async_trait]
impl ProvideCredentials for EcsRamRoleProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        // The metadata service throttles bursts with 5xx answers: one more try after a pause.
        // (An unreachable service is not retried: off ECS that would only add seconds.)
        let mut outcome = self.fetch().await;
        if matches!(&outcome, Err(Error::Service { status, .. }) if *status >= 500) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            outcome = self.fetch().await;
        }
        match outcome {
            Ok(c) => Ok(c),
            Err(Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. })
                if self.role_name.is_none() =>
            {
                Err(Error::NotConfigured(format!(
                    "no ECS metadata service answers at {}",
                    self.endpoint
                )))
            }
            Err(e) => Err(e.in_provider("ecs_ram_role")),
        }
    }

    fn name(&self) -> &str {
        "ecs_ram_role"
    }
}
