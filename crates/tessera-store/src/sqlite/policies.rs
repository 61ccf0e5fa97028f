//! [`PolicyStore`] on SQLite.

use super::{all, backend, exists, Cached, SqliteStore, Write};
use crate::feed::{Changed, PolicyHead};
use crate::ids::{AccountId, PolicyName};
use crate::*;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

fn policy_from_row(r: &Row<'_>) -> rusqlite::Result<CustomPolicyRecord> {
    Ok(CustomPolicyRecord {
        account: AccountId::from_trusted(r.get::<_, String>(0)?),
        name: PolicyName::from_trusted(r.get::<_, String>(1)?),
        description: r.get(2)?,
        default_version: r.get(3)?,
        created: r.get(4)?,
        updated: r.get(5)?,
    })
}

const POLICY_COLUMNS: &str = "account_id, name, description, default_version, created, updated";

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<PolicyVersionRecord> {
    Ok(PolicyVersionRecord {
        version: r.get(0)?,
        document: r.get(1)?,
        created: r.get(2)?,
    })
}

fn attachment_from_row(r: &Row<'_>) -> rusqlite::Result<Attachment> {
    let kind: String = r.get(0)?;
    let ptype: String = r.get(2)?;
    Ok(Attachment {
        // The CHECK constraints of the schema admit only these values.
        target: Target {
            kind: TargetKind::parse(&kind).unwrap_or(TargetKind::User),
            id: r.get(1)?,
        },
        policy_type: PolicyType::parse(&ptype).unwrap_or(PolicyType::Custom),
        policy_name: PolicyName::from_trusted(r.get::<_, String>(3)?),
        attached: r.get(4)?,
    })
}

const ATTACHMENT_COLUMNS: &str = "target_kind, target_id, policy_type, policy_name, attached";

fn get_policy(c: &Connection, account: &str, name: &str) -> StoreResult<CustomPolicyRecord> {
    c.row(
        &format!("SELECT {POLICY_COLUMNS} FROM policies WHERE account_id = ?1 AND name = ?2"),
        params![account, name],
        policy_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::Policy))
}

fn get_version(
    c: &Connection,
    account: &str,
    name: &str,
    version: u32,
) -> StoreResult<PolicyVersionRecord> {
    c.row(
        "SELECT version, document, created FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2 AND version = ?3",
        params![account, name, version],
        version_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound(Entity::PolicyVersion))
}

