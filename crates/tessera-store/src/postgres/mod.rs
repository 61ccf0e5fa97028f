//! The store for several nodes: PostgreSQL, through a pool of tokio-postgres connections.
//!
//! It behaves exactly like the [SQLite backend](crate::sqlite) (same errors, same order of
//! listings, same feed), and both run the same contract suite. What differs is how that is
//! guaranteed when several connections, and later several nodes, write at once:
//!
//! - Every write runs through `PgStore::write`: one READ COMMITTED transaction that first
//!   locks the single row of `feed` (`SELECT … FOR UPDATE`). Writers therefore run one at a time
//!   across every connection and node, as SQLite's single writer does, which makes the
//!   count-then-insert quota checks and the name checks race-free, and assigns revisions in
//!   commit order with no gap: the next writer can only read the counter once the previous one
//!   has committed (or rolled back). READ COMMITTED matters: each statement after the lock sees
//!   what the previous writer committed.
//! - A write that reported changes takes the next revision, records its changes and notifies
//!   `LISTEN`ers of [`PgStore::feed_channel`] in the same transaction (PostgreSQL delivers the
//!   notification at commit).
//! - Names compare and sort as SQLite's BINARY collation does, byte by byte: every text column
//!   that is compared or ordered is declared `COLLATE "C"`. Role names are unique, looked up and
//!   ordered by `lower(name)` under that collation, which folds ASCII only, exactly like SQLite's
//!   NOCASE.
//!
//! The schema is versioned (`schema_migrations`) and migrated at connect under an advisory lock,
//! so nodes starting together cannot race.

mod accounts;
mod conflicts;
mod groups;
mod keys;
mod listen;
mod login;
mod policies;
mod roles;
mod schema;
mod tokens;
mod users;

use crate::feed::{Change, Changed, IdentityRecords};
use crate::ids::AccountId;
use crate::{Entity, Page, Store, StoreError, StoreResult};
use anyhow::Context;
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::error::SqlState;
use deadpool_postgres::tokio_postgres::types::{FromSql, ToSql};
use deadpool_postgres::tokio_postgres::{IsolationLevel, NoTls, Row};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    Transaction,
};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use listen::{FeedFollower, FeedHealth};
pub use schema::SCHEMA_VERSION;

/// How to reach the database, besides its URL.
#[derive(Clone)]
pub struct PgOptions {
    /// The password, when it is not in the URL: read from a file or the environment by the
    /// caller, so that it never has to appear in a URL, a command line or a process list. It
    /// takes precedence over a password in the URL. Never logged.
    pub password: Option<String>,
    /// The schema that holds Tessera's tables, created if missing, so that several deployments
    /// (or test runs) can share one database: 1–50 of `a-z`, `0-9` and `_`, not starting with a
    /// digit or `pg_`. `None`: the connection's current schema (usually `public`).
    pub schema: Option<String>,
    /// The most connections the pool opens.
    pub pool_size: usize,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// How long an operation may wait for a free connection before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            password: None,
            schema: None,
            // Writes are serialized by the feed lock, so more connections only help reads;
            // PostgreSQL's default max_connections (100) leaves room for several nodes.
            pool_size: 16,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// A PostgreSQL-backed [`Store`].
pub struct PgStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    /// How to connect, for the feed follower's own connection (it holds the password).
    config: deadpool_postgres::tokio_postgres::Config,
    /// Lets one local write at a time take a connection. The feed lock serializes writers
    /// anyway; without this gate a burst of writes would hold every pooled connection while
    /// waiting for that lock, and reads would wait behind them.
    write_gate: tokio::sync::Mutex<()>,
    /// The schema holding the tables.
    schema: String,
    /// The channel each write notifies with its revision.
    channel: String,
    /// The newest revision this process knows to be committed: its own writes'.
    revision: AtomicU64,
    notify: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    /// Publishes a committed revision. Local writes publish in commit order (under the write
    /// gate); the maximum keeps the revision growing whatever else publishes later (a task
    /// following other nodes' commits).
    fn publish(&self, revision: u64) {
        self.revision.fetch_max(revision, Ordering::SeqCst);
        self.notify.send_if_modified(|seen| {
            let newer = revision > *seen;
            if newer {
                *seen = revision;
            }
            newer
        });
    }
}

impl fmt::Debug for PgStore {
    // The pool's configuration holds the password: show only what helps an operator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.shared.pool.status();
        f.debug_struct("PgStore")
            .field("schema", &self.shared.schema)
            .field("revision", &self.shared.revision.load(Ordering::SeqCst))
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .finish()
    }
}

