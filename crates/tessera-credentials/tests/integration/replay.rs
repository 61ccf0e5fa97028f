//! Recorded-world cases: see tests/cases/README.md.
//!
//! Every directory under `tests/cases/` is one case: an environment (`env.json`), files under a
//! home directory (`home/`), the HTTP exchanges the providers must make, in order
//! (`traffic.json`), and the outcome (`result.json`). The harness copies `home/` to a temporary
//! directory, builds a [`Context`] from a map environment, the real filesystem, a manual clock
//! and a replaying HTTP client, runs the default chain (or the provider the case names) and
//! compares. No request leaves the process: the replay answers every one, and one it does not
//! expect is a failure of the case.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tessera_credentials::context::{ManualClock, MapEnv, OsFs};
use tessera_credentials::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use tessera_credentials::providers::{
    CliProfileProvider, CredentialsUriProvider, DefaultChain, EcsRamRoleProvider, EnvProvider,
    IniProfileProvider, OidcRoleArnProvider, Outcome,
};
use tessera_credentials::{Context, Credential, Error, ProvideCredentials};
use tessera_protocol::encoding::{parse_pairs, Canonicalization};
use tessera_protocol::v1;

/// The clock of a case that names none: 2030-01-01T00:00:00Z.
const DEFAULT_NOW: &str = "2030-01-01T00:00:00Z";
/// Placeholder for the absolute path of the case's temporary home directory.
const HOME_PLACEHOLDER: &str = "$HOME_DIR";

