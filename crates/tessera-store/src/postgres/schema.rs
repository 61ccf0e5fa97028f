//! The PostgreSQL schema, as versioned migrations recorded in `schema_migrations`, applied at
//! connect in one transaction under an advisory lock. A migration, once released, is never
//! edited; changes come as a new entry.
//!
//! Migration 1 is SQLite's migrations 1–4 translated: BYTEA for sealed bytes, BIGINT for times
//! and numbers, BOOLEAN for flags, and `COLLATE "C"` on every text column that is compared or
//! ordered, so that names sort and compare byte by byte like SQLite's BINARY collation. Role
//! names are unique on `lower(name)`, which under "C" folds ASCII only, like SQLite's NOCASE.
//! Attachments get an insertion-order column (`seq`), standing in for SQLite's rowid in
//! "ORDER BY attached, rowid". Constraint names matter: `super::unique_entity` maps them to the
//! entity whose name is taken.

use super::query_one;
use anyhow::Context;
use deadpool_postgres::tokio_postgres::IsolationLevel;
use deadpool_postgres::{Object, Transaction};

/// The schema version this binary writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Schema migrations, applied in order; migration `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's migrations 1 to 4 create.
    r#"
CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE accounts (
    id      TEXT COLLATE "C" CONSTRAINT accounts_pkey PRIMARY KEY,
    created BIGINT NOT NULL
);
CREATE TABLE users (
    account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id           TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    mobile_phone TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    comments     TEXT NOT NULL DEFAULT '',
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT users_name UNIQUE (account_id, name)
);
CREATE TABLE access_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    user_id       TEXT COLLATE "C",
    sealed_secret BYTEA NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created       BIGINT NOT NULL,
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);
CREATE INDEX access_keys_owner ON access_keys(account_id, user_id);

CREATE TABLE groups (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    comments   TEXT NOT NULL DEFAULT '',
    created    BIGINT NOT NULL,
    updated    BIGINT NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT groups_name UNIQUE (account_id, name)
);
CREATE TABLE group_members (
    account_id TEXT COLLATE "C" NOT NULL,
    group_id   TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    joined     BIGINT NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (account_id, group_id, user_id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups(account_id, id),
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);
CREATE INDEX group_members_user ON group_members(account_id, user_id);
CREATE TABLE roles (
    account_id           TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    id                   TEXT COLLATE "C" NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    trust_policy         TEXT NOT NULL,
    max_session_duration BIGINT NOT NULL,
    created              BIGINT NOT NULL,
    updated              BIGINT NOT NULL,
    CONSTRAINT roles_pkey PRIMARY KEY (account_id, id)
);
-- Role names are unique per account regardless of ASCII case (session ARNs lower-case them);
-- lookups and the listing order use the same expression, so they agree with this index.
CREATE UNIQUE INDEX roles_name ON roles(account_id, lower(name));
CREATE TABLE policies (
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    name            TEXT COLLATE "C" NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    default_version BIGINT NOT NULL,
    next_version    BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL,
    CONSTRAINT policies_pkey PRIMARY KEY (account_id, name)
);
CREATE TABLE policy_versions (
    account_id  TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL,
    document    TEXT NOT NULL,
    created     BIGINT NOT NULL,
    PRIMARY KEY (account_id, policy_name, version),
    FOREIGN KEY (account_id, policy_name) REFERENCES policies(account_id, name)
);
CREATE TABLE attachments (
    -- Insertion order, for "in attachment order" listings (SQLite's rowid).
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    target_kind TEXT COLLATE "C" NOT NULL CHECK (target_kind IN ('User', 'Group', 'Role')),
    target_id   TEXT COLLATE "C" NOT NULL,
    policy_type TEXT COLLATE "C" NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name TEXT COLLATE "C" NOT NULL,
    attached    BIGINT NOT NULL,
    CONSTRAINT attachments_pkey PRIMARY KEY (account_id, target_kind, target_id, policy_type, policy_name)
);
CREATE INDEX attachments_policy ON attachments(account_id, policy_type, policy_name);
CREATE TABLE login_profiles (
    account_id              TEXT COLLATE "C" NOT NULL,
    user_id                 TEXT COLLATE "C" NOT NULL,
    password_hash           TEXT NOT NULL,
    password_reset_required BOOLEAN NOT NULL,
    mfa_bind_required       BOOLEAN NOT NULL,
    created                 BIGINT NOT NULL,
    updated                 BIGINT NOT NULL,
    CONSTRAINT login_profiles_pkey PRIMARY KEY (account_id, user_id),
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);

-- STS: token keys (ids assigned max + 1 under the feed lock, like SQLite's rowid) and
-- revocations.
CREATE TABLE token_keys (
    id         BIGINT PRIMARY KEY,
    sealed_key BYTEA NOT NULL,
    created    BIGINT NOT NULL,
    retired    BIGINT
);
CREATE TABLE revocations (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    kind       TEXT COLLATE "C" NOT NULL CHECK (kind IN ('Role', 'User')),
    target_id  TEXT COLLATE "C" NOT NULL,
    not_before BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, target_id)
);

-- The change feed: `feed` holds the newest revision (one per write transaction; its row lock
-- serializes writers) and how far the feed has been compacted; `changes` holds each write's
-- entries, the entity's new row (or a tombstone) as JSON text, exactly as serialized.
CREATE TABLE feed (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    revision          BIGINT NOT NULL,
    compacted_through BIGINT NOT NULL
);
INSERT INTO feed (id, revision, compacted_through) VALUES (1, 0, 0);
CREATE TABLE changes (
    revision   BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    account_id TEXT COLLATE "C",
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    committed  BIGINT NOT NULL,
    PRIMARY KEY (revision, seq)
);
CREATE INDEX changes_committed ON changes(committed);
"#,
];

/// The longest schema name: `tessera_feed_` and the name must fit PostgreSQL's 63-byte
/// identifiers, as the feed's notification channel.
const MAX_SCHEMA_NAME: usize = 50;

/// Checks a schema name. Plain lower-case identifiers need no quoting anywhere (the startup
/// `search_path`, DDL, the channel name), so nothing a name holds can change what a statement
/// means.
pub(super) fn check_name(s: &str) -> anyhow::Result<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_SCHEMA_NAME
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
        && !s.starts_with("pg_");
    if !ok {
        anyhow::bail!(
            "the PostgreSQL schema name {s:?} is not valid: use 1 to {MAX_SCHEMA_NAME} of a-z, 0-9 and _, not starting with a digit or pg_"
        );
    }
    Ok(())
}