/// The driver's error type.
type PgError = deadpool_postgres::tokio_postgres::Error;

/// Query parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// What a write's body returns: a future borrowing the write transaction.
pub(crate) type WriteFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

pub(crate) fn backend(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Which entity a unique constraint makes unique by name. The feed lock serializes writers, so
/// every write checks for a taken name before inserting; this catches what would slip through
/// anyway (a row written outside Tessera, a bug), so that a name race is never answered as an
/// internal error.
fn unique_entity(constraint: &str) -> Option<Entity> {
    Some(match constraint {
        "accounts_pkey" => Entity::Account,
        "users_name" => Entity::User,
        "groups_name" => Entity::Group,
        "group_members_pkey" => Entity::GroupMembership,
        "roles_name" => Entity::Role,
        "policies_pkey" => Entity::Policy,
        "login_profiles_pkey" => Entity::LoginProfile,
        _ => return None,
    })
}

/// Maps a driver error to a [`StoreError`]: the one place where PostgreSQL's errors become the
/// store's.
///
/// A server error keeps its code and message but never its DETAIL, which can quote a whole
/// failing row (a sealed secret, a password hash).
pub(crate) fn db(e: PgError) -> StoreError {
    let Some(d) = e.as_db_error() else {
        return backend(e);
    };
    if *d.code() == SqlState::UNIQUE_VIOLATION {
        if let Some(entity) = d.constraint().and_then(unique_entity) {
            return StoreError::AlreadyExists(entity);
        }
    }
    backend(anyhow::anyhow!(
        "PostgreSQL error {}: {}{}",
        d.code().code(),
        d.message(),
        d.constraint()
            .map(|c| format!(" (constraint {c})"))
            .unwrap_or_default()
    ))
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db(e),
        other => backend(anyhow::anyhow!("PostgreSQL connection pool: {other}")),
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Column `i` of a row.
pub(crate) fn get<'r, T: FromSql<'r>>(r: &'r Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(db)
}

/// A BIGINT column holding a `u32` (policy versions, token key ids).
pub(crate) fn get_u32(r: &Row, i: usize) -> StoreResult<u32> {
    let v: i64 = get(r, i)?;
    u32::try_from(v).map_err(|_| backend(anyhow::anyhow!("column {i} holds {v}, not a u32")))
}

/// The feed's BIGINT revisions as the trait's `u64`.
fn revision_from(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| backend(anyhow::anyhow!("a negative feed revision ({v})")))
}

/// A `u64` revision as a BIGINT parameter (revisions never reach `i64::MAX`; larger asks mean
/// "everything").
fn revision_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row limit as a BIGINT parameter.
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

// Every statement goes through the connection's statement cache: each SQL text is parsed and
// planned once per pooled connection.

/// The rows `sql` returns.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db)?;
    c.query(&st, p).await.map_err(db)
}

/// The row `sql` returns, if any.
pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> StoreResult<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(db)?;
    c.query_opt(&st, p).await.map_err(db)
}

/// The one row `sql` returns.
pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    p: Params<'_>,
) -> StoreResult<Row> {
    let st = c.prepare_cached(sql).await.map_err(db)?;
    c.query_one(&st, p).await.map_err(db)
}

/// Runs `sql`; returns how many rows it touched.
pub(crate) async fn execute<C: GenericClient>(c: &C, sql: &str, p: Params<'_>) -> StoreResult<u64> {
    let st = c.prepare_cached(sql).await.map_err(db)?;
    c.execute(&st, p).await.map_err(db)
}

