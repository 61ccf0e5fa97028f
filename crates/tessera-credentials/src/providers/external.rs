//! The CLI's `External` mode: a command that prints credentials as JSON.

use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

/// Runs a command (split into words as a POSIX shell would, but run without a shell) and reads
/// `{"mode": "AK" | "StsToken", "access_key_id", "access_key_secret", "sts_token", "expiration"}`
/// from its standard output. Output is never logged or echoed in errors.
#[derive(Debug, Clone)]
pub struct ExternalProcessProvider {
    ctx: Context,
    command: String,
    timeout: Duration,
}

impl ExternalProcessProvider {
    /// A provider running `command` with the official 60-second limit.
    pub fn new(ctx: &Context, command: impl Into<String>) -> Self {
        ExternalProcessProvider {
            ctx: ctx.clone(),
            command: command.into(),
            timeout: Duration::from_secs(60),
        }
    }

    /// Changes the time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn run(&self) -> Result<Credential, Error> {
        let src = "process_command";
        let words = shlex::split(&self.command)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| {
                Error::config(
                    src,
                    "cannot split the command into words (unbalanced quotes?)",
                )
            })?;
        let mut cmd = tokio::process::Command::new(&words[0]);
        cmd.args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| Error::config(src, format!("cannot run {:?}: {e}", words[0])))?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the credentials command {:?}", words[0]),
                millis: self.timeout.as_millis(),
            })?
            .map_err(|e| Error::config(src, format!("{:?} failed: {e}", words[0])))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            return Err(Error::config(
                src,
                format!("{:?} exited with {}: {last}", words[0], out.status),
            ));
        }
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
            Error::config(src, format!("{:?} did not print a JSON object", words[0]))
        })?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Error::config(src, format!("the command's output has no {k}")))
        };
        let mode = v.get("mode").and_then(Value::as_str).unwrap_or("AK");
        let cred = match mode {
            "AK" => Credential::access_key(field("access_key_id")?, field("access_key_secret")?),
            "StsToken" => Credential::sts_token(
                field("access_key_id")?,
                field("access_key_secret")?,
                field("sts_token")?,
            ),
            other => {
                return Err(Error::config(
                    src,
                    format!("the command's output has mode {other:?}; expected AK or StsToken"),
                ))
            }
        };
        let expiration = match v.get("expiration") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if !s.is_empty() => {
                Some(tessera_protocol::timestamp::parse(s).map_err(|_| {
                    Error::config(
                        src,
                        "expiration is neither Unix seconds nor YYYY-MM-DDThh:mm:ssZ",
                    )
                })?)
            }
            _ => None,
        };
        let cred = match expiration {
            Some(e) if e > 0 => cred.with_expiration(crate::credential::from_unix_secs(e)),
            _ => cred,
        };
        let _ = &self.ctx;
        Ok(cred.with_provider_name("external"))
    }
}

#[async_trait]
impl ProvideCredentials for ExternalProcessProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        self.run().await.map_err(|e| e.in_provider("external"))
    }

    fn name(&self) -> &str {
        "external"
    }
}
