//! Friendly verbs for the common flows: a user with a key and policies, a role that trusts an
//! account, assuming a role.

use super::ram;
use super::session::{print_json, Conn};
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tessera_credentials::cli_config::{CliConfig, Profile};
use tessera_credentials::sts::AssumeRoleRequest;
use tessera_credentials::{Client, Secret};

/// `tessera user …`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a RAM user, optionally with an AccessKey and attached policies.
    Create(UserCreate),
}

/// `tessera user create`.
#[derive(Args, Debug)]
pub struct UserCreate {
    /// The user name.
    name: String,
    /// Also create an AccessKey (its secret is printed once).
    #[arg(long)]
    with_key: bool,
    /// Attach this system policy (repeatable), e.g. AliyunSTSAssumeRoleAccess.
    #[arg(long = "policy", value_name = "NAME")]
    policies: Vec<String>,
    /// Attach this custom policy (repeatable).
    #[arg(long = "custom-policy", value_name = "NAME")]
    custom_policies: Vec<String>,
    /// Save the new AccessKey as an AK profile of ~/.aliyun/config.json under this name.
    #[arg(long, value_name = "PROFILE", requires = "with_key")]
    save_profile: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// `tessera role …`.
#[derive(Subcommand, Debug)]
pub enum RoleCommand {
    /// Create a RAM role whose trust policy admits an account's RAM users and roles.
    Create(RoleCreate),
    /// Assume a role and print the STS answer (AssumeRole).
    Assume(RoleAssume),
}

/// `tessera role create`.
#[derive(Args, Debug)]
pub struct RoleCreate {
    /// The role name.
    name: String,
    /// The account whose RAM identities may assume the role [default: the caller's account].
    #[arg(long, value_name = "ACCOUNT_ID")]
    trust_account: Option<String>,
    /// Attach this system policy to the role (repeatable).
    #[arg(long = "policy", value_name = "NAME")]
    policies: Vec<String>,
    /// Attach this custom policy to the role (repeatable).
    #[arg(long = "custom-policy", value_name = "NAME")]
    custom_policies: Vec<String>,
    /// Longest session, 3600..=43200 seconds.
    #[arg(long, value_name = "SECONDS")]
    max_session_duration: Option<u32>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// `tessera role assume`.
#[derive(Args, Debug)]
pub struct RoleAssume {
    /// The role's ARN, or just its name (in the caller's account).
    role: String,
    /// Session name.
    #[arg(long, default_value = "tessera-cli")]
    session_name: String,
    /// Session lifetime (900..=43200).
    #[arg(long, value_name = "SECONDS")]
    duration_seconds: Option<u32>,
    /// A session policy (JSON) narrowing the role's permissions.
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    /// External id the role's trust policy requires.
    #[arg(long)]
    external_id: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

/// The trust policy admitting an account's RAM identities.
pub fn trust_policy(account: &str) -> String {
    json!({
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"RAM": [format!("acs:ram::{account}:root")]}
        }],
        "Version": "1"
    })
    .to_string()
}

async fn attach(
    client: &Client,
    what: (&str, &str),
    system: &[String],
    custom: &[String],
) -> anyhow::Result<Vec<Value>> {
    let (kind, name) = what;
    let action = if kind == "UserName" {
        "AttachPolicyToUser"
    } else {
        "AttachPolicyToRole"
    };
    let mut attached = Vec::new();
    for (ty, list) in [("System", system), ("Custom", custom)] {
        for policy in list {
            ram(
                client,
                action,
                &[("PolicyType", ty), ("PolicyName", policy), (kind, name)],
            )
            .await?;
            attached.push(json!({"PolicyType": ty, "PolicyName": policy}));
        }
    }
    Ok(attached)
}

