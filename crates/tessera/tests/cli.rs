//! The `tessera` binary as a user runs it: first start, restart, refusal of foreign or damaged
//! data directories, and graceful shutdown on SIGTERM with a request in flight.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A GET with the parameters signed as RPC v1, over a fresh connection; returns the body.
fn signed_get(addr: &str, key_id: &str, secret: &str, params: &[(&str, &str)]) -> String {
    try_signed_get(addr, key_id, secret, params).unwrap()
}

/// [`signed_get`], with the connection's failures returned (the server may be gone).
fn try_signed_get(
    addr: &str,
    key_id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> std::io::Result<String> {
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
    let mut conn = TcpStream::connect(addr)?;
    write!(
        conn,
        "GET /?{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        query.join("&")
    )?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

struct Running {
    child: Child,
    lines: Vec<String>,
    url: String,
}

impl Drop for Running {
    // A failed assertion must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, extra: &[&str]) -> Running {
    let mut serve = Command::new(BIN);
    serve.stderr(Stdio::null());
    start_with(serve, data, extra)
}

/// Runs `tessera serve` on `data` as `command` (the binary, or a shell that runs it) says, and
/// waits until it is ready.
fn start_with(mut command: Command, data: &Path, extra: &[&str]) -> Running {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env("TESSERA_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
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
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child has a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM delivered");
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
    assert!(
        text.contains("next, in another shell:")
            && text.contains("tessera configure --profile root --credentials-file"),
        "{text}"
    );
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
fn the_data_directory_and_its_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("stderr.log");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set_mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    // The common umask, under which SQLite alone would create 0644 files; and a directory
    // made beforehand as mkdir makes it.
    let serve = || {
        let mut sh = Command::new("sh");
        sh.args(["-c", "umask 022; exec \"$0\" \"$@\"", BIN])
            .stderr(std::fs::File::create(&log).unwrap());
        sh
    };
    std::fs::create_dir(&data).unwrap();
    set_mode(&data, 0o755);
    let private_files = [
        "tessera.db",
        "tessera.db-wal",
        "tessera.db-shm",
        "master.key",
        "root-credentials.json",
    ];
    let check = |when: &str| {
        assert_eq!(mode(&data), 0o700, "the data directory, {when}");
        for f in private_files {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}, {when}");
        }
    };

    let mut s = start_with(serve(), &data, &[]);
    // While the server runs, SQLite's log and its index exist.
    check("after the first start");
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("made it private") && logs.contains(&format!("{}", data.display())),
        "{logs}"
    );

    // A deployment from before: its directory 0755, its database 0644.
    set_mode(&data, 0o755);
    set_mode(&data.join("tessera.db"), 0o644);
    set_mode(&data.join("root-credentials.json"), 0o644);
    let mut s = start_with(serve(), &data, &[]);
    check("after a restart");
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
    let logs = std::fs::read_to_string(&log).unwrap();
    for f in ["tessera.db", "root-credentials.json"] {
        assert!(
            logs.lines()
                .any(|l| l.contains("made it private") && l.contains(&format!("{f}\""))),
            "no log line for {f}: {logs}"
        );
    }
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
fn replay_memory_is_reported_at_startup_and_the_old_setting_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data",
        ])
        .arg(dir.path().join("data"))
        .env("TESSERA_REPLAY_MEMORY", "64MiB")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0);
        if line.trim() == "tessera: ready" {
            break;
        }
    }
    sigterm(&child);
    assert_eq!(wait_exit(&mut child), 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let started: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "tessera started")
        .unwrap_or_else(|| panic!("no startup line in {text}"));
    assert_eq!(started["replay_memory"], "64MiB", "{started}");
    // About 10-12 bytes a nonce, each held 15 to 17 minutes.
    let nonces = started["replay_nonces"].as_u64().unwrap();
    assert!((5_000_000..(64 << 20) / 8).contains(&nonces), "{started}");
    let rate = started["replay_sustained_rps"].as_u64().unwrap();
    assert!((nonces / 1100..nonces / 900).contains(&rate), "{started}");
    assert_eq!(started["replay_per_key_nonces"].as_u64(), Some(nonces / 2));

    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .env("TESSERA_NONCE_CAPACITY", "4000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--replay-memory"), "{err}");
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
        String::from_utf8_lossy(&out.stderr).contains("NoPermission")
            && String::from_utf8_lossy(&out.stderr).contains("HTTP 403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
}