/// The first key of Tessera's advisory locks ("tess"): the second is the schema's, so
/// deployments in different schemas never wait for each other.
const LOCK_CLASS: i32 = 0x7465_7373;

/// FNV-1a of the schema name: the same for every Tessera binary, unlike PostgreSQL's internal
/// hash functions, which are not promised to stay.
fn lock_key(schema: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// Takes the schema's advisory lock until `tx` ends.
pub(super) async fn lock(tx: &Transaction<'_>, schema: &str) -> anyhow::Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_CLASS, &lock_key(schema)],
    )
    .await?;
    Ok(())
}

/// Brings the schema up to date in one transaction, under an advisory lock on the schema's
/// name, so nodes starting together migrate it once and none sees it half made. Returns the
/// schema's name.
pub(super) async fn migrate(client: &mut Object, explicit: Option<&str>) -> anyhow::Result<String> {
    // READ COMMITTED whatever the server's default: once the lock is ours, the next statements
    // must see what a node that migrated before us committed.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?;
    match migrate_in(&tx, explicit).await {
        Ok(schema) => {
            tx.commit().await?;
            Ok(schema)
        }
        Err(e) => {
            // Rolled back before the error is returned, not when the transaction is dropped:
            // a caller that gives up on the pool at once would otherwise leave it open, with
            // the advisory lock held, until its runtime next runs the connection's task.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn migrate_in(tx: &Transaction<'_>, explicit: Option<&str>) -> anyhow::Result<String> {
    let schema = match explicit {
        Some(s) => s.to_string(),
        None => {
            let row = query_one(tx, "SELECT current_schema()::text", &[]).await?;
            row.try_get::<_, Option<String>>(0)?.context(
                "the connection's search_path names no existing schema: create one or give tessera a schema",
            )?
        }
    };
    // Held until the transaction ends.
    lock(tx, &schema).await?;
    if explicit.is_some() {
        // Checked first: CREATE SCHEMA IF NOT EXISTS needs the right to create schemas even
        // when the schema exists, and an operator may have made it for a role without that.
        let found: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                &[&schema],
            )
            .await?
            .try_get(0)?;
        if !found {
            // The name was checked: a plain identifier.
            tx.batch_execute(&format!(
                "CREATE SCHEMA {schema}; SET LOCAL search_path TO {schema}"
            ))
            .await?;
        }
    }
    let tracked: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_migrations')",
            &[&schema],
        )
        .await?
        .try_get(0)?;
    if !tracked {
        // A schema holding other tables is someone else's: never migrate into it.
        let others: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
                &[&schema],
            )
            .await?
            .try_get(0)?;
        if others > 0 {
            anyhow::bail!(
                "the schema {schema} holds tables that are not Tessera's (it has no schema_migrations table): give tessera a schema of its own"
            );
        }
        tx.batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
        )
        .await?;
    }
    let version: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the database has schema version {version}, newer than this tessera ({SCHEMA_VERSION}); upgrade tessera"
        );
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version)?)
    {
        let n = i64::try_from(i + 1)?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("schema migration {n} failed"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)",
            &[&n, &super::unix_now()],
        )
        .await?;
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for ok in ["tessera", "t_1", "_x", &"a".repeat(50)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "pg_x",
            "Tessera",
            "a-b",
            "a b",
            "a;drop",
            "é",
            &"a".repeat(51),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lock_keys_are_stable() {
        // FNV-1a's published test value for "a": a change here would let two versions of
        // tessera migrate one schema at once.
        assert_eq!(lock_key("a") as u32, 0xe40c_292c);
        assert_ne!(lock_key("tessera"), lock_key("tessera2"));
    }
}
