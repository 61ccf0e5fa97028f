//! The store contract suite against the PostgreSQL backend, each case in a fresh schema of the
//! test database, and what only PostgreSQL has: migrations and their lock, unique violations
//! that get past the feed lock, collations.
//!
//! The database is `postgresql://postgres@127.0.0.1:5432/test` unless `TESSERA_TEST_PG_URL`
//! names another. These tests never skip: without PostgreSQL they fail, saying what they need.

use deadpool_postgres::tokio_postgres::{self, Client, NoTls};
use std::sync::Arc;
use std::time::Duration;
use tessera_store::contract::Fixture;
use tessera_store::ids::{alphanumerics, AccountId, RoleId, UserId, UserName};
use tessera_store::postgres::{PgOptions, PgStore, SCHEMA_VERSION};
use tessera_store::*;

const DEFAULT_URL: &str = "postgresql://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("TESSERA_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn unreachable(e: impl std::fmt::Display) -> String {
    format!("these tests need PostgreSQL at {DEFAULT_URL} (or where TESSERA_TEST_PG_URL says): {e}")
}

/// A fresh schema name, so cases (and concurrent runs) never share tables.
fn fresh_name(prefix: &str) -> String {
    format!("{prefix}_{}", alphanumerics(12).to_ascii_lowercase())
}

/// A plain client, for what the tests do behind the store's back.
async fn raw(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{}", unreachable(e)));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Runs `sql` on its own connection, from a thread with a runtime of its own: `Drop` is
/// synchronous and runs inside the test's runtime, which cannot block on a future.
fn run_blocking(url: String, sql: String) {
    let statement = sql.clone();
    let done = std::thread::spawn(move || -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
                .batch_execute(&statement)
                .await
                .map_err(|e| e.to_string())
        })
    })
    .join();
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("cleanup failed ({sql}): {e}"),
        Err(_) => eprintln!("cleanup panicked ({sql})"),
    }
}

/// Drops a test schema, and everything in it, when the fixture goes.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        // Bounded: a connection of the test still holding a lock (its runtime is blocked here,
        // and cannot close it) makes the cleanup fail, not hang.
        run_blocking(
            self.url.clone(),
            format!(
                "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
                self.schema
            ),
        );
    }
}

fn options(schema: &str) -> PgOptions {
    PgOptions {
        schema: Some(schema.to_string()),
        // Enough for the contract's eight concurrent writers, and for two cases at once well
        // under PostgreSQL's default of 100 connections.
        pool_size: 10,
        ..PgOptions::default()
    }
}

async fn connect(url: &str, schema: &str) -> PgStore {
    PgStore::connect(url, options(schema))
        .await
        .unwrap_or_else(|e| panic!("{}", unreachable(format!("{e:#}"))))
}

/// A store in a fresh schema, and the guard that drops the schema.
async fn fresh_pg() -> (Arc<PgStore>, DropSchema) {
    let url = url();
    // The guard first: a connect that fails half way still leaves nothing behind.
    let guard = DropSchema {
        url: url.clone(),
        schema: fresh_name("tessera_test"),
    };
    let store = connect(&url, &guard.schema).await;
    (Arc::new(store), guard)
}

async fn fresh() -> Fixture {
    let (store, guard) = fresh_pg().await;
    Fixture::new(store, guard)
}

tessera_store::contract_tests!(fresh());

fn account() -> (AccountRecord, AccessKeyRecord) {
    let id = AccountId::generate();
    let key = AccessKeyRecord {
        id: tessera_store::ids::AccessKeyId::generate(),
        owner: KeyOwner::Root(id.clone()),
        sealed_secret: vec![1, 2, 3],
        status: KeyStatus::Active,
        created: 1,
    };
    (AccountRecord { id, created: 1 }, key)
}

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

