//! HTTP: one handler for every path and method, running the pipeline
//! parse → authenticate → authorize → action → render.

use crate::actions::{self, sts, Call, Reply};
use crate::catalog::{Action, Product};
use crate::error::ApiError;
use crate::request::{ApiRequest, Scratch};
use crate::state::AppState;
use crate::{authn, authz, ids};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as _;
use smallvec::SmallVec;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_protocol::render::{self, Format, Value};
use tessera_protocol::GatewayError;

/// Whether a listener speaks TLS.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// True for HTTPS.
    pub secure: bool,
}

/// The router for one listener.
pub fn router(state: Arc<AppState>, transport: Transport) -> Router {
    Router::new()
        .route("/health", axum::routing::get(health))
        .route("/ready", axum::routing::get(ready))
        .fallback(handle)
        .layer(Extension(transport))
        .with_state(state)
}

/// `GET /health`: unauthenticated liveness for load balancers and for measuring the HTTP floor
/// (the load generator compares every action to it). It reads no state.
async fn health() -> Response {
    let mut r = (StatusCode::OK, "{\"Status\":\"OK\"}").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    r
}

/// `GET /ready`: unauthenticated readiness, as JSON: whether the store answers (probed at most
/// once a second, however often this is asked), the newest revision the node knows committed
/// and the one its identity cache has applied (their difference is the feed lag), and on a
/// shared store whether the node follows the other nodes' commits; with a shared replay window,
/// whether it answers. 200 when the node can serve, 503 when its store or its shared replay
/// window does not answer or, on a shared store, it has stopped hearing about other nodes'
/// writes (it would serve stale identities). Nothing secret is shown: a failure is
/// logged, not returned.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let probe = state.probe_store().await;
    let known = state.store.revision();
    let applied = state.identities.revision();
    let mut store = serde_json::json!({
        "Backend": if state.feed.is_some() { "postgresql" } else { "sqlite" },
        "Reachable": probe.reachable,
    });
    if probe.reachable {
        store["LatencyMs"] = serde_json::json!(probe.latency.as_secs_f64() * 1000.0);
    }
    let mut feed = serde_json::json!({
        "Revision": known,
        "Applied": applied,
        "Lag": known.saturating_sub(applied),
    });
    let mut following = true;
    if let Some(f) = &state.feed {
        following = f.listening();
        feed["Listening"] = serde_json::json!(following);
        if let Some(d) = f.since_contact() {
            feed["SinceContactMs"] =
                serde_json::json!(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        }
    }
    let replay = match probe.replay {
        None => serde_json::json!({ "Shared": false }),
        Some(ok) => serde_json::json!({ "Shared": true, "Reachable": ok }),
    };
    let is_ready = probe.reachable && following && probe.replay != Some(false);
    let body = serde_json::json!({
        "Status": if is_ready { "Ready" } else { "NotReady" },
        "Store": store,
        "Feed": feed,
        "Replay": replay,
    });
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    r
}

async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(transport): Extension<Transport>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let early = check_envelope(&state, &parts.method, &parts.uri, &parts.headers);
    let body = match early {
        // Most signed calls carry everything in the query: with nothing to read there is
        // nothing to time, and arming a timer per request is not free.
        Ok(()) if body.is_end_stream() => Ok(Bytes::new()),
        Ok(()) => match tokio::time::timeout(
            state.limits.body_timeout,
            read_body(body, state.limits.max_body_bytes),
        )
        .await
        {
            Ok(read) => read,
            Err(_) => Err(GatewayError::RequestTimeout.into()),
        },
        Err(e) => Err(e),
    };
    let (bytes, read_error) = match body {
        Ok(b) => (b, None),
        Err(e) => (Bytes::new(), Some(e)),
    };
    let mut scratch = Scratch::new();
    let req = ApiRequest::new(
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &bytes,
        peer,
        transport.secure,
        &mut scratch,
    );
    let mut out = Vec::with_capacity(512);
    let answered = serve(&state, &req, read_error, &mut out).await;
    // A request refused before its action was looked up (authentication, say) is still
    // counted under the action it named, when it named a known one.
    let action = answered
        .action
        .or_else(|| Action::resolve(req.param("Version")?, req.param("Action")?).ok());
    state
        .metrics
        .request(action, answered.code.as_ref(), started.elapsed());
    tracing::info!(
        request_id = answered.request_id(),
        action = answered.action.map(Action::name).unwrap_or("-"),
        status = answered.status.as_u16(),
        code = answered.code.as_deref().unwrap_or("-"),
        peer = %peer,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    let mut response = (answered.status, Bytes::from(out)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answered.format.content_type()),
    );
    // Responses can carry secrets (CreateAccessKey); no cache may keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_bytes(&answered.request_id) {
        headers.insert("x-acs-request-id", v);
    }
    response
}

