//! The CLI's `External` mode: a command that prints credentials as JSON.

use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

/// Runs a command (split into words as a POSIX shell would, but run without a shell) and reads
/// `{"mode": "AK" | "StsToken", "access_key_id", "access_key_secret", "sts_token", "expiration"}`
/// from its standard output (at most 1 MiB is read). Standard output is never logged or echoed
/// in errors; a failing command's last line of standard error is, as its explanation.
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
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::config(src, format!("cannot run {:?}: {e}", words[0])))?;
        // A command that prints without end must not exhaust memory: read at most what a
        // credentials answer could need, then stop listening.
        let run = async {
            use tokio::io::AsyncReadExt;
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let limit = crate::http::MAX_RESPONSE_BYTES as u64;
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let read_out = async {
                if let Some(s) = stdout {
                    s.take(limit).read_to_end(&mut out).await?;
                }
                std::io::Result::Ok(())
            };
            let read_err = async {
                if let Some(s) = stderr {
                    s.take(limit).read_to_end(&mut err).await?;
                }
                std::io::Result::Ok(())
            };
            let (a, b) = tokio::join!(read_out, read_err);
            a?;
            b?;
            if out.len() as u64 >= limit || err.len() as u64 >= limit {
                // It would block on a full pipe forever; its answer is too long anyway.
                let _ = child.start_kill();
            }
            let status = child.wait().await?;
            std::io::Result::Ok((status, out, err))
        };
        let (status, stdout, stderr) = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the credentials command {:?}", words[0]),
                millis: self.timeout.as_millis(),
            })?
            .map_err(|e| Error::config(src, format!("{:?} failed: {e}", words[0])))?;
        if !status.success() {
            // The last line of standard error is the command's own explanation; standard
            // output, which holds credentials, is never shown.
            let stderr = String::from_utf8_lossy(&stderr);
            let last = stderr
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            return Err(Error::config(
                src,
                format!("{:?} exited with {status}: {last}", words[0]),
            ));
        }
        let v: Value = serde_json::from_slice(&stdout).map_err(|_| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_that_never_stops_printing_is_cut_off() {
        let p = ExternalProcessProvider::new(&Context::os(), "yes credentials")
            .timeout(Duration::from_secs(20));
        let started = std::time::Instant::now();
        let e = p.provide().await.unwrap_err();
        assert!(e.to_string().contains("exited with"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "it was killed, not waited out"
        );
    }
}