fn role(account: &AccountId, name: &str) -> RoleRecord {
    RoleRecord {
        account: account.clone(),
        id: RoleId::generate(),
        name: tessera_store::ids::RoleName::from_trusted(name),
        description: String::new(),
        trust_policy: "{}".into(),
        max_session_duration: 3600,
        created: 1,
        updated: 1,
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (store, _guard) = fresh_pg().await;
    let schema = store.schema().to_string();
    store.close().await.unwrap();
    drop(store);
    let newer = SCHEMA_VERSION + 1;
    raw(&url())
        .await
        .execute(
            &format!("INSERT INTO {schema}.schema_migrations (version, applied) VALUES ($1, 0)"),
            &[&newer],
        )
        .await
        .unwrap();
    let e = PgStore::connect(&url(), options(&schema))
        .await
        .expect_err("a schema newer than the binary");
    let message = format!("{e:#}");
    assert!(
        message.contains(&format!(
            "the database has schema version {newer}, newer than this tessera ({SCHEMA_VERSION}); upgrade tessera"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_foreign_schema_is_never_migrated_into() {
    let guard = DropSchema {
        url: url(),
        schema: fresh_name("tessera_test"),
    };
    let schema = &guard.schema;
    raw(&url())
        .await
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.users (x int)"
        ))
        .await
        .unwrap();
    let e = PgStore::connect(&url(), options(schema))
        .await
        .expect_err("someone else's schema");
    assert!(format!("{e:#}").contains("not Tessera's"), "{e:#}");
}

#[tokio::test]
async fn bad_schema_names_and_urls_are_refused_without_echoing_secrets() {
    for bad in ["Upper", "a;b", "pg_x", ""] {
        let e = PgStore::connect(&url(), options(bad)).await.expect_err(bad);
        assert!(format!("{e:#}").contains("schema name"), "{e:#}");
    }
    let e = PgStore::connect("postgresql://u:hunter2@[bad", PgOptions::default())
        .await
        .expect_err("a malformed URL");
    assert!(!format!("{e:#} {e:?}").contains("hunter2"), "{e:#}");
    let opts = PgOptions {
        password: Some("hunter2".into()),
        ..PgOptions::default()
    };
    assert!(!format!("{opts:?}").contains("hunter2"));
    // Trust authentication ignores the password; the store's Debug never shows it.
    let guard = DropSchema {
        url: url(),
        schema: fresh_name("tessera_test"),
    };
    let store = PgStore::connect(
        &url(),
        PgOptions {
            password: Some("hunter2".into()),
            ..options(&guard.schema)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{}", unreachable(format!("{e:#}"))));
    let shown = format!("{store:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains(&guard.schema),
        "{shown}"
    );
    assert_eq!(
        store.feed_channel(),
        format!("tessera_feed_{}", guard.schema)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let guard = DropSchema {
        url: url(),
        schema: fresh_name("tessera_test"),
    };
    let schema = guard.schema.clone();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, schema) = (url(), schema.clone());
            tokio::spawn(async move { PgStore::connect(&url, options(&schema)).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(
            s.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}", unreachable(format!("{e:#}")))),
        );
    }
    let c = raw(&url()).await;
    let versions: Vec<i64> = c
        .query(
            &format!("SELECT version FROM {schema}.schema_migrations ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    let feed_rows: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM {schema}.feed"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(feed_rows, 1, "the feed's counter was made once");
    // Every node writes to the one feed, which stays dense.
    let (a, k) = account();
    stores[0].create_account(&a, &k, &[]).await.unwrap();
    let (b, k) = account();
    stores[3].create_account(&b, &k, &[]).await.unwrap();
    let feed = stores[1].changes_since(0, 10).await.unwrap();
    let revisions: Vec<u64> = feed.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, [1, 1, 2, 2]);
    for s in &stores {
        s.close().await.unwrap();
    }
}

/// Waits until some connection is blocked on a lock in a statement starting with `prefix`.
async fn blocked_on(c: &Client, prefix: &str) {
    for _ in 0..500 {
        let n: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
                &[&format!("{prefix}%")],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no statement {prefix}… ever waited for a lock");
}

/// A name taken by a transaction that does not take the feed lock (a row written outside
/// Tessera) gets past the name check; the unique violation at the insert is still
/// `AlreadyExists`, never an internal error, and the failed write takes no revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_violation_is_already_exists() {
    let (s, _guard) = fresh_pg().await;
    let schema = s.schema().to_string();
    let (a, k) = account();
    s.create_account(&a, &k, &[]).await.unwrap();
    let before = s.revision();
    let watcher = raw(&url()).await;

    let mut other = raw(&url()).await;
    let tx = other.transaction().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {schema}.users (account_id, id, name, created, updated) VALUES ($1, '1', 'taken', 0, 0)"),
        &[&a.id.as_str()],
    )
    .await
    .unwrap();
    let (s2, u) = (Arc::clone(&s), user(&a.id, "taken"));
    let write = tokio::spawn(async move { s2.create_user(&u, 10).await });
    blocked_on(&watcher, "INSERT INTO users").await;
    tx.commit().await.unwrap();
    let outcome = write.await.unwrap();
    assert!(
        matches!(outcome, Err(StoreError::AlreadyExists(Entity::User))),
        "{outcome:?}"
    );

    // Role names collide regardless of case, through the unique index on lower(name).
    let tx = other.transaction().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {schema}.roles (account_id, id, name, trust_policy, max_session_duration, created, updated) VALUES ($1, '1', 'Admin', '{{}}', 3600, 0, 0)"),
        &[&a.id.as_str()],
    )
    .await
    .unwrap();
    let (s2, r) = (Arc::clone(&s), role(&a.id, "ADMIN"));
    let write = tokio::spawn(async move { s2.create_role(&r, 10).await });
    blocked_on(&watcher, "INSERT INTO roles").await;
    tx.commit().await.unwrap();
    let outcome = write.await.unwrap();
    assert!(
        matches!(outcome, Err(StoreError::AlreadyExists(Entity::Role))),
        "{outcome:?}"
    );

    assert_eq!(s.revision(), before, "refused writes take no revision");
    assert!(s.changes_since(before, 10).await.unwrap().is_empty());
    // The store still works: the refused writes rolled back and gave their connections back.
    s.create_user(&user(&a.id, "free"), 10).await.unwrap();
    assert_eq!(s.revision(), before + 1);
}

/// `url` with its database replaced by `db` (the test URLs are plain `postgresql://…/db?…`).
fn with_database(url: &str, db: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let path = url[start..].find('/').map(|i| start + i);
    let query = url.find('?');
    match path {
        Some(p) => format!(
            "{}/{db}{}",
            &url[..p],
            query.map(|q| &url[q..]).unwrap_or("")
        ),
        None => format!("{url}/{db}"),
    }
}

/// Names sort byte by byte (SQLite's BINARY) even in a database whose own collation sorts
/// "a" before "B": the schema declares "C" where it compares names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_sort_bytewise_whatever_the_database_collation() {
    let db = fresh_name("tessera_test_icu");
    raw(&url())
        .await
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        ))
        .await
        .unwrap();
    struct DropDatabase(String);
    impl Drop for DropDatabase {
        fn drop(&mut self) {
            run_blocking(
                url(),
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
            );
        }
    }
    let _guard = DropDatabase(db.clone());
    let icu_url = with_database(&url(), &db);
    let c = raw(&icu_url).await;
    let locale_sorts_a_first: bool = c.query_one("SELECT 'a' < 'B'", &[]).await.unwrap().get(0);
    assert!(
        locale_sorts_a_first,
        "the database's own collation is not bytewise"
    );
    let s = PgStore::connect(&icu_url, PgOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}", unreachable(format!("{e:#}"))));
    assert_eq!(s.schema(), "public");
    let (a, k) = account();
    s.create_account(&a, &k, &[]).await.unwrap();
    for name in ["b", "B", "a", "A", "_z", "0"] {
        s.create_user(&user(&a.id, name), 100).await.unwrap();
    }
    let listed: Vec<String> = s
        .list_users(&a.id, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(listed, ["0", "A", "B", "_z", "a", "b"]);
    let after_b: Vec<String> = s
        .list_users(&a.id, Some("B"), 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(after_b, ["_z", "a", "b"]);
    for name in ["beta", "Alpha", "-r", "Zed"] {
        s.create_role(&role(&a.id, name), 100).await.unwrap();
    }
    let roles: Vec<String> = s
        .list_roles(&a.id, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(roles, ["-r", "Alpha", "beta", "Zed"]);
    s.close().await.unwrap();
}
