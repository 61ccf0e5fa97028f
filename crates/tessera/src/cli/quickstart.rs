//! `tessera quickstart`: Alibaba Cloud's STS walkthrough against a running server — a RAM user
//! with an AccessKey and AliyunSTSAssumeRoleAccess, a role trusting the account, AssumeRole as
//! that user — printing each step and the final answer.

use super::session::{print_json, Conn};
use super::verbs::trust_policy;
use clap::Args;
use serde_json::Value;
use tessera_credentials::providers::StaticProvider;
use tessera_credentials::sts::AssumeRoleRequest;
use tessera_credentials::{Client, Error};

/// `tessera quickstart`.
#[derive(Args, Debug)]
pub struct QuickstartArgs {
    #[command(flatten)]
    conn: Conn,
    /// Prefix of the user and role names (a random suffix keeps runs apart).
    #[arg(long, default_value = "quickstart")]
    prefix: String,
    /// Delete the user, its key and the role again at the end.
    #[arg(long)]
    cleanup: bool,
}

fn step(n: u32, text: &str) {
    println!("\n== Step {n}: {text}");
}

async fn ram(client: &Client, action: &str, params: &[(&str, &str)]) -> Result<Value, Error> {
    println!(
        "   ram {action} {}",
        params
            .iter()
            .filter(|(k, _)| *k != "AssumeRolePolicyDocument")
            .map(|(k, v)| format!("--{k} {v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    super::ram(client, action, params).await
}

/// Runs the walkthrough.
pub fn run(a: QuickstartArgs) -> anyhow::Result<()> {
    let session = a.conn.open()?;
    let runtime = super::runtime()?;
    let suffix: String = tessera_server::ids::request_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let user = format!("{}-user-{suffix}", a.prefix);
    let role = format!("{}-role-{suffix}", a.prefix);
    let admin = &session.client;
    runtime
        .block_on(async {
            step(1, "who is calling (the account's administrator)");
            let me = admin.sts().get_caller_identity().await?;
            println!("   sts GetCallerIdentity -> {} (account {})", me.arn, me.account_id);

            step(2, "create a RAM user");
            ram(admin, "CreateUser", &[("UserName", &user)]).await?;
            println!("   -> user {user}");

            step(3, "create an AccessKey for the user");
            let key = admin.ram().create_access_key(&user).await?;
            println!("   ram CreateAccessKey --UserName {user}");
            println!("   -> AccessKeyId {} (the secret is kept in memory only)", key.access_key_id);

            step(4, "let the user call sts:AssumeRole");
            ram(
                admin,
                "AttachPolicyToUser",
                &[("PolicyType", "System"), ("PolicyName", "AliyunSTSAssumeRoleAccess"), ("UserName", &user)],
            )
            .await?;

            step(5, "create a role that trusts the account");
            let trust = trust_policy(&me.account_id);
            println!("   trust policy: {trust}");
            let created = ram(admin, "CreateRole", &[("RoleName", &role), ("AssumeRolePolicyDocument", &trust)]).await?;
            let arn = created["Role"]["Arn"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("acs:ram::{}:role/{}", me.account_id, role.to_ascii_lowercase()));
            println!("   -> role {arn}");

            step(6, "give the role something to do (read-only RAM)");
            ram(
                admin,
                "AttachPolicyToRole",
                &[("PolicyType", "System"), ("PolicyName", "AliyunRAMReadOnlyAccess"), ("RoleName", &role)],
            )
            .await?;

            step(7, "assume the role as the new user");
            let as_user = session.client_with(StaticProvider::access_key(
                &key.access_key_id,
                key.access_key_secret.expose(),
            ))?;
            let req = AssumeRoleRequest::new(&arn, "quickstart-session");
            println!("   sts AssumeRole --RoleArn {arn} --RoleSessionName quickstart-session (signed with {})", key.access_key_id);
            let answer = as_user
                .call_with("sts", &req.to_call(), tessera_credentials::SignatureVersion::V1)
                .await?;
            println!("   -> the AssumeRole response:");
            print_json(&answer);

            step(8, "call STS with the session's token");
            let c = &answer["Credentials"];
            let field = |k: &str| {
                c[k].as_str().ok_or_else(|| Error::InvalidResponse {
                    endpoint: session.client_endpoint().unwrap_or("sts").to_string(),
                    message: format!("the AssumeRole answer has no Credentials.{k}"),
                })
            };
            let as_session = session.client_with(StaticProvider::sts_token(
                field("AccessKeyId")?,
                field("AccessKeySecret")?,
                field("SecurityToken")?,
            ))?;
            let who = as_session.sts().get_caller_identity().await?;
            println!("   sts GetCallerIdentity -> {} ({})", who.arn, who.identity_type);

            if a.cleanup {
                step(9, "clean up");
                ram(admin, "DetachPolicyFromRole", &[("PolicyType", "System"), ("PolicyName", "AliyunRAMReadOnlyAccess"), ("RoleName", &role)]).await?;
                ram(admin, "DeleteRole", &[("RoleName", &role)]).await?;
                ram(admin, "DetachPolicyFromUser", &[("PolicyType", "System"), ("PolicyName", "AliyunSTSAssumeRoleAccess"), ("UserName", &user)]).await?;
                ram(admin, "DeleteAccessKey", &[("UserName", &user), ("UserAccessKeyId", &key.access_key_id)]).await?;
                ram(admin, "DeleteUser", &[("UserName", &user)]).await?;
            }
            println!("\nDone. The STS token above is valid until {}.", c["Expiration"].as_str().unwrap_or("?"));
            Ok::<_, Error>(())
        })
        .map_err(|e| super::explain_error(e, &session))
}