/// A user's shell: a private HOME, a clean environment (no credentials, no metadata service),
/// and the server's root credentials at hand.
struct Shell {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Shell {
    fn new() -> Shell {
        let home = tempfile::tempdir().unwrap();
        let env = vec![
            ("HOME".to_string(), home.path().display().to_string()),
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED".into(), "true".into()),
        ];
        Shell { home, env }
    }

    fn run_with(&self, args: &[&str], extra_env: &[(&str, &str)], stdin: &str) -> Out {
        let mut child = Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[], "")
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert_eq!(out.code, 0, "tessera {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("tessera {args:?} printed no JSON ({e}): {}", out.stdout))
    }

    fn config(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.home.path().join(".aliyun/config.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// Starts a server and configures the `root` profile from its root-credentials.json.
#[test]
fn a_lost_root_key_is_recovered_offline_and_works_after_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let shell = Shell::new();
    let recover = |extra: &[&str]| {
        shell.run(
            &[
                &["admin", "recover-root-key", "--data", data_arg][..],
                extra,
            ]
            .concat(),
        )
    };
    let s = start(&data, &[]);
    let creds_file = data.join("root-credentials.json");
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_file).unwrap()).unwrap();
    let first_id = first["AccessKeyId"].as_str().unwrap().to_string();
    let account = first["AccountId"].as_str().unwrap().to_string();
    // The operator loses the only copy of the root secret.
    std::fs::remove_file(&creds_file).unwrap();

    // Not while the server holds the directory.
    let out = recover(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("stopped server")
            && out.stderr.contains("in use by another tessera process"),
        "{}",
        out.stderr
    );
    stop(s);

