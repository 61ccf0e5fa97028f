//! A deployment of several nodes on one PostgreSQL database.
//!
//! Every node is stateless apart from its data directory, which holds only what is the node's
//! own (TLS material, and `root-credentials.json` on the node that created the deployment). The
//! database holds everything shared; the master key comes from the operator (a file or the
//! environment) and must be the same on every node.
//!
//! **Bootstrap.** Under the schema's advisory lock (the one migrations take), a node reads the
//! deployment's key check. None: the database is new, and this node creates the first account,
//! its root AccessKey and the key check in one transaction, then the first token key. Found: the
//! node checks that its master key opens the key check, and refuses to start, before it writes
//! anything, when it does not. Nodes starting together take the lock in turn, so exactly one
//! creates the account and the others find it.

use crate::clock::Clock;
use crate::datadir::{self, files, FirstAccount, Initialized, KEY_CHECK_AAD};
use crate::fsutil::create_private_dir;
use crate::keys::MasterKey;
use crate::tokens;
use anyhow::{bail, Context};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tessera_store::postgres::{FeedFollower, PgStore};

pub use tessera_store::postgres::PgOptions;
use tessera_store::AccountStore;
use zeroize::Zeroizing;

/// Where the operator keeps the master key of a PostgreSQL deployment.
#[derive(Clone)]
pub enum MasterKeySource {
    /// A file of 64 hex digits, readable by its owner only.
    File(PathBuf),
    /// The 64 hex digits themselves (from the environment), and the variable's name for errors.
    Hex {
        /// The digits.
        digits: Zeroizing<String>,
        /// Where they came from, e.g. `TESSERA_MASTER_KEY`.
        source: String,
    },
}

impl fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterKeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            MasterKeySource::Hex { source, .. } => f
                .debug_struct("Hex")
                .field("digits", &"***")
                .field("source", source)
                .finish(),
        }
    }
}

impl MasterKeySource {
    fn load(&self) -> anyhow::Result<MasterKey> {
        match self {
            MasterKeySource::File(p) => MasterKey::load_file(p),
            MasterKeySource::Hex { digits, source } => MasterKey::from_hex(digits, source),
        }
    }
}

/// How a node reaches its PostgreSQL deployment.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgresql://user@host:port/dbname`. It may hold a password, so it is never logged or
    /// shown whole.
    pub url: String,
    /// The password (when not in the URL), the schema and the pool.
    pub options: PgOptions,
    /// The operator's master key.
    pub master_key: MasterKeySource,
    /// How often the feed's revision is read besides the notifications, bounding how long a lost
    /// notification can delay a change.
    pub feed_poll: Duration,
}

/// The default of [`PostgresConfig::feed_poll`]: a lost notification delays a revocation no
/// more than this, within the second that revocations promise.
pub const DEFAULT_FEED_POLL: Duration = Duration::from_millis(500);

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact_url(&self.url))
            .field("options", &self.options)
            .field("master_key", &self.master_key)
            .field("feed_poll", &self.feed_poll)
            .finish()
    }
}

/// The URL with the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A URL that may carry a password: shown by `Debug` without it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub String);

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// Whether the URL carries a password of its own.
pub fn url_has_password(url: &str) -> bool {
    redact_url(url) != url
}

/// An opened PostgreSQL deployment.
pub struct Opened {
    /// The lock on this node's data directory.
    pub lock: std::fs::File,
    /// The store.
    pub store: Arc<PgStore>,
    /// The master key.
    pub master: Arc<MasterKey>,
    /// Set when this node created the deployment.
    pub initialized: Option<Initialized>,
    /// The task following other nodes' commits.
    pub follower: FeedFollower,
}

