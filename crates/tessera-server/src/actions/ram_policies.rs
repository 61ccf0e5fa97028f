//! RAM policies and their versions: CreatePolicy, GetPolicy, UpdatePolicyDescription,
//! ListPolicies, DeletePolicy, CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//! SetDefaultPolicyVersion, DeletePolicyVersion, ListEntitiesForPolicy. System policies come from
//! [`crate::system_policies`] and are read-only.

use super::params::{self, marker, optional, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::ids::{arn, PolicyName};
use crate::policy_docs;
use crate::state::AppState;
use crate::system_policies::{self, SystemPolicy};
use std::collections::HashMap;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{
    CustomPolicyRecord, NewPolicyVersion, PolicyType, PolicyVersionRecord, TargetKind,
};

/// Custom policies per account (RAM's default quota).
pub const MAX_POLICIES_PER_ACCOUNT: usize = 1500;
/// Versions per custom policy.
pub const MAX_VERSIONS: usize = 5;

fn version_name(v: u32) -> String {
    format!("v{v}")
}

/// The columns every policy summary shares; `extra` goes before the dates.
fn policy_node(
    name: &str,
    ptype: PolicyType,
    description: &str,
    default_version: String,
    created: i64,
    updated: i64,
    extra: Vec<(&'static str, Node)>,
) -> Node {
    let mut m: Vec<(&'static str, Node)> = vec![
        ("PolicyName", name.into()),
        ("PolicyType", ptype.as_str().into()),
        ("Description", description.into()),
        ("DefaultVersion", default_version.into()),
    ];
    m.extend(extra);
    m.push(("CreateDate", timestamp::format(created).into()));
    m.push(("UpdateDate", timestamp::format(updated).into()));
    Node::Obj(m)
}

fn version_node(version: String, is_default: bool, document: &str, created: i64) -> Node {
    Node::Obj(vec![
        ("VersionId", version.into()),
        ("IsDefaultVersion", Node::Bool(is_default)),
        ("PolicyDocument", document.into()),
        ("CreateDate", timestamp::format(created).into()),
    ])
}

fn system(name: &PolicyName) -> Result<&'static SystemPolicy, ApiError> {
    system_policies::find(name.as_str()).ok_or(ApiError::PolicyNotFound)
}

fn name_param(call: &Call<'_>) -> Result<PolicyName, ApiError> {
    params::policy_name("PolicyName", required(call.req, "PolicyName")?)
}

fn type_param(call: &Call<'_>) -> Result<PolicyType, ApiError> {
    params::policy_type(required(call.req, "PolicyType")?)
}

async fn attachment_count(
    state: &AppState,
    call: &Call<'_>,
    ptype: PolicyType,
    name: &PolicyName,
) -> Result<i64, ApiError> {
    Ok(state
        .store
        .entities_for_policy(call.principal.account(), ptype, name)
        .await?
        .len() as i64)
}

/// `CreatePolicy`.
pub async fn create(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let document = required(call.req, "PolicyDocument")?;
    let description = optional(call.req, "Description")
        .map(|d| params::text("Description", d, 1024))
        .transpose()?
        .unwrap_or_default();
    policy_docs::custom("PolicyDocument", document)?;
    let record = CustomPolicyRecord {
        account: call.principal.account().clone(),
        name,
        description,
        default_version: 1,
        created: call.now,
        updated: call.now,
    };
    state
        .store
        .create_policy(&record, document, MAX_POLICIES_PER_ACCOUNT)
        .await?;
    Ok(vec![(
        "Policy",
        Node::Obj(vec![
            ("PolicyName", record.name.as_str().into()),
            ("PolicyType", "Custom".into()),
            ("Description", record.description.as_str().into()),
            ("DefaultVersion", version_name(1).into()),
            ("CreateDate", timestamp::format(record.created).into()),
        ]),
    )])
}

/// `GetPolicy`.
pub async fn get(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let ptype = type_param(call)?;
    let count = Node::Int(attachment_count(state, call, ptype, &name).await?);
    let (policy, default) = match ptype {
        PolicyType::System => {
            let p = system(&name)?;
            let extra = vec![
                ("PolicyDocument", p.document.into()),
                ("AttachmentCount", count),
            ];
            (
                policy_node(
                    p.name,
                    ptype,
                    p.description,
                    p.version.to_string(),
                    p.created,
                    p.created,
                    extra,
                ),
                version_node(p.version.to_string(), true, p.document, p.created),
            )
        }
        PolicyType::Custom => {
            let (p, v) = state
                .store
                .custom_policy(call.principal.account(), &name)
                .await?;
            let extra = vec![
                ("PolicyDocument", v.document.as_str().into()),
                ("AttachmentCount", count),
            ];
            (
                policy_node(
                    p.name.as_str(),
                    ptype,
                    &p.description,
                    version_name(p.default_version),
                    p.created,
                    p.updated,
                    extra,
                ),
                version_node(version_name(v.version), true, &v.document, v.created),
            )
        }
    };
    Ok(vec![("Policy", policy), ("DefaultPolicyVersion", default)])
}

/// `UpdatePolicyDescription` (custom policies only).
pub async fn update_description(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let description = params::text(
        "NewDescription",
        optional(call.req, "NewDescription").unwrap_or(""),
        1024,
    )?;
    let p = state
        .store
        .update_policy_description(call.principal.account(), &name, &description, call.now)
        .await?;
    Ok(vec![(
        "Policy",
        policy_node(
            p.name.as_str(),
            PolicyType::Custom,
            &p.description,
            version_name(p.default_version),
            p.created,
            p.updated,
            vec![],
        ),
    )])
}

/// `ListPolicies`: system policies, then custom ones, each by name; filtered by `PolicyType`.
pub async fn list(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let filter = optional(call.req, "PolicyType")
        .map(params::policy_type)
        .transpose()?;
    let limit = params::max_items(call.req)?;
    let after = marker::decode(call.req)?;
    let account = call.principal.account();

    let mut counts: HashMap<(PolicyType, String), i64> = HashMap::new();
    for a in state.store.all_attachments(account).await? {
        *counts
            .entry((a.policy_type, a.policy_name.as_str().to_string()))
            .or_default() += 1;
    }
    let count =
        |t: PolicyType, n: &str| Node::Int(counts.get(&(t, n.to_string())).copied().unwrap_or(0));

    // (sort key, node): the key orders system before custom and doubles as the marker.
    let mut all: Vec<(String, Node)> = Vec::new();
    if filter != Some(PolicyType::Custom) {
        for p in system_policies::ALL {
            let node = policy_node(
                p.name,
                PolicyType::System,
                p.description,
                p.version.into(),
                p.created,
                p.created,
                vec![("AttachmentCount", count(PolicyType::System, p.name))],
            );
            all.push((format!("0:{}", p.name), node));
        }
    }
    if filter != Some(PolicyType::System) {
        for p in state.store.custom_policies(account).await? {
            let extra = vec![(
                "AttachmentCount",
                count(PolicyType::Custom, p.name.as_str()),
            )];
            let node = policy_node(
                p.name.as_str(),
                PolicyType::Custom,
                &p.description,
                version_name(p.default_version),
                p.created,
                p.updated,
                extra,
            );
            all.push((format!("1:{}", p.name), node));
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match &after {
        Some(m) => all.partition_point(|(k, _)| k.as_str() <= m.as_str()),
        None => 0,
    };
    let rest = &all[start..];
    let truncated = rest.len() > limit;
    let page = &rest[..rest.len().min(limit)];
    let mut fields: Fields = vec![("IsTruncated", Node::Bool(truncated))];
    if truncated {
        if let Some((k, _)) = page.last() {
            fields.push(("Marker", marker::encode(k).into()));
        }
    }
    fields.push((
        "Policies",
        Node::List {
            item: "Policy",
            items: page.iter().map(|(_, n)| n.clone()).collect(),
        },
    ));
    Ok(fields)
}

/// `DeletePolicy`: refused while attached or while other versions exist, unless
/// `CascadingDelete=true` (which removes the versions, never the attachments).
pub async fn delete(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let cascade = params::boolean(call.req, "CascadingDelete")?.unwrap_or(false);
    state
        .store
        .delete_policy(call.principal.account(), &name, cascade)
        .await?;
    Ok(vec![])
}

/// `CreatePolicyVersion`.
pub async fn create_version(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let document = required(call.req, "PolicyDocument")?;
    let set_default = params::boolean(call.req, "SetAsDefault")?.unwrap_or(false);
    let rotate = match optional(call.req, "RotateStrategy") {
        None | Some("None") => false,
        Some("DeleteOldestNonDefaultVersionWhenLimitExceeded") => true,
        Some(_) => return Err(ApiError::InvalidValue("RotateStrategy")),
    };
    policy_docs::custom("PolicyDocument", document)?;
    let new = NewPolicyVersion {
        document: document.to_string(),
        set_default,
        rotate,
        max_versions: MAX_VERSIONS,
        now: call.now,
    };
    let v = state
        .store
        .create_policy_version(call.principal.account(), &name, &new)
        .await?;
    Ok(vec![(
        "PolicyVersion",
        version_node(version_name(v.version), set_default, &v.document, v.created),
    )])
}

/// `GetPolicyVersion`.
pub async fn get_version(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let ptype = type_param(call)?;
    let version = params::version_id(required(call.req, "VersionId")?)?;
    let node = match ptype {
        PolicyType::System => {
            let p = system(&name)?;
            if version_name(version) != p.version {
                return Err(ApiError::PolicyVersionNotFound);
            }
            version_node(p.version.into(), true, p.document, p.created)
        }
        PolicyType::Custom => {
            let (p, versions) = state
                .store
                .policy_versions(call.principal.account(), &name)
                .await?;
            let v: &PolicyVersionRecord = versions
                .iter()
                .find(|v| v.version == version)
                .ok_or(ApiError::PolicyVersionNotFound)?;
            version_node(
                version_name(v.version),
                v.version == p.default_version,
                &v.document,
                v.created,
            )
        }
    };
    Ok(vec![("PolicyVersion", node)])
}

/// `ListPolicyVersions`.
pub async fn list_versions(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let ptype = type_param(call)?;
    let items = match ptype {
        PolicyType::System => {
            let p = system(&name)?;
            vec![version_node(p.version.into(), true, p.document, p.created)]
        }
        PolicyType::Custom => {
            let (p, versions) = state
                .store
                .policy_versions(call.principal.account(), &name)
                .await?;
            versions
                .iter()
                .map(|v| {
                    version_node(
                        version_name(v.version),
                        v.version == p.default_version,
                        &v.document,
                        v.created,
                    )
                })
                .collect()
        }
    };
    Ok(vec![(
        "PolicyVersions",
        Node::List {
            item: "PolicyVersion",
            items,
        },
    )])
}

/// `SetDefaultPolicyVersion`.
pub async fn set_default_version(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let version = params::version_id(required(call.req, "VersionId")?)?;
    state
        .store
        .set_default_policy_version(call.principal.account(), &name, version, call.now)
        .await?;
    Ok(vec![])
}

/// `DeletePolicyVersion`.
pub async fn delete_version(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let version = params::version_id(required(call.req, "VersionId")?)?;
    state
        .store
        .delete_policy_version(call.principal.account(), &name, version)
        .await?;
    Ok(vec![])
}

/// `ListEntitiesForPolicy`.
pub async fn list_entities(state: &AppState, call: &Call<'_>) -> Result<Fields, ApiError> {
    let name = name_param(call)?;
    let ptype = type_param(call)?;
    let account = call.principal.account();
    match ptype {
        PolicyType::System => {
            system(&name)?;
        }
        PolicyType::Custom => {
            state.store.custom_policy(account, &name).await?;
        }
    }
    let (mut users, mut groups, mut roles) = (vec![], vec![], vec![]);
    for e in state
        .store
        .entities_for_policy(account, ptype, &name)
        .await?
    {
        let attached = timestamp::format(e.attachment.attached);
        match e.attachment.target.kind {
            TargetKind::User => users.push(Node::Obj(vec![
                ("UserId", e.attachment.target.id.as_str().into()),
                ("UserName", e.name.as_str().into()),
                ("DisplayName", e.detail.as_str().into()),
                ("AttachDate", attached.into()),
            ])),
            TargetKind::Group => groups.push(Node::Obj(vec![
                ("GroupName", e.name.as_str().into()),
                ("Comments", e.detail.as_str().into()),
                ("AttachDate", attached.into()),
            ])),
            TargetKind::Role => roles.push(Node::Obj(vec![
                ("RoleId", e.attachment.target.id.as_str().into()),
                ("RoleName", e.name.as_str().into()),
                ("Arn", arn::role(account, &e.name).into()),
                ("Description", e.detail.as_str().into()),
                ("AttachDate", attached.into()),
            ])),
        }
    }
    Ok(vec![
        (
            "Users",
            Node::List {
                item: "User",
                items: users,
            },
        ),
        (
            "Groups",
            Node::List {
                item: "Group",
                items: groups,
            },
        ),
        (
            "Roles",
            Node::List {
                item: "Role",
                items: roles,
            },
        ),
    ])
}