// ---------------------------------------------------------------------------------------------
// Case files

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvFile {
    /// The manual clock, `YYYY-MM-DDThh:mm:ssZ`.
    #[serde(default)]
    now: Option<String>,
    /// What to run: `default` (the chain, through `explain()` and `provide()`), or one
    /// provider: `env`, `oidc_role_arn`, `cli_profile`, `profile`, `ecs_ram_role`,
    /// `credentials_uri`.
    #[serde(default)]
    run: Option<String>,
    /// The environment, exactly; `$HOME_DIR` in a value is the temporary home.
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    request: ExpectedRequest,
    /// The answer; exactly one of `response` and `error`.
    #[serde(default)]
    response: Option<CannedResponse>,
    /// `transport` or `timeout`: no answer arrives.
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRequest {
    method: String,
    /// Scheme, host, port and path; the query is checked through `query`.
    url: String,
    /// Form-body parameters that must be present with these values (`*`: any non-empty value).
    #[serde(default)]
    form: BTreeMap<String, String>,
    /// Form-body parameters that must be absent.
    #[serde(default)]
    form_absent: Vec<String>,
    /// Query parameters that must be present. A request with a query string fails unless the
    /// exchange names `query` or `query_absent`: nothing travels in a URL by accident.
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    query_absent: Vec<String>,
    /// Headers (names case-insensitive) that must be present with these values (`*`: any).
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    headers_absent: Vec<String>,
    /// The form body must carry an RPC v1 `Signature` made with this AccessKeySecret.
    #[serde(default)]
    signed_v1_with: Option<String>,
    /// The body must be empty.
    #[serde(default)]
    body_empty: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedResponse {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A string is sent as is; anything else as JSON; absent, an empty body.
    #[serde(default)]
    body: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// Exactly one of `credential` and `error`.
    #[serde(default)]
    credential: Option<ExpectedCredential>,
    #[serde(default)]
    error: Option<ExpectedError>,
    /// For `run: default`: every provider of the chain, in order.
    #[serde(default)]
    steps: Option<Vec<ExpectedStep>>,
    /// Strings that must appear in no URL, error message or explanation.
    #[serde(default)]
    secrets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedCredential {
    /// `access_key` or `sts`.
    kind: String,
    access_key_id: String,
    #[serde(default)]
    access_key_secret: Option<String>,
    provider_name: String,
    /// `YYYY-MM-DDThh:mm:ssZ`; absent or null: the credential does not expire.
    #[serde(default)]
    expiration: Option<String>,
    /// The expiration on the local clock; absent: the same as `expiration` (no skew).
    #[serde(default)]
    valid_until: Option<String>,
    /// `true`/`false`: whether a SecurityToken is present; a string: its value.
    security_token: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    /// The outermost `Error` variant, e.g. `Provider`, `NoCredentials`.
    variant: String,
    /// For `Provider`: the provider named.
    #[serde(default)]
    provider: Option<String>,
    /// The innermost variant after unwrapping every `Provider`.
    #[serde(default)]
    root: Option<String>,
    /// The service's error code.
    #[serde(default)]
    code: Option<String>,
    /// Substrings of the message.
    #[serde(default)]
    message_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedStep {
    provider: String,
    /// `skipped`, `failed`, `chosen` or `not_reached`.
    outcome: String,
    /// A substring of the reason, error or provenance.
    #[serde(default)]
    contains: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The replaying HTTP client

#[derive(Debug, Default)]
struct ReplayState {
    queue: VecDeque<Exchange>,
    /// Every mismatch, in order.
    problems: Vec<String>,
    /// Every URL requested (to look for secrets).
    urls: Vec<String>,
    served: usize,
}

/// Answers each request with the next recorded exchange, after checking the request is the one
/// expected. A mismatch or a request beyond the recording is recorded as a problem and answered
/// with a transport error; nothing is ever sent anywhere.
#[derive(Debug, Clone)]
struct Replay(Arc<Mutex<ReplayState>>);

impl Replay {
    fn new(exchanges: Vec<Exchange>) -> Self {
        Replay(Arc::new(Mutex::new(ReplayState {
            queue: exchanges.into(),
            ..Default::default()
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn check_value(problems: &mut Vec<String>, what: &str, name: &str, want: &str, got: Option<&str>) {
    match got {
        None => problems.push(format!("{what} {name:?} is missing (expected {want:?})")),
        Some(g) if want == "*" && g.is_empty() => {
            problems.push(format!("{what} {name:?} is empty"))
        }
        Some(g) if want != "*" && g != want => {
            problems.push(format!("{what} {name:?} is {g:?}, expected {want:?}"))
        }
        Some(_) => {}
    }
}

fn check_request(want: &ExpectedRequest, req: &HttpRequest) -> Vec<String> {
    let mut p = Vec::new();
    if req.method.as_str() != want.method {
        p.push(format!(
            "method is {}, expected {}",
            req.method.as_str(),
            want.method
        ));
    }
    let (base, query) = match req.url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (req.url.as_str(), None),
    };
    if base != want.url {
        p.push(format!("URL is {base}, expected {}", want.url));
    }
    let query_pairs: Vec<(String, String)> =
        query.map(|q| parse_pairs(q).collect()).unwrap_or_default();
    if query.is_some() && want.query.is_empty() && want.query_absent.is_empty() {
        p.push("the URL has a query string, and none was expected".into());
    }
    let lookup = |pairs: &[(String, String)], k: &str| {
        pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    for (k, v) in &want.query {
        check_value(
            &mut p,
            "query parameter",
            k,
            v,
            lookup(&query_pairs, k).as_deref(),
        );
    }
    for k in &want.query_absent {
        if lookup(&query_pairs, k).is_some() {
            p.push(format!("query parameter {k:?} is present, expected absent"));
        }
    }
    let header = |k: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    for (k, v) in &want.headers {
        check_value(&mut p, "header", k, v, header(k));
    }
    for k in &want.headers_absent {
        if header(k).is_some() {
            p.push(format!("header {k:?} is present, expected absent"));
        }
    }
    if want.body_empty && !req.body.is_empty() {
        p.push(format!(
            "the body has {} bytes, expected none",
            req.body.len()
        ));
    }
    let needs_form =
        !want.form.is_empty() || !want.form_absent.is_empty() || want.signed_v1_with.is_some();
    if needs_form {
        let ct = header("content-type").unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            p.push(format!("content-type is {ct:?}, expected a form"));
        }
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let form: Vec<(String, String)> = parse_pairs(&body).collect();
        let mut names: Vec<&str> = form.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if let Some(d) = names.windows(2).find(|w| w[0] == w[1]) {
            p.push(format!("form parameter {:?} appears twice", d[0]));
        }
        for (k, v) in &want.form {
            check_value(&mut p, "form parameter", k, v, lookup(&form, k).as_deref());
        }
        for k in &want.form_absent {
            if lookup(&form, k).is_some() {
                p.push(format!("form parameter {k:?} is present, expected absent"));
            }
        }
        if let Some(secret) = &want.signed_v1_with {
            let method = req.method.as_str();
            let sts = v1::string_to_sign(
                method,
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                Canonicalization::Rfc3986,
            );
            match lookup(&form, "Signature") {
                Some(sig) if v1::signature_matches(secret, &sts, &sig) => {}
                Some(_) => p.push(format!(
                    "the v1 Signature does not verify with the secret {secret:?}"
                )),
                None => p.push("the form has no Signature".into()),
            }
        }
    }
    p
}

#[async_trait]
impl HttpClient for Replay {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut st = self.state();
        st.urls.push(req.url.clone());
        let n = st.served + 1;
        let Some(ex) = st.queue.pop_front() else {
            let url = req.url.split('?').next().unwrap_or_default().to_string();
            st.problems.push(format!(
                "request #{n}: unexpected request {} {url} (the recording has no more exchanges)",
                req.method.as_str()
            ));
            return Err(HttpError::Transport("replay: unexpected request".into()));
        };
        st.served = n;
        let problems = check_request(&ex.request, &req);
        if !problems.is_empty() {
            for pr in problems {
                st.problems.push(format!(
                    "request #{n} ({} {}): {pr}",
                    ex.request.method, ex.request.url
                ));
            }
            return Err(HttpError::Transport("replay: request mismatch".into()));
        }
        match (&ex.response, ex.error.as_deref()) {
            (Some(r), None) => {
                let body = match &r.body {
                    Value::Null => Vec::new(),
                    Value::String(s) => s.clone().into_bytes(),
                    v => serde_json::to_vec(v).expect("JSON"),
                };
                Ok(HttpResponse {
                    status: r.status,
                    headers: r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect(),
                    body,
                })
            }
            (None, Some("transport")) => Err(HttpError::Transport("connection reset".into())),
            (None, Some("connect")) => Err(HttpError::Connect("connection refused".into())),
            (None, Some("timeout")) => Err(HttpError::Timeout),
            _ => {
                st.problems.push(format!(
                    "exchange #{n}: needs exactly one of response and error (transport, timeout)"
                ));
                Err(HttpError::Transport("replay: bad recording".into()))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Copies `from` into `to`, replacing `$HOME_DIR` in text files, and making files that start
/// with `#!` executable.
fn copy_home(from: &Path, to: &Path, home: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_home(&src, &dst, home)?;
            continue;
        }
        let bytes = std::fs::read(&src)?;
        let bytes = match String::from_utf8(bytes) {
            Ok(text) => text.replace(HOME_PLACEHOLDER, home).into_bytes(),
            Err(e) => e.into_bytes(),
        };
        std::fs::write(&dst, &bytes)?;
        #[cfg(unix)]
        if bytes.starts_with(b"#!") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

fn parse_time(s: &str) -> Result<SystemTime, String> {
    let secs = tessera_protocol::timestamp::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
    Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
}

fn fmt_time(t: Option<SystemTime>) -> Option<String> {
    t.map(|t| {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        tessera_protocol::timestamp::format(secs)
    })
}

fn variant(e: &Error) -> &'static str {
    match e {
        Error::NotConfigured(_) => "NotConfigured",
        Error::InvalidConfig { .. } => "InvalidConfig",
        Error::Io { .. } => "Io",
        Error::Connect { .. } => "Connect",
        Error::Transport { .. } => "Transport",
        Error::Timeout { .. } => "Timeout",
        Error::Service { .. } => "Service",
        Error::InvalidResponse { .. } => "InvalidResponse",
        Error::Provider { .. } => "Provider",
        Error::NoCredentials(_) => "NoCredentials",
        // A variant added later: the cases name only these.
        _ => "other",
    }
}

fn root(mut e: &Error) -> &Error {
    while let Error::Provider { source, .. } = e {
        e = source;
    }
    e
}

fn check_credential(p: &mut Vec<String>, want: &ExpectedCredential, c: &Credential) {
    let mut field = |name: &str, got: &str, expected: &str| {
        if got != expected {
            p.push(format!(
                "credential {name} is {got:?}, expected {expected:?}"
            ));
        }
    };
    field("kind", c.kind().as_str(), &want.kind);
    field("access_key_id", c.access_key_id(), &want.access_key_id);
    field("provider_name", c.provider_name(), &want.provider_name);
    if let Some(s) = &want.access_key_secret {
        field("access_key_secret", c.access_key_secret().expose(), s);
    }
    let exp = fmt_time(c.expiration());
    if exp != want.expiration {
        p.push(format!(
            "credential expiration is {exp:?}, expected {:?}",
            want.expiration
        ));
    }
    let until = fmt_time(c.valid_until());
    let want_until = want.valid_until.clone().or(want.expiration.clone());
    if until != want_until {
        p.push(format!(
            "credential valid_until is {until:?}, expected {want_until:?}"
        ));
    }
    let token = c.security_token().map(|t| t.expose().to_string());
    match &want.security_token {
        Value::Bool(b) if *b != token.is_some() => p.push(format!(
            "credential security token present: {}, expected {b}",
            token.is_some()
        )),
        Value::String(s) if token.as_deref() != Some(s) => {
            p.push(format!("credential security token is not {s:?}"))
        }
        Value::Bool(_) | Value::String(_) => {}
        other => p.push(format!(
            "result.json: security_token {other} is neither bool nor string"
        )),
    }
}

fn check_error(p: &mut Vec<String>, want: &ExpectedError, e: &Error) {
    let text = e.to_string();
    if variant(e) != want.variant {
        p.push(format!(
            "error variant is {}, expected {} ({text})",
            variant(e),
            want.variant
        ));
    }
    if let Some(prov) = &want.provider {
        match e {
            Error::Provider { provider, .. } if provider == prov => {}
            _ => p.push(format!("error is not from provider {prov:?}: {text}")),
        }
    }
    if let Some(r) = &want.root {
        if variant(root(e)) != r {
            p.push(format!(
                "innermost error is {}, expected {r} ({text})",
                variant(root(e))
            ));
        }
    }
    if want.code.as_deref() != e.code() && want.code.is_some() {
        p.push(format!(
            "error code is {:?}, expected {:?}",
            e.code(),
            want.code
        ));
    }
    for s in &want.message_contains {
        if !text.contains(s.as_str()) {
            p.push(format!("error message lacks {s:?}: {text}"));
        }
    }
}

fn check_outcome(p: &mut Vec<String>, want: &Expected, got: &Result<Credential, Error>) {
    match (got, &want.credential, &want.error) {
        (Ok(c), Some(wc), None) => check_credential(p, wc, c),
        (Err(e), None, Some(we)) => check_error(p, we, e),
        (Ok(c), None, Some(_)) => p.push(format!("expected an error, got {c:?}")),
        (Err(e), Some(_), None) => p.push(format!("expected a credential, got the error: {e}")),
        _ => p.push("result.json needs exactly one of credential and error".into()),
    }
}

fn check_steps(
    p: &mut Vec<String>,
    want: &[ExpectedStep],
    got: &[tessera_credentials::providers::Step],
) {
    if want.len() != got.len() {
        p.push(format!(
            "explain() has {} steps, result.json lists {}",
            got.len(),
            want.len()
        ));
    }
    for (w, g) in want.iter().zip(got) {
        let (outcome, text) = match &g.outcome {
            Outcome::Skipped(why) => ("skipped", why.clone()),
            Outcome::Failed(e) => ("failed", e.to_string()),
            Outcome::Chosen(path) => ("chosen", path.clone()),
            Outcome::NotReached => ("not_reached", String::new()),
        };
        if w.provider != g.provider {
            p.push(format!("step is {}, expected {}", g.provider, w.provider));
        }
        if w.outcome != outcome {
            p.push(format!(
                "step {}: {outcome} ({text}), expected {}",
                g.provider, w.outcome
            ));
        }
        if let Some(c) = &w.contains {
            if !text.contains(c.as_str()) {
                p.push(format!("step {}: {text:?} lacks {c:?}", g.provider));
            }
        }
    }
}

/// What one run of a case saw.
struct Run {
    result: Result<Credential, Error>,
    explanation: Option<String>,
    steps: Option<Vec<tessera_credentials::providers::Step>>,
    replay: Replay,
}

async fn run_once(what: &str, ctx: &Context, replay: Replay, explain: bool) -> Result<Run, String> {
    let (result, explanation, steps) = match what {
        "default" if explain => {
            let ex = DefaultChain::with_context(ctx.clone()).explain().await;
            let text = ex.to_string();
            (ex.result, Some(text), Some(ex.steps))
        }
        "default" => (
            DefaultChain::with_context(ctx.clone()).provide().await,
            None,
            None,
        ),
        "env" => (EnvProvider::new(ctx).provide().await, None, None),
        "cli_profile" => (CliProfileProvider::new(ctx).provide().await, None, None),
        "profile" => (IniProfileProvider::new(ctx).provide().await, None, None),
        "ecs_ram_role" => (EcsRamRoleProvider::new(ctx).provide().await, None, None),
        "credentials_uri" => (
            match CredentialsUriProvider::from_env(ctx) {
                Ok(p) => p.provide().await,
                Err(e) => Err(e),
            },
            None,
            None,
        ),
        "oidc_role_arn" => (
            match OidcRoleArnProvider::from_env(ctx) {
                Ok(p) => p.provide().await,
                Err(e) => Err(e),
            },
            None,
            None,
        ),
        other => return Err(format!("env.json: unknown run {other:?}")),
    };
    Ok(Run {
        result,
        explanation,
        steps,
        replay,
    })
}

/// The parts of a case, loaded and adjustable (the harness's own tests alter them).
#[derive(Debug, Clone)]
struct Case {
    dir: PathBuf,
    env: BTreeMap<String, String>,
    now: String,
    run: String,
    traffic: Vec<Exchange>,
    expected: Expected,
}

impl Case {
    fn load(dir: &Path) -> Result<Case, String> {
        let env: EnvFile = read_json(&dir.join("env.json"))?;
        let traffic_path = dir.join("traffic.json");
        let traffic = if traffic_path.exists() {
            read_json(&traffic_path)?
        } else {
            Vec::new()
        };
        Ok(Case {
            dir: dir.to_path_buf(),
            env: env.vars,
            now: env.now.unwrap_or_else(|| DEFAULT_NOW.into()),
            run: env.run.unwrap_or_else(|| "default".into()),
            traffic,
            expected: read_json(&dir.join("result.json"))?,
        })
    }

    /// Runs the case; every way it departs from the recording, one line each.
    async fn check(&self) -> Vec<String> {
        match self.check_inner().await {
            Ok(p) => p,
            Err(e) => vec![e],
        }
    }

    async fn check_inner(&self) -> Result<Vec<String>, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let home = tmp.path().join("home");
        let home_str = home
            .to_str()
            .ok_or("the temporary directory is not UTF-8")?
            .to_string();
        let src_home = self.dir.join("home");
        if src_home.is_dir() {
            copy_home(&src_home, &home, &home_str).map_err(|e| format!("copying home/: {e}"))?;
        } else {
            std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        }
        let vars = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.replace(HOME_PLACEHOLDER, &home_str)));
        let env = MapEnv::from_pairs(vars);
        let now = parse_time(&self.now)?;
        let make_ctx = |replay: &Replay| {
            Context::os()
                .with_env(env.clone())
                .with_fs(OsFs)
                .with_clock(ManualClock::new(now))
                .with_http(replay.clone())
        };

        let mut problems = Vec::new();
        // The chain is run twice, through explain() and provide(), each against a fresh copy of
        // the recording: both must make the same requests and reach the same outcome.
        let passes: &[bool] = if self.run == "default" {
            &[true, false]
        } else {
            &[false]
        };
        for &explain in passes {
            let replay = Replay::new(self.traffic.clone());
            let run = run_once(&self.run, &make_ctx(&replay), replay, explain).await?;
            let label = if explain {
                "explain(): "
            } else if self.run == "default" {
                "provide(): "
            } else {
                ""
            };
            let mut p = Vec::new();
            check_outcome(&mut p, &self.expected, &run.result);
            {
                let st = run.replay.state();
                p.extend(st.problems.iter().cloned());
                if !st.queue.is_empty() {
                    p.push(format!(
                        "{} recorded exchange(s) never requested, the first: {} {}",
                        st.queue.len(),
                        st.queue[0].request.method,
                        st.queue[0].request.url
                    ));
                }
                for url in &st.urls {
                    for s in &self.expected.secrets {
                        if url.contains(s.as_str()) {
                            p.push(format!("secret {s:?} appears in a URL"));
                        }
                    }
                }
            }
            let mut shown = String::new();
            match &run.result {
                Err(e) => {
                    let _ = writeln!(shown, "{e}\n{e:?}");
                }
                Ok(c) => {
                    let _ = writeln!(shown, "{c:?}");
                }
            }
            if let Some(x) = &run.explanation {
                shown.push_str(x);
            }
            for s in &self.expected.secrets {
                if shown.contains(s.as_str()) {
                    p.push(format!(
                        "secret {s:?} is shown in an error, Debug or explanation"
                    ));
                }
            }
            if let (Some(want), Some(got)) = (&self.expected.steps, &run.steps) {
                check_steps(&mut p, want, got);
            }
            problems.extend(p.into_iter().map(|x| format!("{label}{x}")));
        }
        if self.run != "default" && self.expected.steps.is_some() {
            problems.push("result.json: steps only apply to run: default".into());
        }
        Ok(problems)
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("cases")
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("env.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn load(name: &str) -> Case {
    Case::load(&cases_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every case under tests/cases; all failures are reported together, each under its case's
/// name. `REPLAY_CASE=<substring>` runs only the matching cases.
#[tokio::test]
async fn replay_all_cases() {
    let filter = std::env::var("REPLAY_CASE").ok();
    let mut failures = String::new();
    let mut ran = 0;
    for dir in case_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        ran += 1;
        let problems = match Case::load(&dir) {
            Ok(case) => case.check().await,
            Err(e) => vec![e],
        };
        for pr in problems {
            let _ = writeln!(failures, "[{name}] {pr}");
        }
    }
    assert!(ran > 0, "no case matched");
    assert!(failures.is_empty(), "replay cases failed:\n{failures}");
    if filter.is_none() {
        assert!(ran >= 40, "only {ran} cases found");
    }
}

/// Every directory under tests/cases is a complete case (a typo in a file name must not make a
/// case silently vanish).
#[test]
fn replay_every_case_directory_is_complete() {
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        for f in ["env.json", "result.json"] {
            assert!(path.join(f).is_file(), "{} lacks {f}", path.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The harness can fail: altered recordings and expectations are caught.

fn fails_with(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem containing {needle:?}, got {problems:#?}"
    );
}

#[tokio::test]
async fn replay_harness_catches_a_wrong_credential() {
    let mut case = load("env-access-key");
    assert!(case.check().await.is_empty());
    case.expected.credential.as_mut().unwrap().access_key_id = "LTAIother".into();
    fails_with(&case.check().await, "credential access_key_id");
    let mut case = load("env-access-key");
    case.expected.credential.as_mut().unwrap().security_token = Value::Bool(true);
    fails_with(&case.check().await, "security token present");
}

#[tokio::test]
async fn replay_harness_catches_unexpected_and_missing_requests() {
    let mut case = load("ecs-imdsv2");
    assert!(case.check().await.is_empty());
    case.traffic.pop();
    fails_with(&case.check().await, "unexpected request");
    let mut case = load("env-access-key");
    case.traffic = load("ecs-imdsv2").traffic;
    fails_with(&case.check().await, "never requested");
}

#[tokio::test]
async fn replay_harness_catches_request_mismatches() {
    let base = load("cli-ram-role-arn");
    assert!(base.check().await.is_empty());

    let mut case = base.clone();
    case.traffic[0]
        .request
        .form
        .insert("DurationSeconds".into(), "3600".into());
    fails_with(&case.check().await, "\"DurationSeconds\" is \"1800\"");

    let mut case = base.clone();
    case.traffic[0].request.signed_v1_with = Some("not-the-secret".into());
    fails_with(&case.check().await, "does not verify");

    let mut case = base.clone();
    case.traffic[0].request.form_absent.push("RoleArn".into());
    fails_with(&case.check().await, "expected absent");

    let mut case = base.clone();
    case.traffic[0].request.url = "http://127.0.0.1:2/".into();
    fails_with(&case.check().await, "URL is http://127.0.0.1:1/");

    let mut case = base.clone();
    case.expected.secrets.push("ram_role_arn".into());
    fails_with(&case.check().await, "is shown");

    let mut case = base;
    case.expected.steps.as_mut().unwrap()[2].outcome = "skipped".into();
    fails_with(&case.check().await, "expected skipped");
}
