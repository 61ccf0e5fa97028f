//! [`AccountStore`] on SQLite: tables `accounts` and `meta` (migration 1).

use super::{backend, keys::insert_key, Cached, SqliteStore};
use crate::feed::Changed;
use crate::ids::AccountId;
use crate::{AccessKeyRecord, AccountRecord, AccountStore, Entity, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

#[async_trait]
impl AccountStore for SqliteStore {
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
        self.write(move |w| {
            let n = w
                .exec(
                    "INSERT OR IGNORE INTO accounts (id, created) VALUES (?1, ?2)",
                    params![account.id.as_str(), account.created],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(Entity::Account));
            }
            insert_key(w, &key)?;
            for (k, v) in &meta {
                w.exec(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    params![k, v],
                )
                .map_err(backend)?;
            }
            let id = account.id.clone();
            w.changed(Some(&id), Changed::Account(account));
            w.changed(
                Some(&id),
                Changed::AccessKey {
                    id: key.id.clone(),
                    row: Some(key),
                },
            );
            Ok(())
        })
        .await
    }

    async fn account_exists(&self, account: &AccountId) -> StoreResult<bool> {
        let account = account.as_str().to_string();
        self.read(move |c| {
            c.row(
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

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            c.row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(backend)
        })
        .await
    }
}