    let out = recover(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "nothing secret on the terminal: {}",
        out.stdout
    );
    let recovered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_file).unwrap()).unwrap();
    assert_eq!(
        std::fs::metadata(&creds_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(recovered["AccountId"], account.as_str());
    let second_id = recovered["AccessKeyId"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id);
    assert!(
        out.stderr.contains(&second_id) && out.stderr.contains("root-credentials.json (mode 0600)"),
        "{}",
        out.stderr
    );

    // The root has two keys now, the most it may have: one must be named to go.
    let out = recover(&[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--replace") && out.stderr.contains(&first_id),
        "{}",
        out.stderr
    );
    let out = recover(&["--account", "1234567890123456"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no account 1234567890123456"),
        "{}",
        out.stderr
    );
    // Printed once instead of written, replacing the lost key.
    let out = recover(&["--replace", &first_id, "--output", "-"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let third: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let third_id = third["AccessKeyId"].as_str().unwrap();
    assert!(
        out.stderr
            .contains(&format!("deleted the root AccessKey {first_id}")),
        "{}",
        out.stderr
    );

    // The restarted server knows both new keys, and the replaced one no more.
    let again = start(&data, &[]);
    let addr2 = again.url.trim_start_matches("http://").to_string();
    let who = signed_get(
        &addr2,
        third_id,
        third["AccessKeySecret"].as_str().unwrap(),
        &[("Action", "GetCallerIdentity"), ("Version", "2015-04-01")],
    );
    assert!(who.contains(&format!("acs:ram::{account}:root")), "{who}");
    let keys = signed_get(
        &addr2,
        &second_id,
        recovered["AccessKeySecret"].as_str().unwrap(),
        &[("Action", "ListAccessKeys"), ("Version", "2015-05-01")],
    );
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let mut ids: Vec<&str> = keys["AccessKeys"]["AccessKey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![second_id.as_str(), third_id];
    expected.sort();
    assert_eq!(ids, expected);
    stop(again);
}

fn server_and_root_profile() -> (tempfile::TempDir, Running, Shell) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let shell = Shell::new();
    let creds = dir.path().join("root-credentials.json");
    let out = shell.run(&[
        "configure",
        "--profile",
        "root",
        "--credentials-file",
        creds.to_str().unwrap(),
        "--endpoint",
        &server.url,
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (dir, server, shell)
}

fn stop(mut s: Running) {
    sigterm(&s.child);
    assert_eq!(wait_exit(&mut s.child), 0);
}

#[test]
fn configure_writes_the_aliyun_cli_file_and_any_action_can_be_called() {
    let (dir, server, shell) = server_and_root_profile();
    let config = shell.config();
    assert_eq!(config["current"], "root");
    let p = &config["profiles"][0];
    assert_eq!(p["mode"], "AK");
    assert_eq!(p["endpoint"], server.url.as_str());
    let root: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("root-credentials.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(p["access_key_id"], root["AccessKeyId"]);
    assert_eq!(p["access_key_secret"], root["AccessKeySecret"]);
    // The aliyun CLI's own fields are all there.
    for field in [
        "sts_token",
        "ram_role_arn",
        "region_id",
        "output_format",
        "language",
    ] {
        assert!(p.get(field).is_some(), "{field}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(shell.home.path().join(".aliyun/config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // aliyun-style calls.
    let me = shell.ok(&["sts", "GetCallerIdentity"]);
    assert_eq!(me["IdentityType"], "Account");
    assert_eq!(me["AccountId"], root["AccountId"]);
    let user = shell.ok(&[
        "ram",
        "CreateUser",
        "--UserName",
        "bob",
        "--DisplayName=Bob B",
    ]);
    assert_eq!(user["User"]["UserName"], "bob");
    assert_eq!(user["User"]["DisplayName"], "Bob B");
    let got = shell.ok(&[
        "ram",
        "GetUser",
        "--UserName=bob",
        "--signature-version",
        "v3",
    ]);
    assert_eq!(got["User"]["UserName"], "bob");

    // Errors a person can act on.
    let out = shell.run(&[
        "ram",
        "GetUser",
        "--UserName",
        "nobody",
        "--profile",
        "root",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("EntityNotExist.User"), "{}", out.stderr);
    let out = shell.run(&["sts", "GetCallerIdentity", "--profile", "nope"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("config.json")
            && out.stderr.contains("\"nope\"")
            && out.stderr.contains("root"),
        "{}",
        out.stderr
    );
    let out = shell.run(&["ram", "GetUser", "--bogus", "x"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
    let out = shell.run(&["ecs", "DescribeRegions"]);
    assert!(out.stderr.contains("--version"), "{}", out.stderr);
    let out = shell.run(&["confgure", "--profile", "x"]);
    assert!(
        out.stderr.contains("not a tessera command"),
        "{}",
        out.stderr
    );
    // "-h" as a parameter's value is a value, not a request for help.
    let out = shell.run(&[
        "ram",
        "CreateUser",
        "--UserName",
        "dash",
        "--Comments",
        "-h",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("\"Comments\": \"-h\""),
        "{}",
        out.stdout
    );
    let out = shell.run(&["sts", "--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("AssumeRole") && out.stdout.contains("GetCallerIdentity"));

    // A wrong secret in the profile is named as such.
    let out = shell.run(&[
        "configure",
        "--profile",
        "bad",
        "--access-key-id",
        root["AccessKeyId"].as_str().unwrap(),
        "--access-key-secret",
        "wrong",
        "--endpoint",
        &server.url,
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = shell.run(&["sts", "GetCallerIdentity", "--profile", "bad"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("SignatureDoesNotMatch") && out.stderr.contains("profile \"bad\""),
        "{}",
        out.stderr
    );
    // Missing fields without a terminal: the flag is named.
    let out = shell.run(&[
        "configure",
        "--profile",
        "x",
        "--mode",
        "RamRoleArn",
        "--access-key-id",
        "a",
        "--access-key-secret",
        "b",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--ram-role-arn"), "{}", out.stderr);
    // Interactively: the missing fields are asked for, in order; an empty answer keeps the
    // current value.
    let out = shell.run_with(
        &[
            "configure",
            "--profile",
            "asked",
            "--mode",
            "RamRoleArn",
            "--interactive",
        ],
        &[],
        "LTAIasked\nsecret-asked\nacs:ram::1:role/r\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Access Key Id") && out.stderr.contains("Ram Role Arn"),
        "{}",
        out.stderr
    );
    let asked = shell.config()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "asked")
        .cloned()
        .unwrap();
    assert_eq!(asked["mode"], "RamRoleArn");
    assert_eq!(asked["access_key_id"], "LTAIasked");
    assert_eq!(asked["access_key_secret"], "secret-asked");
    assert_eq!(asked["ram_role_arn"], "acs:ram::1:role/r");
    // The official Python library refuses a role profile with expired_seconds 0.
    assert_eq!(asked["expired_seconds"], 3600);
    // An https endpoint is also written where the Node library looks for a role's STS host.
    let out = shell.run(&[
        "configure",
        "--profile",
        "node",
        "--mode",
        "RamRoleArn",
        "--access-key-id",
        "a",
        "--access-key-secret",
        "b",
        "--ram-role-arn",
        "acs:ram::1:role/r",
        "--endpoint",
        "https://tessera.example:8443/",
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let node = shell.config()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "node")
        .cloned()
        .unwrap();
    assert_eq!(node["sts_endpoint"], "tessera.example:8443");
    let out = shell.run_with(
        &["configure", "--profile", "asked", "--interactive"],
        &[],
        "\n\nacs:ram::1:role/other\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("[LTAIasked]"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("secret-asked"),
        "a secret is never echoed: {}",
        out.stderr
    );
    let again = &shell.config()["profiles"];
    let again = again
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "asked")
        .unwrap();
    assert_eq!(again["access_key_secret"], "secret-asked");
    assert_eq!(again["ram_role_arn"], "acs:ram::1:role/other");
    assert_eq!(
        shell.run(&["configure", "switch", "--profile", "bad"]).code,
        0
    );
    // list masks secrets.
    let out = shell.run(&["configure", "list"]);
    assert!(out.stdout.contains("bad *"), "{}", out.stdout);
    assert!(!out
        .stdout
        .contains(root["AccessKeySecret"].as_str().unwrap()));
    stop(server);
}

#[test]
fn concurrent_configure_runs_lose_no_profile() {
    let shell = Shell::new();
    let children: Vec<_> = (0..12)
        .map(|i| {
            Command::new(BIN)
                .args(["configure", "--profile", &format!("p{i}")])
                .args([
                    "--access-key-id",
                    &format!("LTAI{i}"),
                    "--access-key-secret",
                    "s",
                ])
                .arg("--non-interactive")
                .env_clear()
                .envs(shell.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names: Vec<String> = shell.config()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    for i in 0..12 {
        assert!(names.contains(&format!("p{i}")), "p{i} was lost: {names:?}");
    }
}

fn profile(shell: &Shell, name: &str) -> serde_json::Value {
    shell.config()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn guard_rails_keep_secrets_and_endpoints_where_they_belong() {
    let (_dir, server, shell) = server_and_root_profile();
    // A partial OIDC setting does not take over from the profile (the chain skips OIDC), so
    // the profile's endpoint is still the one its credentials go to.
    let out = shell.run_with(
        &["sts", "GetCallerIdentity"],
        &[("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/nonexistent/token")],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // --save-profile is checked before anything is created.
    let out = shell.run(&[
        "user",
        "create",
        "eve",
        "--with-key",
        "--save-profile",
        "root",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let out = shell.run(&["ram", "GetUser", "--UserName", "eve"]);
    assert!(
        out.stderr.contains("EntityNotExist.User"),
        "eve was created: {}",
        out.stdout
    );

    // credentials export refuses what would lose or misuse credentials.
    let out = shell.run(&["credentials", "export", "--save-as", "x"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--format profile"), "{}", out.stderr);
    let out = shell.run(&["credentials", "export", "--format", "json"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--role-arn"), "{}", out.stderr);
    let out = shell.run(&[
        "credentials",
        "export",
        "--format",
        "profile",
        "--save-as",
        "root",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(
        profile(&shell, "root")["mode"],
        "AK",
        "root was not replaced"
    );

    // An https endpoint is mirrored into the Node library's sts_endpoint; changing the
    // endpoint takes it along, so AssumeRole never goes to the old host.
    let base = [
        "configure",
        "--profile",
        "r",
        "--mode",
        "RamRoleArn",
        "--access-key-id",
        "LTAIr",
        "--access-key-secret",
        "r-secret",
        "--ram-role-arn",
        "acs:ram::1:role/r",
        "--non-interactive",
    ];
    let with = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let out = shell.run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    with(&["--endpoint", "https://staging.example:8443"]);
    assert_eq!(profile(&shell, "r")["sts_endpoint"], "staging.example:8443");
    with(&["--endpoint", ""]);
    assert!(
        profile(&shell, "r").get("sts_endpoint").is_none(),
        "{}",
        profile(&shell, "r")
    );

    // A mode without a key drops the one it no longer uses.
    let out = shell.run(&[
        "configure",
        "--profile",
        "r",
        "--mode",
        "EcsRamRole",
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = profile(&shell, "r");
    assert_eq!(r["access_key_secret"], "");
    assert_eq!(r["access_key_id"], "");

    // --endpoint takes a role profile's AssumeRole along, over the profile's own endpoint.
    let created = shell.ok(&[
        "user",
        "create",
        "assumer",
        "--with-key",
        "--policy",
        "AliyunSTSAssumeRoleAccess",
        "--profile",
        "root",
    ]);
    let role = shell.ok(&[
        "role",
        "create",
        "steered",
        "--policy",
        "AliyunRAMReadOnlyAccess",
        "--profile",
        "root",
    ]);
    let out = shell.run(&[
        "configure",
        "--profile",
        "steer",
        "--mode",
        "RamRoleArn",
        "--access-key-id",
        created["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        "--access-key-secret",
        created["AccessKey"]["AccessKeySecret"].as_str().unwrap(),
        "--ram-role-arn",
        role["Role"]["Arn"].as_str().unwrap(),
        "--endpoint",
        "http://127.0.0.1:9",
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let me = shell.ok(&[
        "sts",
        "GetCallerIdentity",
        "--profile",
        "steer",
        "--endpoint",
        &server.url,
    ]);
    assert!(
        me["Arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/steered/"),
        "{me}"
    );

    // configure get masks secrets it does not even know, and a URI's query.
    let path = shell.home.path().join(".aliyun/config.json");
    let mut config = shell.config();
    config["profiles"][0]["oauth_refresh_token"] = "refresh-s3cret".into();
    config["profiles"][0]["credentials_uri"] = "http://127.0.0.1:9/c?token=uri-s3cret".into();
    std::fs::write(&path, config.to_string()).unwrap();
    let out = shell.run(&["configure", "get", "--profile", "root"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
    assert!(
        out.stdout.contains("http://127.0.0.1:9/c?****"),
        "{}",
        out.stdout
    );
    stop(server);
}

#[test]
fn quickstart_performs_the_sts_walkthrough() {
    let (_dir, server, shell) = server_and_root_profile();
    let out = shell.run(&["quickstart", "--cleanup"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for n in 1..=9 {
        assert!(
            out.stdout.contains(&format!("== Step {n}:")),
            "step {n}: {}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("AliyunSTSAssumeRoleAccess"));
    assert!(out.stdout.contains("\"SecurityToken\""), "{}", out.stdout);
    assert!(
        out.stdout.contains(":assumed-role/quickstart-role-"),
        "{}",
        out.stdout
    );
    // Cleaned up.
    let users = shell.ok(&["ram", "ListUsers"]);
    assert!(!users.to_string().contains("quickstart-user-"), "{users}");
    stop(server);
}

#[test]
fn friendly_verbs_and_exported_credentials_work_end_to_end() {
    let (_dir, server, shell) = server_and_root_profile();
    let created = shell.ok(&[
        "user",
        "create",
        "alice",
        "--with-key",
        "--policy",
        "AliyunSTSAssumeRoleAccess",
        "--save-profile",
        "alice",
    ]);
    assert!(created["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("LTAI"));
    assert_eq!(
        created["AttachedPolicies"][0]["PolicyName"],
        "AliyunSTSAssumeRoleAccess"
    );
    let role = shell.ok(&[
        "role",
        "create",
        "deployer",
        "--policy",
        "AliyunRAMReadOnlyAccess",
    ]);
    let arn = role["Role"]["Arn"].as_str().unwrap().to_string();
    let doc = role["Role"]["AssumeRolePolicyDocument"].as_str().unwrap();
    assert!(doc.contains(":root"), "{doc}");

    let assumed = shell.ok(&[
        "role",
        "assume",
        "deployer",
        "--profile",
        "alice",
        "--duration-seconds",
        "900",
    ]);
    assert!(assumed["Credentials"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("STS."));

    // Export as shell variables, then use them with no profile at all.
    let out = shell.run(&[
        "credentials",
        "export",
        "--profile",
        "alice",
        "--role-arn",
        &arn,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut vars = Vec::new();
    for line in out.stdout.lines().filter(|l| l.starts_with("export ")) {
        let (k, v) = line["export ".len()..].split_once('=').unwrap();
        vars.push((k.to_string(), v.trim_matches('\'').to_string()));
    }
    assert_eq!(vars.len(), 3, "{}", out.stdout);
    let env: Vec<(&str, &str)> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")])
        .collect();
    let out = shell.run_with(
        &["sts", "GetCallerIdentity", "--endpoint", &server.url],
        &env,
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("assumed-role/deployer/"),
        "{}",
        out.stdout
    );
    // The environment wins over the current profile, as in every SDK's chain...
    let with_endpoint: Vec<(&str, &str)> = env[..3]
        .iter()
        .copied()
        .chain([("TESSERA_ENDPOINT", server.url.as_str())])
        .collect();
    let out = shell.run_with(&["sts", "GetCallerIdentity"], &with_endpoint, "");
    assert!(
        out.stdout.contains("AssumedRoleUser"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // ...and then the profile's endpoint is not used: requests signed with the environment's
    // credentials go where the environment's owner would send them (here, Alibaba Cloud's
    // public endpoint, through a proxy on a closed loopback port so nothing leaves the machine).
    let proxied: Vec<(&str, &str)> = env[..3]
        .iter()
        .copied()
        .chain([
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("ALL_PROXY", "http://127.0.0.1:9"),
        ])
        .collect();
    let out = shell.run_with(&["sts", "GetCallerIdentity"], &proxied, "");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("https://sts.aliyuncs.com"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&server.url), "{}", out.stderr);

    // As the JSON a credentials URI serves.
    let json = shell.ok(&[
        "credentials",
        "export",
        "--profile",
        "alice",
        "--role-arn",
        &arn,
        "--format",
        "json",
    ]);
    assert_eq!(json["Code"], "Success");
    assert!(json["Expiration"].as_str().unwrap().ends_with('Z'));
    assert!(json["SecurityToken"].as_str().is_some());

    // As a CLI profile, saved, then used.
    let out = shell.run(&[
        "credentials",
        "export",
        "--profile",
        "alice",
        "--role-arn",
        &arn,
        "--format",
        "profile",
        "--save-as",
        "session",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let me = shell.ok(&["sts", "GetCallerIdentity", "--profile", "session"]);
    assert_eq!(me["IdentityType"], "AssumedRoleUser");
    // The session may read RAM but not write it.
    let out = shell.run(&[
        "ram",
        "CreateUser",
        "--UserName",
        "mallory",
        "--profile",
        "session",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("NoPermission"), "{}", out.stderr);
    let saved = |shell: &Shell| {
        shell.config()["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "session")
            .cloned()
            .unwrap()
    };
    assert!(saved(&shell)["sts_expiration"].as_u64().unwrap() > 0);
    // Changing the token by hand drops the recorded expiry of the old one; the rest stays.
    let out = shell.run(&[
        "configure",
        "--profile",
        "session",
        "--sts-token",
        "new-token",
        "--non-interactive",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p = saved(&shell);
    assert!(p.get("sts_expiration").is_none(), "{p}");
    assert_eq!(p["mode"], "StsToken");
    assert_eq!(p["sts_token"], "new-token");
    assert_eq!(p["endpoint"], server.url.as_str());
    stop(server);
}

#[test]
fn credentials_explain_shows_the_chain_decision() {
    let shell = Shell::new();
    let out = shell.run(&["credentials", "explain"]);
    assert_eq!(out.code, 1);
    for p in [
        "env",
        "oidc_role_arn",
        "cli_profile",
        "profile",
        "ecs_ram_role",
        "credentials_uri",
    ] {
        assert!(out.stdout.contains(p), "{p}: {}", out.stdout);
    }
    assert!(
        out.stdout.contains("ALIBABA_CLOUD_ECS_METADATA_DISABLED"),
        "{}",
        out.stdout
    );
    let out = shell.run_with(
        &["credentials", "explain"],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cr3t-value"),
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("CHOSEN") && out.stdout.contains("LTAIexample"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cr3t-value"));
    // A configured but broken provider stops the chain, with its reason.
    let out = shell.run_with(
        &["credentials", "explain"],
        &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIexample")],
        "",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("FAILED") && out.stdout.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{}",
        out.stdout
    );
}

#[test]
fn every_command_has_help_and_completions_exist() {
    let shell = Shell::new();
    for cmd in [
        &["--help"][..],
        &["serve", "--help"],
        &["configure", "--help"],
        &["configure", "list", "--help"],
        &["credentials", "export", "--help"],
        &["credentials", "explain", "--help"],
        &["user", "create", "--help"],
        &["role", "create", "--help"],
        &["role", "assume", "--help"],
        &["quickstart", "--help"],
        &["admin", "create-account", "--help"],
        &["keys", "rotate", "--help"],
        &["completion", "--help"],
        &["ram", "--help"],
        &["sts", "-h"],
    ] {
        let out = shell.run(cmd);
        assert_eq!(out.code, 0, "{cmd:?}: {}", out.stderr);
        assert!(out.stdout.contains("Usage"), "{cmd:?}: {}", out.stdout);
    }
    for sh in ["bash", "zsh", "fish"] {
        let out = shell.run(&["completion", sh]);
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("quickstart") && out.stdout.contains("configure"),
            "{sh}"
        );
    }
}

/// What a writer saw acknowledged before the server died: users and their keys.
#[derive(Default)]
struct Acknowledged {
    users: Vec<String>,
    /// (user name, AccessKeyId, AccessKeySecret)
    keys: Vec<(String, String, String)>,
}

#[test]
fn kill_9_during_heavy_writes_loses_nothing_acknowledged_and_the_cache_matches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), &[]);
    let creds: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("root-credentials.json")).unwrap(),
    )
    .unwrap();
    let root_id = creds["AccessKeyId"].as_str().unwrap().to_string();
    let root_secret = creds["AccessKeySecret"].as_str().unwrap().to_string();
    let addr = s.url.trim_start_matches("http://").to_string();
    let ram = |addr: &str, id: &str, secret: &str, params: &[(&str, &str)]| {
        let mut all = vec![("Action", params[0].1), ("Version", "2015-05-01")];
        all.extend_from_slice(&params[1..]);
        try_signed_get(addr, id, secret, &all)
            .ok()
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
    };

    // Four writers create users with keys back to back until the server dies under them.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Acknowledged::default()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, id, secret, ack) = (
                addr.clone(),
                root_id.clone(),
                root_secret.clone(),
                acknowledged.clone(),
            );
            std::thread::spawn(move || {
                for i in 0.. {
                    let name = format!("w{w}-{i}");
                    let ok = (|| {
                        let created = ram(
                            &addr,
                            &id,
                            &secret,
                            &[("Action", "CreateUser"), ("UserName", &name)],
                        );
                        if created.as_ref().and_then(|v| v.get("User")).is_none() {
                            return false;
                        }
                        ack.lock().unwrap().users.push(name.clone());
                        let key = ram(
                            &addr,
                            &id,
                            &secret,
                            &[("Action", "CreateAccessKey"), ("UserName", &name)],
                        );
                        match key.as_ref().and_then(|v| v.get("AccessKey")) {
                            Some(k) => {
                                ack.lock().unwrap().keys.push((
                                    name.clone(),
                                    k["AccessKeyId"].as_str().unwrap().to_string(),
                                    k["AccessKeySecret"].as_str().unwrap().to_string(),
                                ));
                                true
                            }
                            None => false,
                        }
                    })();
                    if !ok {
                        return i;
                    }
                }
                unreachable!()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    s.child.kill().unwrap(); // SIGKILL: no shutdown, no checkpoint
    s.child.wait().unwrap();
    let rounds: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let ack = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(
        rounds > 10 && ack.keys.len() > 10,
        "the writers got going ({rounds} rounds)"
    );

    let again = start(dir.path(), &[]);
    let addr = again.url.trim_start_matches("http://").to_string();
    for name in &ack.users {
        let got = ram(
            &addr,
            &root_id,
            &root_secret,
            &[("Action", "GetUser"), ("UserName", name)],
        )
        .unwrap();
        assert_eq!(
            got["User"]["UserName"],
            name.as_str(),
            "acknowledged user {name} survived"
        );
    }
    for (name, id, secret) in &ack.keys {
        let me = signed_get(
            &addr,
            id,
            secret,
            &[("Action", "GetCallerIdentity"), ("Version", "2015-04-01")],
        );
        let me: serde_json::Value = serde_json::from_str(&me).unwrap();
        let arn = me["Arn"].as_str().unwrap_or_default();
        assert!(
            arn.ends_with(&format!(":user/{name}")),
            "acknowledged key {id} of {name} authenticates: {me}"
        );
    }
    // More writes on the restarted server, then the operator's check: the cache the feed built
    // equals a fresh load of the store.
    for i in 0..20 {
        ram(
            &addr,
            &root_id,
            &root_secret,
            &[
                ("Action", "CreateUser"),
                ("UserName", &format!("after-{i}")),
            ],
        )
        .unwrap();
    }
    let out = Command::new(BIN)
        .args([
            "admin",
            "verify-cache",
            "--endpoint",
            &again.url,
            "--credentials",
        ])
        .arg(dir.path().join("root-credentials.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["Consistent"], true, "{verdict}");
    assert!(verdict["Entries"].as_i64().unwrap() as usize > ack.keys.len());
    stop(again);
}
