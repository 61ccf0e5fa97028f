//! Policy attachments: AttachPolicyTo{User,Group,Role}, DetachPolicyFrom{User,Group,Role},
//! ListPoliciesFor{User,Group,Role}. One implementation, parameterised by the target kind.

use super::params::{self, required};
use super::{Call, Fields};
use crate::error::ApiError;
use crate::state::AppState;
use crate::system_policies;
use tessera_protocol::render::Node;
use tessera_protocol::timestamp;
use tessera_store::{AttachLimits, Attachment, PolicyType, StoreError, Target, TargetKind};

/// RAM's default quotas: 20 system policies per user, group or role; 10 custom per user, 5 per
/// group or role.
pub fn limits(kind: TargetKind) -> AttachLimits {
    match kind {
        TargetKind::User => AttachLimits {
            system: 20,
            custom: 10,
        },
        TargetKind::Group | TargetKind::Role => AttachLimits {
            system: 20,
            custom: 5,
        },
    }
}

/// The request parameter naming the target.
pub fn target_param(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::User => "UserName",
        TargetKind::Group => "GroupName",
        TargetKind::Role => "RoleName",
    }
}

async fn target(state: &AppState, call: &Call<'_>, kind: TargetKind) -> Result<Target, ApiError> {
    let field = target_param(kind);
    let name = required(call.req, field)?;
    if name.chars().count() > 64 {
        return Err(ApiError::InvalidLength(field));
    }
    Ok(state
        .store
        .resolve_target(call.principal.account(), kind, name)
        .await?)
}

/// The policy named by `PolicyType` and `PolicyName`. A system policy must exist in code; a
/// custom one is checked inside the attaching transaction, where it cannot vanish meanwhile.
fn policy(call: &Call<'_>) -> Result<(PolicyType, crate::ids::PolicyName), ApiError> {
    let ptype = params::policy_type(required(call.req, "PolicyType")?)?;
    let name = params::policy_name("PolicyName", required(call.req, "PolicyName")?)?;
    if ptype == PolicyType::System && system_policies::find(name.as_str()).is_none() {
        return Err(ApiError::PolicyNotFound);
    }
    Ok((ptype, name))
}

/// `AttachPolicyTo{User,Group,Role}`.
pub async fn attach(
    state: &AppState,
    call: &Call<'_>,
    kind: TargetKind,
) -> Result<Fields, ApiError> {
    let (policy_type, policy_name) = policy(call)?;
    let target = target(state, call, kind).await?;
    let attachment = Attachment {
        target,
        policy_type,
        policy_name,
        attached: call.now,
    };
    state
        .store
        .attach_policy(call.principal.account(), &attachment, limits(kind))
        .await?;
    Ok(vec![])
}

/// `DetachPolicyFrom{User,Group,Role}`.
pub async fn detach(
    state: &AppState,
    call: &Call<'_>,
    kind: TargetKind,
) -> Result<Fields, ApiError> {
    let (policy_type, policy_name) = policy(call)?;
    let target = target(state, call, kind).await?;
    state
        .store
        .detach_policy(call.principal.account(), &target, policy_type, &policy_name)
        .await?;
    Ok(vec![])
}

/// `ListPoliciesFor{User,Group,Role}`.
pub async fn list(state: &AppState, call: &Call<'_>, kind: TargetKind) -> Result<Fields, ApiError> {
    let target = target(state, call, kind).await?;
    let account = call.principal.account();
    let mut items = Vec::new();
    for a in state.store.attachments_of(account, &target).await? {
        let (description, default_version) = match a.policy_type {
            PolicyType::System => match system_policies::find(a.policy_name.as_str()) {
                Some(p) => (p.description.to_string(), p.version.to_string()),
                None => continue,
            },
            PolicyType::Custom => match state.store.custom_policy(account, &a.policy_name).await {
                Ok((p, _)) => (p.description, format!("v{}", p.default_version)),
                // Deleted since the attachments were read: no longer attached.
                Err(StoreError::NotFound(_)) => continue,
                // A storage failure must not pass for a shorter list.
                Err(e) => return Err(e.into()),
            },
        };
        items.push(Node::Obj(vec![
            ("PolicyName", a.policy_name.as_str().into()),
            ("PolicyType", a.policy_type.as_str().into()),
            ("Description", description.into()),
            ("DefaultVersion", default_version.into()),
            ("AttachDate", timestamp::format(a.attached).into()),
        ]));
    }
    Ok(vec![(
        "Policies",
        Node::List {
            item: "Policy",
            items,
        },
    )])
}