/// Opens the deployment, creating it if the database holds none yet.
pub async fn open(
    data_dir: &Path,
    config: &PostgresConfig,
    clock: &dyn Clock,
) -> anyhow::Result<Opened> {
    create_private_dir(data_dir)?;
    let lock = datadir::lock_directory(data_dir)?;
    if data_dir.join(files::DB).exists() {
        bail!(
            "{} holds a SQLite database, which a node on PostgreSQL would not use: give this node another data directory",
            data_dir.display()
        );
    }
    // Before connecting: a missing or malformed key costs the database nothing.
    let master = Arc::new(config.master_key.load()?);
    let store = Arc::new(PgStore::connect(&config.url, config.options.clone()).await?);
    let place = format!("{} (schema {})", redact_url(&config.url), store.schema());
    let initialized = store
        .exclusively(async {
            let initialized = match store.meta("key_check").await? {
                Some(check) => {
                    let opens = hex::decode(check)
                        .ok()
                        .is_some_and(|c| master.open(KEY_CHECK_AAD, &c).is_ok());
                    if !opens {
                        bail!(
                            "the master key is not this deployment's: it does not open the key check stored in {place}. \
                             Every node must be given the master key the deployment was created with; this node wrote nothing"
                        );
                    }
                    None
                }
                None => Some(bootstrap(data_dir, &store, &master, clock).await?),
            };
            tokens::ensure_token_key(store.as_ref(), &master, clock.now()).await?;
            Ok(initialized)
        })
        .await?;
    if initialized.is_some() {
        tracing::info!(database = %place, "created the deployment");
    }
    let follower = store.follow_feed(config.feed_poll);
    Ok(Opened {
        lock,
        store,
        master,
        initialized,
        follower,
    })
}

/// Creates the first account and its root AccessKey, with the key check, in one transaction;
/// the root credentials go to this node's data directory, written before the transaction so
/// that a committed account always has them somewhere.
async fn bootstrap(
    data_dir: &Path,
    store: &PgStore,
    master: &MasterKey,
    clock: &dyn Clock,
) -> anyhow::Result<Initialized> {
    let creds_file = data_dir.join(files::ROOT_CREDENTIALS);
    if creds_file.exists() {
        bail!(
            "{} exists, but the database holds no deployment: it belongs to another one; move it away before this node creates a new deployment",
            creds_file.display()
        );
    }
    let first = FirstAccount::new(master, clock.now());
    let partial = datadir::partial(&creds_file);
    datadir::remove_if_exists(&partial)?;
    first.write_credentials(&partial)?;
    let created = store
        .create_account(
            &first.account,
            &first.root_key,
            &[
                ("key_check", &first.key_check),
                ("first_account", first.account.id.as_str()),
            ],
        )
        .await
        .context("cannot create the first account");
    if let Err(e) = created {
        datadir::remove_if_exists(&partial)?;
        return Err(e);
    }
    std::fs::rename(&partial, &creds_file)
        .with_context(|| format!("cannot write {}", creds_file.display()))?;
    Ok(Initialized {
        account_id: first.account.id,
        access_key_id: first.root_key.id,
        credentials_file: creds_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgresql://u:s3cret@db:5432/x?sslmode=disable"),
            "postgresql://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://u@db/x"),
            "postgresql://u@db/x",
            "nothing to hide"
        );
        assert_eq!(redact_url("postgresql://db/x"), "postgresql://db/x");
        assert!(url_has_password("postgres://a:b@h/d"));
        assert_eq!(
            format!("{:?}", SecretUrl("redis://:pw@127.0.0.1:6379/0".into())),
            "\"redis://:***@127.0.0.1:6379/0\""
        );
        assert!(!url_has_password("postgres://a@h/d"));
        // An @ in the password does not leak its first part.
        assert_eq!(
            redact_url("postgresql://u:p@ss@h/d"),
            "postgresql://u:***@h/d"
        );
        let c = PostgresConfig {
            url: "postgresql://u:hunter2@h/d".into(),
            options: PgOptions {
                password: Some("hunter3".into()),
                ..PgOptions::default()
            },
            master_key: MasterKeySource::Hex {
                digits: Zeroizing::new("ab".repeat(32)),
                source: "TESSERA_MASTER_KEY".into(),
            },
            feed_poll: DEFAULT_FEED_POLL,
        };
        let shown = format!("{c:?}");
        for secret in ["hunter2", "hunter3", "abab"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
