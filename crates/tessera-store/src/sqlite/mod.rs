//! The embedded store: one SQLite file in WAL mode. Writes are rare (administration), reads on
//! the request path come from the identity cache, so one connection behind a mutex, used from
//! tokio's blocking pool, is enough.

#[cfg(test)]
mod fixtures;
mod groups;
mod login;
mod policies;
mod roles;
mod schema;

use super::*;
use anyhow::Context;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use schema::MIGRATIONS;

/// The `format` a Tessera database records in its metadata.
pub const FORMAT: &str = "tessera/1";

/// A SQLite-backed [`Store`].
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    revision: Arc<AtomicU64>,
}

fn backend(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Backend(e.into())
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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .with_context(|| format!("{} is not a SQLite database", path.display()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot put {} in WAL mode (got {mode})", path.display());
        }
        // Identity data must survive power loss once acknowledged; writes are rare.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)
            .with_context(|| format!("cannot migrate the database {}", path.display()))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            revision: Arc::new(AtomicU64::new(1)),
        })
    }

    async fn run<T, F>(&self, write: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let revision = Arc::clone(&self.revision);
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            let r = f(&mut c);
            if write && r.is_ok() {
                revision.fetch_add(1, Ordering::SeqCst);
            }
            r
        })
        .await
        .map_err(backend)?
    }
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

fn owner_user(owner: &KeyOwner) -> Option<String> {
    match owner {
        KeyOwner::Root(_) => None,
        KeyOwner::User(_, u) => Some(u.as_str().to_string()),
    }
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        id: UserId::from_trusted(r.get::<_, String>(1)?),
        name: UserName::from_trusted(r.get::<_, String>(2)?),
        display_name: r.get(3)?,
        mobile_phone: r.get(4)?,
        email: r.get(5)?,
        comments: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
    })
}

const USER_COLUMNS: &str =
    "account_id, id, name, display_name, mobile_phone, email, comments, created, updated";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    let account = AccountId::from_trusted(r.get::<_, String>(1)?);
    let owner = match r.get::<_, Option<String>>(2)? {
        None => KeyOwner::Root(account),
        Some(u) => KeyOwner::User(account, UserId::from_trusted(u)),
    };
    let status: String = r.get(4)?;
    Ok(AccessKeyRecord {
        id: AccessKeyId::from_trusted(r.get::<_, String>(0)?),
        owner,
        sealed_secret: r.get(3)?,
        status: KeyStatus::parse(&status).unwrap_or(KeyStatus::Inactive),
        created: r.get(5)?,
    })
}

const KEY_COLUMNS: &str = "id, account_id, user_id, sealed_secret, status, created";

fn insert_key(tx: &rusqlite::Transaction<'_>, key: &AccessKeyRecord) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO access_keys (id, account_id, user_id, sealed_secret, status, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.id.as_str(), key.owner.account().as_str(), owner_user(&key.owner), key.sealed_secret, key.status.as_str(), key.created],
    )
}

fn get_user(c: &Connection, account: &str, name: &str) -> StoreResult<UserRecord> {
    c.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name = ?2"),
        params![account, name],
        user_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::User))
}

