//! Allocations and time per request through the server's pipeline: parse, authenticate,
//! authorize, act, render, in-process on a real server state (SQLite store in a temporary
//! directory), without the HTTP framing. Every request is freshly signed beforehand, with its own
//! nonce; the measured section is `ApiRequest::new` plus `http::serve` into a reused buffer and
//! the request's metrics.
//!
//! ```sh
//! cargo bench -p tessera-server --bench pipeline              # every scenario
//! cargo bench -p tessera-server --bench pipeline -- AssumeRole  # those whose name holds a word
//! ```
//!
//! Prints, per scenario, heap allocations per request (counted by a global allocator wrapper)
//! and the median time per request over several batches.

// The counting allocator implements `GlobalAlloc`, which is an unsafe trait; it only forwards to
// the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use axum::http::request::Parts;
use axum::http::Request;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_protocol::encoding::{encode, Canonicalization};
use tessera_protocol::{timestamp, v1};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::http::serve;
use tessera_server::request::{ApiRequest, Scratch};
use tessera_server::state::AppState;
use tessera_server::{Server, ServerConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is the only
// addition.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A signed RPC v1 request, every parameter in the query, as the HTTP parts the server reads.
fn signed(c: &Creds, version: &str, action: &str, params: &[(&str, &str)]) -> Parts {
    let nonce = format!(
        "{:016x}{:016x}",
        std::process::id(),
        NONCE.fetch_add(1, Ordering::Relaxed)
    );
    let ts = timestamp::format(SystemClock.now());
    let mut all: Vec<(&str, &str)> = vec![
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("AccessKeyId", &c.id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("Timestamp", &ts),
    ];
    if let Some(t) = &c.token {
        all.push(("SecurityToken", t));
    }
    all.extend_from_slice(params);
    let sig = v1::sign(
        &c.secret,
        &v1::string_to_sign("POST", all.iter().copied(), Canonicalization::Rfc3986),
    );
    let query: Vec<String> = all
        .iter()
        .chain([("Signature", sig.as_str())].iter())
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let (parts, ()) = Request::builder()
        .method("POST")
        .uri(format!("/?{}", query.join("&")))
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "bench")
        .body(())
        .unwrap()
        .into_parts();
    parts
}

/// Makes a freshly signed request of one scenario.
type MakeRequest<'a> = Box<dyn Fn() -> Parts + 'a>;

/// Runs one request through the pipeline into `out`; returns the status.
async fn run(state: &AppState, parts: &Parts, out: &mut Vec<u8>) -> u16 {
    let mut scratch = Scratch::new();
    let req = ApiRequest::new(
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &[],
        "127.0.0.1:40000".parse().unwrap(),
        false,
        &mut scratch,
    );
    out.clear();
    let answered = serve(state, &req, None, out).await;
    // What the HTTP handler records for every request, counted with the rest.
    state.metrics.request(
        answered.action,
        answered.code.as_ref(),
        Duration::from_micros(1),
    );
    answered.status.as_u16()
}

async fn json(state: &AppState, parts: &Parts) -> serde_json::Value {
    let mut out = Vec::new();
    let status = run(state, parts, &mut out).await;
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            shutdown_grace: Duration::from_secs(1),
            ..tessera_testkit::config(dir.path())
        };
        let server = Server::start(config, Arc::new(SystemClock)).await.unwrap();
        let state = Arc::clone(&server.state);
        let creds: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("root-credentials.json")).unwrap(),
        )
        .unwrap();
        let account = creds["AccountId"].as_str().unwrap().to_string();
        let root = Creds {
            id: creds["AccessKeyId"].as_str().unwrap().into(),
            secret: creds["AccessKeySecret"].as_str().unwrap().into(),
            token: None,
        };
        let ram = "2015-05-01";
        json(&state, &signed(&root, ram, "CreateUser", &[("UserName", "bench")])).await;
        let k = json(&state, &signed(&root, ram, "CreateAccessKey", &[("UserName", "bench")])).await;
        let user = Creds {
            id: k["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
            secret: k["AccessKey"]["AccessKeySecret"].as_str().unwrap().into(),
            token: None,
        };
        json(&state, &signed(&root, ram, "AttachPolicyToUser", &[("PolicyType", "System"), ("PolicyName", "AliyunSTSAssumeRoleAccess"), ("UserName", "bench")])).await;
        let trust = format!(r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":["acs:ram::{account}:root"]}}}}],"Version":"1"}}"#);
        json(&state, &signed(&root, ram, "CreateRole", &[("RoleName", "bench-role"), ("AssumeRolePolicyDocument", &trust)])).await;
        json(&state, &signed(&root, ram, "AttachPolicyToRole", &[("PolicyType", "System"), ("PolicyName", "AliyunRAMReadOnlyAccess"), ("RoleName", "bench-role")])).await;
        let role_arn = format!("acs:ram::{account}:role/bench-role");
        let assume = [("RoleArn", role_arn.as_str()), ("RoleSessionName", "bench")];
        let s = json(&state, &signed(&user, "2015-04-01", "AssumeRole", &assume)).await;
        let session = Creds {
            id: s["Credentials"]["AccessKeyId"].as_str().unwrap().into(),
            secret: s["Credentials"]["AccessKeySecret"].as_str().unwrap().into(),
            token: Some(s["Credentials"]["SecurityToken"].as_str().unwrap().into()),
        };

        let sts = "2015-04-01";
        let scenarios: Vec<(&str, MakeRequest<'_>)> = vec![
            ("GetCallerIdentity, account root", Box::new(|| signed(&root, sts, "GetCallerIdentity", &[]))),
            ("GetCallerIdentity, RAM user", Box::new(|| signed(&user, sts, "GetCallerIdentity", &[]))),
            ("GetCallerIdentity, role session", Box::new(|| signed(&session, sts, "GetCallerIdentity", &[]))),
            ("AssumeRole, RAM user", Box::new(|| signed(&user, sts, "AssumeRole", &assume))),
            ("GetUser, role session (authorized by policy)", Box::new(|| signed(&session, ram, "GetUser", &[("UserName", "bench")]))),
        ];
        // `cargo bench --bench pipeline -- WORD` runs only the scenarios whose name holds WORD.
        let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        const BATCH: usize = 2000;
        let batches: usize = std::env::var("PIPELINE_BATCHES").ok().and_then(|b| b.parse().ok()).unwrap_or(7);
        println!("{:48} {:>14} {:>12}", "scenario", "allocs/request", "µs/request");
        let mut out = Vec::with_capacity(4096);
        for (name, make) in &scenarios {
            if only.as_deref().is_some_and(|w| !name.contains(w)) {
                continue;
            }
            // Warm up: lazily built state (compiled policies, buckets) is not the request's.
            for _ in 0..200 {
                let p = make();
                assert_eq!(run(&state, &p, &mut out).await, 200, "{}", String::from_utf8_lossy(&out));
            }
            let mut allocs = Vec::new();
            let mut micros = Vec::new();
            for _ in 0..batches {
                let batch: Vec<Parts> = (0..BATCH).map(|_| make()).collect();
                let before = ALLOCATIONS.load(Ordering::Relaxed);
                let started = Instant::now();
                for p in &batch {
                    let status = run(&state, p, &mut out).await;
                    debug_assert_eq!(status, 200);
                }
                let elapsed = started.elapsed();
                allocs.push((ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / BATCH as f64);
                micros.push(elapsed.as_secs_f64() * 1e6 / BATCH as f64);
                drop(batch);
            }
            allocs.sort_by(|a, b| a.total_cmp(b));
            micros.sort_by(|a, b| a.total_cmp(b));
            println!("{:48} {:>14.2} {:>12.2}", name, allocs[batches / 2], micros[batches / 2]);
        }
        server.shutdown().await.unwrap();
    });
}