/// The number a `SELECT COUNT(*)` returns.
pub(crate) async fn count<C: GenericClient>(c: &C, sql: &str, p: Params<'_>) -> StoreResult<usize> {
    let n: i64 = get(&query_one(c, sql, p).await?, 0)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Every row decoded by `f`.
pub(crate) fn decode<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

/// Whether a lookup found its entity. `NotFound` is false; any other failure is an error, never
/// taken to mean the name is free.
pub(crate) fn exists<T>(lookup: StoreResult<T>) -> StoreResult<bool> {
    match lookup {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One page of a listing ordered by name: `sql` takes the account ($1), the name to start after
/// ($2) and a row limit ($3); one row more than `limit` is fetched to tell whether more follow.
pub(crate) async fn page<C: GenericClient, T>(
    c: &C,
    sql: &str,
    account: &str,
    after: &str,
    limit: usize,
    f: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let rows = query(
        c,
        sql,
        &[&account, &after, &limit_param(limit.saturating_add(1))],
    )
    .await?;
    let mut items = decode(&rows, f)?;
    let truncated = items.len() > limit;
    items.truncate(limit);
    Ok(Page { items, truncated })
}

/// A write transaction that records what it changed.
pub(crate) struct Write<'c> {
    /// The transaction, for the write's statements.
    pub(crate) tx: Transaction<'c>,
    changes: Vec<(Option<AccountId>, Changed)>,
}

impl Write<'_> {
    /// Records that this transaction changed an entity of `account` (`None`: deployment-wide).
    pub(crate) fn changed(&mut self, account: Option<&AccountId>, changed: Changed) {
        self.changes.push((account.cloned(), changed));
    }
}

/// Taken first in every write: waits for the writer before to commit, and keeps the next one
/// waiting until this one has.
const LOCK_FEED: &str = "SELECT revision FROM feed WHERE id = 1 FOR UPDATE";

/// Takes the next revision, inserts the feed entries (passed as arrays: one statement, one round
/// trip, however many changes) and notifies listeners, all in the write's transaction.
///
/// Entries are stamped with the database's clock, not the node's: compaction compares them with
/// that clock too, so nodes whose clocks disagree still agree on what is old.
const RECORD: &str =
    "WITH r AS (UPDATE feed SET revision = revision + 1 WHERE id = 1 RETURNING revision),
     i AS (INSERT INTO changes (revision, seq, account_id, kind, entity_id, payload, committed)
           SELECT r.revision, c.seq, c.account_id, c.kind, c.entity_id, c.payload,
                  floor(extract(epoch FROM now()))::bigint
           FROM r, unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                AS c(seq, account_id, kind, entity_id, payload))
SELECT r.revision, pg_notify($6, r.revision::text) FROM r";

async fn record(
    tx: &Transaction<'_>,
    channel: &str,
    changes: &[(Option<AccountId>, Changed)],
) -> StoreResult<u64> {
    let mut seqs = Vec::with_capacity(changes.len());
    let mut accounts = Vec::with_capacity(changes.len());
    let mut kinds = Vec::with_capacity(changes.len());
    let mut ids = Vec::with_capacity(changes.len());
    let mut payloads = Vec::with_capacity(changes.len());
    for (seq, (account, changed)) in changes.iter().enumerate() {
        seqs.push(i64::try_from(seq).map_err(backend)?);
        accounts.push(account.as_ref().map(AccountId::as_str));
        kinds.push(changed.kind());
        ids.push(changed.entity_id());
        payloads.push(serde_json::to_string(changed).map_err(backend)?);
    }
    let row = query_one(
        tx,
        RECORD,
        &[&seqs, &accounts, &kinds, &ids, &payloads, &channel],
    )
    .await?;
    revision_from(get(&row, 0)?)
}

impl PgStore {
    /// Connects to the database at `url` (`postgresql://user@host:port/dbname`; the password
    /// may come in `options` instead), brings the schema up to date, and opens a pool of up to
    /// `options.pool_size` connections.
    ///
    /// Refuses a schema newer than this binary knows, and a schema holding tables that are not
    /// Tessera's.
    pub async fn connect(url: &str, options: PgOptions) -> anyhow::Result<PgStore> {
        // The URL may hold the password: it is never quoted in an error.
        let mut config: deadpool_postgres::tokio_postgres::Config = url.parse().map_err(|_| {
            anyhow::anyhow!(
                "the PostgreSQL URL is not valid (expected postgresql://user@host:port/dbname)"
            )
        })?;
        if let Some(p) = &options.password {
            config.password(p.as_bytes());
        }
        if let Some(s) = &options.schema {
            schema::check_name(s)?;
            // Set at connection startup, so every pooled connection resolves the tables in the
            // schema without a round trip, and none can forget to.
            let mut startup = config.get_options().unwrap_or_default().to_string();
            if !startup.is_empty() {
                startup.push(' ');
            }
            startup.push_str(&format!("-c search_path={s}"));
            config.options(startup);
        }
        if config.get_application_name().is_none() {
            config.application_name("tessera");
        }
        config.connect_timeout(options.connect_timeout);
        let place = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.connect_timeout))
            .wait_timeout(Some(options.acquire_timeout))
            .build()
            .context("cannot build the PostgreSQL connection pool")?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| match e {
                // The driver's error and its cause (refused, authentication, timeout).
                PoolError::Backend(e) => anyhow::Error::new(e),
                other => anyhow::anyhow!("{other}"),
            })
            .with_context(|| format!("cannot connect to PostgreSQL ({place})"))?;
        let schema = schema::migrate(&mut client, options.schema.as_deref())
            .await
            .with_context(|| format!("cannot migrate the PostgreSQL database ({place})"))?;
        let row = query_one(&client, "SELECT revision FROM feed WHERE id = 1", &[])
            .await
            .context("the database has no change feed")?;
        let revision = revision_from(get(&row, 0)?)?;
        drop(client);
        let channel = feed_channel(options.schema.as_deref());
        Ok(PgStore {
            shared: Arc::new(Shared {
                pool,
                config,
                write_gate: tokio::sync::Mutex::new(()),
                schema,
                channel,
                revision: AtomicU64::new(revision),
                notify: tokio::sync::watch::Sender::new(revision),
            }),
        })
    }

    /// The schema that holds the tables.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// The channel every write notifies, with its revision as the payload, when it commits:
    /// `tessera_feed`, or `tessera_feed_<schema>` for a schema given at connect (notifications
    /// are database-wide, and two deployments in one database must not wake each other).
    pub fn feed_channel(&self) -> &str {
        &self.shared.channel
    }

    /// Starts following the commits of every writer of the database, other nodes included: a
    /// task `LISTEN`s on [`PgStore::feed_channel`] on a connection of its own and publishes each
    /// notified revision through [`Store::revision`] and [`Store::subscribe`]. After every
    /// (re)connection, and every `poll` besides, it reads the feed's newest revision, so a lost
    /// notification delays a change by at most `poll` but never loses it. The task reconnects by
    /// itself until it is aborted.
    ///
    /// Without it, the store announces only this process's own writes.
    pub fn follow_feed(&self, poll: Duration) -> FeedFollower {
        listen::spawn(
            Arc::clone(&self.shared),
            self.shared.config.clone(),
            poll.max(Duration::from_millis(10)),
        )
    }

    /// Runs `f` while holding the schema's advisory lock, the one migrations take: of several
    /// nodes doing the same thing at once (creating the first account, the first token key), one
    /// runs `f` at a time, and each sees what the one before committed. `f` uses the store as
    /// usual; the lock is held on a pooled connection of its own, so the pool needs two.
    pub async fn exclusively<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: Future<Output = anyhow::Result<T>>,
    {
        if self.shared.pool.status().max_size < 2 {
            anyhow::bail!("the PostgreSQL pool needs at least two connections");
        }
        let mut client = self
            .client()
            .await
            .context("cannot connect to PostgreSQL")?;
        let tx = client.transaction().await.map_err(db)?;
        schema::lock(&tx, &self.shared.schema).await?;
        let out = f.await;
        // The lock goes with the transaction, which wrote nothing.
        tx.rollback().await.map_err(db)?;
        out
    }

    async fn client(&self) -> StoreResult<Object> {
        self.shared.pool.get().await.map_err(pool_error)
    }

    /// Runs a write in one transaction with its feed entries; an error anywhere rolls back both.
    ///
    /// The write runs in a task of its own, so that it finishes (commits and publishes its
    /// revision) even when the caller stops waiting, as SQLite's blocking writes do.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'a, 'c> FnOnce(&'a mut Write<'c>) -> WriteFuture<'a, T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let _gate = shared.write_gate.lock().await;
            let mut client = shared.pool.get().await.map_err(pool_error)?;
            // READ COMMITTED whatever the server's default: after the lock, each statement must
            // see what the writer before committed.
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .await
                .map_err(db)?;
            query_one(&tx, LOCK_FEED, &[]).await?;
            let mut w = Write {
                tx,
                changes: Vec::new(),
            };
            // On an error the transaction is dropped, which rolls it back.
            let out = f(&mut w).await?;
            let Write { tx, changes } = w;
            let revision = if changes.is_empty() {
                None
            } else {
                Some(record(&tx, &shared.channel, &changes).await?)
            };
            tx.commit().await.map_err(db)?;
            if let Some(r) = revision {
                shared.publish(r);
            }
            Ok(out)
        })
        .await
        .map_err(backend)?
    }
}