#[async_trait]
impl Store for SqliteStore {
    fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    async fn add_token_key(&self, sealed_key: &[u8], now: i64) -> StoreResult<u32> {
        let sealed = sealed_key.to_vec();
        self.run(true, move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            tx.execute(
                "UPDATE token_keys SET retired = ?1 WHERE retired IS NULL",
                [now],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO token_keys (sealed_key, created) VALUES (?1, ?2)",
                params![sealed, now],
            )
            .map_err(backend)?;
            let id = u32::try_from(tx.last_insert_rowid())
                .map_err(|_| backend(anyhow::anyhow!("token key ids are exhausted")))?;
            tx.commit().map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        account: &AccountId,
        target: &Target,
        not_before: i64,
    ) -> StoreResult<()> {
        let (a, t) = (account.as_str().to_string(), target.clone());
        self.run(true, move |c| {
            c.execute(
                "INSERT INTO revocations (account_id, kind, target_id, not_before) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, kind, target_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)",
                params![a, t.kind.as_str(), t.id, not_before],
            )
            .map(|_| ())
            .map_err(backend)
        })
        .await
    }

    async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize> {
        self.run(true, move |c| {
            c.execute(
                "DELETE FROM token_keys WHERE retired IS NOT NULL AND retired < ?1",
                [cutoff],
            )
            .map_err(backend)
        })
        .await
    }

    async fn close(&self) -> StoreResult<()> {
        // Checkpoint so a stopped server leaves one self-contained database file.
        self.run(false, |c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(backend)
        })
        .await
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.run(false, move |c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn create_account(
        &self,
        account: &AccountRecord,
        root_key: &AccessKeyRecord,
        meta: &[(&str, &str)],
    ) -> StoreResult<()> {
        let (account, key) = (account.clone(), root_key.clone());
        let meta: Vec<(String, String)> = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.run(true, move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO accounts (id, created) VALUES (?1, ?2)",
                    params![account.id.as_str(), account.created],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(Entity::Account));
            }
            insert_key(&tx, &key).map_err(backend)?;
            for (k, v) in &meta {
                tx.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    params![k, v],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn account_exists(&self, account: &AccountId) -> StoreResult<bool> {
        let account = account.as_str().to_string();
        self.run(false, move |c| {
            c.query_row(
                "SELECT 1 FROM accounts WHERE id = ?1",
                [account],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(backend)
        })
        .await
    }

    async fn identities(&self) -> StoreResult<IdentityRecords> {
        self.run(false, |c| {
            let tx = c.transaction().map_err(backend)?;
            let users = {
                let mut st = tx
                    .prepare("SELECT account_id, id, name FROM users")
                    .map_err(backend)?;
                let rows = st.query_map([], |r| {
                    Ok((
                        AccountId::from_trusted(r.get::<_, String>(0)?),
                        UserId::from_trusted(r.get::<_, String>(1)?),
                        UserName::from_trusted(r.get::<_, String>(2)?),
                    ))
                });
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(backend)?
            };
            let access_keys = {
                let mut st = tx
                    .prepare(&format!("SELECT {KEY_COLUMNS} FROM access_keys"))
                    .map_err(backend)?;
                let rows = st.query_map([], key_from_row);
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(backend)?
            };
            let memberships = {
                let mut st = tx
                    .prepare("SELECT account_id, group_id, user_id FROM group_members")
                    .map_err(backend)?;
                let rows = st.query_map([], |r| {
                    Ok((
                        AccountId::from_trusted(r.get::<_, String>(0)?),
                        r.get::<_, String>(1)?,
                        UserId::from_trusted(r.get::<_, String>(2)?),
                    ))
                });
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(backend)?
            };
            let attachments = policies::load_all_attachments(&tx)?;
            let default_documents = policies::load_default_documents(&tx)?;
            let roles = roles::load_all_roles(&tx)?;
            let token_keys = {
                let mut st = tx
                    .prepare("SELECT id, sealed_key, created, retired FROM token_keys ORDER BY id")
                    .map_err(backend)?;
                let rows = st.query_map([], |r| {
                    Ok(TokenKeyRecord {
                        id: r.get(0)?,
                        sealed_key: r.get(1)?,
                        created: r.get(2)?,
                        retired: r.get(3)?,
                    })
                });
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(backend)?
            };
            let revocations = {
                let mut st = tx
                    .prepare("SELECT account_id, kind, target_id, not_before FROM revocations")
                    .map_err(backend)?;
                let rows = st.query_map([], |r| {
                    let kind: String = r.get(1)?;
                    Ok((
                        AccountId::from_trusted(r.get::<_, String>(0)?),
                        TargetKind::parse(&kind).unwrap_or(TargetKind::Role),
                        r.get(2)?,
                        r.get(3)?,
                    ))
                });
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(backend)?
            };
            Ok(IdentityRecords {
                users,
                access_keys,
                memberships,
                attachments,
                default_documents,
                roles,
                token_keys,
                revocations,
            })
        })
        .await
    }

    async fn create_user(&self, user: &UserRecord, max_users: usize) -> StoreResult<()> {
        let u = user.clone();
        self.run(true, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let taken: bool = tx
                .query_row("SELECT 1 FROM users WHERE account_id = ?1 AND name = ?2", params![u.account.as_str(), u.name.as_str()], |_| Ok(()))
                .optional()
                .map_err(backend)?
                .is_some();
            if taken {
                return Err(StoreError::AlreadyExists(Entity::User));
            }
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM users WHERE account_id = ?1", [u.account.as_str()], |r| r.get(0)).map_err(backend)?;
            if count as usize >= max_users {
                return Err(StoreError::LimitExceeded(Entity::User));
            }
            tx.execute(
                &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![u.account.as_str(), u.id.as_str(), u.name.as_str(), u.display_name, u.mobile_phone, u.email, u.comments, u.created, u.updated],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn user(&self, account: &AccountId, name: &UserName) -> StoreResult<UserRecord> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.run(false, move |c| get_user(c, &a, &n)).await
    }

    async fn update_user(
        &self,
        account: &AccountId,
        name: &UserName,
        update: &UserUpdate,
        now: i64,
    ) -> StoreResult<UserRecord> {
        let (a, n, up) = (
            account.as_str().to_string(),
            name.as_str().to_string(),
            update.clone(),
        );
        self.run(true, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let mut u = get_user(&tx, &a, &n)?;
            if let Some(new_name) = up.name {
                if new_name != u.name {
                    if exists(get_user(&tx, &a, new_name.as_str()))? {
                        return Err(StoreError::AlreadyExists(Entity::User));
                    }
                    u.name = new_name;
                }
            }
            if let Some(v) = up.display_name {
                u.display_name = v;
            }
            if let Some(v) = up.mobile_phone {
                u.mobile_phone = v;
            }
            if let Some(v) = up.email {
                u.email = v;
            }
            if let Some(v) = up.comments {
                u.comments = v;
            }
            u.updated = now;
            tx.execute(
                "UPDATE users SET name = ?3, display_name = ?4, mobile_phone = ?5, email = ?6, comments = ?7, updated = ?8 WHERE account_id = ?1 AND id = ?2",
                params![a, u.id.as_str(), u.name.as_str(), u.display_name, u.mobile_phone, u.email, u.comments, u.updated],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(u)
        })
        .await
    }

    async fn list_users(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let (a, after) = (
            account.as_str().to_string(),
            after.unwrap_or("").to_string(),
        );
        self.run(false, move |c| {
            page(c, &format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"), &a, &after, limit, user_from_row)
        })
        .await
    }

    async fn delete_user(&self, account: &AccountId, name: &UserName) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.run(true, move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let u = get_user(&tx, &a, &n)?;
            let keys: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND user_id = ?2",
                    params![a, u.id.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if keys > 0 {
                return Err(StoreError::UserHasAccessKeys);
            }
            let policies: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM attachments WHERE account_id = ?1 AND target_kind = 'User' AND target_id = ?2",
                    params![a, u.id.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if policies > 0 {
                return Err(StoreError::UserHasPolicies);
            }
            groups::refuse_if_member(&tx, &a, u.id.as_str())?;
            login::refuse_if_login_profile(&tx, &a, u.id.as_str())?;
            tx.execute(
                "DELETE FROM users WHERE account_id = ?1 AND id = ?2",
                params![a, u.id.as_str()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn create_access_key(&self, key: &AccessKeyRecord, max_keys: usize) -> StoreResult<()> {
        let k = key.clone();
        self.run(true, move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let user = owner_user(&k.owner);
            if let Some(u) = &user {
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM users WHERE account_id = ?1 AND id = ?2",
                        params![k.owner.account().as_str(), u],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound(Entity::User));
                }
            }
            let count: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND user_id IS ?2",
                    params![k.owner.account().as_str(), user],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= max_keys {
                return Err(StoreError::LimitExceeded(Entity::AccessKey));
            }
            insert_key(&tx, &k).map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn access_keys(&self, owner: &KeyOwner) -> StoreResult<Vec<AccessKeyRecord>> {
        let (a, u) = (owner.account().as_str().to_string(), owner_user(owner));
        self.run(false, move |c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = ?1 AND user_id IS ?2 ORDER BY created, id"))
                .map_err(backend)?;
            st.query_map(params![a, u], key_from_row).and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(backend)
        })
        .await
    }

    async fn set_access_key_status(
        &self,
        owner: &KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> StoreResult<()> {
        let (a, u, id) = (
            owner.account().as_str().to_string(),
            owner_user(owner),
            id.as_str().to_string(),
        );
        self.run(true, move |c| {
            let n = c
                .execute("UPDATE access_keys SET status = ?4 WHERE id = ?1 AND account_id = ?2 AND user_id IS ?3", params![id, a, u, status.as_str()])
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound(Entity::AccessKey))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn delete_access_key(&self, owner: &KeyOwner, id: &AccessKeyId) -> StoreResult<()> {
        let (a, u, id) = (
            owner.account().as_str().to_string(),
            owner_user(owner),
            id.as_str().to_string(),
        );
        self.run(true, move |c| {
            let n = c
                .execute(
                    "DELETE FROM access_keys WHERE id = ?1 AND account_id = ?2 AND user_id IS ?3",
                    params![id, a, u],
                )
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound(Entity::AccessKey))
            } else {
                Ok(())
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(account: &AccountId, name: &str) -> UserRecord {
        UserRecord {
            account: account.clone(),
            id: UserId::generate(),
            name: UserName::from_trusted(name),
            display_name: String::new(),
            mobile_phone: String::new(),
            email: String::new(),
            comments: String::new(),
            created: 1,
            updated: 1,
        }
    }

    fn key(owner: KeyOwner) -> AccessKeyRecord {
        AccessKeyRecord {
            id: AccessKeyId::generate(),
            owner,
            sealed_secret: vec![1, 2, 3],
            status: KeyStatus::Active,
            created: 1,
        }
    }

    async fn store_with_account() -> (tempfile::TempDir, SqliteStore, AccountId) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::create(&dir.path().join("t.db")).unwrap();
        let a = AccountId::generate();
        s.create_account(
            &AccountRecord {
                id: a.clone(),
                created: 1,
            },
            &key(KeyOwner::Root(a.clone())),
            &[("format", "x")],
        )
        .await
        .unwrap();
        (dir, s, a)
    }

    #[tokio::test]
    async fn users_keys_and_limits() {
        let (_d, s, a) = store_with_account().await;
        let r0 = s.revision();
        let u = user(&a, "alice");
        s.create_user(&u, 2).await.unwrap();
        assert!(s.revision() > r0);
        assert!(matches!(
            s.create_user(&user(&a, "alice"), 2).await,
            Err(StoreError::AlreadyExists(Entity::User))
        ));
        s.create_user(&user(&a, "bob"), 2).await.unwrap();
        assert!(matches!(
            s.create_user(&user(&a, "carol"), 2).await,
            Err(StoreError::LimitExceeded(Entity::User))
        ));

        let owner = KeyOwner::User(a.clone(), u.id.clone());
        let k1 = key(owner.clone());
        s.create_access_key(&k1, 2).await.unwrap();
        s.create_access_key(&key(owner.clone()), 2).await.unwrap();
        assert!(matches!(
            s.create_access_key(&key(owner.clone()), 2).await,
            Err(StoreError::LimitExceeded(Entity::AccessKey))
        ));
        assert_eq!(s.access_keys(&owner).await.unwrap().len(), 2);
        assert_eq!(
            s.access_keys(&KeyOwner::Root(a.clone()))
                .await
                .unwrap()
                .len(),
            1
        );

        assert!(matches!(
            s.delete_user(&a, &u.name).await,
            Err(StoreError::UserHasAccessKeys)
        ));
        s.set_access_key_status(&owner, &k1.id, KeyStatus::Inactive)
            .await
            .unwrap();
        // Another owner's key is invisible.
        assert!(matches!(
            s.delete_access_key(&KeyOwner::Root(a.clone()), &k1.id)
                .await,
            Err(StoreError::NotFound(Entity::AccessKey))
        ));
        for k in s.access_keys(&owner).await.unwrap() {
            s.delete_access_key(&owner, &k.id).await.unwrap();
        }
        s.delete_user(&a, &u.name).await.unwrap();
        assert!(matches!(
            s.user(&a, &u.name).await,
            Err(StoreError::NotFound(Entity::User))
        ));
    }

    #[tokio::test]
    async fn paging_and_rename() {
        let (_d, s, a) = store_with_account().await;
        for n in ["c", "a", "b", "d"] {
            s.create_user(&user(&a, n), 10).await.unwrap();
        }
        let p1 = s.list_users(&a, None, 3).await.unwrap();
        assert!(p1.truncated);
        assert_eq!(
            p1.items.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let p2 = s.list_users(&a, Some("c"), 3).await.unwrap();
        assert!(!p2.truncated);
        assert_eq!(p2.items.len(), 1);

        let up = UserUpdate {
            name: Some(UserName::from_trusted("b")),
            ..Default::default()
        };
        assert!(matches!(
            s.update_user(&a, &UserName::from_trusted("a"), &up, 5)
                .await,
            Err(StoreError::AlreadyExists(Entity::User))
        ));
        let up = UserUpdate {
            name: Some(UserName::from_trusted("z")),
            email: Some("z@x.io".into()),
            ..Default::default()
        };
        let u = s
            .update_user(&a, &UserName::from_trusted("a"), &up, 5)
            .await
            .unwrap();
        assert_eq!(
            (u.name.as_str(), u.email.as_str(), u.updated),
            ("z", "z@x.io", 5)
        );
        let ids = s.identities().await.unwrap();
        assert_eq!(ids.users.len(), 4);
        assert_eq!(ids.access_keys.len(), 1);
    }

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
}
