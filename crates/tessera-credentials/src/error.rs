//! The one error type of the crate.

use std::path::PathBuf;

/// Why credentials could not be had or a call failed. Messages name the provider, file, field or
/// endpoint at fault, and never carry a secret or a raw response body.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider has nothing to go on here (its variables or files are absent). A chain skips
    /// it and tries the next one.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// The configuration is present but wrong: which source, which field, what is wrong.
    #[error("{source_name}: {message}")]
    InvalidConfig {
        /// The file, profile or variable at fault.
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// No connection could be made (refused, DNS, TLS handshake): nothing was sent.
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// Scheme, host and port (never the query).
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The request got no HTTP answer after it may have been sent (connection reset, broken).
    #[error("cannot reach {endpoint}: {message}")]
    Transport {
        /// Scheme, host and port (never the query).
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// An attempt, or the whole call, ran out of time.
    #[error("{what} timed out after {millis} ms")]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit.
        millis: u128,
    },
    /// The service answered with an error.
    #[error("{code}: {message} (HTTP {status}, RequestId {request_id})")]
    Service {
        /// HTTP status.
        status: u16,
        /// The error `Code`.
        code: String,
        /// The error `Message`.
        message: String,
        /// The `RequestId`, if the answer had one.
        request_id: String,
    },
    /// The service answered 2xx but not with what was expected.
    #[error("unexpected response from {endpoint}: {message}")]
    InvalidResponse {
        /// Scheme, host and port.
        endpoint: String,
        /// What was missing or malformed.
        message: String,
    },
    /// A refresh failed and nothing valid is cached.
    #[error("{provider}: {source}")]
    Provider {
        /// The provider that failed, e.g. `ram_role_arn`.
        provider: String,
        /// Why.
        source: Box<Error>,
    },
    /// No provider of the chain had credentials.
    #[error("no credentials: {}", .0.join("; "))]
    NoCredentials(Vec<String>),
}

impl Error {
    /// Whether a chain should move on to its next provider.
    pub fn is_not_configured(&self) -> bool {
        matches!(self, Error::NotConfigured(_))
    }

    /// Whether the call may succeed if simply tried again: transport failures, timeouts,
    /// throttling and server errors. Client errors (`InvalidParameter`, `NoPermission`, …) never.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Service { status, code, .. } => {
                *status >= 500
                    || code.starts_with("Throttling")
                    || code == "ServiceUnavailable"
                    || code == "InternalError"
            }
            Error::Provider { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// Whether the request certainly did not take effect, so even a write may be sent again:
    /// no connection was made, or the service refused it as throttled or unavailable.
    pub fn is_retryable_unsent(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Service { status, code, .. } => {
                *status == 503 || code.starts_with("Throttling") || code == "ServiceUnavailable"
            }
            Error::Provider { source, .. } => source.is_retryable_unsent(),
            _ => false,
        }
    }

    /// Whether the service rejected the credential itself (expired or unknown token or key), so a
    /// cache should drop it and fetch a new one.
    pub fn is_credential_rejected(&self) -> bool {
        match self {
            Error::Service { code, .. } => matches!(
                code.as_str(),
                "InvalidSecurityToken.Expired"
                    | "InvalidSecurityToken.Malformed"
                    | "InvalidSecurityToken.MismatchWithAccessKey"
                    | "SecurityToken.Expired"
                    | "InvalidAccessKeyId.NotFound"
                    | "InvalidAccessKeyId.Inactive"
            ),
            _ => false,
        }
    }

    /// The service's error code, if the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { code, .. } => Some(code),
            Error::Provider { source, .. } => source.code(),
            _ => None,
        }
    }

    pub(crate) fn config(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            source_name: source_name.into(),
            message: message.into(),
        }
    }

    /// Names the file and section in a configuration error raised by an inner provider.
    pub(crate) fn attributed_to(self, src: &str) -> Self {
        match self {
            Error::InvalidConfig { message, .. } => Error::config(src, message),
            e => e,
        }
    }

    /// A profile that was selected but whose source has nothing (an EcsRamRole profile off
    /// ECS) is a failure of that profile, not "not configured": the chain must stop rather than
    /// move on to another identity.
    pub(crate) fn configured_but_failed(
        self,
        describe: impl FnOnce() -> Result<String, Error>,
    ) -> Self {
        match self {
            Error::NotConfigured(why) => Error::config(
                describe().unwrap_or_else(|_| "the selected profile".into()),
                why,
            ),
            e => e,
        }
    }

    pub(crate) fn in_provider(self, provider: &str) -> Self {
        match self {
            e @ (Error::NotConfigured(_) | Error::Provider { .. }) => e,
            e => Error::Provider {
                provider: provider.to_string(),
                source: Box::new(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> Error {
        Error::Service {
            status,
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
        }
    }

    #[test]
    fn retry_classification() {
        assert!(service(503, "ServiceUnavailable").is_retryable());
        assert!(service(400, "Throttling.User").is_retryable());
        assert!(service(500, "InternalError").is_retryable());
        assert!(!service(403, "NoPermission").is_retryable());
        assert!(!service(400, "InvalidParameter").is_retryable());
        assert!(!Error::NotConfigured("x".into()).is_retryable());
        assert!(service(400, "InvalidSecurityToken.Expired").is_credential_rejected());
        assert!(!service(403, "NoPermission").is_credential_rejected());
    }
}
