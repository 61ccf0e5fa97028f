//! RAM user groups: CreateGroup, GetGroup, UpdateGroup, ListGroups, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser, ListUsersForGroup.

use super::params::{self, marker, optional, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::{GroupId, GroupName, UserName};
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{GroupRecord, GroupUpdate};

/// Groups per account (RAM's default quota).
pub const MAX_GROUPS_PER_ACCOUNT: usize = 50;
/// Groups a user may join (RAM's default quota).
pub const MAX_GROUPS_PER_USER: usize = 5;
/// Longest `Comments`.
const MAX_COMMENTS: usize = 128;

fn group_node(g: &GroupRecord, updated: bool) -> Node {
    let mut m: Vec<(&'static str, Node)> = vec![
        ("GroupId", g.id.as_str().into()),
        ("GroupName", g.name.as_str().into()),
        ("Comments", g.comments.as_str().into()),
        ("CreateDate", timestamp::format(g.created).into()),
    ];
    if updated {
        m.push(("UpdateDate", timestamp::format(g.updated).into()));
    }
    Node::Obj(m)
}

fn group_name(call: &Call<'_>) -> Result<GroupName, ApiError> {
    params::group_name("GroupName", required(call.req, "GroupName")?)
}

fn user_name(call: &Call<'_>) -> Result<UserName, ApiError> {
    params::user_name("UserName", required(call.req, "UserName")?)
}

fn comments(call: &Call<'_>, name: &'static str) -> Result<Option<String>, ApiError> {
    optional(call.req, name)
        .map(|v| params::text(name, v, MAX_COMMENTS))
        .transpose()
}

/// `CreateGroup`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = group_name(call)?;
    let group = GroupRecord {
        account: call.principal.account().clone(),
        id: GroupId::generate(),
        name,
        comments: comments(call, "Comments")?.unwrap_or_default(),
        created: call.now,
        updated: call.now,
    };
    state
        .store
        .create_group(&group, MAX_GROUPS_PER_ACCOUNT)
        .await?;
    Ok(vec![("Group", group_node(&group, false))])
}

/// `GetGroup`.
pub async fn get(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = group_name(call)?;
    let group = state.store.group(call.principal.account(), &name).await?;
    Ok(vec![("Group", group_node(&group, true))])
}

/// `UpdateGroup`: `NewGroupName`, `NewComments`.
pub async fn update(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = group_name(call)?;
    let update = GroupUpdate {
        name: optional(call.req, "NewGroupName")
            .map(|v| params::group_name("NewGroupName", v))
            .transpose()?,
        comments: comments(call, "NewComments")?,
    };
    let group = state
        .store
        .update_group(call.principal.account(), &name, &update, call.now)
        .await?;
    Ok(vec![("Group", group_node(&group, true))])
}

/// `ListGroups`, paged with `Marker` / `MaxItems`, ordered by name.
pub async fn list(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let limit = params::max_items(call.req)?;
    let after = marker::decode(call.req)?;
    let page = state
        .store
        .list_groups(call.principal.account(), after.as_deref(), limit)
        .await?;
    Ok(marker::paged(
        &page,
        |g| g.name.as_str(),
        "Groups",
        "Group",
        |g| group_node(g, true),
    ))
}

/// `DeleteGroup`; refused while the group has members or attached policies.
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = group_name(call)?;
    state
        .store
        .delete_group(call.principal.account(), &name)
        .await?;
    Ok(vec![])
}

/// `AddUserToGroup`.
pub async fn add_user(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let group = group_name(call)?;
    let user = user_name(call)?;
    state
        .store
        .add_user_to_group(
            call.principal.account(),
            &group,
            &user,
            call.now,
            MAX_GROUPS_PER_USER,
        )
        .await?;
    Ok(vec![])
}

/// `RemoveUserFromGroup`.
pub async fn remove_user(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let group = group_name(call)?;
    let user = user_name(call)?;
    state
        .store
        .remove_user_from_group(call.principal.account(), &group, &user)
        .await?;
    Ok(vec![])
}

/// `ListGroupsForUser`: every group of the user (at most five, so never paged), with the date
/// it joined.
pub async fn list_for_user(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let user = user_name(call)?;
    let groups = state
        .store
        .groups_for_user(call.principal.account(), &user)
        .await?;
    let items = groups
        .iter()
        .map(|m| {
            Node::Obj(vec![
                ("GroupId", m.group.id.as_str().into()),
                ("GroupName", m.group.name.as_str().into()),
                ("Comments", m.group.comments.as_str().into()),
                ("JoinDate", timestamp::format(m.joined).into()),
            ])
        })
        .collect();
    Ok(vec![(
        "Groups",
        Node::List {
            item: "Group",
            items,
        },
    )])
}

/// `ListUsersForGroup`, paged with `Marker` / `MaxItems`, ordered by user name.
pub async fn list_users(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let group = group_name(call)?;
    let limit = params::max_items(call.req)?;
    let after = marker::decode(call.req)?;
    let page = state
        .store
        .users_for_group(call.principal.account(), &group, after.as_deref(), limit)
        .await?;
    Ok(marker::paged(
        &page,
        |m| m.user.name.as_str(),
        "Users",
        "User",
        |m| {
            Node::Obj(vec![
                ("UserName", m.user.name.as_str().into()),
                ("DisplayName", m.user.display_name.as_str().into()),
                ("JoinDate", timestamp::format(m.joined).into()),
            ])
        },
    ))
}
