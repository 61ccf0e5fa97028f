//! `tessera serve`: settings from flags, `TESSERA_*` environment variables and a TOML file (in
//! that order of precedence), then the server until SIGINT or SIGTERM.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tessera_protocol::TIMESTAMP_WINDOW_SECS;
use tessera_server::clock::SystemClock;
use tessera_server::cluster::{
    redact_url, url_has_password, MasterKeySource, PgOptions, PostgresConfig, DEFAULT_FEED_POLL,
};
use tessera_server::nonce::Capacity;
use tessera_server::{Limits, Server, ServerConfig, StoreConfig, TlsSource};
use zeroize::Zeroizing;

/// Flags of `tessera serve`. Each can also come from its `TESSERA_*` variable or the TOML file.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys: listen, http_listen, metrics_listen,
    /// data, tls, tls_cert, tls_key, tls_names, log_format, log_level, max_body_bytes, replay_memory,
    /// change_retention, max_connections, keep_alive_timeout, http2_cleartext,
    /// token_key_max_age, token_key_max_seals, store, store_password_file, store_schema,
    /// store_pool_size, master_key_file, replay_redis).
    #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the main listener [default: 127.0.0.1:8080]. HTTPS when --tls is on.
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// An additional plain-HTTP listener, e.g. for loopback clients of an HTTPS server.
    #[arg(long, env = "TESSERA_HTTP_LISTEN", value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics (plain HTTP, a listener of its own;
    /// keep it to the operator's network) [default: off].
    #[arg(long, env = "TESSERA_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// The data directory [default: $XDG_DATA_HOME/tessera, else ~/.local/share/tessera].
    #[arg(long, env = "TESSERA_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// TLS for the main listener: off, self-signed (a CA in DIR/tls/ca.pem), or files
    /// (--tls-cert and --tls-key).
    #[arg(long, env = "TESSERA_TLS", value_enum)]
    tls: Option<TlsMode>,
    /// PEM certificate chain for --tls files.
    #[arg(long, env = "TESSERA_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls files.
    #[arg(long, env = "TESSERA_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Extra DNS names or IPs for the self-signed certificate (besides localhost, 127.0.0.1, ::1).
    #[arg(
        long = "tls-name",
        env = "TESSERA_TLS_NAMES",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    tls_names: Vec<String>,
    /// Log format on stderr.
    #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. info or tessera_server=debug [default: info].
    #[arg(long, env = "TESSERA_LOG_LEVEL")]
    log_level: Option<String>,
    /// Memory for replay protection, e.g. 512MiB, 2GiB or a number of bytes [default: 1536MiB].
    /// Each signed request's nonce is kept ~16 minutes at ~10-12 bytes: 1536MiB sustains about
    /// 130,000 signed requests per second, half of it for one AccessKey. Taken only as needed.
    #[arg(long, env = "TESSERA_REPLAY_MEMORY", value_name = "SIZE")]
    replay_memory: Option<ByteSize>,
    /// Replaced by --replay-memory; refused with a pointer to it.
    #[arg(long, env = "TESSERA_NONCE_CAPACITY", hide = true)]
    nonce_capacity: Option<String>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "TESSERA_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Connections open at once [default: three quarters of the open-files limit, at most
    /// 8192]. At the cap, new connections wait in the listen backlog until one closes.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds a connection may wait for its next request before it is closed [default: 25].
    /// Behind a load balancer, make it longer than the balancer's own idle timeout.
    #[arg(long, env = "TESSERA_KEEP_ALIVE_TIMEOUT", value_name = "SECS")]
    keep_alive_timeout: Option<u64>,
    /// Also serve HTTP/2 with prior knowledge (h2c on plain HTTP) [default: false]. No
    /// official SDK uses it; when off, such a connection is told to use HTTP/1.1 and closed.
    #[arg(
        long,
        env = "TESSERA_HTTP2_CLEARTEXT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    http2_cleartext: Option<bool>,
    /// How long the change feed keeps each entry, e.g. 1h or 30m [default: 1h]. A reader (the
    /// identity cache, another node) further behind than this reloads from a snapshot.
    #[arg(long, env = "TESSERA_CHANGE_RETENTION", value_name = "DURATION", value_parser = parse_retention)]
    change_retention: Option<Duration>,
    /// How long a token key seals SecurityTokens before a new one replaces it, e.g. 12h or 7d
    /// [default: 24h]. At least a minute.
    #[arg(long, env = "TESSERA_TOKEN_KEY_MAX_AGE", value_name = "DURATION", value_parser = parse_key_age)]
    token_key_max_age: Option<Duration>,
    /// How many SecurityTokens one server process seals under a token key before a new one
    /// replaces it [default: 268435456 = 2^28]; 1 to 2^31. AES-GCM with random nonces must stay
    /// well under 2^32 per key, over every node and restart.
    #[arg(long, env = "TESSERA_TOKEN_KEY_MAX_SEALS", value_name = "N")]
    token_key_max_seals: Option<u64>,
    /// Where the state lives: `sqlite` (a file in the data directory; the default) or a
    /// PostgreSQL URL, `postgresql://user@host:port/dbname`, shared by every node of a cluster.
    /// Give the password with --store-password-file, TESSERA_STORE_PASSWORD or PGPASSWORD
    /// rather than in the URL, which the process list shows.
    #[arg(long, env = "TESSERA_STORE", value_name = "sqlite|URL")]
    store: Option<String>,
    /// A file holding the PostgreSQL password (its first line).
    #[arg(long, env = "TESSERA_STORE_PASSWORD_FILE", value_name = "FILE")]
    store_password_file: Option<PathBuf>,
    /// The PostgreSQL schema holding Tessera's tables, created if missing [default: the
    /// connection's current schema, usually public].
    #[arg(long, env = "TESSERA_STORE_SCHEMA", value_name = "NAME")]
    store_schema: Option<String>,
    /// Connections to PostgreSQL at most [default: 16].
    #[arg(long, env = "TESSERA_STORE_POOL_SIZE", value_name = "N")]
    store_pool_size: Option<usize>,
    /// With PostgreSQL: the file of the deployment's master key (64 hex digits, mode 0600),
    /// the same on every node; or give the digits in TESSERA_MASTER_KEY. Create one with
    /// `openssl rand -hex 32`. (SQLite keeps its key in the data directory.)
    #[arg(long, env = "TESSERA_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// A Redis holding the replay window shared by every node of a cluster
    /// (`redis://host:6379/0`), so a signed request replayed to another node is refused too.
    /// While it does not answer, signed requests get 503 ServiceUnavailable, which SDKs retry.
    #[arg(long, env = "TESSERA_REPLAY_REDIS", value_name = "URL")]
    replay_redis: Option<String>,
}

