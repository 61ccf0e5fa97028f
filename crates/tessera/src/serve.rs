//! `tessera serve`: settings from flags, `TESSERA_*` environment variables and a TOML file (in
//! that order of precedence), then the server until SIGINT or SIGTERM.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tessera_server::clock::SystemClock;
use tessera_server::{Limits, Server, ServerConfig, TlsSource};

/// Flags of `tessera serve`. Each can also come from its `TESSERA_*` variable or the TOML file.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys: listen, http_listen, data, tls,
    /// tls_cert, tls_key, tls_names, log_format, log_level, max_body_bytes, nonce_capacity,
    /// max_connections, keep_alive_timeout).
    #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the main listener [default: 127.0.0.1:8080]. HTTPS when --tls is on.
    #[arg(long, env = "TESSERA_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// An additional plain-HTTP listener, e.g. for loopback clients of an HTTPS server.
    #[arg(long, env = "TESSERA_HTTP_LISTEN", value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
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
    /// Signed requests remembered for replay protection, 15 minutes each [default: 4000000].
    /// Bounds the sustained signed request rate (capacity / 900 per second); ~30 bytes each.
    #[arg(long, env = "TESSERA_NONCE_CAPACITY")]
    nonce_capacity: Option<usize>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    data: Option<PathBuf>,
    tls: Option<TlsMode>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    tls_names: Vec<String>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    max_body_bytes: Option<usize>,
    nonce_capacity: Option<usize>,
    max_connections: Option<usize>,
    keep_alive_timeout: Option<u64>,
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
    let mut limits = Limits::default();
    if let Some(n) = args.max_body_bytes.or(file.max_body_bytes) {
        limits.max_body_bytes = n;
    }
    if let Some(n) = args.nonce_capacity.or(file.nonce_capacity) {
        limits.nonce_capacity = n;
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
    let tls_self_signed = matches!(config.tls, Some(TlsSource::SelfSigned { .. }));
    // Handlers first: a SIGTERM that arrives right after "ready" must stop the server cleanly,
    // not kill it with the default action.
    let stop = stop_signals()?;
    let server = Server::start(config, Arc::new(SystemClock)).await?;
    let main_url = server.endpoints[0].url();
    if let Some(init) = &server.initialized {
        println!(
            "tessera: initialised a new data directory at {}",
            data_dir.display()
        );
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
    println!("tessera: ready");
    tracing::info!(endpoints = ?server.endpoints.iter().map(|e| e.url()).collect::<Vec<_>>(), "tessera started");

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
