//! The load generator against the real server, in-process on an ephemeral loopback port: every
//! request it signs is accepted, and errors are counted when they happen. A correctness test:
//! nothing here depends on how fast anything is.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use clap::Parser;
use std::path::Path;
use tessera_loadgen::cli::Args;
use tessera_loadgen::engine::{self, Measurement};
use tessera_loadgen::report::Summary;
use tessera_testkit::{Listeners, TestServer};

/// The server on the system clock, on one listener: plain HTTP or HTTPS.
async fn start(listeners: Listeners) -> TestServer {
    TestServer::builder()
        .listeners(listeners)
        .system_clock()
        .start()
        .await
}

async fn load(args: &[&str]) -> (Measurement, Summary) {
    let mut all = vec![
        "tessera-loadgen",
        "--connections",
        "4",
        "--duration",
        "1",
        "-q",
    ];
    all.extend_from_slice(args);
    let config = Args::try_parse_from(&all).unwrap().into_config().unwrap();
    let m = engine::run(&config, &config.workload).await.unwrap();
    let s = Summary::new(
        config.workload.name(),
        config.workload.signature(),
        config.connections,
        &m,
    );
    (m, s)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_accepted() {
    let mut r = start(Listeners::Http).await;
    let creds = r.credentials_file();
    let runs: &[&[&str]] = &[
        &["--action", "health"],
        &["--action", "GetCallerIdentity"],
        &["--action", "GetCallerIdentity", "--signature", "v3"],
        &["--action", "GetCallerIdentity", "--method", "GET"],
        &[
            "--action",
            "GetCallerIdentity",
            "--signature",
            "v3",
            "--method",
            "GET",
            "--param",
            "RegionId=cn-hangzhou",
        ],
        &[
            "--action",
            "ListUsers",
            "--version",
            "2015-05-01",
            "--param",
            "MaxItems=5",
            "--warmup",
            "0.3",
        ],
    ];
    for extra in runs {
        let mut args = vec!["--url", r.http(), "--credentials", path(&creds)];
        args.extend_from_slice(extra);
        let (m, s) = load(&args).await;
        assert!(s.requests > 0, "{extra:?}: {s:?}");
        assert_eq!(s.errors, 0, "{extra:?}: {:?}", m.first_error);
        assert_eq!(m.warmup.errors(), 0, "{extra:?}: {:?}", m.first_error);
        assert_eq!(s.connections, 4);
        assert_eq!(s.duration_s, 1.0);
        assert!(s.p50_ms > 0.0 && s.p50_ms <= s.p99_ms && s.p99_ms <= s.max_ms);
    }
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_counted_as_errors() {
    let mut r = start(Listeners::Http).await;
    let text = std::fs::read_to_string(r.credentials_file()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = v["AccessKeyId"].as_str().unwrap();
    // A wrong secret: every response is a 400 SignatureDoesNotMatch.
    let (m, s) = load(&[
        "--url",
        r.http(),
        "--action",
        "GetCallerIdentity",
        "--access-key-id",
        id,
        "--access-key-secret",
        "not-the-secret",
    ])
    .await;
    assert!(s.requests > 0);
    assert_eq!(s.errors, s.requests);
    assert_eq!(m.counts.status_errors, s.requests);
    assert!(m
        .first_error
        .as_deref()
        .unwrap()
        .contains("SignatureDoesNotMatch"));
    r.shutdown().await;
}

fn run_binary(args: Vec<String>) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tessera-loadgen"))
        .args(args)
        .output()
        .unwrap()
}

/// The binary itself: progress on stderr, the result as the last line of stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_one_json_line_last() {
    let mut r = start(Listeners::Http).await;
    let creds = r.credentials_file();
    let args = [
        "--url",
        r.http(),
        "--action",
        "GetCallerIdentity",
        "--credentials",
        path(&creds),
        "--connections",
        "2",
        "--duration",
        "0.5",
        "--compare",
    ]
    .map(String::from)
    .to_vec();
    let out = tokio::task::spawn_blocking(move || run_binary(args))
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let last = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["action"], "GetCallerIdentity");
    assert_eq!(v["signature"], "v1");
    assert_eq!(v["connections"], 2);
    assert_eq!(v["errors"], 0, "{stderr}");
    assert!(v["requests"].as_u64().unwrap() > 0);
    assert!(v["ratio_to_health"].as_f64().unwrap() > 0.0);
    assert!(stderr.contains("× health"), "{stderr}");

    // Refused before any connection is made.
    let out = run_binary(
        ["--url", "http://192.168.0.1:80", "--action", "health"]
            .map(String::from)
            .to_vec(),
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only loopback"));
    r.shutdown().await;
}

/// https with the server's self-signed CA, named as 127.0.0.1 and as localhost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_ca_file() {
    let mut server = start(Listeners::Https).await;
    let url = server.https().to_string();
    assert!(url.starts_with("https://"));
    let by_name = url.replace("127.0.0.1", "localhost");
    let ca = server.ca_file();
    let creds = server.credentials_file();
    for (u, action) in [
        (&url, "health"),
        (&url, "GetCallerIdentity"),
        (&by_name, "GetCallerIdentity"),
    ] {
        let (m, s) = load(&[
            "--url",
            u,
            "--ca",
            path(&ca),
            "--action",
            action,
            "--credentials",
            path(&creds),
            "--signature",
            "v3",
        ])
        .await;
        assert!(s.requests > 0, "{u} {action}");
        assert_eq!(s.errors, 0, "{u} {action}: {:?}", m.first_error);
    }

    // A CA that did not sign the server's certificate: no connection, so no run.
    let other = tempfile::tempdir().unwrap();
    let other_ca = other.path().join("ca.pem");
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&other_ca, stranger.cert.pem()).unwrap();
    let config = Args::try_parse_from([
        "tessera-loadgen",
        "--url",
        &url,
        "--ca",
        path(&other_ca),
        "--action",
        "health",
        "--duration",
        "1",
        "-q",
    ])
    .unwrap()
    .into_config()
    .unwrap();
    let e = engine::run(&config, &config.workload).await.unwrap_err();
    assert!(format!("{e:#}").contains("TLS handshake"), "{e:#}");
    server.shutdown().await;
}