fn parse_key_age(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 12h, 1d, 7d)"))?;
    if d < Duration::from_secs(60) {
        return Err("must be at least a minute".into());
    }
    Ok(d)
}

fn parse_retention(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 90s, 15m, 1h, 2d)"))?;
    if d < Duration::from_secs(1) {
        return Err("must be at least one second".into());
    }
    Ok(d)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum TlsMode {
    Off,
    SelfSigned,
    Files,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LogFormat {
    Human,
    Json,
}

/// A size in bytes, written as a number of bytes or with a unit: `512MiB`, `1GiB`, `64KiB`,
/// `1.5GiB`, `500MB` (KB, MB, GB and TB are powers of 1000; KiB, MiB, GiB and TiB of 1024).
/// In the TOML file, a string such as `"512MiB"` or a plain integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let unit_bytes: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => {
                return Err(format!(
                    "unknown unit in {s:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
                ))
            }
        };
        let invalid = || format!("{s:?} is not a size such as 512MiB, 2GiB or 1048576");
        let bytes = match number.split_once('.') {
            None => number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(unit_bytes)),
            // A fraction only with a unit, and only to whole bytes: 1.5GiB, not 1.5 bytes.
            Some((whole, frac)) if unit_bytes > 1 && !frac.is_empty() && frac.len() <= 6 => {
                let whole: u64 = if whole.is_empty() {
                    0
                } else {
                    whole.parse().map_err(|_| invalid())?
                };
                let frac_digits: u64 = frac.parse().map_err(|_| invalid())?;
                let scale = 10u64.pow(frac.len() as u32);
                whole.checked_mul(unit_bytes).and_then(|w| {
                    u128::from(frac_digits)
                        .checked_mul(u128::from(unit_bytes))
                        .map(|f| f / u128::from(scale))
                        .and_then(|f| u64::try_from(f).ok())
                        .and_then(|f| w.checked_add(f))
                })
            }
            Some(_) => None,
        }
        .ok_or_else(invalid)?;
        usize::try_from(bytes).map(ByteSize).map_err(|_| invalid())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(|_| serde::de::Error::custom("size too large")),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0 as u64;
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if n >= size && n.is_multiple_of(size) {
                return write!(f, "{}{unit}", n / size);
            }
        }
        write!(f, "{n}B")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    data: Option<PathBuf>,
    tls: Option<TlsMode>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    tls_names: Vec<String>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    max_body_bytes: Option<usize>,
    replay_memory: Option<ByteSize>,
    /// Replaced by replay_memory; refused with a pointer to it.
    nonce_capacity: Option<toml::Value>,
    change_retention: Option<String>,
    max_connections: Option<usize>,
    keep_alive_timeout: Option<u64>,
    http2_cleartext: Option<bool>,
    token_key_max_age: Option<String>,
    token_key_max_seals: Option<u64>,
    store: Option<String>,
    store_password_file: Option<PathBuf>,
    store_schema: Option<String>,
    store_pool_size: Option<usize>,
    master_key_file: Option<PathBuf>,
    replay_redis: Option<String>,
}

