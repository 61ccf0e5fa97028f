//! [`TokenStore`] on PostgreSQL: tables `token_keys` and `revocations`.

use super::{decode, get, get_u32, query, query_one, PgStore};
use crate::feed::{Changed, RevocationRecord};
use crate::ids::AccountId;
use crate::{StoreResult, Target, TargetKind, TokenKeyRecord, TokenStore};
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`token_key_from_row`] reads, in its order.
macro_rules! token_key_columns {
    () => {
        "id, sealed_key, created, retired"
    };
}

fn token_key_from_row(r: &Row) -> StoreResult<TokenKeyRecord> {
    Ok(TokenKeyRecord {
        id: get_u32(r, 0)?,
        sealed_key: get(r, 1)?,
        created: get(r, 2)?,
        retired: get(r, 3)?,
    })
}

/// Every token key, oldest first.
pub(super) async fn load_all_token_keys<C: GenericClient>(
    c: &C,
) -> StoreResult<Vec<TokenKeyRecord>> {
    let rows = query(
        c,
        concat!(
            "SELECT ",
            token_key_columns!(),
            " FROM token_keys ORDER BY id"
        ),
        &[],
    )
    .await?;
    decode(&rows, token_key_from_row)
}

/// The columns [`revocation_from_row`] reads, in its order.
macro_rules! revocation_columns {
    () => {
        "account_id, kind, target_id, not_before"
    };
}

fn revocation_from_row(r: &Row) -> StoreResult<RevocationRecord> {
    let kind: &str = get(r, 1)?;
    Ok(RevocationRecord {
        account: AccountId::from_trusted(get::<String>(r, 0)?),
        // The schema's CHECK admits only Role and User.
        kind: TargetKind::parse(kind).unwrap_or(TargetKind::Role),
        target: get(r, 2)?,
        not_before: get(r, 3)?,
    })
}

/// Every revocation (for the identity snapshot).
pub(super) async fn load_all_revocations<C: GenericClient>(
    c: &C,
) -> StoreResult<Vec<RevocationRecord>> {
    let rows = query(
        c,
        concat!("SELECT ", revocation_columns!(), " FROM revocations"),
        &[],
    )
    .await?;
    decode(&rows, revocation_from_row)
}

#[async_trait]
impl TokenStore for PgStore {
    async fn add_token_key(&self, sealed_key: &[u8], now: i64) -> StoreResult<u32> {
        let sealed = sealed_key.to_vec();
        self.write(move |w| {
            Box::pin(async move {
                let rows = query(
                    &w.tx,
                    concat!(
                        "UPDATE token_keys SET retired = $1 WHERE retired IS NULL RETURNING ",
                        token_key_columns!()
                    ),
                    &[&now],
                )
                .await?;
                let mut retired = decode(&rows, token_key_from_row)?;
                retired.sort_by_key(|k| k.id);
                // The next id after the newest, as SQLite assigns a rowid; the feed lock keeps
                // two writers from taking the same one, and no sequence leaves gaps.
                let row = query_one(
                    &w.tx,
                    "INSERT INTO token_keys (id, sealed_key, created) SELECT COALESCE(MAX(id), 0) + 1, $1, $2 FROM token_keys RETURNING id",
                    &[&sealed, &now],
                )
                .await?;
                let id = get_u32(&row, 0)?;
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
        })
        .await
    }

    async fn token_keys(&self) -> StoreResult<Vec<TokenKeyRecord>> {
        let c = self.client().await?;
        load_all_token_keys(&c).await
    }

    async fn drop_token_keys_retired_before(&self, cutoff: i64) -> StoreResult<usize> {
        self.write(move |w| {
            Box::pin(async move {
                let rows = query(
                    &w.tx,
                    "DELETE FROM token_keys WHERE retired IS NOT NULL AND retired < $1 RETURNING id",
                    &[&cutoff],
                )
                .await?;
                let mut dropped = decode(&rows, |r| get_u32(r, 0))?;
                dropped.sort_unstable();
                for id in &dropped {
                    w.changed(None, Changed::TokenKey { id: *id, row: None });
                }
                Ok(dropped.len())
            })
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
            Box::pin(async move {
                let row = query_one(
                    &w.tx,
                    concat!(
                        "INSERT INTO revocations (account_id, kind, target_id, not_before) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (account_id, kind, target_id) DO UPDATE SET not_before = GREATEST(revocations.not_before, excluded.not_before)
                         RETURNING ",
                        revocation_columns!()
                    ),
                    &[&a.as_str(), &t.kind.as_str(), &t.id, &not_before],
                )
                .await?;
                let record = revocation_from_row(&row)?;
                w.changed(Some(&a), Changed::Revocation(record));
                Ok(())
            })
        })
        .await
    }
}
