//! The SQLite schema, as migrations: `PRAGMA user_version` counts how many have been applied.
//! A migration, once released, is never edited; changes come as a new entry.

/// Schema migrations, applied in order.
pub const MIGRATIONS: &[&str] = &[
    // 1: accounts, users, AccessKeys.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE accounts (
    id      TEXT PRIMARY KEY,
    created INTEGER NOT NULL
);
CREATE TABLE users (
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    mobile_phone TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    comments     TEXT NOT NULL DEFAULT '',
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, name)
);
CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    user_id       TEXT,
    sealed_secret BLOB NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created       INTEGER NOT NULL,
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);
CREATE INDEX access_keys_owner ON access_keys(account_id, user_id);
"#,
    // 2: the rest of RAM: groups and memberships, roles, custom policies and their versions,
    // policy attachments (system policies live in code, so attachments name them by type and
    // name), console login profiles.
    r#"
CREATE TABLE groups (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    comments   TEXT NOT NULL DEFAULT '',
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, name)
);
CREATE TABLE group_members (
    account_id TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    joined     INTEGER NOT NULL,
    PRIMARY KEY (account_id, group_id, user_id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups(account_id, id),
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);
CREATE INDEX group_members_user ON group_members(account_id, user_id);
CREATE TABLE roles (
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    id                   TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    trust_policy         TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    created              INTEGER NOT NULL,
    updated              INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
);
-- Role names are unique per account regardless of case (sessions ARNs lower-case them).
CREATE UNIQUE INDEX roles_name ON roles(account_id, name COLLATE NOCASE);
CREATE TABLE policies (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE policy_versions (
    account_id  TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    created     INTEGER NOT NULL,
    PRIMARY KEY (account_id, policy_name, version),
    FOREIGN KEY (account_id, policy_name) REFERENCES policies(account_id, name)
);
CREATE TABLE attachments (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    target_kind TEXT NOT NULL CHECK (target_kind IN ('User', 'Group', 'Role')),
    target_id   TEXT NOT NULL,
    policy_type TEXT NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name TEXT NOT NULL,
    attached    INTEGER NOT NULL,
    PRIMARY KEY (account_id, target_kind, target_id, policy_type, policy_name)
);
CREATE INDEX attachments_policy ON attachments(account_id, policy_type, policy_name);
CREATE TABLE login_profiles (
    account_id              TEXT NOT NULL,
    user_id                 TEXT NOT NULL,
    password_hash           TEXT NOT NULL,
    password_reset_required INTEGER NOT NULL,
    mfa_bind_required       INTEGER NOT NULL,
    created                 INTEGER NOT NULL,
    updated                 INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id),
    FOREIGN KEY (account_id, user_id) REFERENCES users(account_id, id)
);
"#,
    // 3: STS. Token keys (AES-256-GCM keys sealed under the master key; the newest unretired one
    // seals new tokens, retired ones still open tokens until those expire) and revocations
    // (tokens of a role, or started by a user, issued before `not_before` are refused).
    r#"
CREATE TABLE token_keys (
    id         INTEGER PRIMARY KEY,
    sealed_key BLOB NOT NULL,
    created    INTEGER NOT NULL,
    retired    INTEGER
);
CREATE TABLE revocations (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind       TEXT NOT NULL CHECK (kind IN ('Role', 'User')),
    target_id  TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, target_id)
);
"#,
    // 4: the change feed. `feed` holds the newest revision (one per write transaction) and how
    // far the feed has been compacted; `changes` holds each write's entries, the entity's new row
    // (or a tombstone) as JSON, so readers apply them without reading the tables again.
    r#"
CREATE TABLE feed (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    revision          INTEGER NOT NULL,
    compacted_through INTEGER NOT NULL
);
INSERT INTO feed (id, revision, compacted_through) VALUES (1, 0, 0);
CREATE TABLE changes (
    revision   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    account_id TEXT,
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    committed  INTEGER NOT NULL,
    PRIMARY KEY (revision, seq)
) WITHOUT ROWID;
CREATE INDEX changes_committed ON changes(committed);
"#,
];