/// The environment variables the store's secrets may come from; read here rather than through
/// clap so that `--help` never shows their values.
const PASSWORD_ENV: &str = "TESSERA_STORE_PASSWORD";
const MASTER_KEY_ENV: &str = "TESSERA_MASTER_KEY";

/// Reads a secret's environment variable, if set and not empty.
fn secret_env(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new)
}

/// The PostgreSQL password: from the file, else TESSERA_STORE_PASSWORD, else PGPASSWORD, else
/// none (the URL's, or none at all under trust authentication).
fn store_password(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the password file {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or("");
        if line.is_empty() {
            bail!("the password file {} is empty", path.display());
        }
        return Ok(Some(line.to_string()));
    }
    Ok(secret_env(PASSWORD_ENV)
        .or_else(|| secret_env("PGPASSWORD"))
        .map(|p| p.to_string()))
}

/// The store the settings name.
fn resolve_store(
    store: Option<String>,
    password_file: Option<PathBuf>,
    schema: Option<String>,
    pool_size: Option<usize>,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<StoreConfig> {
    let url = match store.as_deref().map(str::trim) {
        None | Some("sqlite") => {
            let postgres_only = [
                ("store_password_file", password_file.is_some()),
                ("store_schema", schema.is_some()),
                ("store_pool_size", pool_size.is_some()),
                ("master_key_file", master_key_file.is_some()),
            ];
            if let Some((name, _)) = postgres_only.iter().find(|(_, set)| *set) {
                bail!(
                    "{name} is a setting of the PostgreSQL store; with SQLite (the default store) the data directory holds the master key"
                );
            }
            return Ok(StoreConfig::Sqlite);
        }
        Some(u) if u.starts_with("postgresql://") || u.starts_with("postgres://") => u.to_string(),
        Some(other) => bail!(
            "store = {:?} is not a store: use sqlite or postgresql://user@host:port/dbname",
            redact_url(other)
        ),
    };
    if url_has_password(&url) {
        // Logging is not set up yet.
        eprintln!("tessera: warning: the store URL holds a password, which the process list and shell history may show; prefer --store-password-file or TESSERA_STORE_PASSWORD");
    }
    let master_key = match (master_key_file, secret_env(MASTER_KEY_ENV)) {
        (Some(_), Some(_)) => bail!(
            "both master_key_file (--master-key-file) and {MASTER_KEY_ENV} are set: give the master key once"
        ),
        (Some(file), None) => MasterKeySource::File(file),
        (None, Some(digits)) => MasterKeySource::Hex {
            digits,
            source: MASTER_KEY_ENV.to_string(),
        },
        (None, None) => bail!(
            "a PostgreSQL store needs the deployment's master key, the same on every node: \
             --master-key-file FILE (or master_key_file, TESSERA_MASTER_KEY_FILE) or the 64 hex digits in {MASTER_KEY_ENV}; \
             create one with `openssl rand -hex 32 > master.key && chmod 600 master.key`"
        ),
    };
    let mut options = PgOptions {
        password: store_password(password_file.as_deref())?,
        schema,
        ..PgOptions::default()
    };
    if let Some(n) = pool_size {
        // The bootstrap holds one connection while it writes through another.
        if n < 2 {
            bail!("store_pool_size must be at least 2");
        }
        options.pool_size = n;
    }
    Ok(StoreConfig::Postgres(PostgresConfig {
        url,
        options,
        master_key,
        feed_poll: DEFAULT_FEED_POLL,
    }))
}

struct Settings {
    server: ServerConfig,
    log_format: LogFormat,
    log_level: String,
}

/// The data directory when none is given.
pub fn default_data_dir() -> PathBuf {
    match (std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("tessera"),
        (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/share/tessera"),
        _ => PathBuf::from("tessera-data"),
    }
}

fn load_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
    let file = match &args.config {
        Some(p) => load_file(p)?,
        None => FileSettings::default(),
    };
    let tls_cert = args.tls_cert.or(file.tls_cert);
    let tls_key = args.tls_key.or(file.tls_key);
    let tls_names = if args.tls_names.is_empty() {
        file.tls_names
    } else {
        args.tls_names
    };
    let tls = match args.tls.or(file.tls).unwrap_or(TlsMode::Off) {
        TlsMode::Off => None,
        TlsMode::SelfSigned => Some(TlsSource::SelfSigned {
            extra_names: tls_names,
        }),
        TlsMode::Files => match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsSource::Files { cert, key }),
            _ => bail!("--tls files needs both --tls-cert and --tls-key"),
        },
    };
    let change_retention = match (args.change_retention, file.change_retention) {
        (Some(d), _) => d,
        (None, Some(text)) => parse_retention(&text)
            .map_err(|e| anyhow::anyhow!("change_retention = {text:?}: {e}"))?,
        (None, None) => tessera_server::server::DEFAULT_CHANGE_RETENTION,
    };
    let mut limits = Limits::default();
    if let Some(n) = args.max_body_bytes.or(file.max_body_bytes) {
        limits.max_body_bytes = n;
    }
    if args.nonce_capacity.is_some() || file.nonce_capacity.is_some() {
        bail!(
            "nonce_capacity (--nonce-capacity, TESSERA_NONCE_CAPACITY) was replaced by a memory \
             budget: replay_memory (--replay-memory, TESSERA_REPLAY_MEMORY), e.g. 1GiB"
        );
    }
    if let Some(n) = args.replay_memory.or(file.replay_memory) {
        limits.replay_memory = n.0;
    }
    if let Some(n) = args.max_connections.or(file.max_connections) {
        if n == 0 {
            bail!("max_connections must be at least 1");
        }
        limits.max_connections = n;
    }
    if let Some(secs) = args.keep_alive_timeout.or(file.keep_alive_timeout) {
        if secs == 0 {
            bail!("keep_alive_timeout must be at least 1 second");
        }
        limits.keep_alive_timeout = Duration::from_secs(secs);
    }
    if let Some(on) = args.http2_cleartext.or(file.http2_cleartext) {
        limits.http2_cleartext = on;
    }
    match (args.token_key_max_age, file.token_key_max_age) {
        (Some(d), _) => limits.token_key_rotation.max_age = d,
        (None, Some(text)) => {
            limits.token_key_rotation.max_age = parse_key_age(&text)
                .map_err(|e| anyhow::anyhow!("token_key_max_age = {text:?}: {e}"))?;
        }
        (None, None) => {}
    }
    if let Some(n) = args.token_key_max_seals.or(file.token_key_max_seals) {
        if !(1..=tessera_server::tokens::HARD_SEAL_LIMIT).contains(&n) {
            bail!(
                "token_key_max_seals must be from 1 to {}",
                tessera_server::tokens::HARD_SEAL_LIMIT
            );
        }
        limits.token_key_rotation.max_seals = n;
    }
    let store = resolve_store(
        args.store.or(file.store),
        args.store_password_file.or(file.store_password_file),
        args.store_schema.or(file.store_schema),
        args.store_pool_size.or(file.store_pool_size),
        args.master_key_file.or(file.master_key_file),
    )?;
    Ok(Settings {
        server: ServerConfig {
            data_dir: args.data.or(file.data).unwrap_or_else(default_data_dir),
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            http_listen: args.http_listen.or(file.http_listen),
            tls,
            limits,
            shutdown_grace: Duration::from_secs(30),
            change_retention,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            store,
            replay_redis: args
                .replay_redis
                .or(file.replay_redis)
                .map(tessera_server::cluster::SecretUrl),
        },
        log_format: args
            .log_format
            .or(file.log_format)
            .unwrap_or(LogFormat::Human),
        log_level: args
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| "info".into()),
    })
}

