//! One RPC exchange with retries: sign with the credential of the moment, send, classify the
//! answer. Shared by [`crate::Client`] and the providers that call STS.

use crate::http::{HttpRequest, HttpResponse};
use crate::signing::{self, RpcCall, SignatureVersion, Timeouts};
use crate::{Context, Credential, CredentialsCache, Error};
use rand::Rng;
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

/// Timeouts and retries for calls.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Limits of one attempt.
    pub timeouts: Timeouts,
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// The whole call, retries and back-off included.
    pub budget: Duration,
    /// First back-off; doubles per retry, with full jitter.
    pub base_backoff: Duration,
    /// Largest back-off.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// The official libraries' STS limits (5 s connect, 10 s read) plus what they lack: three
    /// attempts and a 30-second budget.
    fn default() -> Self {
        RetryPolicy {
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                total: Duration::from_secs(15),
            },
            max_attempts: 3,
            budget: Duration::from_secs(30),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_backoff);
        // Full jitter: a fleet that failed together does not retry together.
        let millis = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis.max(1)))
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub body: Value,
    /// The server's clock minus ours, from its `Date` header (0 when absent).
    pub skew_secs: i64,
}

/// What the client knows about the server's clock: a smoothed skew estimate that signing uses
/// for `Timestamp` / `x-acs-date`, so a drifted host still gets its requests accepted.
#[derive(Debug, Default)]
pub(crate) struct SkewEstimate(AtomicI64);

impl SkewEstimate {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn observe(&self, skew: i64) {
        // HTTP dates have one-second resolution: ignore jitter of a second or so.
        if skew.abs() >= 2 || self.get() != 0 {
            self.0.store(skew, Ordering::Relaxed);
        }
    }
}

fn unix_now(ctx: &Context) -> i64 {
    crate::credential::unix_secs(ctx.clock.now())
}

pub(crate) fn skew_of(resp: &HttpResponse, local: SystemTime) -> i64 {
    resp.date().map_or(0, |d| {
        crate::credential::unix_secs(d) - crate::credential::unix_secs(local)
    })
}

/// Parses a service answer: 2xx with a JSON object is success; anything else becomes
/// [`Error::Service`] with the body's `Code`/`Message`/`RequestId` (never the raw body).
pub(crate) fn parse_answer(req: &HttpRequest, resp: &HttpResponse) -> Result<Value, Error> {
    let json: Option<Value> = serde_json::from_slice(&resp.body).ok();
    if (200..300).contains(&resp.status) {
        return match json {
            Some(v @ Value::Object(_)) => Ok(v),
            _ => Err(Error::InvalidResponse {
                endpoint: req.endpoint().to_string(),
                message: format!("HTTP {} with a body that is not a JSON object", resp.status),
            }),
        };
    }
    let field = |name: &str| {
        json.as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Err(Error::Service {
        status: resp.status,
        code: field("Code").unwrap_or_else(|| format!("HTTP{}", resp.status)),
        // A signature mismatch repeats the whole string to sign, every parameter of the request
        // included (a SecurityToken, a password): that part never enters an error.
        message: field("Message")
            .map(|m| tessera_protocol::error::without_string_to_sign(&m).to_string())
            .unwrap_or_else(|| "the answer carried no error message".into()),
        request_id: field("RequestId").unwrap_or_default(),
    })
}

/// How a call is authenticated.
pub(crate) enum Auth<'a> {
    /// Signed with the cache's credential of the moment, read again for every attempt; a
    /// credential the service rejects as expired or unknown is dropped and the call made once
    /// more with a fresh one.
    Cached(&'a CredentialsCache, SignatureVersion),
    /// Not signed at all (AssumeRoleWithOIDC: the token is the proof).
    Anonymous,
}

/// Whether repeating the action cannot do anything twice: reads, and the STS actions (a second
/// session is as good as the first). A write that timed out may have happened; repeating it
/// could create a second AccessKey whose secret nobody sees.
fn idempotent(action: &str) -> bool {
    const READS: [&str; 6] = ["Get", "List", "Describe", "Query", "Check", "BatchGet"];
    READS.iter().any(|p| action.starts_with(p))
        || matches!(
            action,
            "AssumeRole" | "AssumeRoleWithOIDC" | "AssumeRoleWithSAML" | "GenerateSessionAccessKey"
        )
}

/// Whether the service can be asked to renew `cred`: anything that expires or is an STS token
/// (an External command's token may state no expiration, yet be renewed by running it again).
fn renewable(cred: &Credential) -> bool {
    cred.expiration().is_some() || cred.kind() == crate::CredentialKind::StsToken
}

fn build(
    ctx: &Context,
    endpoint: &str,
    call: &RpcCall,
    auth: Option<(&Credential, SignatureVersion)>,
    policy: &RetryPolicy,
    skew: i64,
) -> Result<HttpRequest, Error> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let now = unix_now(ctx) + skew;
    match auth {
        Some((cred, style)) => {
            signing::sign(call, endpoint, cred, style, now, &nonce, policy.timeouts)
        }
        None => {
            let ts = tessera_protocol::timestamp::format(now);
            let mut params: Vec<(&str, &str)> = vec![
                ("Action", &call.action),
                ("Version", &call.version),
                ("Format", "JSON"),
                ("Timestamp", &ts),
            ];
            params.extend(call.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let mut req = HttpRequest::new(
                crate::http::Method::Post,
                format!("{}/", endpoint.trim_end_matches('/')),
                policy.timeouts.connect,
                policy.timeouts.total,
            )
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded");
            req.body = signing::form(params).into_bytes();
            Ok(req)
        }
    }
}

/// Runs `attempt` until it succeeds, fails with an error that is not worth retrying, uses up
/// the policy's attempts, or runs out of the policy's budget; back-off between attempts.
pub(crate) async fn retrying<T, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let run = async {
        let mut retry = 0u32;
        loop {
            match attempt().await {
                Err(e) if e.is_retryable() && retry + 1 < policy.max_attempts => {
                    tracing::debug!(what, error = %e, "retrying");
                    tokio::time::sleep(policy.backoff(retry)).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    };
    tokio::time::timeout(policy.budget, run)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: what.to_string(),
                millis: policy.budget.as_millis(),
            })
        })
}

