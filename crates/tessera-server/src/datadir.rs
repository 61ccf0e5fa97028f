//! The data directory (0700): `tessera.db` (SQLite, WAL; it and its `-wal` and `-shm` files
//! 0600), `master.key` (0600), `root-credentials.json` (0600, written once at initialisation),
//! `tls/` (self-signed material).
//!
//! An empty directory is initialised: an account, its root AccessKey and the master key. A
//! directory that already holds a Tessera deployment is reopened after checking that its master
//! key belongs to its database. Anything else (a foreign or damaged directory) is an error that
//! says what is wrong; nothing is ever silently re-initialised.

use crate::clock::Clock;
use crate::fsutil::{create_private, create_private_dir, ensure_private_dir, restrict_file};
use crate::ids::{generate_access_key_secret, AccessKeyId, AccountId};
use crate::keys::MasterKey;
use anyhow::{bail, Context};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_protocol::Secret;
use tessera_store::sqlite::SqliteStore;
use tessera_store::{AccessKeyRecord, AccountRecord, AccountStore, KeyOwner, KeyStatus, Store};
use zeroize::Zeroizing;

use tessera_store::sqlite::FORMAT;
pub(crate) const KEY_CHECK_AAD: &[u8] = b"tessera/key-check";
const KEY_CHECK_TEXT: &[u8] = b"this master key opens this store";

/// File names inside the data directory.
pub mod files {
    /// The SQLite database.
    pub const DB: &str = "tessera.db";
    /// The master key.
    pub const MASTER_KEY: &str = "master.key";
    /// The first account's root credentials.
    pub const ROOT_CREDENTIALS: &str = "root-credentials.json";
    /// Suffix of files written during initialisation, before they are committed.
    pub const PARTIAL: &str = ".partial";
}

/// What initialisation created.
#[derive(Debug, Clone)]
pub struct Initialized {
    /// The new account.
    pub account_id: AccountId,
    /// Its root AccessKeyId (the secret is only in the credentials file).
    pub access_key_id: AccessKeyId,
    /// Where the root credentials were written.
    pub credentials_file: PathBuf,
}

/// An opened data directory.
pub struct DataDir {
    /// The exclusive lock on the directory, held as long as this value lives: two processes on
    /// one directory would each trust their own in-memory caches and nonce sets, so a key
    /// deleted through one would still work through the other.
    pub lock: std::fs::File,
    /// The directory.
    pub path: PathBuf,
    /// The store in it.
    pub store: Arc<SqliteStore>,
    /// Its master key.
    pub master: Arc<MasterKey>,
    /// Set when this open initialised the directory.
    pub initialized: Option<Initialized>,
}

/// Opens `path`, initialising it if it is empty or missing.
pub async fn open_or_init(path: &Path, clock: &dyn Clock) -> anyhow::Result<DataDir> {
    create_private_dir(path)?;
    let lock = lock_directory(path)?;
    let opened = open_or_init_locked(path, clock).await?;
    Ok(DataDir {
        lock,
        path: path.to_path_buf(),
        store: opened.store,
        master: opened.master,
        initialized: opened.initialized,
    })
}

/// A directory's contents once opened, before the lock is attached.
struct Opened {
    store: Arc<SqliteStore>,
    master: Arc<MasterKey>,
    initialized: Option<Initialized>,
}

