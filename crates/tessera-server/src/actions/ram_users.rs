//! RAM users: CreateUser, GetUser, UpdateUser, ListUsers, DeleteUser.

use super::params::{self, marker, optional, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::UserId;
use crate::state::AppState;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{UserRecord, UserUpdate};

/// Users per account (RAM's default quota).
pub const MAX_USERS_PER_ACCOUNT: usize = 1000;

fn user_node(u: &UserRecord, detail: bool) -> Node {
    let mut m: Vec<(&'static str, Node)> = vec![
        ("UserId", u.id.as_str().into()),
        ("UserName", u.name.as_str().into()),
        ("DisplayName", u.display_name.as_str().into()),
        ("MobilePhone", u.mobile_phone.as_str().into()),
        ("Email", u.email.as_str().into()),
        ("Comments", u.comments.as_str().into()),
        ("CreateDate", timestamp::format(u.created).into()),
    ];
    if detail {
        m.push(("UpdateDate", timestamp::format(u.updated).into()));
    }
    Node::Obj(m)
}

fn optional_field<T>(
    call: &Call<'_>,
    name: &'static str,
    parse: impl Fn(&'static str, &str) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    optional(call.req, name).map(|v| parse(name, v)).transpose()
}

fn text_field(max: usize) -> impl Fn(&'static str, &str) -> Result<String, ApiError> {
    move |name, v| params::text(name, v, max)
}

/// `CreateUser`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = params::user_name("UserName", required(call.req, "UserName")?)?;
    let user = UserRecord {
        account: call.principal.account().clone(),
        id: UserId::generate(),
        name,
        display_name: optional_field(call, "DisplayName", text_field(128))?.unwrap_or_default(),
        mobile_phone: optional_field(call, "MobilePhone", params::mobile_phone)?
            .unwrap_or_default(),
        email: optional_field(call, "Email", params::email)?.unwrap_or_default(),
        comments: optional_field(call, "Comments", text_field(128))?.unwrap_or_default(),
        created: call.now,
        updated: call.now,
    };
    state
        .store
        .create_user(&user, MAX_USERS_PER_ACCOUNT)
        .await?;
    Ok(vec![("User", user_node(&user, false))])
}

/// `GetUser`.
pub async fn get(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = params::user_name("UserName", required(call.req, "UserName")?)?;
    let user = state.store.user(call.principal.account(), &name).await?;
    Ok(vec![("User", user_node(&user, true))])
}

/// `UpdateUser`.
pub async fn update(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = params::user_name("UserName", required(call.req, "UserName")?)?;
    let update = UserUpdate {
        name: optional_field(call, "NewUserName", params::user_name)?,
        display_name: optional_field(call, "NewDisplayName", text_field(128))?,
        mobile_phone: optional_field(call, "NewMobilePhone", params::mobile_phone)?,
        email: optional_field(call, "NewEmail", params::email)?,
        comments: optional_field(call, "NewComments", text_field(128))?,
    };
    let user = state
        .store
        .update_user(call.principal.account(), &name, &update, call.now)
        .await?;
    Ok(vec![("User", user_node(&user, true))])
}

/// `ListUsers`, paged with `Marker` / `MaxItems`.
pub async fn list(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let limit = params::max_items(call.req)?;
    let after = marker::decode(call.req)?;
    let page = state
        .store
        .list_users(call.principal.account(), after.as_deref(), limit)
        .await?;
    Ok(marker::paged(
        &page,
        |u| u.name.as_str(),
        "Users",
        "User",
        |u| user_node(u, true),
    ))
}

/// `DeleteUser`; refused while the user has AccessKeys.
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = params::user_name("UserName", required(call.req, "UserName")?)?;
    state
        .store
        .delete_user(call.principal.account(), &name)
        .await?;
    Ok(vec![])
}
