//! Several `tessera serve` processes on one PostgreSQL database, as an operator runs them: each
//! node on its own loopback port and data directory, all given the same master key. Every test
//! has a schema of its own in the test database, dropped afterwards.
//!
//! The database is `postgresql://postgres@127.0.0.1:5432/test` unless `TESSERA_TEST_PG_URL`
//! names another. These tests never skip: without PostgreSQL they fail, saying what they need.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use deadpool_postgres::tokio_postgres::{self, NoTls};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera_protocol::encoding::{encode, Canonicalization};
use tessera_protocol::{timestamp, v1};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");
const DEFAULT_URL: &str = "postgresql://postgres@127.0.0.1:5432/test";
const RAM: &str = "2015-05-01";
const STS: &str = "2015-04-01";

/// How soon a change made on one node must be in force on the others (issue 10: revocations
/// within a second; the p99 of propagation is far below).
const BOUND: Duration = Duration::from_secs(1);

fn pg_url() -> String {
    std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// Runs one SQL statement on a connection of its own, from a thread with its own runtime (also
/// from `Drop`, which runs inside the test's runtime and cannot block on a future there); or,
/// with `batch`, several statements, returning no rows.
fn run_sql(statement: &str, batch: bool) -> Result<Vec<tokio_postgres::Row>, String> {
    let (url, statement) = (pg_url(), statement.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, NoTls).await.map_err(|e| {
                format!("these tests need PostgreSQL at {url} (set TESSERA_TEST_PG_URL): {e}")
            })?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let out = if batch {
                client.batch_execute(&statement).await.map(|()| Vec::new())
            } else {
                client.query(&statement, &[]).await
            };
            out.map_err(|e| match e.as_db_error() {
                Some(d) => d.message().to_string(),
                None => e.to_string(),
            })
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_string())?
}

/// The rows of one statement.
fn sql(statement: &str) -> Result<Vec<tokio_postgres::Row>, String> {
    run_sql(statement, false)
}

/// A schema of the test's own, dropped with everything in it when the test ends.
struct Schema(String);

impl Schema {
    fn new(prefix: &str) -> Schema {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Schema(format!(
            "{prefix}_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ))
    }

    /// One integer a query of the schema's tables returns.
    fn count(&self, query: &str) -> i64 {
        let q = query.replace("SCHEMA", &self.0);
        sql(&q).unwrap()[0].get(0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let drop = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.0
        );
        if let Err(e) = run_sql(&drop, true) {
            eprintln!("cannot drop the schema {}: {e}", self.0);
        }
    }
}

/// A deployment's shared settings: the schema and the master key file.
struct Cluster {
    dir: tempfile::TempDir,
    schema: Schema,
    key_file: PathBuf,
}

impl Cluster {
    fn new(prefix: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.key");
        write_key(&key_file, &"5a".repeat(32));
        Cluster {
            dir,
            schema: Schema::new(prefix),
            key_file,
        }
    }

    /// Spawns a node named `name` (its data directory and its connections' application name),
    /// with `key` as its master key file.
    fn spawn_with_key(&self, name: &str, key: &Path) -> Child {
        self.spawn_with(name, key, &[])
    }

    /// [`Cluster::spawn_with_key`] with more flags.
    fn spawn_with(&self, name: &str, key: &Path, extra: &[&str]) -> Child {
        let data = self.dir.path().join(name);
        let stderr = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--store")
            .arg(format!("{}?application_name={name}", pg_url()))
            .args(["--store-schema", &self.schema.0, "--store-pool-size", "4"])
            .arg("--master-key-file")
            .arg(key)
            .args(extra)
            .env("TESSERA_LOG_FORMAT", "json")
            .env_remove("TESSERA_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    fn spawn(&self, name: &str) -> Child {
        self.spawn_with_key(name, &self.key_file)
    }

    /// The node's log so far.
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The root credentials, from the data directory of whichever node created the deployment.
    fn root(&self) -> Creds {
        let found: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path().join("root-credentials.json"))
            .filter(|p| p.exists())
            .collect();
        assert_eq!(found.len(), 1, "one node wrote root credentials: {found:?}");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&found[0]).unwrap()).unwrap();
        Creds::from_json(&v)
    }
}

