//! `tessera <product> <Action> --Param value …`: the aliyun CLI's calling convention for any
//! RPC action, printing the JSON answer.

use super::session::{print_json, signature, Conn};
use anyhow::{bail, Context as _};
use tessera_credentials::signing::RpcCall;
use tessera_credentials::SignatureVersion;

/// Actions listed by `tessera <product> --help` (any other action is passed through as is).
const STS_ACTIONS: &[&str] = &["AssumeRole", "GetCallerIdentity"];
const RAM_ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "UpdateUser",
    "DeleteUser",
    "ListUsers",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "CreateGroup",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "ListUsersForGroup",
    "CreateRole",
    "GetRole",
    "UpdateRole",
    "DeleteRole",
    "ListRoles",
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "ListPolicies",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "DeletePolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "AttachPolicyToUser",
    "DetachPolicyFromUser",
    "AttachPolicyToGroup",
    "DetachPolicyFromGroup",
    "AttachPolicyToRole",
    "DetachPolicyFromRole",
    "ListPoliciesForUser",
    "ListPoliciesForGroup",
    "ListPoliciesForRole",
    "ListEntitiesForPolicy",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "RevokeRoleSessions",
    "RevokeUserSessions",
];

fn default_version(product: &str) -> Option<&'static str> {
    match product {
        "sts" => Some(tessera_protocol::STS_VERSION),
        "ram" => Some(tessera_protocol::RAM_VERSION),
        _ => None,
    }
}

fn help(product: &str) -> String {
    let actions = match product {
        "sts" => STS_ACTIONS,
        "ram" => RAM_ACTIONS,
        _ => &[],
    };
    let mut s = format!(
        "Call any {product} RPC action, as the aliyun CLI does.\n\n\
         Usage: tessera {product} <Action> [--Param value]... [options]\n\n\
         Options:\n  \
         --profile <NAME>             profile of ~/.aliyun/config.json\n  \
         --endpoint <URL>             endpoint (e.g. a Tessera server) [env: TESSERA_ENDPOINT]\n  \
         --region <REGION>            region\n  \
         --ca <FILE>                  CA certificate to trust for https [env: TESSERA_CA_FILE]\n  \
         --version <YYYY-MM-DD>       API version{}\n  \
         --signature-version <v1|v3>  signature scheme [default: v1]\n",
        default_version(product)
            .map(|v| format!(" [default: {v}]"))
            .unwrap_or_else(|| " (required for this product)".into())
    );
    if !actions.is_empty() {
        s.push_str("\nActions:\n");
        for a in actions {
            s.push_str("  ");
            s.push_str(a);
            s.push('\n');
        }
    }
    s.push_str(&format!(
        "\nExample:\n  tessera {product} {} {}\n",
        actions.first().unwrap_or(&"<Action>"),
        if product == "sts" {
            ""
        } else {
            "--UserName alice"
        }
    ));
    s
}

fn unknown(product: &str) -> String {
    format!(
        "`{product}` is not a tessera command (those are serve, configure, credentials, user, role, quickstart, admin, keys, completion; see `tessera --help`), nor a product whose API version tessera knows (sts, ram). To call another product's API, add --version YYYY-MM-DD."
    )
}

/// Runs `tessera <product> …` from the raw words after the program name.
pub fn run(words: Vec<String>) -> anyhow::Result<()> {
    let mut it = words.into_iter();
    let product = it.next().unwrap_or_default().to_ascii_lowercase();
    let rest: Vec<String> = it.collect();
    if rest.is_empty() || matches!(rest[0].as_str(), "help" | "--help" | "-h") {
        print!("{}", help(&product));
        return Ok(());
    }
    let action = rest[0].clone();
    if action.starts_with('-') && default_version(&product).is_none() {
        bail!("{}", unknown(&product));
    }
    if action.starts_with('-') {
        bail!("expected an action after `tessera {product}`, found {action:?}; see `tessera {product} --help`");
    }
    let mut conn = Conn::default();
    let mut version = default_version(&product).map(str::to_string);
    let mut style = SignatureVersion::V1;
    let mut call = RpcCall::new(&action, "");
    let mut words = rest[1..].iter();
    while let Some(word) = words.next() {
        // Only where an option is expected: a parameter's value may well be "-h".
        if word == "--help" || word == "-h" {
            print!("{}", help(&product));
            return Ok(());
        }
        let Some(flag) = word.strip_prefix("--") else {
            bail!("unexpected {word:?}: parameters are written --Name value");
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => words
                    .next()
                    .cloned()
                    .with_context(|| format!("--{name} needs a value")),
            }
        };
        match name.as_str() {
            "profile" => conn.profile = Some(value()?),
            "endpoint" => conn.endpoint = Some(value()?),
            "region" => conn.region = Some(value()?),
            "ca" => conn.ca = Some(value()?.into()),
            "version" => version = Some(value()?),
            "signature-version" => style = signature(&value()?)?,
            n if n.starts_with(|c: char| c.is_ascii_uppercase()) => {
                let v = value()?;
                call.params.push((n.to_string(), v));
            }
            n => bail!(
                "unknown option --{n}: API parameters start with a capital letter (--UserName), options are --profile, --endpoint, --region, --ca, --version, --signature-version"
            ),
        }
    }
    if conn.endpoint.is_none() {
        conn.endpoint = std::env::var("TESSERA_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
    }
    if conn.ca.is_none() {
        conn.ca = std::env::var_os("TESSERA_CA_FILE")
            .filter(|c| !c.is_empty())
            .map(Into::into);
    }
    call.version = version.with_context(|| unknown(&product))?;
    let session = conn.open()?;
    let runtime = super::runtime()?;
    let answer = runtime
        .block_on(session.client.call_with(&product, &call, style))
        .map_err(|e| super::explain_error(e, &session))?;
    print_json(&answer);
    Ok(())
}