/// Where the store connects, for errors: hosts, port, database and user, never the password.
fn describe(config: &deadpool_postgres::tokio_postgres::Config) -> String {
    use deadpool_postgres::tokio_postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{}{port}/{} as {}",
        hosts.join(","),
        config.get_dbname().unwrap_or("?"),
        config.get_user().unwrap_or("?")
    )
}

/// See [`PgStore::feed_channel`].
fn feed_channel(schema: Option<&str>) -> String {
    match schema {
        None => "tessera_feed".to_string(),
        Some(s) => format!("tessera_feed_{s}"),
    }
}

/// Starts a read-only transaction that sees one committed state, for reads of several
/// statements (SQLite's read transactions).
pub(crate) async fn snapshot(c: &mut Object) -> StoreResult<Transaction<'_>> {
    c.build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)
}

/// The feed and the changes after `after` up to `last`, in one statement, so one snapshot: a
/// compaction between two statements could otherwise hide changes from the reader.
const CHANGES: &str = "SELECT f.compacted_through, c.revision, c.account_id, c.payload
FROM feed f LEFT JOIN changes c ON c.revision > $1 AND c.revision <= $2
WHERE f.id = 1
ORDER BY c.revision, c.seq";

#[async_trait]
impl Store for PgStore {
    fn revision(&self) -> u64 {
        self.shared.revision.load(Ordering::SeqCst)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.notify.subscribe()
    }