fn write_key(path: &Path, hex: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("{hex}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A running node: killed when dropped, so a failed assertion leaves nothing behind.
struct Node {
    child: Child,
    url: String,
    lines: Vec<String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a spawned node to say it is ready.
fn ready(mut child: Child, name: &str, cluster: &Cluster) -> Node {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(out);
        loop {
            let mut line = String::new();
            match out.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.send(line.trim_end().to_string()).is_err() {
                        // Keep draining so the node never blocks on a full pipe.
                        let mut sink = String::new();
                        let _ = out.read_to_string(&mut sink);
                        return;
                    }
                }
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line == "tessera: ready";
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "node {name} did not get ready: {lines:?}\n{}",
                    cluster.log(name)
                );
            }
        }
    }
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("tessera: listening on "))
        .unwrap()
        .to_string();
    Node { child, url, lines }
}

#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

impl Creds {
    fn from_json(v: &Value) -> Creds {
        Creds {
            id: v["AccessKeyId"].as_str().unwrap().into(),
            secret: v["AccessKeySecret"].as_str().unwrap().into(),
            token: v["SecurityToken"].as_str().map(String::from),
        }
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// An RPC v1 POST with every parameter in the query, as most official clients send it.
async fn call(
    node: &Node,
    c: &Creds,
    version: &str,
    action: &str,
    params: &[(&str, &str)],
) -> (u16, Value) {
    try_call(&node.url, c, version, action, params)
        .await
        .unwrap()
}

/// [`call`] to `url`, with a failure to reach the node returned (it may have been killed).
async fn try_call(
    url: &str,
    c: &Creds,
    version: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Result<(u16, Value), reqwest::Error> {
    send(url, &signed_query(c, version, action, params)).await
}

/// The query string of a request signed by `c`, with a fresh nonce.
fn signed_query(c: &Creds, version: &str, action: &str, params: &[(&str, &str)]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        NONCE.fetch_add(1, Ordering::SeqCst)
    );
    let ts = timestamp::format(now);
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
    all.push(("Signature", &sig));
    all.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a signed query to `url` (again, for a replay).
async fn send(url: &str, query: &str) -> Result<(u16, Value), reqwest::Error> {
    let resp = reqwest::Client::new()
        .post(format!("{url}/?{query}"))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

fn code(v: &Value) -> &str {
    v["Code"].as_str().unwrap_or("")
}

/// Calls until `done` holds for the answer; returns how long that took, failing after `limit`.
async fn until(
    limit: Duration,
    what: &str,
    mut attempt: impl AsyncFnMut() -> (u16, Value),
    mut done: impl FnMut(u16, &Value) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let (s, v) = attempt().await;
        if done(s, &v) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?}; last answer {s} {v}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn ok(node: &Node, c: &Creds, action: &str, params: &[(&str, &str)]) -> Value {
    let (s, v) = call(node, c, RAM, action, params).await;
    assert_eq!(s, 200, "{action} {params:?}: {v}");
    v
}

/// As root on `node`: a user with an AccessKey.
async fn user_with_key(node: &Node, root: &Creds, name: &str) -> Creds {
    ok(node, root, "CreateUser", &[("UserName", name)]).await;
    let v = ok(node, root, "CreateAccessKey", &[("UserName", name)]).await;
    Creds::from_json(&v["AccessKey"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serve_one_deployment() {
    let cluster = Cluster::new("tessera_cluster");
    // Started together: they race to create the deployment, and exactly one does.
    let (a, b) = (cluster.spawn("node_a"), cluster.spawn("node_b"));
    let a = ready(a, "node_a", &cluster);
    let b = ready(b, "node_b", &cluster);
    let said = |n: &Node, what: &str| n.lines.iter().any(|l| l.contains(what));
    assert!(
        said(&a, "created a new deployment") ^ said(&b, "created a new deployment"),
        "exactly one node creates the deployment: {:?} {:?}",
        a.lines,
        b.lines
    );
    assert!(said(&a, "joined the deployment") ^ said(&b, "joined the deployment"));
    assert_eq!(
        cluster.schema.count("SELECT COUNT(*) FROM SCHEMA.accounts"),
        1
    );
    assert_eq!(
        cluster
            .schema
            .count("SELECT COUNT(*) FROM SCHEMA.token_keys WHERE retired IS NULL"),
        1,
        "one current token key"
    );
    let root = cluster.root();
    for n in [&a, &b] {
        let (s, v) = call(n, &root, STS, "GetCallerIdentity", &[]).await;
        assert_eq!(s, 200, "{v}");
    }

    // A user and its key made on B work on A within the bound, and the other way round.
    let dev = user_with_key(&b, &root, "dev").await;
    let took = until(
        BOUND,
        "B's new key on A",
        async || call(&a, &dev, STS, "GetCallerIdentity", &[]).await,
        |s, _| s == 200,
    )
    .await;
    eprintln!("B to A: {took:?}");
    let ops = user_with_key(&a, &root, "ops").await;
    let took = until(
        BOUND,
        "A's new key on B",
        async || call(&b, &ops, STS, "GetCallerIdentity", &[]).await,
        |s, _| s == 200,
    )
    .await;
    eprintln!("A to B: {took:?}");

    // A role made on B; AssumeRole on A; the session's token works on B.
    ok(
        &b,
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunSTSAssumeRoleAccess"),
            ("UserName", "dev"),
        ],
    )
    .await;
    let account = {
        let (_, v) = call(&a, &root, STS, "GetCallerIdentity", &[]).await;
        v["AccountId"].as_str().unwrap().to_string()
    };
    let trust = format!(
        r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":["acs:ram::{account}:root"]}}}}],"Version":"1"}}"#
    );
    ok(
        &b,
        &root,
        "CreateRole",
        &[("RoleName", "Reader"), ("AssumeRolePolicyDocument", &trust)],
    )
    .await;
    let arn = format!("acs:ram::{account}:role/reader");
    let assume = [("RoleArn", arn.as_str()), ("RoleSessionName", "s1")];
    let mut answer = Value::Null;
    until(
        BOUND,
        "AssumeRole on A of B's role",
        async || call(&a, &dev, STS, "AssumeRole", &assume).await,
        |s, v| {
            if s == 200 {
                answer = v.clone();
            }
            s == 200
        },
    )
    .await;
    let session = Creds::from_json(&answer["Credentials"]);
    let (s, v) = call(&b, &session, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200, "A's token on B: {v}");
    assert_eq!(
        v["Arn"],
        format!("acs:ram::{account}:assumed-role/reader/s1")
    );

    // Revoked on B: refused on A within a second.
    let (s, _) = call(&a, &session, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200);
    ok(&b, &root, "RevokeRoleSessions", &[("RoleName", "Reader")]).await;
    let took = until(
        BOUND,
        "B's revocation on A",
        async || call(&a, &session, STS, "GetCallerIdentity", &[]).await,
        |s, v| s == 400 && code(v) == "InvalidSecurityToken.Expired",
    )
    .await;
    eprintln!("revocation B to A: {took:?}");

    // The same name created on both nodes at once: one success, one EntityAlreadyExists.
    for i in 0..5 {
        let name = format!("race{i}");
        let p = [("UserName", name.as_str())];
        let ((sa, va), (sb, vb)) = tokio::join!(
            call(&a, &root, RAM, "CreateUser", &p),
            call(&b, &root, RAM, "CreateUser", &p)
        );
        let mut outcomes = [(sa, code(&va).to_string()), (sb, code(&vb).to_string())];
        outcomes.sort();
        assert_eq!(
            outcomes,
            [
                (200, String::new()),
                (409, "EntityAlreadyExists.User".into())
            ],
            "{va} {vb}"
        );
    }
    assert_eq!(
        cluster
            .schema
            .count("SELECT COUNT(*) FROM SCHEMA.users WHERE name LIKE 'race%'"),
        5
    );

    // Both say they are ready, following the feed with nothing left to apply.
    for n in [&a, &b] {
        until(
            BOUND,
            "a node with no feed lag",
            async || readiness(n).await,
            |s, v| s == 200 && v["Feed"]["Lag"] == 0,
        )
        .await;
        let (_, v) = readiness(n).await;
        assert_eq!(v["Status"], "Ready", "{v}");
        assert_eq!(v["Store"]["Backend"], "postgresql");
        assert_eq!(v["Feed"]["Listening"], true);
        assert!(v["Feed"]["SinceContactMs"].as_u64().unwrap() < 5_000, "{v}");
    }
}

/// `GET /ready`: the status and the JSON report.
async fn readiness(node: &Node) -> (u16, Value) {
    let resp = reqwest::get(format!("{}/ready", node.url)).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_database_is_gone_is_not_ready() {
    let cluster = Cluster::new("tessera_cluster");
    let a = ready(cluster.spawn("gone_a"), "gone_a", &cluster);
    let (s, v) = readiness(&a).await;
    assert_eq!((s, &v["Status"]), (200, &Value::from("Ready")), "{v}");
    run_sql(&format!("DROP SCHEMA {} CASCADE", cluster.schema.0), true).unwrap();
    let mut last = Value::Null;
    // The follower notices first; the store's probe within its second of reuse.
    until(
        Duration::from_secs(10),
        "not ready, the store unreachable, once the tables are gone",
        async || readiness(&a).await,
        |s, v| {
            last = v.clone();
            s == 503 && v["Store"]["Reachable"] == false
        },
    )
    .await;
    assert_eq!(last["Status"], "NotReady");
    assert_eq!(last["Feed"]["Listening"], false, "{last}");
    // Reads are served from memory all the same; a write gets an error the SDKs retry, with
    // nothing of the database's in it.
    let root = cluster.root();
    let (s, v) = call(&a, &root, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(&a, &root, RAM, "CreateUser", &[("UserName", "nowhere")]).await;
    assert_eq!((s, code(&v)), (500, "InternalError"), "{v}");
    assert!(!v.to_string().contains("does not exist"), "{v}");
    assert!(
        !serde_json::to_string(&last)
            .unwrap()
            .contains("does not exist"),
        "the database's error is logged, not shown: {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_delays_a_change_but_never_loses_it() {
    let cluster = Cluster::new("tessera_cluster");
    let a = ready(cluster.spawn("lost_a"), "lost_a", &cluster);
    let b = ready(cluster.spawn("lost_b"), "lost_b", &cluster);
    let root = cluster.root();
    // A's listening connection dies; B's write right after notifies nobody on A's side. A
    // reconnects, reads the feed's revision, and catches up.
    let killed = sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lost_a feed'",
    )
    .unwrap();
    assert_eq!(killed.len(), 1, "A listens on one connection of its own");
    let late = user_with_key(&b, &root, "late").await;
    let took = until(
        Duration::from_secs(5),
        "B's key on A after A lost its notifications",
        async || call(&a, &late, STS, "GetCallerIdentity", &[]).await,
        |s, _| s == 200,
    )
    .await;
    eprintln!("caught up after {took:?}");
    assert!(
        cluster.log("lost_a").contains("reconnecting"),
        "A noticed: {}",
        cluster.log("lost_a")
    );
    // And it listens again: the next change arrives at notification speed.
    let (s, _) = call(&a, &late, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200);
    let next = user_with_key(&b, &root, "next").await;
    until(
        BOUND,
        "the next change on A",
        async || call(&a, &next, STS, "GetCallerIdentity", &[]).await,
        |s, _| s == 200,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_the_wrong_master_key_refuses_to_start_and_writes_nothing() {
    let cluster = Cluster::new("tessera_cluster");
    let a = ready(cluster.spawn("key_a"), "key_a", &cluster);
    let root = cluster.root();
    user_with_key(&a, &root, "someone").await;
    let state = |s: &Schema| {
        [
            s.count("SELECT revision FROM SCHEMA.feed"),
            s.count("SELECT COUNT(*) FROM SCHEMA.changes"),
            s.count("SELECT COUNT(*) FROM SCHEMA.token_keys"),
            s.count("SELECT COUNT(*) FROM SCHEMA.accounts"),
            s.count("SELECT COUNT(*) FROM SCHEMA.meta"),
        ]
    };
    let before = state(&cluster.schema);

    let wrong = cluster.dir.path().join("wrong.key");
    write_key(&wrong, &"a5".repeat(32));
    let mut child = cluster.spawn_with_key("key_b", &wrong);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a node with the wrong master key kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = cluster.log("key_b");
    assert!(
        log.contains("the master key is not this deployment's") && log.contains("wrote nothing"),
        "{log}"
    );
    assert_eq!(state(&cluster.schema), before, "the database is unchanged");
    assert!(!cluster
        .dir
        .path()
        .join("key_b/root-credentials.json")
        .exists());
    // The first node goes on serving.
    let (s, _) = call(&a, &root, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_writes_loses_nothing_acknowledged_and_catches_up_on_restart() {
    let cluster = Cluster::new("tessera_cluster");
    let a = ready(cluster.spawn("kill_a"), "kill_a", &cluster);
    let b = ready(cluster.spawn("kill_b"), "kill_b", &cluster);
    let root = cluster.root();

    // Writes on A, one after another, until A is gone; each acknowledged name is kept.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writer = {
        let (url, root) = (a.url.clone(), root.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{i}");
                match try_call(&url, &root, RAM, "CreateUser", &[("UserName", &name)]).await {
                    Ok((200, _)) => {
                        if acked_tx.send(name).is_err() {
                            return;
                        }
                    }
                    Ok((s, v)) => panic!("CreateUser {name} on A: {s} {v}"),
                    Err(_) => return, // A is gone
                }
            }
        })
    };
    let mut acked = Vec::new();
    while acked.len() < 25 {
        acked.push(acked_rx.recv().await.expect("A acknowledges writes"));
    }
    let mut a = a;
    a.child.kill().unwrap(); // SIGKILL, in the middle of the writes
    a.child.wait().unwrap();
    writer.await.unwrap();
    while let Ok(name) = acked_rx.try_recv() {
        acked.push(name);
    }
    drop(a);

    // B goes on serving, and has every write A acknowledged.
    for name in &acked {
        let (s, v) = call(&b, &root, RAM, "GetUser", &[("UserName", name)]).await;
        assert_eq!(s, 200, "{name}, acknowledged by A, on B: {v}");
    }
    let names: Vec<String> = acked.iter().map(|n| format!("'{n}'")).collect();
    assert_eq!(
        cluster.schema.count(&format!(
            "SELECT COUNT(*) FROM SCHEMA.users WHERE name IN ({})",
            names.join(",")
        )),
        i64::try_from(acked.len()).unwrap()
    );
    // What B does while A is down, A has once it is back.
    let while_down = user_with_key(&b, &root, "while_down").await;
    let a = ready(cluster.spawn("kill_a"), "kill_a", &cluster);
    assert!(
        a.lines.iter().any(|l| l.contains("joined the deployment")),
        "{:?}",
        a.lines
    );
    let (s, v) = call(&a, &while_down, STS, "GetCallerIdentity", &[]).await;
    assert_eq!(s, 200, "a key made while A was down works on A: {v}");
    let (s, v) = call(
        &a,
        &root,
        RAM,
        "GetUser",
        &[("UserName", &acked[acked.len() - 1])],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // And A follows B again.
    let after = user_with_key(&b, &root, "after").await;
    until(
        BOUND,
        "B's next key on the restarted A",
        async || call(&a, &after, STS, "GetCallerIdentity", &[]).await,
        |s, _| s == 200,
    )
    .await;
}

const REDIS: &str = "redis://127.0.0.1:6379/0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_shared_window_a_request_replayed_to_another_node_is_refused() {
    let cluster = Cluster::new("tessera_cluster");
    let shared = ["--replay-redis", REDIS];
    let a = ready(
        cluster.spawn_with("replay_a", &cluster.key_file, &shared),
        "replay_a",
        &cluster,
    );
    let b = ready(
        cluster.spawn_with("replay_b", &cluster.key_file, &shared),
        "replay_b",
        &cluster,
    );
    let root = cluster.root();
    let q = signed_query(&root, STS, "GetCallerIdentity", &[]);
    let (s, v) = send(&a.url, &q).await.unwrap();
    assert_eq!(s, 200, "{v}");
    for (node, which) in [(&b, "another node"), (&a, "the same node")] {
        let (s, v) = send(&node.url, &q).await.unwrap();
        assert_eq!(
            (s, code(&v)),
            (400, "SignatureNonceUsed"),
            "replayed to {which}: {v}"
        );
    }
    // Fresh requests pass on both, and the report says the window is shared.
    for n in [&a, &b] {
        let (s, v) = call(n, &root, STS, "GetCallerIdentity", &[]).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = readiness(n).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["Replay"],
            serde_json::json!({"Shared": true, "Reachable": true})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_shared_window_a_node_refuses_signed_requests_with_a_retryable_error() {
    let cluster = Cluster::new("tessera_cluster");
    // Nothing listens on port 1: the window is unreachable from the start.
    let a = ready(
        cluster.spawn_with(
            "noredis_a",
            &cluster.key_file,
            &["--replay-redis", "redis://127.0.0.1:1/0"],
        ),
        "noredis_a",
        &cluster,
    );
    let root = cluster.root();
    let (s, v) = call(&a, &root, STS, "GetCallerIdentity", &[]).await;
    assert_eq!((s, code(&v)), (503, "ServiceUnavailable"), "{v}");
    let (s, v) = readiness(&a).await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["Replay"]["Reachable"], false, "{v}");
    assert_eq!(v["Store"]["Reachable"], true, "{v}");
    let health = reqwest::get(format!("{}/health", a.url)).await.unwrap();
    assert_eq!(health.status(), 200, "alive, only not ready");
    assert!(
        cluster
            .log("noredis_a")
            .contains("shared replay window (Redis) does not answer"),
        "{}",
        cluster.log("noredis_a")
    );
}

/// `deploy/systemd`: the unit and its environment file, as an operator installs them.
fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `key=value` lines of an INI-style file, by section (`""` before the first).
fn ini(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line:?}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_systemd_unit_and_its_environment_file_start_a_node() {
    let unit = ini(&deploy_file("tessera.service"));
    let get = |section: &str, key: &str| {
        unit.iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("[{section}] {key} is missing"))
    };
    assert_eq!(get("Service", "ExecStart"), "/usr/local/bin/tessera serve");
    assert_eq!(
        get("Service", "EnvironmentFile"),
        "/etc/tessera/tessera.env"
    );
    assert_eq!(get("Service", "KillSignal"), "SIGTERM");
    let stop: u64 = get("Service", "TimeoutStopSec").parse().unwrap();
    assert!(stop > 30, "longer than the server's 30 s shutdown grace");
    assert_eq!(get("Install", "WantedBy"), "multi-user.target");

    // Every variable of the environment file is one `tessera serve` reads.
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let env = ini(&deploy_file("tessera.env"));
    assert!(env.iter().any(|(_, k, _)| k == "TESSERA_STORE"));
    for (_, key, _) in &env {
        assert!(
            help.contains(&format!("[env: {key}")),
            "{key} is not a setting of tessera serve"
        );
    }

    // Started as the unit starts it, with the file's settings, except what must point at this
    // machine: the database, the data directory, the listener, the secrets' files, Redis, and
    // a self-signed certificate instead of the operator's files.
    let cluster = Cluster::new("tessera_deploy");
    let data = cluster.dir.path().join("unit");
    let password = cluster.dir.path().join("db-password");
    std::fs::write(&password, "unused under trust authentication\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve");
    for (_, k, v) in &env {
        cmd.env(k, v);
    }
    cmd.env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_DATA", &data)
        .env("TESSERA_TLS", "self-signed")
        .env_remove("TESSERA_TLS_CERT")
        .env_remove("TESSERA_TLS_KEY")
        .env("TESSERA_STORE", pg_url())
        .env("TESSERA_STORE_SCHEMA", &cluster.schema.0)
        .env("TESSERA_STORE_PASSWORD_FILE", &password)
        .env("TESSERA_MASTER_KEY_FILE", &cluster.key_file)
        .env("TESSERA_REPLAY_REDIS", REDIS)
        .env_remove("TESSERA_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(cluster.dir.path().join("unit.log")).unwrap());
    let node = ready(cmd.spawn().unwrap(), "unit", &cluster);
    assert!(node.url.starts_with("https://127.0.0.1:"), "{}", node.url);
    assert!(
        node.lines
            .iter()
            .any(|l| l.contains("created a new deployment")),
        "{:?}",
        node.lines
    );
    assert!(data.join("root-credentials.json").exists());
    let log = cluster.log("unit");
    assert!(
        log.contains("\"level\":\"INFO\""),
        "JSON logs, as the file asks: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_visible_on_the_other_within_100_ms_at_the_99th_percentile() {
    let cluster = Cluster::new("tessera_cluster");
    let a = ready(cluster.spawn("prop_a"), "prop_a", &cluster);
    let b = ready(cluster.spawn("prop_b"), "prop_b", &cluster);
    let root = cluster.root();
    let mut took = Vec::new();
    for i in 0..40 {
        // The clock starts when A acknowledges the key; B is asked until it accepts it.
        let key = user_with_key(&a, &root, &format!("p{i}")).await;
        let start = Instant::now();
        loop {
            let (s, v) = call(&b, &key, STS, "GetCallerIdentity", &[]).await;
            if s == 200 {
                break;
            }
            assert_eq!(code(&v), "InvalidAccessKeyId.NotFound", "{v}");
            assert!(start.elapsed() < Duration::from_secs(5), "never propagated");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        took.push(start.elapsed());
    }
    took.sort();
    let p50 = took[took.len() / 2];
    let p99 = took[(took.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "propagation A to B over {} writes: p50 {p50:?}, p99 {p99:?}",
        took.len()
    );
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}: {took:?}");
}
