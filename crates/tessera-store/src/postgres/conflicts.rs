//! The checks a delete makes before it removes an entity: RAM never cascades, so a user, group
//! or role that something still depends on is refused with the conflict that names it. Shared
//! by the entities' modules, which is why they live below all of them.

use super::{count, query_opt};
use crate::{Conflict, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

/// Refuses to delete a user that is still a member of a group (`DeleteUser`).
pub(super) async fn refuse_if_member<C: GenericClient>(
    c: &C,
    account: &str,
    user_id: &str,
) -> StoreResult<()> {
    let n = count(
        c,
        "SELECT COUNT(*) FROM group_members WHERE account_id = $1 AND user_id = $2",
        &[&account, &user_id],
    )
    .await?;
    if n > 0 {
        return Err(StoreError::DeleteConflict(Conflict::UserInGroup));
    }
    Ok(())
}

/// Whether any policy is attached to the entity (`kind` is the attachments table's
/// `target_kind`; `target_id` holds the entity's id, which survives renames).
pub(super) async fn has_attachments<C: GenericClient>(
    c: &C,
    account: &str,
    kind: &str,
    id: &str,
) -> StoreResult<bool> {
    let n = count(
        c,
        "SELECT COUNT(*) FROM attachments WHERE account_id = $1 AND target_kind = $2 AND target_id = $3",
        &[&account, &kind, &id],
    )
    .await?;
    Ok(n > 0)
}

/// Refuses to delete a user that still has a login profile (`DeleteUser`).
pub(super) async fn refuse_if_login_profile<C: GenericClient>(
    c: &C,
    account: &str,
    user_id: &str,
) -> StoreResult<()> {
    let found = query_opt(
        c,
        "SELECT 1 FROM login_profiles WHERE account_id = $1 AND user_id = $2",
        &[&account, &user_id],
    )
    .await?;
    if found.is_some() {
        return Err(StoreError::DeleteConflict(Conflict::UserHasLoginProfile));
    }
    Ok(())
}