pub(crate) fn lock_directory(path: &Path) -> anyhow::Result<std::fs::File> {
    // The directory itself is locked, so no lock file is left behind in a directory that turns
    // out to be foreign.
    let dir =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("{} is in use by another tessera process", path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

async fn open_or_init_locked(path: &Path, clock: &dyn Clock) -> anyhow::Result<Opened> {
    let db = path.join(files::DB);
    let partial_db = partial(&db);
    if db.exists() {
        return open(path).await;
    }
    // Without a database, any `.partial` file is left from an initialisation that never
    // finished: nothing was ever served from it, so it is discarded and initialisation starts
    // over. If the database had been written, the key and credentials renamed before it belong
    // to that attempt too.
    if partial_db.exists() {
        tracing::warn!(dir = %path.display(), "discarding an interrupted initialisation");
        for name in [files::MASTER_KEY, files::ROOT_CREDENTIALS] {
            remove_if_exists(&path.join(name))?;
        }
    }
    for entry in std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.ends_with(files::PARTIAL)
            || name.starts_with(&format!("{}{}-", files::DB, files::PARTIAL));
        if leftover {
            remove_if_exists(&entry.path())?;
        }
    }
    for name in [files::MASTER_KEY, files::ROOT_CREDENTIALS] {
        if path.join(name).exists() {
            bail!(
                "{} has {name} but no {}: this is not a complete Tessera data directory; refusing to initialise over it",
                path.display(),
                files::DB
            );
        }
    }
    let foreign: Vec<String> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "tls" && !n.ends_with(files::PARTIAL))
        .collect();
    if !foreign.is_empty() {
        bail!(
            "{} is not empty ({}) and holds no Tessera database; use an empty directory",
            path.display(),
            foreign.join(", ")
        );
    }
    init(path, clock).await
}

/// Takes group and other access away from the directory and the files Tessera wrote in it,
/// saying so in the log (a directory made by an older version, or by hand, may be 0755 and its
/// database 0644). `master.key` is not among them: a key others could read is refused when it
/// is loaded, since the operator must then decide whether to replace it.
fn make_private(path: &Path) -> anyhow::Result<()> {
    ensure_private_dir(path)?;
    let db = path.join(files::DB);
    // SQLite gives a `-wal` or `-shm` file it creates the database's mode; ones left from an
    // earlier run keep theirs.
    for file in [
        db.clone(),
        sqlite_companion(&db, "-wal"),
        sqlite_companion(&db, "-shm"),
        path.join(files::ROOT_CREDENTIALS),
    ] {
        restrict_file(&file)?;
    }
    Ok(())
}

fn sqlite_companion(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

pub(crate) fn partial(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}{}", p.display(), files::PARTIAL))
}

pub(crate) fn remove_if_exists(p: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
    }
}

/// A deployment's first account, made in memory: its root AccessKey (the secret sealed for the
/// store, and in the clear for the credentials file only) and the key check that ties the
/// store to its master key. SQLite and PostgreSQL deployments start the same way.
pub(crate) struct FirstAccount {
    /// The account.
    pub account: AccountRecord,
    /// Its root AccessKey, sealed.
    pub root_key: AccessKeyRecord,
    /// The root key's secret, for `root-credentials.json` only.
    secret: Secret,
    /// A value sealed under the master key, stored as `key_check`: a store opens only with
    /// the key it was made with.
    pub key_check: String,
}

impl FirstAccount {
    pub(crate) fn new(master: &MasterKey, now: i64) -> FirstAccount {
        let account = AccountRecord {
            id: AccountId::generate(),
            created: now,
        };
        let key_id = AccessKeyId::generate();
        let secret = generate_access_key_secret();
        let owner = KeyOwner::Root(account.id.clone());
        let root_key = AccessKeyRecord {
            sealed_secret: master.seal_secret(key_id.as_str(), &owner.binding(), &secret),
            id: key_id,
            owner,
            status: KeyStatus::Active,
            created: now,
        };
        FirstAccount {
            account,
            root_key,
            secret,
            key_check: hex::encode(master.seal(KEY_CHECK_AAD, KEY_CHECK_TEXT)),
        }
    }

