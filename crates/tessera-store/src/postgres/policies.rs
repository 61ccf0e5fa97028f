//! [`PolicyStore`] on PostgreSQL: tables `policies`, `policy_versions` and `attachments`.

use super::{
    count, db, decode, execute, exists, get, get_u32, query, query_one, query_opt, snapshot,
    PgStore, Write,
};
use crate::feed::{Changed, PolicyHead};
use crate::ids::{AccountId, PolicyName};
use crate::*;
use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;
use deadpool_postgres::GenericClient;

/// The columns [`policy_from_row`] reads, in its order.
macro_rules! policy_columns {
    () => {
        "account_id, name, description, default_version, created, updated"
    };
}

fn policy_from_row(r: &Row) -> StoreResult<CustomPolicyRecord> {
    Ok(CustomPolicyRecord {
        account: AccountId::from_trusted(get::<String>(r, 0)?),
        name: PolicyName::from_trusted(get::<String>(r, 1)?),
        description: get(r, 2)?,
        default_version: get_u32(r, 3)?,
        created: get(r, 4)?,
        updated: get(r, 5)?,
    })
}

fn version_from_row(r: &Row) -> StoreResult<PolicyVersionRecord> {
    Ok(PolicyVersionRecord {
        version: get_u32(r, 0)?,
        document: get(r, 1)?,
        created: get(r, 2)?,
    })
}

/// The columns [`attachment_from_row`] reads, in its order.
macro_rules! attachment_columns {
    () => {
        "target_kind, target_id, policy_type, policy_name, attached"
    };
}

fn attachment_from_row(r: &Row) -> StoreResult<Attachment> {
    let kind: &str = get(r, 0)?;
    let ptype: &str = get(r, 2)?;
    Ok(Attachment {
        // The CHECK constraints of the schema admit only these values.
        target: Target {
            kind: TargetKind::parse(kind).unwrap_or(TargetKind::User),
            id: get(r, 1)?,
        },
        policy_type: PolicyType::parse(ptype).unwrap_or(PolicyType::Custom),
        policy_name: PolicyName::from_trusted(get::<String>(r, 3)?),
        attached: get(r, 4)?,
    })
}

async fn get_policy<C: GenericClient>(
    c: &C,
    account: &str,
    name: &str,
) -> StoreResult<CustomPolicyRecord> {
    let row = query_opt(
        c,
        concat!(
            "SELECT ",
            policy_columns!(),
            " FROM policies WHERE account_id = $1 AND name = $2"
        ),
        &[&account, &name],
    )
    .await?;
    match row {
        Some(r) => policy_from_row(&r),
        None => Err(StoreError::NotFound(Entity::Policy)),
    }
}

async fn get_version<C: GenericClient>(
    c: &C,
    account: &str,
    name: &str,
    version: u32,
) -> StoreResult<PolicyVersionRecord> {
    let row = query_opt(
        c,
        "SELECT version, document, created FROM policy_versions WHERE account_id = $1 AND policy_name = $2 AND version = $3",
        &[&account, &name, &i64::from(version)],
    )
    .await?;
    match row {
        Some(r) => version_from_row(&r),
        None => Err(StoreError::NotFound(Entity::PolicyVersion)),
    }
}

async fn versions<C: GenericClient>(
    c: &C,
    account: &str,
    name: &str,
) -> StoreResult<Vec<PolicyVersionRecord>> {
    let rows = query(
        c,
        "SELECT version, document, created FROM policy_versions WHERE account_id = $1 AND policy_name = $2 ORDER BY version",
        &[&account, &name],
    )
    .await?;
    decode(&rows, version_from_row)
}

async fn target_exists<C: GenericClient>(
    c: &C,
    account: &str,
    target: &Target,
) -> StoreResult<bool> {
    let sql = match target.kind {
        TargetKind::User => "SELECT 1 FROM users WHERE account_id = $1 AND id = $2",
        TargetKind::Group => "SELECT 1 FROM groups WHERE account_id = $1 AND id = $2",
        TargetKind::Role => "SELECT 1 FROM roles WHERE account_id = $1 AND id = $2",
    };
    Ok(query_opt(c, sql, &[&account, &target.id]).await?.is_some())
}

