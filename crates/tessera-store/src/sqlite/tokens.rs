//! [`TokenStore`] on SQLite: tables `token_keys` and `revocations` (migration 3).

use super::{all, backend, Cached, SqliteStore};
use crate::feed::{Changed, RevocationRecord};
use crate::ids::AccountId;
use crate::{StoreResult, Target, TargetKind, TokenKeyRecord, TokenStore};
use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

fn token_key_from_row(r: &Row<'_>) -> rusqlite::Result<TokenKeyRecord> {
    Ok(TokenKeyRecord {
        id: r.get(0)?,
        sealed_key: r.get(1)?,
        created: r.get(2)?,
        retired: r.get(3)?,
    })
}

const TOKEN_KEY_COLUMNS: &str = "id, sealed_key, created, retired";

/// Every token key, oldest first.
pub(super) fn load_all_token_keys(c: &Connection) -> StoreResult<Vec<TokenKeyRecord>> {
    all(
        c,
        &format!("SELECT {TOKEN_KEY_COLUMNS} FROM token_keys ORDER BY id"),
        token_key_from_row,
    )
}

fn revocation_from_row(r: &Row<'_>) -> rusqlite::Result<RevocationRecord> {
    let kind: String = r.get(1)?;
    Ok(RevocationRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        // The schema's CHECK admits only Role and User.
        kind: TargetKind::parse(&kind).unwrap_or(TargetKind::Role),
        target: r.get(2)?,
        not_before: r.get(3)?,
    })
}

const REVOCATION_COLUMNS: &str = "account_id, kind, target_id, not_before";

/// Every revocation (for the identity snapshot).
pub(super) fn load_all_revocations(c: &Connection) -> StoreResult<Vec<RevocationRecord>> {
    all(
        c,
        &format!("SELECT {REVOCATION_COLUMNS} FROM revocations"),
        revocation_from_row,
    )
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn add_token_key(&self, sealed_key: &[u8], now: i64) -> StoreResult<u32> {
        let sealed = sealed_key.to_vec();
        self.write(move |w| {
            let retiring = load_all_token_keys(w)?
                .into_iter()
                .filter(|k| k.retired.is_none());
            let mut retired = Vec::new();
            for mut k in retiring {
                k.retired = Some(now);
                retired.push(k);
            }
            w.exec(
                "UPDATE token_keys SET retired = ?1 WHERE retired IS NULL",
                [now],
            )
            .map_err(backend)?;
            w.exec(
                "INSERT INTO token_keys (sealed_key, created) VALUES (?1, ?2)",
                params![sealed, now],
            )
            .map_err(backend)?;
            let id = u32::try_from(w.last_insert_rowid())
                .map_err(|_| backend(anyhow::anyhow!("token key ids are exhausted")))?;
            for k in retired {
                w.changed(
                    None,
                    Changed::TokenKey {
                        id: k.id,
                        row: Some(k),
                    },
                );
            }
            w.changed(
                None,
                Changed::TokenKey {
                    id,
                    row: Some(TokenKeyRecord {
                        id,
                        sealed_key: sealed,
                        created: now,
                        retired: None,
                    }),
                },
            );
            Ok(id)
        })
        .await
    }

    async fn token_keys(&self) -> StoreResult<Vec<TokenKeyRecord>> {
        self.read(|c| load_all_token_keys(c)).await
    }

    async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize> {
        self.write(move |w| {
            let dropped: Vec<u32> = load_all_token_keys(w)?
                .into_iter()
                .filter(|k| k.retired.is_some_and(|r| r < cutoff))
                .map(|k| k.id)
                .collect();
            w.exec(
                "DELETE FROM token_keys WHERE retired IS NOT NULL AND retired < ?1",
                [cutoff],
            )
            .map_err(backend)?;
            for id in &dropped {
                w.changed(None, Changed::TokenKey { id: *id, row: None });
            }
            Ok(dropped.len())
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        account: &AccountId,
        target: &Target,
        not_before: i64,
    ) -> StoreResult<()> {
        let (a, t) = (account.clone(), target.clone());
        self.write(move |w| {
            let record = w
                .row(
                    &format!("INSERT INTO revocations (account_id, kind, target_id, not_before) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, kind, target_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)
                     RETURNING {REVOCATION_COLUMNS}"),
                    params![a.as_str(), t.kind.as_str(), t.id, not_before],
                    revocation_from_row,
                )
                .map_err(backend)?;
            w.changed(Some(&a), Changed::Revocation(record));
            Ok(())
        })
        .await
    }
}