/// What [`serve`] answered, for the response's head and the request log.
pub struct Answered {
    /// The request id, an upper-case UUID.
    pub request_id: [u8; ids::REQUEST_ID_LEN],
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's format.
    pub format: Format,
    /// The action, when the request named a known one.
    pub action: Option<Action>,
    /// The error code, for an error.
    pub code: Option<std::borrow::Cow<'static, str>>,
}

impl Answered {
    /// The request id as text.
    pub fn request_id(&self) -> &str {
        std::str::from_utf8(&self.request_id).unwrap_or("-")
    }
}

/// Runs the pipeline for a parsed request and renders its answer into `out`: the server's whole
/// work between the bytes that arrived and the bytes that leave, without the HTTP framing.
/// `read_error` is a failure reading the body, answered as such.
pub async fn serve(
    state: &AppState,
    req: &ApiRequest<'_>,
    read_error: Option<ApiError>,
    out: &mut Vec<u8>,
) -> Answered {
    let request_id = ids::request_id_bytes();
    let request_id_str = std::str::from_utf8(&request_id).unwrap_or("");
    let format = req.format();
    let outcome = match read_error {
        None => pipeline(state, req).await,
        Some(e) => Err((None, e)),
    };
    match outcome {
        Ok((action, reply, authn)) => {
            match reply {
                Reply::Fields(fields) => {
                    let refs: SmallVec<[(&str, Value<'_>); 16]> =
                        fields.iter().map(|(k, v)| (*k, Value::Node(v))).collect();
                    render::success_into(out, format, action.name(), request_id_str, &refs);
                }
                Reply::CallerIdentity => {
                    sts::with_caller_identity(authn.principal(), |fields| {
                        render::success_into(out, format, action.name(), request_id_str, fields)
                    });
                }
                Reply::AssumedRole(assumed) => {
                    sts::with_assumed_role(&assumed, |fields| {
                        render::success_into(out, format, action.name(), request_id_str, fields)
                    });
                }
            }
            Answered {
                request_id,
                status: StatusCode::OK,
                format,
                action: Some(action),
                code: None,
            }
        }
        Err((action, err)) => {
            if let ApiError::Internal(cause) = &err {
                tracing::error!(
                    request_id = request_id_str,
                    error = format!("{cause:#}"),
                    "internal error"
                );
            }
            let wire = err.to_wire();
            let product = action
                .map(Action::product)
                .or_else(|| req.param("Version").and_then(Product::from_version))
                .unwrap_or(Product::Sts);
            let recommend = format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={request_id_str}",
                wire.code,
                product.name()
            );
            render::error_into(
                out,
                format,
                &wire,
                request_id_str,
                &req.host_id(),
                &recommend,
            );
            Answered {
                request_id,
                status: StatusCode::from_u16(wire.status).unwrap_or(StatusCode::BAD_REQUEST),
                format,
                action,
                code: Some(wire.code),
            }
        }
    }
}

type Outcome = Result<(Action, Reply, authn::Authenticated), (Option<Action>, ApiError)>;

async fn pipeline(state: &AppState, req: &ApiRequest<'_>) -> Outcome {
    if let Some(problem) = &req.problem {
        return Err((None, problem.clone().into()));
    }
    // One clock reading for the whole request: authentication, authorization and the action
    // all see the same time.
    let now = state.clock.now();
    let authn = authn::authenticate(state, req, now)
        .await
        .map_err(|e| (None, e))?;
    let action = authn.action;
    authz::authorize(&authn, &state.operator, req, now).map_err(|e| (Some(action), e))?;
    let call = Call {
        principal: authn.principal(),
        session: authn.session(),
        req,
        now,
    };
    let outcome = actions::run(action, state, &call).await;
    // A write is answered only once the identity cache shows it, so the next request on any
    // connection sees it. Only this write's changes (and any others committed meanwhile) are
    // applied; when the feed cannot be read the request fails rather than report a write that
    // authentication does not see yet.
    if state.identities.behind() {
        let waited = Instant::now();
        let caught_up = state.identities.catch_up().await;
        state.metrics.catch_up(waited.elapsed());
        caught_up.map_err(|e| (Some(action), ApiError::from(e)))?;
    }
    let reply = outcome.map_err(|e| (Some(action), e))?;
    Ok((action, reply, authn))
}

fn check_envelope(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Result<(), ApiError> {
    if method != Method::GET && method != Method::POST {
        return Err(GatewayError::UnsupportedHttpMethod.into());
    }
    if uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(0) > state.limits.max_uri_bytes {
        return Err(GatewayError::RequestTooLarge.into());
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.limits.max_body_bytes as u64) {
        return Err(GatewayError::RequestTooLarge.into());
    }
    Ok(())
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(GatewayError::RequestTooLarge.into())
        }
        // The client went away or sent a broken chunked body.
        Err(_) => Err(GatewayError::InvalidParameter("Body").into()),
    }
}