fn target_entity(kind: TargetKind) -> Entity {
    match kind {
        TargetKind::User => Entity::User,
        TargetKind::Group => Entity::Group,
        TargetKind::Role => Entity::Role,
    }
}

/// Records the policy's state after a write to it or its versions.
async fn changed_policy(w: &mut Write<'_>, account: &str, name: &str) -> StoreResult<()> {
    let record = get_policy(&w.tx, account, name).await?;
    let document = get_version(&w.tx, account, name, record.default_version)
        .await?
        .document;
    let account = record.account.clone();
    w.changed(
        Some(&account),
        Changed::Policy {
            name: record.name.clone(),
            row: Some(PolicyHead { record, document }),
        },
    );
    Ok(())
}

/// Every attachment of every account (for the identity snapshot).
pub(super) async fn load_all_attachments<C: GenericClient>(
    c: &C,
) -> StoreResult<Vec<(AccountId, Attachment)>> {
    let rows = query(
        c,
        concat!(
            "SELECT ",
            attachment_columns!(),
            ", account_id FROM attachments"
        ),
        &[],
    )
    .await?;
    decode(&rows, |r| {
        Ok((
            AccountId::from_trusted(get::<String>(r, 5)?),
            attachment_from_row(r)?,
        ))
    })
}

/// Every custom policy with its default document (for the identity snapshot), in one join.
pub(super) async fn load_all_heads<C: GenericClient>(c: &C) -> StoreResult<Vec<PolicyHead>> {
    let rows = query(
        c,
        "SELECT p.account_id, p.name, p.description, p.default_version, p.created, p.updated, v.document FROM policies p
         JOIN policy_versions v ON v.account_id = p.account_id AND v.policy_name = p.name AND v.version = p.default_version",
        &[],
    )
    .await?;
    decode(&rows, |r| {
        Ok(PolicyHead {
            record: policy_from_row(r)?,
            document: get(r, 6)?,
        })
    })
}

#[async_trait]
impl PolicyStore for PgStore {
    async fn create_policy(
        &self,
        policy: &CustomPolicyRecord,
        document: &str,
        max_policies: usize,
    ) -> StoreResult<()> {
        let (p, doc) = (policy.clone(), document.to_string());
        self.write(move |w| {
            Box::pin(async move {
                let a = p.account.as_str();
                if exists(get_policy(&w.tx, a, p.name.as_str()).await)? {
                    return Err(StoreError::AlreadyExists(Entity::Policy));
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM policies WHERE account_id = $1",
                    &[&a],
                )
                .await?;
                if n >= max_policies {
                    return Err(StoreError::LimitExceeded(Entity::Policy));
                }
                execute(
                    &w.tx,
                    "INSERT INTO policies (account_id, name, description, default_version, next_version, created, updated) VALUES ($1, $2, $3, 1, 2, $4, $5)",
                    &[&a, &p.name.as_str(), &p.description, &p.created, &p.updated],
                )
                .await?;
                execute(
                    &w.tx,
                    "INSERT INTO policy_versions (account_id, policy_name, version, document, created) VALUES ($1, $2, 1, $3, $4)",
                    &[&a, &p.name.as_str(), &doc, &p.created],
                )
                .await?;
                changed_policy(w, a, p.name.as_str()).await
            })
        })
        .await
    }

    async fn custom_policy(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, PolicyVersionRecord)> {
        let (a, n) = (account.as_str(), name.as_str());
        let mut c = self.client().await?;
        let tx = snapshot(&mut c).await?;
        let p = get_policy(&tx, a, n).await?;
        let v = get_version(&tx, a, n, p.default_version).await?;
        tx.commit().await.map_err(db)?;
        Ok((p, v))
    }

