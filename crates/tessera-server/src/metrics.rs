//! Prometheus metrics, served on a listener of their own (`--metrics-listen`), never on the API's.
//!
//! Two kinds. What happens per request (counts by product, action and error code; latency by
//! action; how long a write waited for the identity cache to catch up with the store) is
//! recorded on the request path: a hash lookup under a shared read lock and a few atomic adds,
//! with labels that borrow static names, so a request that has been seen before allocates
//! nothing. What the state holds (the identity cache, the change feed's lag, the replay window,
//! the token key) is read only when the endpoint is scraped.

use crate::catalog::Action;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// Latency buckets, in seconds: from 50 µs (a cached GetCallerIdentity) to 2.5 s (a request
/// that waited for a throttled password hash).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    product: &'static str,
    action: &'static str,
    /// The error code, or `OK`.
    code: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    product: &'static str,
    action: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The per-request metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ActionLabels, Histogram, fn() -> Histogram>,
    catch_up: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under `tessera_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests answered, by product, action (- when none was recognised) and error code (OK for a success)",
            requests.clone(),
        );
        let latency = Family::<ActionLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "request_duration",
            "Time from the request's head to its answer, by product and action",
            Unit::Seconds,
            latency.clone(),
        );
        let catch_up = latency_histogram();
        registry.register_with_unit(
            "store_catch_up_duration",
            "Time a write waited for the identity cache to apply it from the store's change feed",
            Unit::Seconds,
            catch_up.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            catch_up,
        }
    }

    /// Records one answered request.
    pub fn request(
        &self,
        action: Option<Action>,
        code: Option<&Cow<'static, str>>,
        took: Duration,
    ) {
        let (product, action) = match action {
            Some(a) => (a.product().name(), a.name()),
            None => ("-", "-"),
        };
        let code = code.cloned().unwrap_or(Cow::Borrowed("OK"));
        self.requests
            .get_or_create(&RequestLabels {
                product,
                action,
                code,
            })
            .inc();
        self.latency
            .get_or_create(&ActionLabels { product, action })
            .observe(took.as_secs_f64());
    }

    /// Records how long a write waited for the identity cache.
    pub fn catch_up(&self, took: Duration) {
        self.catch_up.observe(took.as_secs_f64());
    }
}

/// The state's gauges, read at scrape time.
fn state_registry(state: &AppState) -> Registry {
    let mut r = Registry::with_prefix("tessera");
    let mut gauge = |name: &str, help: &str, unit: Option<Unit>, value: i64| {
        let g: Gauge = Gauge::default();
        g.set(value);
        match unit {
            Some(u) => r.register_with_unit(name, help, u, g),
            None => r.register(name, help, g),
        }
    };
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let (keys, roles) = state.identities.sizes();
    gauge(
        "identity_access_keys",
        "AccessKeys in the identity cache",
        None,
        as_i64(keys as u64),
    );
    gauge(
        "identity_roles",
        "Roles in the identity cache",
        None,
        as_i64(roles as u64),
    );
    let store_revision = state.store.revision();
    let applied = state.identities.revision();
    gauge(
        "change_feed_revision",
        "The newest revision this node knows the store committed",
        None,
        as_i64(store_revision),
    );
    gauge(
        "identity_revision",
        "The change-feed revision the identity cache has applied",
        None,
        as_i64(applied),
    );
    gauge(
        "identity_lag_revisions",
        "Revisions committed but not yet applied to the identity cache",
        None,
        as_i64(store_revision.saturating_sub(applied)),
    );
    let window = state.nonces.stats();
    gauge(
        "replay_window_nonces",
        "Nonces the replay window remembers",
        None,
        as_i64(window.nonces),
    );
    gauge(
        "replay_window_used",
        "Memory the replay window has taken from its budget",
        Some(Unit::Bytes),
        as_i64(window.allocated as u64),
    );
    gauge(
        "replay_window_budget",
        "The replay window's memory budget (--replay-memory)",
        Some(Unit::Bytes),
        as_i64(state.nonces.budget() as u64),
    );
    if let Some((created, seals)) = state.identities.keyring().current_usage() {
        gauge(
            "token_key_age",
            "Age of the token key that seals new SecurityTokens",
            Some(Unit::Seconds),
            state.clock.now().saturating_sub(created),
        );
        gauge(
            "token_key_seals",
            "SecurityTokens this process has sealed under the current token key",
            None,
            as_i64(seals),
        );
    }
    r
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let mut body = String::with_capacity(16 * 1024);
    let encoded = encode_registry(&mut body, &state.metrics.registry)
        .and_then(|()| encode_registry(&mut body, &state_registry(&state)))
        .and_then(|()| encode_eof(&mut body));
    if encoded.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