    /// Writes the root credentials to `path` (a new file, mode 0600), synced.
    pub(crate) fn write_credentials(&self, path: &Path) -> anyhow::Result<()> {
        let creds = Zeroizing::new(serde_json::to_string_pretty(&serde_json::json!({
            "AccountId": self.account.id.as_str(),
            "AccessKeyId": self.root_key.id.as_str(),
            "AccessKeySecret": self.secret.expose(),
        }))?);
        let mut f = create_private(path)?;
        f.write_all(creds.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        Ok(())
    }
}

async fn init(path: &Path, clock: &dyn Clock) -> anyhow::Result<Opened> {
    // The directory is empty (or was just created): it can be made private before anything
    // secret is written into it.
    make_private(path)?;
    let db = path.join(files::DB);
    let key_file = path.join(files::MASTER_KEY);
    let creds_file = path.join(files::ROOT_CREDENTIALS);

    let master = MasterKey::create_file(&partial(&key_file))?;
    let first = FirstAccount::new(&master, clock.now());
    {
        let store = SqliteStore::create(&partial(&db))?;
        store
            .create_account(
                &first.account,
                &first.root_key,
                &[
                    ("format", FORMAT),
                    ("key_check", &first.key_check),
                    ("first_account", first.account.id.as_str()),
                ],
            )
            .await?;
        store.close().await?;
    }
    first.write_credentials(&partial(&creds_file))?;

    std::fs::rename(partial(&key_file), &key_file)?;
    std::fs::rename(partial(&creds_file), &creds_file)?;
    // The commit point: until the database has its final name, a restart starts over.
    std::fs::rename(partial(&db), &db)?;
    std::fs::File::open(path)?.sync_all()?;

    let mut dir = open(path).await?;
    dir.initialized = Some(Initialized {
        account_id: first.account.id,
        access_key_id: first.root_key.id,
        credentials_file: creds_file,
    });
    Ok(dir)
}

/// Root credentials as JSON (`AccountId`, `AccessKeyId`, `AccessKeySecret`), the form of
/// `root-credentials.json` that the command line reads.
pub fn root_credentials_json(
    account: &AccountId,
    key_id: &AccessKeyId,
    secret: &Secret,
) -> anyhow::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(serde_json::to_string_pretty(
        &serde_json::json!({
            "AccountId": account.as_str(),
            "AccessKeyId": key_id.as_str(),
            "AccessKeySecret": secret.expose(),
        }),
    )?))
}

