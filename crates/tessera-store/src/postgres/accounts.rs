//! [`AccountStore`] on PostgreSQL: tables `accounts` and `meta`.

use super::{execute, get, keys::insert_key, query_opt, PgStore};
use crate::feed::Changed;
use crate::ids::AccountId;
use crate::{AccessKeyRecord, AccountRecord, AccountStore, Entity, StoreError, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl AccountStore for PgStore {
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
            Box::pin(async move {
                let n = execute(
                    &w.tx,
                    "INSERT INTO accounts (id, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&account.id.as_str(), &account.created],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::AlreadyExists(Entity::Account));
                }
                insert_key(&w.tx, &key).await?;
                for (k, v) in &meta {
                    execute(
                        &w.tx,
                        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        &[k, v],
                    )
                    .await?;
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
        })
        .await
    }

    async fn account_exists(&self, account: &AccountId) -> StoreResult<bool> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT 1 FROM accounts WHERE id = $1",
            &[&account.as_str()],
        )
        .await?;
        Ok(row.is_some())
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        match query_opt(&c, "SELECT value FROM meta WHERE key = $1", &[&key]).await? {
            Some(r) => get(&r, 0).map(Some),
            None => Ok(None),
        }
    }
}
