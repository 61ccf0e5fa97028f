//! The `tessera` binary as a user runs it: first start, restart, refusal of foreign or damaged
//! data directories, and graceful shutdown on SIGTERM with a request in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A GET with the parameters signed as RPC v1, over a fresh connection; returns the body.
fn signed_get(addr: &str, key_id: &str, secret: &str, params: &[(&str, &str)]) -> String {
    use tessera_protocol::encoding::{encode, Canonicalization};
    use tessera_protocol::{timestamp, v1};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nonce = format!(
        "{now}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let ts = timestamp::format(now);
    let mut all: Vec<(&str, &str)> = vec![
        ("AccessKeyId", key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("Timestamp", &ts),
        ("Format", "JSON"),
    ];
    all.extend_from_slice(params);
    let sig = v1::sign(
        secret,
        &v1::string_to_sign("GET", all.iter().copied(), Canonicalization::Rfc3986),
    );
    all.push(("Signature", &sig));
    let query: Vec<String> = all
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "GET /?{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        query.join("&")
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

struct Running {
    child: Child,
    lines: Vec<String>,
    url: String,
}

fn start(data: &Path, extra: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env("TESSERA_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "tessera exited before ready: {lines:?}"
        );
        let line = line.trim_end().to_string();
        let done = line == "tessera: ready";
        lines.push(line);
        if done {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = out.read_to_string(&mut sink);
    });
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("tessera: listening on "))
        .unwrap()
        .to_string();
    Running { child, lines, url }
}

fn sigterm(child: &Child) {
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

fn wait_exit(child: &mut Child) -> i32 {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("tessera did not exit within 10 s of SIGTERM");
}

#[test]
fn first_start_prints_next_steps_and_restart_reuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = start(&data, &[]);
    let text = s.lines.join("\n");
    assert!(text.contains("initialised a new data directory"), "{text}");
    assert!(text.contains("root-credentials.json (mode 0600)"), "{text}");
    assert!(text.contains("next:"), "{text}");
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("root-credentials.json")).unwrap())
            .unwrap();
    let secret = creds["AccessKeySecret"].as_str().unwrap().to_string();
    assert!(!text.contains(&secret), "the secret is never printed");
    use std::os::unix::fs::PermissionsExt;
    for f in ["root-credentials.json", "master.key"] {
        assert_eq!(
            std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600,
            "{f}"
        );
    }
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);

    let mut again = start(&data, &[]);
    let text = again.lines.join("\n");
    assert!(!text.contains("initialised"), "{text}");
    assert!(text.contains("using the data directory"), "{text}");
    let creds2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("root-credentials.json")).unwrap())
            .unwrap();
    assert_eq!(creds, creds2);
    sigterm(&again.child);
    assert_eq!(wait_exit(&mut again.child), 0);
}

#[test]
fn foreign_or_damaged_directories_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("photo.jpg"), "x").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not empty") && err.contains("photo.jpg"),
        "{err}"
    );
    assert!(!dir.path().join("master.key").exists());

    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), &[]);
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
    std::fs::write(dir.path().join("tessera.db"), vec![0x42u8; 16384]).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tessera.db"), "{err}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), &[]);
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = "Action=GetCallerIdentity&Version=2015-04-01";
    write!(conn, "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    conn.write_all(&body.as_bytes()[..10]).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    sigterm(&s.child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "must wait for the request in flight"
    );
    conn.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    let _ = conn.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("MissingAccessKeyId"), "{response}");
    assert_eq!(wait_exit(&mut s.child), 0);
    assert!(TcpStream::connect(&addr).is_err(), "no longer listening");
}

#[test]
fn settings_from_a_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let cfg = dir.path().join("tessera.toml");
    std::fs::write(
        &cfg,
        format!(
            "data = {:?}\ntls = \"self-signed\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve"])
        .env("TESSERA_CONFIG", &cfg)
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 || line.trim() == "tessera: ready" {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("listening on https://127.0.0.1:"), "{seen}");
    assert!(data.join("tls/ca.pem").exists());
    sigterm(&child);
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn no_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "--data",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut addr = String::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0);
        if let Some(a) = line.trim().strip_prefix("tessera: listening on http://") {
            addr = a.to_string();
        }
        if line.trim() == "tessera: ready" {
            break;
        }
    }
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("root-credentials.json")).unwrap())
            .unwrap();
    let (id, secret) = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["AccessKeySecret"].as_str().unwrap(),
    );
    let body = signed_get(
        &addr,
        id,
        secret,
        &[
            ("Action", "CreateUser"),
            ("Version", "2015-05-01"),
            ("UserName", "logcheck"),
        ],
    );
    assert!(body.contains("\"UserName\":\"logcheck\""), "{body}");
    let body = signed_get(
        &addr,
        id,
        secret,
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2015-05-01"),
            ("UserName", "logcheck"),
        ],
    );
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let new_secret = created["AccessKey"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_string();
    // A console password is a secret too.
    let password = "Log-Check-Pass-1";
    let body = signed_get(
        &addr,
        id,
        secret,
        &[
            ("Action", "CreateLoginProfile"),
            ("Version", "2015-05-01"),
            ("UserName", "logcheck"),
            ("Password", password),
        ],
    );
    assert!(body.contains("\"LoginProfile\""), "{body}");
    assert!(!body.contains(password));
    // A failed signature check logs too; its string to sign must not leak a secret either.
    let body = signed_get(
        &addr,
        id,
        "wrong",
        &[("Action", "GetCallerIdentity"), ("Version", "2015-04-01")],
    );
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    sigterm(&child);
    assert_eq!(wait_exit(&mut child), 0);

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("\"action\":\"CreateAccessKey\""),
        "requests are logged: {logs}"
    );
    let master_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    for s in [secret, new_secret.as_str(), master_key.trim(), password] {
        assert!(!logs.contains(s), "a secret reached the log");
    }
}

#[test]
fn the_operator_creates_accounts_and_rotates_keys_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), &[]);
    let creds = dir.path().join("root-credentials.json");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--endpoint", &s.url])
            .arg("--credentials")
            .arg(&creds)
            .output()
            .unwrap()
    };
    let out = run(&["admin", "create-account"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["AccountId"].as_str().unwrap().len(), 16);
    assert!(created["AccessKeyId"].as_str().unwrap().starts_with("LTAI"));

    let out = run(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["KeyId"], 2);

    // Session revocation from the command line (RAM-style API action of the account).
    let out = run(&["admin", "revoke-sessions", "--role", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EntityNotExist.Role"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["admin", "revoke-sessions", "--user", "nobody"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EntityNotExist.User"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The new account's root is not the operator.
    let other = dir.path().join("other.json");
    std::fs::write(&other, serde_json::to_string(&created).unwrap()).unwrap();
    let out = Command::new(BIN)
        .args(["keys", "rotate", "--endpoint", &s.url])
        .arg("--credentials")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403 NoPermission"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
}