/// Writes root credentials ([`root_credentials_json`]) to a new file readable by its owner
/// only (0600); an existing file is never replaced.
pub fn write_root_credentials(
    path: &Path,
    account: &AccountId,
    key_id: &AccessKeyId,
    secret: &Secret,
) -> anyhow::Result<()> {
    let creds = root_credentials_json(account, key_id, secret)?;
    let mut f = create_private(path)?;
    f.write_all(creds.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Opens a data directory that already holds a Tessera deployment, for work done offline (the
/// server stopped): refused while a server holds the directory, and never initialised.
pub async fn open_existing(path: &Path) -> anyhow::Result<DataDir> {
    if !path.join(files::DB).exists() {
        bail!(
            "{} holds no Tessera database ({})",
            path.display(),
            files::DB
        );
    }
    let lock = lock_directory(path)?;
    let opened = open(path).await?;
    Ok(DataDir {
        lock,
        path: path.to_path_buf(),
        store: opened.store,
        master: opened.master,
        initialized: None,
    })
}

async fn open(path: &Path) -> anyhow::Result<Opened> {
    let key_file = path.join(files::MASTER_KEY);
    if !key_file.exists() {
        bail!(
            "{} exists but {} is missing: without it no stored secret can be read",
            path.join(files::DB).display(),
            key_file.display()
        );
    }
    // Before the database is opened, so that the `-wal` and `-shm` files SQLite creates take
    // the private mode from it.
    make_private(path)?;
    let master = MasterKey::load_file(&key_file)?;
    let store = SqliteStore::open_existing(&path.join(files::DB))?;
    let format = store
        .meta("format")
        .await
        .context("cannot read the database")?;
    if format.as_deref() != Some(FORMAT) {
        bail!(
            "{} is not a Tessera database (format {:?})",
            path.join(files::DB).display(),
            format
        );
    }
    let check = store
        .meta("key_check")
        .await?
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    if master.open(KEY_CHECK_AAD, &check).is_err() {
        bail!(
            "{} does not belong to the database in {}",
            key_file.display(),
            path.display()
        );
    }
    Ok(Opened {
        store: Arc::new(store),
        master: Arc::new(master),
        initialized: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn first_start_then_reuse() {
        let d = tempfile::tempdir().unwrap();
        let dir = open_or_init(d.path(), &SystemClock).await.unwrap();
        let init = dir.initialized.clone().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&init.credentials_file), 0o600);
        assert_eq!(mode(&d.path().join(files::MASTER_KEY)), 0o600);
        let creds: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&init.credentials_file).unwrap())
                .unwrap();
        assert_eq!(creds["AccountId"], init.account_id.as_str());
        assert_eq!(creds["AccessKeyId"], init.access_key_id.as_str());
        assert_eq!(creds["AccessKeySecret"].as_str().unwrap().len(), 30);
        // The secret is not stored in the clear.
        let db = std::fs::read(d.path().join(files::DB)).unwrap();
        let secret = creds["AccessKeySecret"].as_str().unwrap().as_bytes();
        assert!(!db.windows(secret.len()).any(|w| w == secret));
        drop(dir);

        let again = open_or_init(d.path(), &SystemClock).await.unwrap();
        assert!(again.initialized.is_none());
        let ids = again.store.identities().await.unwrap();
        assert_eq!(ids.access_keys.len(), 1);
        assert_eq!(ids.access_keys[0].id, init.access_key_id);
    }

    #[tokio::test]
    async fn foreign_and_damaged_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let e = open_or_init(d.path(), &SystemClock).await.err().unwrap();
        assert!(format!("{e:#}").contains("not empty"), "{e:#}");

        let d = tempfile::tempdir().unwrap();
        open_or_init(d.path(), &SystemClock).await.unwrap();
        // Another directory's key.
        let other = tempfile::tempdir().unwrap();
        open_or_init(other.path(), &SystemClock).await.unwrap();
        std::fs::copy(
            other.path().join(files::MASTER_KEY),
            d.path().join(files::MASTER_KEY),
        )
        .unwrap();
        let e = open_or_init(d.path(), &SystemClock).await.err().unwrap();
        assert!(format!("{e:#}").contains("does not belong"), "{e:#}");
        // A missing key.
        std::fs::remove_file(d.path().join(files::MASTER_KEY)).unwrap();
        let e = open_or_init(d.path(), &SystemClock).await.err().unwrap();
        assert!(format!("{e:#}").contains("missing"), "{e:#}");

        // A corrupt database.
        let d = tempfile::tempdir().unwrap();
        open_or_init(d.path(), &SystemClock).await.unwrap();
        std::fs::write(d.path().join(files::DB), vec![0x55u8; 8192]).unwrap();
        assert!(open_or_init(d.path(), &SystemClock).await.is_err());
        assert!(
            d.path().join(files::ROOT_CREDENTIALS).exists(),
            "nothing is re-initialised"
        );

        // A key without a database.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(files::MASTER_KEY), "00").unwrap();
        let e = open_or_init(d.path(), &SystemClock).await.err().unwrap();
        assert!(format!("{e:#}").contains("not a complete"), "{e:#}");
    }

    #[tokio::test]
    async fn a_start_killed_before_the_database_existed_starts_over() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("master.key.partial"), "half").unwrap();
        assert!(open_or_init(d.path(), &SystemClock)
            .await
            .unwrap()
            .initialized
            .is_some());
    }

    #[tokio::test]
    async fn a_foreign_sqlite_file_is_not_touched() {
        let d = tempfile::tempdir().unwrap();
        open_or_init(d.path(), &SystemClock).await.unwrap();
        let db = d.path().join(files::DB);
        std::fs::remove_file(&db).unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let foreign = rusqlite::Connection::open(&db).unwrap();
        foreign
            .execute_batch("CREATE TABLE photos (id); PRAGMA user_version = 1;")
            .unwrap();
        drop(foreign);
        let before = std::fs::read(&db).unwrap();
        assert!(open_or_init(d.path(), &SystemClock).await.is_err());
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "the foreign file was changed"
        );
    }

    #[tokio::test]
    async fn interrupted_initialisation_starts_over() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tessera.db.partial"), "half").unwrap();
        std::fs::write(d.path().join(files::MASTER_KEY), "stale").unwrap();
        let dir = open_or_init(d.path(), &SystemClock).await.unwrap();
        assert!(dir.initialized.is_some());
    }
}
