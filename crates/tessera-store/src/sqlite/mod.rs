//! The embedded store: one SQLite file in WAL mode. Writes are rare (administration), reads on
//! the request path come from the identity cache, so one connection behind a mutex, used from
//! tokio's blocking pool, is enough.
//!
//! Every write runs through [`SqliteStore::write`]: one immediate transaction that also takes
//! the next feed revision and records the changes the write reports, so a write and its feed
//! entries commit together or not at all.

mod accounts;
mod checkpoint;
mod conflicts;
mod groups;
mod keys;
mod login;
mod policies;
mod roles;
mod schema;
mod tokens;
mod users;

use crate::feed::{Change, Changed, IdentityRecords};
use crate::ids::AccountId;
use crate::{Page, Store, StoreError, StoreResult};
use anyhow::Context;
use async_trait::async_trait;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Params, Row, TransactionBehavior,
};
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schema::MIGRATIONS;

/// The `format` a Tessera database records in its metadata.
pub const FORMAT: &str = "tessera/1";

/// A SQLite-backed [`Store`].
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    conn: Mutex<Connection>,
    checkpointer: checkpoint::Checkpointer,
    /// The newest committed revision (this process is the only writer: the data directory is
    /// locked).
    revision: AtomicU64,
    notify: tokio::sync::watch::Sender<u64>,
}

fn backend(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Statements through the connection's statement cache: a write runs the same few statements
/// again and again, and parsing and planning them anew each time was a visible share of a
/// write's CPU.
pub(crate) trait Cached {
    /// [`Connection::execute`], prepared once.
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// [`Connection::query_row`], prepared once.
    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A write transaction that records what it changed; it derefs to the connection for queries.
pub(crate) struct Write<'c> {
    tx: rusqlite::Transaction<'c>,
    changes: Vec<(Option<AccountId>, Changed)>,
}

impl Write<'_> {
    /// Records that this transaction changed an entity of `account` (`None`: deployment-wide).
    pub(crate) fn changed(&mut self, account: Option<&AccountId>, changed: Changed) {
        self.changes.push((account.cloned(), changed));
    }
}

impl Deref for Write<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Takes the next revision and writes the feed entries, inside the caller's transaction.
fn record(
    tx: &rusqlite::Transaction<'_>,
    changes: &[(Option<AccountId>, Changed)],
) -> StoreResult<u64> {
    let revision: i64 = tx
        .row(
            "UPDATE feed SET revision = revision + 1 WHERE id = 1 RETURNING revision",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let now = unix_now();
    let mut st = tx
        .prepare_cached(
            "INSERT INTO changes (revision, seq, account_id, kind, entity_id, payload, committed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(backend)?;
    for (seq, (account, changed)) in changes.iter().enumerate() {
        let payload = serde_json::to_string(changed).map_err(backend)?;
        st.execute(params![
            revision,
            seq as i64,
            account.as_ref().map(AccountId::as_str),
            changed.kind(),
            changed.entity_id(),
            payload,
            now
        ])
        .map_err(backend)?;
    }
    u64::try_from(revision).map_err(backend)
}

impl SqliteStore {
    /// Creates the database at `path` (or opens one this function created) and brings its schema
    /// up to date.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, true)
    }

    /// Opens an existing Tessera database, refusing files that are not one (no schema version):
    /// a foreign database is never migrated into.
    pub fn open_existing(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, false)
    }

    fn open_with(path: &Path, create: bool) -> anyhow::Result<Self> {
        if create {
            create_private_file(path)?;
        }
        let flags = if create {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let mut conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        if !create {
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .with_context(|| format!("{} is not a SQLite database", path.display()))?;
            if version == 0 {
                anyhow::bail!("{} is not a Tessera database", path.display());
            }
            // Checked before anything is written: a foreign database is never switched to WAL
            // or migrated into.
            let format: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                    r.get(0)
                })
                .optional()
                .unwrap_or(None);
            if format.as_deref() != Some(FORMAT) {
                anyhow::bail!("{} is not a Tessera database", path.display());
            }
        }
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .with_context(|| format!("{} is not a SQLite database", path.display()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot put {} in WAL mode (got {mode})", path.display());
        }
        // Identity data must survive power loss once acknowledged; writes are rare.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // 64 MiB of page cache (the default is 2 MiB): with hundreds of thousands of users, keys
        // and feed entries, a write's B-tree pages otherwise come from the kernel on every call.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoints are the checkpointer's (see `checkpoint`); this is the bound should it
        // fall behind.
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_AUTOCHECKPOINT_PAGES,
        )?;
        // Room for every statement the store runs (about eighty).
        conn.set_prepared_statement_cache_capacity(128);
        migrate(&mut conn)
            .with_context(|| format!("cannot migrate the database {}", path.display()))?;
        let revision: i64 = conn
            .query_row("SELECT revision FROM feed WHERE id = 1", [], |r| r.get(0))
            .with_context(|| format!("{} has no change feed", path.display()))?;
        let revision = u64::try_from(revision).context("a negative feed revision")?;
        let checkpointer = checkpoint::Checkpointer::start(path)
            .with_context(|| format!("cannot open {} to checkpoint it", path.display()))?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                conn: Mutex::new(conn),
                checkpointer,
                revision: AtomicU64::new(revision),
                notify: tokio::sync::watch::Sender::new(revision),
            }),
        })
    }

    /// Runs a read on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut c = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(backend)?
    }

    /// Runs a write in one immediate transaction with its feed entries; an error anywhere
    /// rolls back both.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Write<'_>) -> StoreResult<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut c = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let mut w = Write {
                tx,
                changes: Vec::new(),
            };
            let out = f(&mut w)?;
            let Write { tx, changes } = w;
            let revision = if changes.is_empty() {
                None
            } else {
                Some(record(&tx, &changes)?)
            };
            tx.commit().map_err(backend)?;
            shared.checkpointer.committed();
            if let Some(r) = revision {
                // Still under the connection's lock: revisions are published in commit order.
                shared.revision.fetch_max(r, Ordering::SeqCst);
                shared.notify.send_replace(r);
            }
            Ok(out)
        })
        .await
        .map_err(backend)?
    }
}