/// Runs `tessera user …`.
pub fn run_user(cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create(a) = cmd;
    let session = a.conn.open()?;
    // Refuse before creating anything: after CreateAccessKey, a failure would lose the secret.
    if let Some(name) = &a.save_profile {
        let path = CliConfig::path(&session.ctx)?;
        if let Some((_, config)) = CliConfig::load(&session.ctx)? {
            if config.profile(name).is_some() {
                bail!(
                    "{}: a profile {name:?} already exists; choose another --save-profile",
                    path.display()
                );
            }
        }
    }
    let runtime = super::runtime()?;
    let mut out = json!({});
    let mut key = None;
    let result = runtime.block_on(async {
        let client = &session.client;
        let user = ram(client, "CreateUser", &[("UserName", &a.name)]).await?;
        out["User"] = user["User"].clone();
        if a.with_key {
            let k = client.ram().create_access_key(&a.name).await?;
            out["AccessKey"] = json!({
                "AccessKeyId": k.access_key_id,
                "AccessKeySecret": k.access_key_secret.expose(),
            });
            key = Some(k);
        }
        out["AttachedPolicies"] = attach(
            client,
            ("UserName", &a.name),
            &a.policies,
            &a.custom_policies,
        )
        .await?
        .into();
        anyhow::Ok(())
    });
    // The secret is shown before anything else can fail (or wait on a lock): it cannot be
    // read again.
    if result.is_ok() || key.is_some() {
        print_json(&out);
    }
    let result = result.map_err(|e| match e.downcast::<tessera_credentials::Error>() {
        Ok(e) => super::explain_error(e, &session),
        Err(e) => e,
    });
    if let (Some(profile), Some(k)) = (&a.save_profile, &key) {
        save_ak_profile(&session, profile, &k.access_key_id, &k.access_key_secret)?;
    }
    result
}

fn save_ak_profile(
    session: &super::session::Session,
    name: &str,
    id: &str,
    secret: &Secret,
) -> anyhow::Result<()> {
    let path = CliConfig::path(&session.ctx)?;
    let _lock = super::lock_config(&session.ctx)?;
    let mut config = CliConfig::load(&session.ctx)?
        .map(|(_, c)| c)
        .unwrap_or_default();
    if config.profile(name).is_some() {
        bail!(
            "{}: a profile {name:?} already exists; choose another --save-profile",
            path.display()
        );
    }
    let base = session.profile.clone().unwrap_or_default();
    config.upsert(Profile {
        name: name.to_string(),
        mode: "AK".into(),
        access_key_id: id.to_string(),
        access_key_secret: secret.clone(),
        region_id: base.region_id,
        endpoint: session.client_endpoint().unwrap_or_default().to_string(),
        ..Profile::default()
    });
    if config.current.is_empty() {
        config.current = name.to_string();
    }
    config.save(&session.ctx, &path)?;
    eprintln!(
        "Saved the AccessKey as profile {name:?} in {}",
        path.display()
    );
    Ok(())
}

/// Runs `tessera role …`.
pub fn run_role(cmd: RoleCommand) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    match cmd {
        RoleCommand::Create(a) => {
            let session = a.conn.open()?;
            let out = runtime
                .block_on(async {
                    let client = &session.client;
                    let account = match &a.trust_account {
                        Some(acc) => acc.clone(),
                        None => client.sts().get_caller_identity().await?.account_id,
                    };
                    let doc = trust_policy(&account);
                    let max = a.max_session_duration.map(|m| m.to_string());
                    let mut params = vec![
                        ("RoleName", a.name.as_str()),
                        ("AssumeRolePolicyDocument", doc.as_str()),
                    ];
                    if let Some(m) = &max {
                        params.push(("MaxSessionDuration", m));
                    }
                    if let Some(d) = &a.description {
                        params.push(("Description", d));
                    }
                    let role = ram(client, "CreateRole", &params).await?;
                    let attached = attach(
                        client,
                        ("RoleName", &a.name),
                        &a.policies,
                        &a.custom_policies,
                    )
                    .await?;
                    anyhow::Ok(json!({"Role": role["Role"], "AttachedPolicies": attached}))
                })
                .map_err(|e| match e.downcast::<tessera_credentials::Error>() {
                    Ok(e) => super::explain_error(e, &session),
                    Err(e) => e,
                })?;
            print_json(&out);
            Ok(())
        }
        RoleCommand::Assume(a) => {
            let session = a.conn.open()?;
            let out = runtime
                .block_on(async {
                    let client = &session.client;
                    let arn = if a.role.starts_with("acs:") {
                        a.role.clone()
                    } else {
                        let account = client.sts().get_caller_identity().await?.account_id;
                        format!("acs:ram::{account}:role/{}", a.role)
                    };
                    let req = AssumeRoleRequest {
                        role_arn: arn,
                        role_session_name: a.session_name.clone(),
                        duration_seconds: a.duration_seconds,
                        policy: a.policy.clone(),
                        external_id: a.external_id.clone(),
                        source_identity: None,
                    };
                    req.validate()?;
                    // The raw answer is what is printed, as `tessera sts AssumeRole` would.
                    client
                        .call_with(
                            "sts",
                            &req.to_call(),
                            tessera_credentials::SignatureVersion::V1,
                        )
                        .await
                })
                .map_err(|e| super::explain_error(e, &session))?;
            print_json(&out);
            Ok(())
        }
    }
}