    async fn custom_policies(&self, account: &AccountId) -> StoreResult<Vec<CustomPolicyRecord>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            concat!(
                "SELECT ",
                policy_columns!(),
                " FROM policies WHERE account_id = $1 ORDER BY name"
            ),
            &[&account.as_str()],
        )
        .await?;
        decode(&rows, policy_from_row)
    }

    async fn update_policy_description(
        &self,
        account: &AccountId,
        name: &PolicyName,
        description: &str,
        now: i64,
    ) -> StoreResult<CustomPolicyRecord> {
        let (a, n, d) = (
            account.as_str().to_string(),
            name.as_str().to_string(),
            description.to_string(),
        );
        self.write(move |w| {
            Box::pin(async move {
                get_policy(&w.tx, &a, &n).await?;
                execute(
                    &w.tx,
                    "UPDATE policies SET description = $3, updated = $4 WHERE account_id = $1 AND name = $2",
                    &[&a, &n, &d, &now],
                )
                .await?;
                changed_policy(w, &a, &n).await?;
                get_policy(&w.tx, &a, &n).await
            })
        })
        .await
    }

    async fn delete_policy(
        &self,
        account: &AccountId,
        name: &PolicyName,
        cascade: bool,
    ) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let p = get_policy(&w.tx, &a, &n).await?;
                let rows = query(
                    &w.tx,
                    "SELECT DISTINCT target_kind FROM attachments WHERE account_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
                    &[&a, &n],
                )
                .await?;
                let kinds = decode(&rows, |r| get::<String>(r, 0))?;
                for (kind, conflict) in [
                    ("User", PolicyInUse::User),
                    ("Group", PolicyInUse::Group),
                    ("Role", PolicyInUse::Role),
                ] {
                    if kinds.iter().any(|k| k == kind) {
                        return Err(StoreError::PolicyInUse(conflict));
                    }
                }
                let others = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM policy_versions WHERE account_id = $1 AND policy_name = $2 AND version != $3",
                    &[&a, &n, &i64::from(p.default_version)],
                )
                .await?;
                if others > 0 && !cascade {
                    return Err(StoreError::PolicyInUse(PolicyInUse::Versions));
                }
                execute(
                    &w.tx,
                    "DELETE FROM policy_versions WHERE account_id = $1 AND policy_name = $2",
                    &[&a, &n],
                )
                .await?;
                execute(
                    &w.tx,
                    "DELETE FROM policies WHERE account_id = $1 AND name = $2",
                    &[&a, &n],
                )
                .await?;
                w.changed(
                    Some(&p.account),
                    Changed::Policy {
                        name: p.name,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn create_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        new: &NewPolicyVersion,
    ) -> StoreResult<PolicyVersionRecord> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        let NewPolicyVersion {
            document: doc,
            set_default,
            rotate,
            max_versions,
            now,
        } = new.clone();
        self.write(move |w| {
            Box::pin(async move {
                let p = get_policy(&w.tx, &a, &n).await?;
                let existing = versions(&w.tx, &a, &n).await?;
                if existing.len() >= max_versions {
                    let oldest = existing
                        .iter()
                        .find(|v| v.version != p.default_version)
                        .map(|v| v.version);
                    match (rotate, oldest) {
                        (true, Some(v)) => {
                            execute(
                                &w.tx,
                                "DELETE FROM policy_versions WHERE account_id = $1 AND policy_name = $2 AND version = $3",
                                &[&a, &n, &i64::from(v)],
                            )
                            .await?;
                        }
                        _ => return Err(StoreError::LimitExceeded(Entity::PolicyVersion)),
                    }
                }
                let row = query_one(
                    &w.tx,
                    "SELECT next_version FROM policies WHERE account_id = $1 AND name = $2",
                    &[&a, &n],
                )
                .await?;
                let next = get_u32(&row, 0)?;
                execute(
                    &w.tx,
                    "INSERT INTO policy_versions (account_id, policy_name, version, document, created) VALUES ($1, $2, $3, $4, $5)",
                    &[&a, &n, &i64::from(next), &doc, &now],
                )
                .await?;
                let default = if set_default { next } else { p.default_version };
                execute(
                    &w.tx,
                    "UPDATE policies SET next_version = $3, default_version = $4, updated = $5 WHERE account_id = $1 AND name = $2",
                    &[
                        &a,
                        &n,
                        &(i64::from(next) + 1),
                        &i64::from(default),
                        &if set_default { now } else { p.updated },
                    ],
                )
                .await?;
                changed_policy(w, &a, &n).await?;
                Ok(PolicyVersionRecord {
                    version: next,
                    document: doc,
                    created: now,
                })
            })
        })
        .await
    }

    async fn policy_versions(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, Vec<PolicyVersionRecord>)> {
        let (a, n) = (account.as_str(), name.as_str());
        let mut c = self.client().await?;
        let tx = snapshot(&mut c).await?;
        let p = get_policy(&tx, a, n).await?;
        let v = versions(&tx, a, n).await?;
        tx.commit().await.map_err(db)?;
        Ok((p, v))
    }

    async fn set_default_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        version: u32,
        now: i64,
    ) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                get_policy(&w.tx, &a, &n).await?;
                get_version(&w.tx, &a, &n, version).await?;
                execute(
                    &w.tx,
                    "UPDATE policies SET default_version = $3, updated = $4 WHERE account_id = $1 AND name = $2",
                    &[&a, &n, &i64::from(version), &now],
                )
                .await?;
                changed_policy(w, &a, &n).await
            })
        })
        .await
    }

    async fn delete_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        version: u32,
    ) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |w| {
            Box::pin(async move {
                let p = get_policy(&w.tx, &a, &n).await?;
                get_version(&w.tx, &a, &n, version).await?;
                if p.default_version == version {
                    return Err(StoreError::DefaultPolicyVersion);
                }
                execute(
                    &w.tx,
                    "DELETE FROM policy_versions WHERE account_id = $1 AND policy_name = $2 AND version = $3",
                    &[&a, &n, &i64::from(version)],
                )
                .await?;
                changed_policy(w, &a, &n).await
            })
        })
        .await
    }

    async fn attach_policy(
        &self,
        account: &AccountId,
        attachment: &Attachment,
        limits: AttachLimits,
    ) -> StoreResult<()> {
        let (account, at) = (account.clone(), attachment.clone());
        self.write(move |w| {
            Box::pin(async move {
                let a = account.as_str();
                if !target_exists(&w.tx, a, &at.target).await? {
                    return Err(StoreError::NotFound(target_entity(at.target.kind)));
                }
                if at.policy_type == PolicyType::Custom {
                    get_policy(&w.tx, a, at.policy_name.as_str()).await?;
                }
                let kind = at.target.kind.as_str();
                let already = query_opt(
                    &w.tx,
                    "SELECT 1 FROM attachments WHERE account_id = $1 AND target_kind = $2 AND target_id = $3 AND policy_type = $4 AND policy_name = $5",
                    &[&a, &kind, &at.target.id, &at.policy_type.as_str(), &at.policy_name.as_str()],
                )
                .await?;
                if already.is_some() {
                    return Err(StoreError::AlreadyExists(Entity::Attachment(at.target.kind)));
                }
                let n = count(
                    &w.tx,
                    "SELECT COUNT(*) FROM attachments WHERE account_id = $1 AND target_kind = $2 AND target_id = $3 AND policy_type = $4",
                    &[&a, &kind, &at.target.id, &at.policy_type.as_str()],
                )
                .await?;
                let limit = match at.policy_type {
                    PolicyType::System => limits.system,
                    PolicyType::Custom => limits.custom,
                };
                if n >= limit {
                    return Err(StoreError::LimitExceeded(Entity::Attachment(at.target.kind)));
                }
                // The key has no name of its own to map a unique violation from: a conflict
                // that got past the check above is told apart by the row count instead.
                let inserted = execute(
                    &w.tx,
                    "INSERT INTO attachments (account_id, target_kind, target_id, policy_type, policy_name, attached) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[&a, &kind, &at.target.id, &at.policy_type.as_str(), &at.policy_name.as_str(), &at.attached],
                )
                .await?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyExists(Entity::Attachment(at.target.kind)));
                }
                w.changed(
                    Some(&account),
                    Changed::Attachment {
                        target: at.target.clone(),
                        policy_type: at.policy_type,
                        policy_name: at.policy_name.clone(),
                        row: Some(at),
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn detach_policy(
        &self,
        account: &AccountId,
        target: &Target,
        policy_type: PolicyType,
        name: &PolicyName,
    ) -> StoreResult<()> {
        let (account, target, name) = (account.clone(), target.clone(), name.clone());
        self.write(move |w| {
            Box::pin(async move {
                let n = execute(
                    &w.tx,
                    "DELETE FROM attachments WHERE account_id = $1 AND target_kind = $2 AND target_id = $3 AND policy_type = $4 AND policy_name = $5",
                    &[&account.as_str(), &target.kind.as_str(), &target.id, &policy_type.as_str(), &name.as_str()],
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::NotFound(Entity::Attachment(target.kind)));
                }
                w.changed(
                    Some(&account),
                    Changed::Attachment {
                        target,
                        policy_type,
                        policy_name: name,
                        row: None,
                    },
                );
                Ok(())
            })
        })
        .await
    }

    async fn attachments_of(
        &self,
        account: &AccountId,
        target: &Target,
    ) -> StoreResult<Vec<Attachment>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            concat!(
                "SELECT ",
                attachment_columns!(),
                " FROM attachments WHERE account_id = $1 AND target_kind = $2 AND target_id = $3 ORDER BY attached, seq"
            ),
            &[&account.as_str(), &target.kind.as_str(), &target.id],
        )
        .await?;
        decode(&rows, attachment_from_row)
    }

    async fn entities_for_policy(
        &self,
        account: &AccountId,
        policy_type: PolicyType,
        name: &PolicyName,
    ) -> StoreResult<Vec<AttachedEntity>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT a.target_kind, a.target_id, a.policy_type, a.policy_name, a.attached,
                    COALESCE(u.name, g.name, r.name, ''), COALESCE(u.display_name, g.comments, r.description, '')
             FROM attachments a
             LEFT JOIN users u ON a.target_kind = 'User' AND u.account_id = a.account_id AND u.id = a.target_id
             LEFT JOIN groups g ON a.target_kind = 'Group' AND g.account_id = a.account_id AND g.id = a.target_id
             LEFT JOIN roles r ON a.target_kind = 'Role' AND r.account_id = a.account_id AND r.id = a.target_id
             WHERE a.account_id = $1 AND a.policy_type = $2 AND a.policy_name = $3
             ORDER BY a.attached, a.seq",
            &[&account.as_str(), &policy_type.as_str(), &name.as_str()],
        )
        .await?;
        decode(&rows, |r| {
            Ok(AttachedEntity {
                attachment: attachment_from_row(r)?,
                name: get(r, 5)?,
                detail: get(r, 6)?,
            })
        })
    }

    async fn resolve_target(
        &self,
        account: &AccountId,
        kind: TargetKind,
        name: &str,
    ) -> StoreResult<Target> {
        let sql = match kind {
            TargetKind::User => "SELECT id FROM users WHERE account_id = $1 AND name = $2",
            TargetKind::Group => "SELECT id FROM groups WHERE account_id = $1 AND name = $2",
            // As roles.rs looks roles up: the unique index's expression.
            TargetKind::Role => {
                r#"SELECT id FROM roles WHERE account_id = $1 AND lower(name) = lower($2::text COLLATE "C")"#
            }
        };
        let c = self.client().await?;
        match query_opt(&c, sql, &[&account.as_str(), &name]).await? {
            Some(r) => Ok(Target {
                kind,
                id: get(&r, 0)?,
            }),
            None => Err(StoreError::NotFound(target_entity(kind))),
        }
    }

    async fn all_attachments(&self, account: &AccountId) -> StoreResult<Vec<Attachment>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            concat!(
                "SELECT ",
                attachment_columns!(),
                " FROM attachments WHERE account_id = $1"
            ),
            &[&account.as_str()],
        )
        .await?;
        decode(&rows, attachment_from_row)
    }
}