/// Creates the database file, empty and readable by its owner only (0600), unless it exists.
/// SQLite would create it with 0644 less the umask; it gives the `-wal` and `-shm` files it
/// creates later the database file's mode, so they are private too.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot create the database {}", path.display()))
}

/// Whether a lookup found its entity. `NotFound` is false; any other failure (the disk, a
/// corrupt row) is an error, never taken to mean the name is free.
fn exists<T>(lookup: StoreResult<T>) -> StoreResult<bool> {
    match lookup {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One page of a listing ordered by name: `sql` takes the account (?1), the name to start
/// after (?2) and a row limit (?3); one row more than `limit` is fetched to tell whether more
/// follow.
fn page<T>(
    c: &Connection,
    sql: &str,
    account: &str,
    after: &str,
    limit: usize,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    let mut st = c.prepare_cached(sql).map_err(backend)?;
    let mut items = st
        .query_map(params![account, after, (limit + 1) as i64], row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(backend)?;
    let truncated = items.len() > limit;
    items.truncate(limit);
    Ok(Page { items, truncated })
}

/// Every row `sql` selects, each read by `row`.
fn all<T>(
    c: &Connection,
    sql: &str,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut st = c.prepare(sql).map_err(backend)?;
    st.query_map([], row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(backend)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?
        .try_into()?;
    if version > MIGRATIONS.len() {
        anyhow::bail!("the database has schema version {version}, newer than this tessera ({}); upgrade tessera", MIGRATIONS.len());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

fn change_from_row(r: &Row<'_>) -> rusqlite::Result<(u64, Option<String>, String)> {
    Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
}

#[async_trait]
impl Store for SqliteStore {
    fn revision(&self) -> u64 {
        self.shared.revision.load(Ordering::SeqCst)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.notify.subscribe()
    }

    async fn changes_since(&self, after: u64, max_revisions: u64) -> StoreResult<Vec<Change>> {
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let kept_after: i64 = tx
                .row("SELECT compacted_through FROM feed WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            if after < kept_after as u64 {
                return Err(StoreError::FeedCompacted {
                    asked: after,
                    kept_after: kept_after as u64,
                });
            }
            let last = after.saturating_add(max_revisions.max(1));
            let mut st = tx
                .prepare_cached(
                    "SELECT revision, account_id, payload FROM changes WHERE revision > ?1 AND revision <= ?2 ORDER BY revision, seq",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![after as i64, last.min(i64::MAX as u64) as i64], change_from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)?;
            rows.into_iter()
                .map(|(revision, account, payload)| {
                    let changed = serde_json::from_str(&payload).with_context(|| {
                        format!("the feed entry of revision {revision} does not decode")
                    })?;
                    Ok(Change {
                        revision,
                        account: account.map(AccountId::from_trusted),
                        changed,
                    })
                })
                .collect()
        })
        .await
    }

    async fn compact_changes(&self, retention: Duration) -> StoreResult<usize> {
        let cutoff = unix_now().saturating_sub(retention.as_secs().min(i64::MAX as u64) as i64);
        self.read(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            // The newest revision always stays, so the feed's end is never in doubt.
            let through: Option<i64> = tx
                .row(
                    "SELECT MAX(revision) FROM changes WHERE committed <= ?1 AND revision < (SELECT revision FROM feed WHERE id = 1)",
                    [cutoff],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let Some(through) = through else {
                return Ok(0);
            };
            let n = tx
                .exec("DELETE FROM changes WHERE revision <= ?1", [through])
                .map_err(backend)?;
            tx.exec(
                "UPDATE feed SET compacted_through = max(compacted_through, ?1) WHERE id = 1",
                [through],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n)
        })
        .await
        .inspect(|_| self.shared.checkpointer.committed())
    }

    async fn identities(&self) -> StoreResult<IdentityRecords> {
        self.read(|c| {
            // One read transaction: in WAL mode it sees one committed state, the one whose
            // revision it reads.
            let tx = c.transaction().map_err(backend)?;
            let revision: i64 = tx
                .query_row("SELECT revision FROM feed WHERE id = 1", [], |r| r.get(0))
                .map_err(backend)?;
            Ok(IdentityRecords {
                revision: revision as u64,
                users: users::load_all(&tx)?,
                access_keys: keys::load_all(&tx)?,
                memberships: groups::load_all_memberships(&tx)?,
                attachments: policies::load_all_attachments(&tx)?,
                policies: policies::load_all_heads(&tx)?,
                roles: roles::load_all_roles(&tx)?,
                token_keys: tokens::load_all_token_keys(&tx)?,
                revocations: tokens::load_all_revocations(&tx)?,
            })
        })
        .await
    }

    async fn close(&self) -> StoreResult<()> {
        // Checkpoint so a stopped server leaves one self-contained database file; the
        // checkpointer stops first, so it neither holds this up nor starts a new log.
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            shared.checkpointer.stop();
            let c = shared.conn.lock().unwrap_or_else(|p| p.into_inner());
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(backend)
        })
        .await
        .map_err(backend)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        std::fs::write(&p, vec![7u8; 4096]).unwrap();
        assert!(SqliteStore::open_existing(&p).is_err());
        assert!(SqliteStore::create(&p).is_err());
        // A foreign SQLite database is refused, not migrated into.
        let q = dir.path().join("other.db");
        Connection::open(&q)
            .unwrap()
            .execute_batch("CREATE TABLE x (a)")
            .unwrap();
        assert!(SqliteStore::open_existing(&q).is_err());
    }

    /// Writes reach the database file itself without any write running a checkpoint: a copy of
    /// `tessera.db` alone, without its log, holds them once the checkpointer has run. SQLite's
    /// own automatic checkpoint would leave a few hundred small writes in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_the_log_into_the_file() {
        use crate::ids::{AccessKeyId, UserId, UserName};
        use crate::{
            AccessKeyRecord, AccountRecord, AccountStore, KeyOwner, KeyStatus, UserRecord,
            UserStore,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tessera.db");
        let store = SqliteStore::create(&p).unwrap();
        let account = AccountId::from_trusted("1000000000000001");
        let root = AccessKeyRecord {
            id: AccessKeyId::generate(),
            owner: KeyOwner::Root(account.clone()),
            sealed_secret: vec![1, 2, 3],
            status: KeyStatus::Active,
            created: 1,
        };
        store
            .create_account(
                &AccountRecord {
                    id: account.clone(),
                    created: 1,
                },
                &root,
                &[],
            )
            .await
            .unwrap();
        for i in 0..300 {
            let user = UserRecord {
                account: account.clone(),
                id: UserId::generate(),
                name: UserName::from_trusted(format!("u{i}")),
                display_name: String::new(),
                mobile_phone: String::new(),
                email: String::new(),
                comments: String::new(),
                created: 1,
                updated: 1,
            };
            store.create_user(&user, 1000).await.unwrap();
        }
        // Poll a copy of the file alone until it holds every user; nothing else checkpoints.
        let copy = dir.path().join("copy.db");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            std::fs::copy(&p, &copy).unwrap();
            let users: i64 = Connection::open(&copy)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
                .unwrap_or(0); // before the first checkpoint not even the schema is there
            if users == 300 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{users} of 300 users in the file after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The writer's own bound stays in place should the thread fall behind.
        let bound: i64 = store
            .read(|c| {
                c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(bound, checkpoint::WRITER_AUTOCHECKPOINT_PAGES);
    }

    #[test]
    fn the_database_and_its_wal_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        // Creating the schema writes: SQLite has created the log and its index by now.
        let _store = SqliteStore::create(&p).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let f = format!("{}{suffix}", p.display());
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
}