fn init_logging(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .with_context(|| format!("invalid log filter {level:?}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// Runs `tessera serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = resolve(args)?;
    init_logging(settings.log_format, &settings.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings.server))
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let postgres = match &config.store {
        StoreConfig::Sqlite => None,
        StoreConfig::Postgres(pg) => Some(format!(
            "{}{}",
            redact_url(&pg.url),
            pg.options
                .schema
                .as_ref()
                .map(|s| format!(" (schema {s})"))
                .unwrap_or_default()
        )),
    };
    let tls_self_signed = matches!(config.tls, Some(TlsSource::SelfSigned { .. }));
    let replay = Capacity::of(config.limits.replay_memory, TIMESTAMP_WINDOW_SECS);
    // Handlers first: a SIGTERM that arrives right after "ready" must stop the server cleanly,
    // not kill it with the default action.
    let stop = stop_signals()?;
    let server = Server::start(config, Arc::new(SystemClock)).await?;
    let main_url = server.endpoints[0].url();
    if let Some(init) = &server.initialized {
        match &postgres {
            Some(db) => println!("tessera: created a new deployment in PostgreSQL at {db}"),
            None => println!(
                "tessera: initialised a new data directory at {}",
                data_dir.display()
            ),
        }
        println!(
            "tessera: account {} with root AccessKey {}",
            init.account_id, init.access_key_id
        );
        println!(
            "tessera: the root credentials are in {} (mode 0600); keep them secret",
            init.credentials_file.display()
        );
        println!("tessera: next, in another shell:");
        if tls_self_signed {
            println!(
                "tessera:   export TESSERA_CA_FILE={}",
                data_dir.join("tls/ca.pem").display()
            );
        }
        println!(
            "tessera:   tessera configure --profile root --credentials-file {} --endpoint {main_url}",
            init.credentials_file.display()
        );
        println!(
            "tessera:   tessera quickstart    # Alibaba Cloud's STS walkthrough, step by step"
        );
        println!("tessera: (or point any official SDK at {main_url}; see README.md)");
    } else if let Some(db) = &postgres {
        println!("tessera: joined the deployment in PostgreSQL at {db}");
    } else {
        println!("tessera: using the data directory {}", data_dir.display());
    }
    if tls_self_signed {
        println!(
            "tessera: clients must trust the CA in {}",
            data_dir.join("tls/ca.pem").display()
        );
    }
    for e in &server.endpoints {
        println!("tessera: listening on {}", e.url());
        if !e.secure && !e.addr.ip().is_loopback() {
            // CreateAccessKey returns secrets; off loopback they should not travel in clear.
            tracing::warn!(address = %e.addr, "plain HTTP on a non-loopback address: secrets cross the network unencrypted; use --tls");
        }
    }
    if let Some(addr) = server.metrics {
        println!("tessera: metrics on http://{addr}/metrics");
        if !addr.ip().is_loopback() {
            tracing::warn!(address = %addr, "metrics are served without authentication; keep this address to the operator's network");
        }
    }
    println!("tessera: ready");
    tracing::info!(
        endpoints = ?server.endpoints.iter().map(|e| e.url()).collect::<Vec<_>>(),
        replay_memory = %ByteSize(replay.budget),
        replay_nonces = replay.nonces,
        replay_sustained_rps = replay.sustained_rate,
        replay_sustained_rps_clocks_15min_ahead = replay.sustained_rate_worst,
        replay_per_key_nonces = replay.per_key_nonces,
        "tessera started"
    );

    stop.await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.shutdown().await?;
    tracing::info!("stopped");
    println!("tessera: stopped");
    Ok(())
}

/// Registers SIGTERM and SIGINT now; the returned future completes when either arrives.
fn stop_signals() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ServeArgs,
    }

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9000\"\ndata = \"/tmp/x\"\ntls = \"self-signed\"\ntls_names = [\"a.example\"]\n").unwrap();
        let args = T::try_parse_from([
            "t",
            "--config",
            f.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9100",
        ])
        .unwrap()
        .a;
        let s = resolve(args).unwrap();
        assert_eq!(s.server.listen.port(), 9100);
        assert_eq!(s.server.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(
            s.server.tls,
            Some(TlsSource::SelfSigned {
                extra_names: vec!["a.example".into()]
            })
        );
        let s = resolve(T::try_parse_from(["t"]).unwrap().a).unwrap();
        assert_eq!(s.server.listen.port(), 8080);
        assert!(s.server.tls.is_none());
        assert_eq!(
            s.server.limits.max_connections,
            Limits::default().max_connections
        );
        assert_eq!(s.server.limits.keep_alive_timeout, Duration::from_secs(25));
        assert!(!s.server.limits.http2_cleartext, "h2c is off by default");
    }

    #[test]
    fn http2_cleartext_from_the_flag_or_the_file() {
        let on = |argv: &[&str]| {
            resolve(T::try_parse_from(argv).unwrap().a)
                .unwrap()
                .server
                .limits
                .http2_cleartext
        };
        assert!(on(&["t", "--http2-cleartext"]));
        assert!(on(&["t", "--http2-cleartext=true"]));
        assert!(!on(&["t", "--http2-cleartext=false"]));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "http2_cleartext = true\n").unwrap();
        let file = f.to_str().unwrap();
        assert!(on(&["t", "--config", file]));
        assert!(!on(&["t", "--config", file, "--http2-cleartext=false"]));
    }

    #[test]
    fn connection_limits_from_flags_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "max_connections = 100\nkeep_alive_timeout = 75\n").unwrap();
        let config = ["t", "--config", f.to_str().unwrap()];
        let s = resolve(T::try_parse_from(config).unwrap().a).unwrap();
        assert_eq!(s.server.limits.max_connections, 100);
        assert_eq!(s.server.limits.keep_alive_timeout, Duration::from_secs(75));
        let flags = [
            &config[..],
            &["--max-connections", "7", "--keep-alive-timeout", "3"],
        ]
        .concat();
        let s = resolve(T::try_parse_from(flags).unwrap().a).unwrap();
        assert_eq!(s.server.limits.max_connections, 7);
        assert_eq!(s.server.limits.keep_alive_timeout, Duration::from_secs(3));
        for bad in [["--max-connections", "0"], ["--keep-alive-timeout", "0"]] {
            let e = resolve(
                T::try_parse_from([&["t"][..], &bad[..]].concat())
                    .unwrap()
                    .a,
            )
            .err()
            .expect("zero is refused");
            assert!(format!("{e:#}").contains("at least"), "{e:#}");
        }
    }

    #[test]
    fn token_key_rotation_from_flags_and_file() {
        let s = resolve(T::try_parse_from(["t"]).unwrap().a).unwrap();
        let d = &s.server.limits.token_key_rotation;
        assert_eq!(
            (d.max_age, d.max_seals),
            (Duration::from_secs(86_400), 1 << 28)
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(
            &f,
            "token_key_max_age = \"7d\"\ntoken_key_max_seals = 1000\n",
        )
        .unwrap();
        let config = ["t", "--config", f.to_str().unwrap()];
        let s = resolve(T::try_parse_from(config).unwrap().a).unwrap();
        let r = &s.server.limits.token_key_rotation;
        assert_eq!(
            (r.max_age, r.max_seals),
            (Duration::from_secs(7 * 86_400), 1000)
        );
        let flags = [
            &config[..],
            &["--token-key-max-age", "12h", "--token-key-max-seals", "5"],
        ]
        .concat();
        let s = resolve(T::try_parse_from(flags).unwrap().a).unwrap();
        let r = &s.server.limits.token_key_rotation;
        assert_eq!(
            (r.max_age, r.max_seals),
            (Duration::from_secs(12 * 3600), 5)
        );
        assert!(T::try_parse_from(["t", "--token-key-max-age", "10s"]).is_err());
        for bad in ["0", "2147483649"] {
            let args = T::try_parse_from(["t", "--token-key-max-seals", bad]).unwrap();
            assert!(resolve(args.a).is_err(), "{bad} refused");
        }
        std::fs::write(&f, "token_key_max_age = \"5s\"\n").unwrap();
        let e = resolve(T::try_parse_from(config).unwrap().a).err().unwrap();
        assert!(format!("{e:#}").contains("token_key_max_age"), "{e:#}");
    }

    #[test]
    fn sizes_parse_with_or_without_units() {
        let ok = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(ok("1048576"), Ok(1 << 20));
        assert_eq!(ok("512MiB"), Ok(512 << 20));
        assert_eq!(ok("1GiB"), Ok(1 << 30));
        assert_eq!(ok("1gib"), Ok(1 << 30));
        assert_eq!(ok("1.5GiB"), Ok(1536 << 20));
        assert_eq!(ok(" 64 KiB "), Ok(64 << 10));
        assert_eq!(ok("2G"), Ok(2 << 30));
        assert_eq!(ok("500MB"), Ok(500_000_000));
        assert_eq!(ok("10B"), Ok(10));
        for bad in [
            "",
            "MiB",
            "1.5",
            "1.2.3GiB",
            "-1GiB",
            "12parsecs",
            "99999999999TiB",
            "1.GiB",
        ] {
            assert!(ok(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(ByteSize(1536 << 20).to_string(), "1536MiB");
        assert_eq!(ByteSize(1 << 30).to_string(), "1GiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }

    #[test]
    fn replay_memory_from_flag_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "replay_memory = \"256MiB\"\n").unwrap();
        let cfg = f.to_str().unwrap();
        let s = resolve(T::try_parse_from(["t", "--config", cfg]).unwrap().a).unwrap();
        assert_eq!(s.server.limits.replay_memory, 256 << 20);
        let s = resolve(
            T::try_parse_from(["t", "--config", cfg, "--replay-memory", "2GiB"])
                .unwrap()
                .a,
        )
        .unwrap();
        assert_eq!(s.server.limits.replay_memory, 2 << 30);
        std::fs::write(&f, "replay_memory = 1000000\n").unwrap();
        let s = resolve(T::try_parse_from(["t", "--config", cfg]).unwrap().a).unwrap();
        assert_eq!(s.server.limits.replay_memory, 1_000_000);
        let s = resolve(T::try_parse_from(["t"]).unwrap().a).unwrap();
        assert_eq!(
            s.server.limits.replay_memory,
            tessera_server::state::DEFAULT_REPLAY_MEMORY
        );
        assert!(T::try_parse_from(["t", "--replay-memory", "lots"]).is_err());

        // The old capacity setting is refused, with a pointer to the new one.
        std::fs::write(&f, "nonce_capacity = 4000000\n").unwrap();
        let e = resolve(T::try_parse_from(["t", "--config", cfg]).unwrap().a)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("--replay-memory"), "{e:#}");
        let e = resolve(
            T::try_parse_from(["t", "--nonce-capacity", "4000000"])
                .unwrap()
                .a,
        )
        .err()
        .unwrap();
        assert!(format!("{e:#}").contains("replay_memory"), "{e:#}");
    }

    #[test]
    fn the_store_is_sqlite_unless_a_postgresql_url_is_given() {
        let s = resolve(T::try_parse_from(["t"]).unwrap().a).unwrap();
        assert!(matches!(s.server.store, StoreConfig::Sqlite));
        let s = resolve(T::try_parse_from(["t", "--store", "sqlite"]).unwrap().a).unwrap();
        assert!(matches!(s.server.store, StoreConfig::Sqlite));

        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\nignored\n").unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(
            &f,
            format!(
                "store = \"postgresql://tessera@db.internal:5432/iam\"\nstore_schema = \"iam\"\nstore_pool_size = 4\nmaster_key_file = \"/etc/tessera/master.key\"\nstore_password_file = {:?}\n",
                pw.to_str().unwrap()
            ),
        )
        .unwrap();
        let cfg = f.to_str().unwrap();
        let s = resolve(T::try_parse_from(["t", "--config", cfg]).unwrap().a).unwrap();
        let StoreConfig::Postgres(pg) = &s.server.store else {
            panic!("not PostgreSQL: {:?}", s.server.store)
        };
        assert_eq!(pg.url, "postgresql://tessera@db.internal:5432/iam");
        assert_eq!(pg.options.schema.as_deref(), Some("iam"));
        assert_eq!(pg.options.pool_size, 4);
        assert_eq!(
            pg.options.password.as_deref(),
            Some("s3cret"),
            "the file's first line"
        );
        assert!(
            matches!(&pg.master_key, MasterKeySource::File(p) if p == Path::new("/etc/tessera/master.key"))
        );
        assert!(
            !format!("{:?}", s.server).contains("s3cret"),
            "the password is not shown"
        );
        // A flag beats the file.
        let s = resolve(
            T::try_parse_from(["t", "--config", cfg, "--store-schema", "other"])
                .unwrap()
                .a,
        )
        .unwrap();
        let StoreConfig::Postgres(pg) = &s.server.store else {
            panic!("not PostgreSQL")
        };
        assert_eq!(pg.options.schema.as_deref(), Some("other"));

        // The shared replay window: from a flag, shown without its password.
        let s = resolve(
            T::try_parse_from(["t", "--replay-redis", "redis://:pw1@127.0.0.1:6379/0"])
                .unwrap()
                .a,
        )
        .unwrap();
        assert_eq!(
            s.server.replay_redis.as_ref().map(|u| u.0.as_str()),
            Some("redis://:pw1@127.0.0.1:6379/0")
        );
        assert!(!format!("{:?}", s.server).contains("pw1"));
    }

    #[test]
    fn store_settings_that_cannot_work_are_explained() {
        let e = |args: &[&str]| {
            format!(
                "{:#}",
                resolve(T::try_parse_from([&["t"][..], args].concat()).unwrap().a)
                    .err()
                    .expect("refused")
            )
        };
        assert!(e(&["--store", "mysql://x@h/d"]).contains("is not a store"));
        assert!(
            !e(&["--store", "mysql://x:hunter2@h/d"]).contains("hunter2"),
            "a refused URL is not quoted with its password"
        );
        assert!(e(&["--store-schema", "x"]).contains("PostgreSQL store"));
        assert!(e(&["--master-key-file", "k"]).contains("PostgreSQL store"));
        let url = "postgresql://postgres@127.0.0.1/test";
        assert!(e(&[
            "--store",
            url,
            "--master-key-file",
            "k",
            "--store-pool-size",
            "1"
        ])
        .contains("at least 2"));
        assert!(e(&[
            "--store",
            url,
            "--master-key-file",
            "k",
            "--store-password-file",
            "/nonexistent/pw"
        ])
        .contains("cannot read the password file"));
    }

    #[test]
    fn bad_settings_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "lisen = \"x\"\n").unwrap();
        let e = resolve(
            T::try_parse_from(["t", "--config", f.to_str().unwrap()])
                .unwrap()
                .a,
        )
        .err()
        .unwrap();
        assert!(format!("{e:#}").contains("unknown field"), "{e:#}");
        let e = resolve(T::try_parse_from(["t", "--tls", "files"]).unwrap().a)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("--tls-cert"));
    }
}
