//! The command line beyond `serve`: profiles, calls in the aliyun CLI's convention, friendly
//! verbs, credential export and diagnosis, the quickstart walkthrough, shell completions.

pub mod call;
pub mod configure;
pub mod creds;
pub mod quickstart;
pub mod session;
pub mod verbs;

/// Takes the write lock of ~/.aliyun/config.json, saying so if another process holds it.
pub fn lock_config(
    ctx: &tessera_credentials::Context,
) -> anyhow::Result<tessera_credentials::context::FileLock> {
    Ok(tessera_credentials::cli_config::CliConfig::lock(
        ctx,
        |lock| {
            eprintln!(
            "tessera: waiting for another process to finish writing the configuration ({} is locked)",
            lock.display()
        )
        },
    )?)
}

/// Reads `{"AccessKeyId", "AccessKeySecret"}` from a JSON file, such as the data directory's
/// root-credentials.json.
pub fn read_key_file(
    path: &std::path::Path,
) -> anyhow::Result<(String, tessera_credentials::Secret)> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    match (v["AccessKeyId"].as_str(), v["AccessKeySecret"].as_str()) {
        (Some(id), Some(secret)) => Ok((id.to_string(), tessera_credentials::Secret::new(secret))),
        _ => anyhow::bail!("{} has no AccessKeyId and AccessKeySecret", path.display()),
    }
}

/// A RAM call with string parameters, answering the service's JSON.
pub async fn ram(
    client: &tessera_credentials::Client,
    action: &str,
    params: &[(&str, &str)],
) -> Result<serde_json::Value, tessera_credentials::Error> {
    client
        .call(
            "ram",
            action,
            tessera_protocol::RAM_VERSION,
            params.iter().copied(),
        )
        .await
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Turns an SDK error into one a person can act on: which profile and file were used, and
/// what to try.
pub fn explain_error(e: tessera_credentials::Error, session: &session::Session) -> anyhow::Error {
    use tessera_credentials::Error as E;
    let whose = match (&session.profile, &session.config_path) {
        (Some(p), Some(path)) if session.explicit => {
            format!("profile {:?} of {}", p.name, path.display())
        }
        _ => "the default credential chain (see `tessera credentials explain`)".to_string(),
    };
    let hint = match &e {
        E::NoCredentials(_) => "no credentials were found; create a profile with `tessera configure`, or set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_string(),
        E::Connect { .. } | E::Transport { .. } | E::Timeout { .. } => format!(
            "is the server running, and is the endpoint right? (credentials from {whose})"
        ),
        E::Service { code, .. } if code.starts_with("InvalidAccessKeyId") || code.starts_with("SignatureDoesNotMatch") => {
            format!("the AccessKey of {whose} is not accepted")
        }
        E::Service { code, .. } if code.contains("NoPermission") || code.contains("Forbidden") => {
            format!("the credentials of {whose} are not allowed to do this")
        }
        _ => format!("credentials from {whose}"),
    };
    anyhow::anyhow!("{e}\n  hint: {hint}")
}