fn versions(c: &Connection, account: &str, name: &str) -> StoreResult<Vec<PolicyVersionRecord>> {
    let mut st = c
        .prepare_cached("SELECT version, document, created FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2 ORDER BY version")
        .map_err(backend)?;
    st.query_map(params![account, name], version_from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(backend)
}

fn target_exists(c: &Connection, account: &str, target: &Target) -> StoreResult<bool> {
    let table = match target.kind {
        TargetKind::User => "users",
        TargetKind::Group => "groups",
        TargetKind::Role => "roles",
    };
    c.row(
        &format!("SELECT 1 FROM {table} WHERE account_id = ?1 AND id = ?2"),
        params![account, target.id],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(backend)
}

fn target_entity(kind: TargetKind) -> Entity {
    match kind {
        TargetKind::User => Entity::User,
        TargetKind::Group => Entity::Group,
        TargetKind::Role => Entity::Role,
    }
}

/// Records the policy's state after a write to it or its versions.
fn changed_policy(w: &mut Write<'_>, account: &str, name: &str) -> StoreResult<()> {
    let record = get_policy(w, account, name)?;
    let document = get_version(w, account, name, record.default_version)?.document;
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
pub(super) fn load_all_attachments(c: &Connection) -> StoreResult<Vec<(AccountId, Attachment)>> {
    let mut st = c
        .prepare(&format!(
            "SELECT {ATTACHMENT_COLUMNS}, account_id FROM attachments"
        ))
        .map_err(backend)?;
    st.query_map([], |r| {
        Ok((
            AccountId::from_trusted(r.get::<_, String>(5)?),
            attachment_from_row(r)?,
        ))
    })
    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    .map_err(backend)
}

/// Every custom policy with its default document (for the identity snapshot).
pub(super) fn load_all_heads(c: &Connection) -> StoreResult<Vec<PolicyHead>> {
    all(
        c,
        "SELECT p.account_id, p.name, p.description, p.default_version, p.created, p.updated, v.document FROM policies p
         JOIN policy_versions v ON v.account_id = p.account_id AND v.policy_name = p.name AND v.version = p.default_version",
        |r| {
            Ok(PolicyHead {
                record: policy_from_row(r)?,
                document: r.get(6)?,
            })
        },
    )
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn create_policy(
        &self,
        policy: &CustomPolicyRecord,
        document: &str,
        max_policies: usize,
    ) -> StoreResult<()> {
        let (p, doc) = (policy.clone(), document.to_string());
        self.write(move |tx| {
            let a = p.account.as_str();
            if exists(get_policy(tx, a, p.name.as_str()))? {
                return Err(StoreError::AlreadyExists(Entity::Policy));
            }
            let count: i64 = tx.row("SELECT COUNT(*) FROM policies WHERE account_id = ?1", [a], |r| r.get(0)).map_err(backend)?;
            if count as usize >= max_policies {
                return Err(StoreError::LimitExceeded(Entity::Policy));
            }
            tx.exec(
                "INSERT INTO policies (account_id, name, description, default_version, next_version, created, updated) VALUES (?1, ?2, ?3, 1, 2, ?4, ?5)",
                params![a, p.name.as_str(), p.description, p.created, p.updated],
            )
            .map_err(backend)?;
            tx.exec(
                "INSERT INTO policy_versions (account_id, policy_name, version, document, created) VALUES (?1, ?2, 1, ?3, ?4)",
                params![a, p.name.as_str(), doc, p.created],
            )
            .map_err(backend)?;
            changed_policy(tx, a, p.name.as_str())
        })
        .await
    }

    async fn custom_policy(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, PolicyVersionRecord)> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let p = get_policy(&tx, &a, &n)?;
            let v = get_version(&tx, &a, &n, p.default_version)?;
            Ok((p, v))
        })
        .await
    }

    async fn custom_policies(&self, account: &AccountId) -> StoreResult<Vec<CustomPolicyRecord>> {
        let a = account.as_str().to_string();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {POLICY_COLUMNS} FROM policies WHERE account_id = ?1 ORDER BY name"
                ))
                .map_err(backend)?;
            st.query_map([a], policy_from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)
        })
        .await
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
        self.write(move |tx| {
            get_policy(tx, &a, &n)?;
            tx.exec("UPDATE policies SET description = ?3, updated = ?4 WHERE account_id = ?1 AND name = ?2", params![a, n, d, now]).map_err(backend)?;
            changed_policy(tx, &a, &n)?;
            get_policy(tx, &a, &n)
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
        self.write(move |tx| {
            let p = get_policy(tx, &a, &n)?;
            let kinds: Vec<String> = {
                let mut st = tx
                    .prepare_cached("SELECT DISTINCT target_kind FROM attachments WHERE account_id = ?1 AND policy_type = 'Custom' AND policy_name = ?2")
                    .map_err(backend)?;
                let rows = st.query_map(params![a, n], |r| r.get(0));
                rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(backend)?
            };
            for (kind, conflict) in [("User", PolicyInUse::User), ("Group", PolicyInUse::Group), ("Role", PolicyInUse::Role)] {
                if kinds.iter().any(|k| k == kind) {
                    return Err(StoreError::PolicyInUse(conflict));
                }
            }
            let others: i64 = tx
                .row(
                    "SELECT COUNT(*) FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2 AND version != ?3",
                    params![a, n, p.default_version],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if others > 0 && !cascade {
                return Err(StoreError::PolicyInUse(PolicyInUse::Versions));
            }
            tx.exec("DELETE FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2", params![a, n]).map_err(backend)?;
            tx.exec("DELETE FROM policies WHERE account_id = ?1 AND name = ?2", params![a, n]).map_err(backend)?;
            tx.changed(Some(&p.account), Changed::Policy { name: p.name, row: None });
            Ok(())
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
        self.write(move |tx| {
            let p = get_policy(tx, &a, &n)?;
            let existing = versions(tx, &a, &n)?;
            if existing.len() >= max_versions {
                let oldest = existing.iter().find(|v| v.version != p.default_version).map(|v| v.version);
                match (rotate, oldest) {
                    (true, Some(v)) => {
                        tx.exec("DELETE FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2 AND version = ?3", params![a, n, v])
                            .map_err(backend)?;
                    }
                    _ => return Err(StoreError::LimitExceeded(Entity::PolicyVersion)),
                }
            }
            let next: u32 = tx
                .row("SELECT next_version FROM policies WHERE account_id = ?1 AND name = ?2", params![a, n], |r| r.get(0))
                .map_err(backend)?;
            tx.exec(
                "INSERT INTO policy_versions (account_id, policy_name, version, document, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a, n, next, doc, now],
            )
            .map_err(backend)?;
            let default = if set_default { next } else { p.default_version };
            tx.exec(
                "UPDATE policies SET next_version = ?3, default_version = ?4, updated = ?5 WHERE account_id = ?1 AND name = ?2",
                params![a, n, next + 1, default, if set_default { now } else { p.updated }],
            )
            .map_err(backend)?;
            changed_policy(tx, &a, &n)?;
            Ok(PolicyVersionRecord { version: next, document: doc, created: now })
        })
        .await
    }

    async fn policy_versions(
        &self,
        account: &AccountId,
        name: &PolicyName,
    ) -> StoreResult<(CustomPolicyRecord, Vec<PolicyVersionRecord>)> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let p = get_policy(&tx, &a, &n)?;
            let v = versions(&tx, &a, &n)?;
            Ok((p, v))
        })
        .await
    }

    async fn set_default_policy_version(
        &self,
        account: &AccountId,
        name: &PolicyName,
        version: u32,
        now: i64,
    ) -> StoreResult<()> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.write(move |tx| {
            get_policy(tx, &a, &n)?;
            get_version(tx, &a, &n, version)?;
            tx.exec("UPDATE policies SET default_version = ?3, updated = ?4 WHERE account_id = ?1 AND name = ?2", params![a, n, version, now])
                .map_err(backend)?;
            changed_policy(tx, &a, &n)
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
        self.write(move |tx| {
            let p = get_policy(tx, &a, &n)?;
            get_version(tx, &a, &n, version)?;
            if p.default_version == version {
                return Err(StoreError::DefaultPolicyVersion);
            }
            tx.exec("DELETE FROM policy_versions WHERE account_id = ?1 AND policy_name = ?2 AND version = ?3", params![a, n, version])
                .map_err(backend)?;
            changed_policy(tx, &a, &n)
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
        self.write(move |tx| {
            let a = account.as_str();
            if !target_exists(tx, a, &at.target)? {
                return Err(StoreError::NotFound(target_entity(at.target.kind)));
            }
            if at.policy_type == PolicyType::Custom {
                get_policy(tx, a, at.policy_name.as_str())?;
            }
            let kind = at.target.kind.as_str();
            let already = tx
                .row(
                    "SELECT 1 FROM attachments WHERE account_id = ?1 AND target_kind = ?2 AND target_id = ?3 AND policy_type = ?4 AND policy_name = ?5",
                    params![a, kind, at.target.id, at.policy_type.as_str(), at.policy_name.as_str()],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if already {
                return Err(StoreError::AlreadyExists(Entity::Attachment(at.target.kind)));
            }
            let count: i64 = tx
                .row(
                    "SELECT COUNT(*) FROM attachments WHERE account_id = ?1 AND target_kind = ?2 AND target_id = ?3 AND policy_type = ?4",
                    params![a, kind, at.target.id, at.policy_type.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let limit = match at.policy_type {
                PolicyType::System => limits.system,
                PolicyType::Custom => limits.custom,
            };
            if count as usize >= limit {
                return Err(StoreError::LimitExceeded(Entity::Attachment(at.target.kind)));
            }
            tx.exec(
                "INSERT INTO attachments (account_id, target_kind, target_id, policy_type, policy_name, attached) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a, kind, at.target.id, at.policy_type.as_str(), at.policy_name.as_str(), at.attached],
            )
            .map_err(backend)?;
            tx.changed(
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
            let n_deleted = w
                .exec(
                    "DELETE FROM attachments WHERE account_id = ?1 AND target_kind = ?2 AND target_id = ?3 AND policy_type = ?4 AND policy_name = ?5",
                    params![account.as_str(), target.kind.as_str(), target.id, policy_type.as_str(), name.as_str()],
                )
                .map_err(backend)?;
            if n_deleted == 0 {
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
        .await
    }

    async fn attachments_of(
        &self,
        account: &AccountId,
        target: &Target,
    ) -> StoreResult<Vec<Attachment>> {
        let (a, t) = (account.as_str().to_string(), target.clone());
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE account_id = ?1 AND target_kind = ?2 AND target_id = ?3 ORDER BY attached, rowid"
                ))
                .map_err(backend)?;
            st.query_map(params![a, t.kind.as_str(), t.id], attachment_from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)
        })
        .await
    }

    async fn entities_for_policy(
        &self,
        account: &AccountId,
        policy_type: PolicyType,
        name: &PolicyName,
    ) -> StoreResult<Vec<AttachedEntity>> {
        let (a, n) = (account.as_str().to_string(), name.as_str().to_string());
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT a.target_kind, a.target_id, a.policy_type, a.policy_name, a.attached,
                            COALESCE(u.name, g.name, r.name, ''), COALESCE(u.display_name, g.comments, r.description, '')
                     FROM attachments a
                     LEFT JOIN users u ON a.target_kind = 'User' AND u.account_id = a.account_id AND u.id = a.target_id
                     LEFT JOIN groups g ON a.target_kind = 'Group' AND g.account_id = a.account_id AND g.id = a.target_id
                     LEFT JOIN roles r ON a.target_kind = 'Role' AND r.account_id = a.account_id AND r.id = a.target_id
                     WHERE a.account_id = ?1 AND a.policy_type = ?2 AND a.policy_name = ?3
                     ORDER BY a.attached, a.rowid",
                )
                .map_err(backend)?;
            st.query_map(params![a, policy_type.as_str(), n], |r| {
                Ok(AttachedEntity { attachment: attachment_from_row(r)?, name: r.get(5)?, detail: r.get(6)? })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend)
        })
        .await
    }

    async fn resolve_target(
        &self,
        account: &AccountId,
        kind: TargetKind,
        name: &str,
    ) -> StoreResult<Target> {
        let (a, n) = (account.as_str().to_string(), name.to_string());
        self.read(move |c| {
            let sql = match kind {
                TargetKind::User => "SELECT id FROM users WHERE account_id = ?1 AND name = ?2",
                TargetKind::Group => "SELECT id FROM groups WHERE account_id = ?1 AND name = ?2",
                TargetKind::Role => {
                    "SELECT id FROM roles WHERE account_id = ?1 AND name = ?2 COLLATE NOCASE"
                }
            };
            c.row(sql, params![a, n], |r| r.get::<_, String>(0))
                .optional()
                .map_err(backend)?
                .map(|id| Target { kind, id })
                .ok_or(StoreError::NotFound(target_entity(kind)))
        })
        .await
    }

    async fn all_attachments(&self, account: &AccountId) -> StoreResult<Vec<Attachment>> {
        let a = account.as_str().to_string();
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE account_id = ?1"
                ))
                .map_err(backend)?;
            st.query_map([a], attachment_from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend)
        })
        .await
    }
}