/// Sends `call`, retrying what may succeed on a second try, with jittered exponential
/// back-off within the policy's budget: for reads and STS actions, transport errors, timeouts,
/// throttling and 5xx; for writes only what cannot have reached the service (a refused
/// connection, throttling, 503). A timestamp rejection is retried once with the skew measured
/// from that answer's `Date`; a rejected credential once with a renewed one.
pub(crate) async fn invoke(
    ctx: &Context,
    endpoint: &str,
    call: &RpcCall,
    auth: Auth<'_>,
    policy: &RetryPolicy,
    skew: &SkewEstimate,
) -> Result<Reply, Error> {
    let idempotent = idempotent(&call.action);
    // A refresh has its own budget and its own errors: let it finish (or fail as itself)
    // before this call's budget starts; the attempts then read the warm cache.
    let mut first = match &auth {
        Auth::Cached(cache, _) => Some(cache.get().await?),
        Auth::Anonymous => None,
    };
    let attempts = async {
        let mut retry = 0u32;
        let mut skew_retried = false;
        let mut renewed = false;
        loop {
            let cred = match (&auth, first.take()) {
                (_, Some(c)) => Some(c),
                (Auth::Cached(cache, _), None) => Some(cache.get().await?),
                (Auth::Anonymous, None) => None,
            };
            let signing = match (&auth, &cred) {
                (Auth::Cached(_, style), Some(c)) => Some((c, *style)),
                _ => None,
            };
            let req = build(ctx, endpoint, call, signing, policy, skew.get())?;
            let sent_at = ctx.clock.now();
            let outcome = match ctx.http.send(req.clone()).await {
                Ok(resp) => {
                    let s = skew_of(&resp, sent_at);
                    if resp.date().is_some() {
                        skew.observe(s);
                    }
                    parse_answer(&req, &resp).map(|body| Reply { body, skew_secs: s })
                }
                Err(e) => Err(e.into_error(&req)),
            };
            let e = match outcome {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            if !skew_retried
                && matches!(
                    e.code(),
                    Some("InvalidTimeStamp.Expired" | "IllegalTimestamp")
                )
            {
                skew_retried = true;
                continue;
            }
            if let (Auth::Cached(cache, _), Some(c)) = (&auth, &cred) {
                if !renewed && e.is_credential_rejected() && renewable(c) {
                    tracing::info!(
                        code = e.code().unwrap_or(""),
                        "credential rejected; renewing it"
                    );
                    cache.invalidate(c);
                    renewed = true;
                    continue;
                }
            }
            let worth_it = if idempotent {
                e.is_retryable()
            } else {
                e.is_retryable_unsent()
            };
            if worth_it && retry + 1 < policy.max_attempts {
                tracing::debug!(action = %call.action, error = %e, "retrying");
                tokio::time::sleep(policy.backoff(retry)).await;
                retry += 1;
                continue;
            }
            return Err(e);
        }
    };
    tokio::time::timeout(policy.budget, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: format!("{} at {endpoint}", call.action),
                millis: policy.budget.as_millis(),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every request with the same failure, counting them.
    #[derive(Debug)]
    struct Failing(crate::http::HttpError, std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl crate::http::HttpClient for Failing {
        async fn send(&self, _: HttpRequest) -> Result<HttpResponse, crate::http::HttpError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(self.0.clone())
        }
    }

    async fn attempts(action: &str, failure: crate::http::HttpError) -> usize {
        let http = std::sync::Arc::new(Failing(failure, Default::default()));
        let mut ctx = Context::os();
        ctx.http = http.clone();
        let cache = CredentialsCache::new(
            crate::providers::StaticProvider::access_key("LTAIk", "s"),
            &ctx,
        );
        let policy = RetryPolicy {
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..RetryPolicy::default()
        };
        let call = RpcCall::new(action, "2015-05-01");
        let result = invoke(
            &ctx,
            "http://127.0.0.1:9",
            &call,
            Auth::Cached(&cache, SignatureVersion::V1),
            &policy,
            &SkewEstimate::default(),
        )
        .await;
        assert!(result.is_err());
        http.1.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn writes_are_not_repeated_after_they_may_have_happened() {
        use crate::http::HttpError::{Connect, Timeout, Transport};
        assert_eq!(
            attempts("CreateAccessKey", Transport("reset".into())).await,
            1
        );
        assert_eq!(attempts("CreateAccessKey", Timeout).await, 1);
        assert_eq!(
            attempts("CreateAccessKey", Connect("refused".into())).await,
            3
        );
        assert_eq!(attempts("GetUser", Transport("reset".into())).await, 3);
        assert_eq!(attempts("AssumeRole", Timeout).await, 3);
    }

    #[test]
    fn only_reads_and_sts_are_idempotent() {
        for a in [
            "GetUser",
            "ListUsers",
            "AssumeRole",
            "GetCallerIdentity",
            "DescribeRegions",
        ] {
            assert!(idempotent(a), "{a}");
        }
        for a in [
            "CreateAccessKey",
            "CreateUser",
            "DeleteRole",
            "AttachPolicyToUser",
            "Gateway",
        ] {
            assert!(!idempotent(a), "{a}");
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for r in 0..40 {
            let b = p.backoff(r);
            assert!(b <= p.max_backoff, "{b:?}");
            assert!(b >= p.base_backoff / 2);
        }
    }

    #[test]
    fn errors_carry_code_not_body() {
        let req = HttpRequest::new(
            crate::http::Method::Post,
            "http://h:1/",
            Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let resp = HttpResponse {
            status: 403,
            headers: vec![],
            body: br#"{"Code":"NoPermission","Message":"no","RequestId":"R","Secret":"zzz"}"#
                .to_vec(),
        };
        let echo = HttpResponse {
            status: 400,
            headers: vec![],
            body: br#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dtok3n"}"#.to_vec(),
        };
        let e = parse_answer(&req, &echo).unwrap_err();
        assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
        assert!(!e.to_string().contains("tok3n"), "{e}");
        let e = parse_answer(&req, &resp).unwrap_err();
        assert_eq!(e.code(), Some("NoPermission"));
        assert!(!e.to_string().contains("zzz"));
        let html = HttpResponse {
            status: 502,
            headers: vec![],
            body: b"<html>secret</html>".to_vec(),
        };
        let e = parse_answer(&req, &html).unwrap_err();
        assert!(e.is_retryable());
        assert!(!e.to_string().contains("secret"));
    }
}
