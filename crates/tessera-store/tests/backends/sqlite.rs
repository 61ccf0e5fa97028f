//! The store contract suite against the SQLite backend, each case on a fresh database file.

use std::sync::Arc;
use tessera_store::contract::Fixture;
use tessera_store::sqlite::SqliteStore;

async fn fresh() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::create(&dir.path().join("t.db")).expect("database");
    Fixture::new(Arc::new(store), dir)
}

tessera_store::contract_tests!(fresh());
