//! The checks a delete makes before it removes an entity: RAM never cascades, so a user, group
//! or role that something still depends on is refused with the conflict that names it. Shared
//! by the entities' modules, which is why they live below all of them.

use super::backend;
use super::Cached;
use crate::{Conflict, StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension};

fn count(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<usize> {
    let n: i64 = c.row(sql, p, |r| r.get(0)).map_err(backend)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Refuses to delete a user that is still a member of a group (`DeleteUser`).
pub(super) fn refuse_if_member(c: &Connection, account: &str, user_id: &str) -> StoreResult<()> {
    let n = count(
        c,
        "SELECT COUNT(*) FROM group_members WHERE account_id = ?1 AND user_id = ?2",
        params![account, user_id],
    )?;
    if n > 0 {
        return Err(StoreError::DeleteConflict(Conflict::UserInGroup));
    }
    Ok(())
}

/// Whether any policy is attached to the entity (`kind` is the attachments table's
/// `target_kind`; `target_id` holds the entity's id, which survives renames).
pub(super) fn has_attachments(
    c: &Connection,
    account: &str,
    kind: &str,
    id: &str,
) -> StoreResult<bool> {
    let n = count(
        c,
        "SELECT COUNT(*) FROM attachments WHERE account_id = ?1 AND target_kind = ?2 AND target_id = ?3",
        params![account, kind, id],
    )?;
    Ok(n > 0)
}

/// Refuses to delete a user that still has a login profile (`DeleteUser`).
pub(super) fn refuse_if_login_profile(
    c: &Connection,
    account: &str,
    user_id: &str,
) -> StoreResult<()> {
    let exists = c
        .row(
            "SELECT 1 FROM login_profiles WHERE account_id = ?1 AND user_id = ?2",
            params![account, user_id],
            |_| Ok(()),
        )
        .optional()
        .map_err(backend)?
        .is_some();
    if exists {
        return Err(StoreError::DeleteConflict(Conflict::UserHasLoginProfile));
    }
    Ok(())
}