    async fn changes_since(&self, after: u64, max_revisions: u64) -> StoreResult<Vec<Change>> {
        let last = after.saturating_add(max_revisions.max(1));
        let c = self.client().await?;
        let rows = query(
            &c,
            CHANGES,
            &[&revision_param(after), &revision_param(last)],
        )
        .await?;
        let Some(first) = rows.first() else {
            return Err(backend(anyhow::anyhow!(
                "the feed's counter row is missing"
            )));
        };
        let kept_after = revision_from(get(first, 0)?)?;
        if after < kept_after {
            return Err(StoreError::FeedCompacted {
                asked: after,
                kept_after,
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(revision) = get::<Option<i64>>(r, 1)? else {
                continue; // no change at all: the LEFT JOIN's empty row
            };
            let revision = revision_from(revision)?;
            let account: Option<String> = get(r, 2)?;
            let payload: &str = get(r, 3)?;
            let changed = serde_json::from_str(payload).with_context(|| {
                format!("the feed entry of revision {revision} does not decode")
            })?;
            out.push(Change {
                revision,
                account: account.map(AccountId::from_trusted),
                changed,
            });
        }
        Ok(out)
    }

    async fn compact_changes(&self, retention: Duration) -> StoreResult<usize> {
        // Bounded so that the database's `now - retention` cannot overflow.
        let retention = i64::try_from(retention.as_secs())
            .unwrap_or(i64::MAX)
            .min(i64::MAX / 2);
        // A write that records nothing: it takes the feed lock, so it never races a writer.
        self.write(move |w| {
            Box::pin(async move {
                // The newest revision always stays, so the feed's end is never in doubt.
                let row = query_one(
                    &w.tx,
                    "SELECT MAX(revision) FROM changes
                     WHERE committed <= floor(extract(epoch FROM now()))::bigint - $1
                       AND revision < (SELECT revision FROM feed WHERE id = 1)",
                    &[&retention],
                )
                .await?;
                let Some(through) = get::<Option<i64>>(&row, 0)? else {
                    return Ok(0);
                };
                let n = execute(&w.tx, "DELETE FROM changes WHERE revision <= $1", &[&through])
                    .await?;
                execute(
                    &w.tx,
                    "UPDATE feed SET compacted_through = GREATEST(compacted_through, $1) WHERE id = 1",
                    &[&through],
                )
                .await?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            })
        })
        .await
    }

    async fn identities(&self) -> StoreResult<IdentityRecords> {
        let mut c = self.client().await?;
        // One snapshot for the counter and every table; the queries are pipelined on the one
        // connection, so the whole load costs about one round trip per table's rows.
        let tx = snapshot(&mut c).await?;
        let (
            revision,
            users,
            access_keys,
            memberships,
            attachments,
            policies,
            roles,
            token_keys,
            revocations,
        ) = tokio::try_join!(
            async {
                let row = query_one(&tx, "SELECT revision FROM feed WHERE id = 1", &[]).await?;
                revision_from(get(&row, 0)?)
            },
            users::load_all(&tx),
            keys::load_all(&tx),
            groups::load_all_memberships(&tx),
            policies::load_all_attachments(&tx),
            policies::load_all_heads(&tx),
            roles::load_all_roles(&tx),
            tokens::load_all_token_keys(&tx),
            tokens::load_all_revocations(&tx),
        )?;
        tx.commit().await.map_err(db)?;
        Ok(IdentityRecords {
            revision,
            users,
            access_keys,
            memberships,
            attachments,
            policies,
            roles,
            token_keys,
            revocations,
        })
    }

    async fn close(&self) -> StoreResult<()> {
        // Idle connections end now, busy ones when they are returned.
        self.shared.pool.close();
        Ok(())
    }
}
