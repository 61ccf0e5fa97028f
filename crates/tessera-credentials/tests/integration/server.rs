//! Against a real Tessera server on loopback: the server is started in-process by
//! `tessera-testkit` on ephemeral ports (HTTPS with its self-signed CA, plus plain HTTP) over a
//! temporary data directory, and
//! driven only through the SDK's public API, as a user would. Every request goes through
//! [`Wire`], an [`HttpClient`] that forwards to the real [`ReqwestHttp`], records what was sent
//! and answered, and refuses anything but loopback.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tessera_credentials::context::{Clock as _, ManualClock, MapEnv};
use tessera_credentials::http::{HttpClient, HttpError, HttpRequest, HttpResponse, ReqwestHttp};
use tessera_credentials::providers::{RamRoleArnBuilder, RamRoleArnProvider, StaticProvider};
use tessera_credentials::signing::RpcCall;
use tessera_credentials::{
    blocking, Client, Context, Credential, CredentialKind, CredentialsCache, Error,
    ProvideCredentials, RetryPolicy, SignatureVersion,
};
use tessera_testkit::{TestServer, RAM_VERSION, STS_VERSION};

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// A running Tessera server (HTTPS with its self-signed CA, plus plain HTTP) whose clock only
/// moves when a test moves it.
async fn start() -> TestServer {
    TestServer::builder()
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
}

/// What these tests do with the server through the SDK.
trait SdkWorld {
    /// The ARN of role `name` of the account.
    fn role_arn(&self, name: &str) -> String;
    /// A trust policy admitting `principal` (`root`, `user/<name>`, `role/<name>`) of the account.
    fn trust(&self, principal: &str) -> String;
    /// An SDK client signing with the root's AccessKey.
    fn root_client(&self, wire: &Wire) -> Client;
    /// Through the SDK's typed RAM calls, as root: user `dev` with an AccessKey and
    /// `AliyunSTSAssumeRoleAccess`, and role `Reader` trusting the account with
    /// `AliyunRAMReadOnlyAccess`. Returns dev's key.
    async fn setup(&self, root: &Client) -> StaticProvider;
}

impl SdkWorld for TestServer {
    fn role_arn(&self, name: &str) -> String {
        format!("acs:ram::{}:role/{name}", self.account)
    }

    fn trust(&self, principal: &str) -> String {
        format!(
            r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":["acs:ram::{}:{principal}"]}}}}],"Version":"1"}}"#,
            self.account
        )
    }

    fn root_client(&self, wire: &Wire) -> Client {
        Client::builder()
            .endpoint(self.http())
            .credentials(StaticProvider::access_key(&self.root.id, &self.root.secret))
            .context(wire.context())
            .build()
            .unwrap()
    }

    async fn setup(&self, root: &Client) -> StaticProvider {
        let ram = root.ram();
        ram.create_user("dev").await.unwrap();
        let key = ram.create_access_key("dev").await.unwrap();
        assert!(!key.access_key_id.is_empty());
        ram.attach_policy_to_user("System", "AliyunSTSAssumeRoleAccess", "dev")
            .await
            .unwrap();
        let role = ram
            .create_role("Reader", &self.trust("root"), None)
            .await
            .unwrap();
        assert_eq!(role["Role"]["RoleName"], "Reader", "{role}");
        ram.attach_policy_to_role("System", "AliyunRAMReadOnlyAccess", "Reader")
            .await
            .unwrap();
        StaticProvider::access_key(key.access_key_id, key.access_key_secret.expose())
    }
}

// ---------------------------------------------------------------------------------------------
// The counting HTTP client
// ---------------------------------------------------------------------------------------------

/// One request as it reached (or was refused before) the server.
#[derive(Debug, Clone)]
struct Exchange {
    action: String,
    /// Form parameters of the body (RPC v1 carries every parameter there).
    params: Vec<(String, String)>,
    /// Whether the request carried a V3 `Authorization` header.
    v3: bool,
    /// HTTP status, 0 when no answer came.
    status: u16,
    /// The error `Code` of the answer, if any.
    code: Option<String>,
}

impl Exchange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Forwards to the real [`ReqwestHttp`] and records every exchange; refuses any URL that is not
/// on 127.0.0.1, so no test can ever reach the network.
#[derive(Debug, Clone)]
struct Wire {
    inner: Arc<ReqwestHttp>,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Wire {
    fn new() -> Wire {
        Wire::over(ReqwestHttp::default())
    }

    fn over(http: ReqwestHttp) -> Wire {
        Wire {
            inner: Arc::new(http),
            log: Arc::default(),
        }
    }

    /// A context with no environment variables, the real clock and this HTTP.
    fn context(&self) -> Context {
        Context::os()
            .with_env(MapEnv::default())
            .with_http(self.clone())
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }

    /// The exchanges of one action, in order.
    fn of(&self, action: &str) -> Vec<Exchange> {
        self.exchanges()
            .into_iter()
            .filter(|e| e.action == action)
            .collect()
    }

    fn count(&self, action: &str) -> usize {
        self.of(action).len()
    }
}

#[async_trait]
impl HttpClient for Wire {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let params: Vec<(String, String)> =
            tessera_protocol::encoding::parse_pairs(&body).collect();
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let action = params
            .iter()
            .find(|(n, _)| n == "Action")
            .map(|(_, v)| v.clone())
            .or_else(|| header("x-acs-action"))
            .unwrap_or_default();
        let mut exchange = Exchange {
            action,
            params,
            v3: header("authorization").is_some_and(|a| a.starts_with("ACS3-HMAC-SHA256 ")),
            status: 0,
            code: None,
        };
        let loopback =
            req.url.starts_with("http://127.0.0.1:") || req.url.starts_with("https://127.0.0.1:");
        if !loopback {
            exchange.code = Some("refused: not loopback".into());
            self.log.lock().unwrap().push(exchange);
            return Err(HttpError::Transport(format!(
                "the test refuses non-loopback {}",
                req.endpoint()
            )));
        }
        let result = self.inner.send(req).await;
        if let Ok(resp) = &result {
            exchange.status = resp.status;
            exchange.code = serde_json::from_slice::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| v.get("Code").and_then(|c| c.as_str()).map(str::to_string));
        }
        self.log.lock().unwrap().push(exchange);
        result
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn unix(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// The credential's stated lifetime from `issued` (server seconds).
fn lifetime(c: &Credential, issued: i64) -> i64 {
    unix(c.expiration().expect("an STS credential expires")) - issued
}

fn assert_sts(c: &Credential) {
    assert_eq!(c.kind(), CredentialKind::StsToken);
    assert!(c.access_key_id().starts_with("STS."), "{c:?}");
    assert!(!c.access_key_secret().expose().is_empty());
    assert!(c.security_token().is_some_and(|t| !t.expose().is_empty()));
}

/// The service error inside `e` (unwrapping a provider's error): status, code, request id.
fn service(e: &Error) -> (u16, &str, &str) {
    match e {
        Error::Service {
            status,
            code,
            request_id,
            ..
        } => (*status, code, request_id),
        Error::Provider { source, .. } => service(source),
        other => panic!("not a service error: {other:?}"),
    }
}

/// A RamRoleArn provider for `role` of the test server, over `source`, on the recording wire.
fn role_provider(
    srv: &TestServer,
    wire: &Wire,
    source: impl ProvideCredentials + 'static,
    role: &str,
    session: &str,
) -> RamRoleArnBuilder {
    RamRoleArnProvider::builder(source)
        .role_arn(srv.role_arn(role))
        .session_name(session)
        .sts_endpoint(srv.http())
        .context(wire.context())
}

/// Lets Reader sessions assume a role "Second", which trusts only Reader: a second hop.
async fn second_hop_role(srv: &TestServer, root: &Client) {
    root.ram()
        .attach_policy_to_role("System", "AliyunSTSAssumeRoleAccess", "Reader")
        .await
        .unwrap();
    root.ram()
        .create_role("Second", &srv.trust("role/reader"), None)
        .await
        .unwrap();
}

fn client_with(
    srv: &TestServer,
    wire: &Wire,
    provider: impl ProvideCredentials + 'static,
) -> Client {
    Client::builder()
        .endpoint(srv.http())
        .credentials(provider)
        .context(wire.context())
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. GetCallerIdentity with the root's AccessKey: V1, V3, HTTPS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn root_caller_identity_over_v1_and_v3() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let root_arn = format!("acs:ram::{}:root", srv.account);

    let me = root.sts().get_caller_identity().await.unwrap();
    assert_eq!(me.arn, root_arn);
    assert_eq!(me.account_id, srv.account);
    assert_eq!(me.identity_type, "Account");
    assert_eq!(me.request_id.len(), 36, "{me:?}");
    let sent = wire.of("GetCallerIdentity");
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].v3);
    assert_eq!(sent[0].param("SignatureMethod"), Some("HMAC-SHA1"));
    assert_eq!(sent[0].param("AccessKeyId"), Some(srv.root.id.as_str()));
    assert!(sent[0].param("Signature").is_some());

    let v = root
        .call_with(
            "sts",
            &RpcCall::new("GetCallerIdentity", STS_VERSION),
            SignatureVersion::V3,
        )
        .await
        .unwrap();
    assert_eq!(v["Arn"], root_arn.as_str(), "{v}");
    assert_eq!(v["IdentityType"], "Account");
    let sent = wire.of("GetCallerIdentity");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].v3, "signed ACS3-HMAC-SHA256");
    assert_eq!(
        sent[1].param("Signature"),
        None,
        "no v1 signature in a V3 call"
    );

    // A client whose default scheme is V3 uses it for the typed calls too.
    let v3 = Client::builder()
        .endpoint(srv.http())
        .credentials(StaticProvider::access_key(&srv.root.id, &srv.root.secret))
        .signature_version(SignatureVersion::V3)
        .context(wire.context())
        .build()
        .unwrap();
    assert_eq!(v3.sts().get_caller_identity().await.unwrap().arn, root_arn);
    let sent = wire.of("GetCallerIdentity");
    assert_eq!(sent.len(), 3);
    assert!(sent[2].v3);
    assert!(sent.iter().all(|e| e.status == 200), "{sent:?}");
}

#[tokio::test]
async fn root_caller_identity_over_https_with_the_servers_ca() {
    let srv = start().await;
    let http = ReqwestHttp::default().with_root_pem(&srv.ca_pem()).unwrap();
    let wire = Wire::over(http);
    let client = Client::builder()
        .endpoint(srv.https())
        .credentials(StaticProvider::access_key(&srv.root.id, &srv.root.secret))
        .context(wire.context())
        .build()
        .unwrap();
    let me = client.sts().get_caller_identity().await.unwrap();
    assert_eq!(me.arn, format!("acs:ram::{}:root", srv.account));
    let v = client
        .call_with(
            "sts",
            &RpcCall::new("GetCallerIdentity", STS_VERSION),
            SignatureVersion::V3,
        )
        .await
        .unwrap();
    assert_eq!(v["AccountId"], srv.account.as_str());
    assert_eq!(wire.count("GetCallerIdentity"), 2);

    // RAM setup and a role session, all over HTTPS.
    let dev = srv.setup(&client).await;
    let provider = RamRoleArnProvider::builder(dev)
        .role_arn(srv.role_arn("Reader"))
        .session_name("tls")
        .sts_endpoint(srv.https())
        .context(wire.context())
        .build()
        .unwrap();
    let session = Client::builder()
        .endpoint(srv.https())
        .credentials(provider)
        .context(wire.context())
        .build()
        .unwrap();
    let me = session.sts().get_caller_identity().await.unwrap();
    assert_eq!(
        me.arn,
        format!("acs:ram::{}:assumed-role/reader/tls", srv.account)
    );
    assert_eq!(wire.count("AssumeRole"), 1);

    // Without the CA the certificate is not trusted: a transport error, never an answer.
    let untrusting = Wire::new();
    let client = Client::builder()
        .endpoint(srv.https())
        .credentials(StaticProvider::access_key(&srv.root.id, &srv.root.secret))
        .context(untrusting.context())
        .retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let e = client.sts().get_caller_identity().await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert_eq!(
        untrusting.exchanges()[0].status,
        0,
        "no answer without the CA"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. RamRoleArn sessions, set up through the SDK's RAM calls
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ram_role_arn_session_and_its_identity() {
    let srv = start().await;
    let wire = Wire::new();
    let dev = srv.setup(&srv.root_client(&wire)).await;

    let provider = role_provider(&srv, &wire, dev.clone(), "Reader", "alice")
        .build()
        .unwrap();
    assert_eq!(provider.endpoint(), srv.http());
    let c = provider.provide().await.unwrap();
    assert_sts(&c);
    assert_eq!(
        lifetime(&c, srv.now()),
        3600,
        "DurationSeconds defaults to 3600"
    );
    assert_eq!(c.provider_name(), "ram_role_arn/static_ak");
    let assumed = wire.of("AssumeRole");
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed[0].param("DurationSeconds"), Some("3600"));
    assert_eq!(assumed[0].param("RoleSessionName"), Some("alice"));
    assert_eq!(
        assumed[0].param("SecurityToken"),
        None,
        "signed by dev's key"
    );

    let short = role_provider(&srv, &wire, dev.clone(), "Reader", "alice")
        .duration_seconds(900)
        .build()
        .unwrap();
    let c900 = short.provide().await.unwrap();
    assert_sts(&c900);
    assert_eq!(lifetime(&c900, srv.now()), 900);
    assert_ne!(c900.access_key_id(), c.access_key_id());

    // A client over the provider acts as the assumed role.
    let session = client_with(&srv, &wire, provider);
    let me = session.sts().get_caller_identity().await.unwrap();
    assert_eq!(
        me.arn,
        format!("acs:ram::{}:assumed-role/reader/alice", srv.account)
    );
    assert_eq!(me.identity_type, "AssumedRoleUser");
    assert!(me.role_id.is_some(), "{me:?}");
    let used = wire.of("GetCallerIdentity");
    assert!(used[0].param("AccessKeyId").unwrap().starts_with("STS."));
    assert!(used[0].param("SecurityToken").is_some());
    // The session signs V3 too (the token in x-acs-security-token).
    let v = session
        .call_with(
            "sts",
            &RpcCall::new("GetCallerIdentity", STS_VERSION),
            SignatureVersion::V3,
        )
        .await
        .unwrap();
    assert_eq!(v["Arn"], me.arn.as_str(), "{v}");
    assert!(wire.of("GetCallerIdentity")[1].v3);
    // The role's own permissions (RAM read-only) apply.
    let user = session.ram().get_user("dev").await.unwrap();
    assert_eq!(user["User"]["UserName"], "dev", "{user}");
    let e = session.ram().create_user("intruder").await.unwrap_err();
    assert_eq!(service(&e).1, "NoPermission", "{e}");
    assert_eq!(
        wire.count("AssumeRole"),
        3,
        "one per provider fetch, then cached"
    );
}

#[tokio::test]
async fn session_policy_narrows_the_role() {
    let srv = start().await;
    let wire = Wire::new();
    let dev = srv.setup(&srv.root_client(&wire)).await;
    let only_get_role =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetRole","Resource":"*"}]}"#;
    let provider = role_provider(&srv, &wire, dev, "Reader", "narrow")
        .policy(only_get_role)
        .build()
        .unwrap();
    let session = client_with(&srv, &wire, provider);
    let role = session.ram().get_role("Reader").await.unwrap();
    assert_eq!(role["Role"]["RoleName"], "Reader", "{role}");
    // GetUser is in the role's read-only policy but not in the session policy.
    let e = session.ram().get_user("dev").await.unwrap_err();
    let (status, code, request_id) = service(&e);
    assert_eq!((status, code), (403, "NoPermission"), "{e}");
    assert_eq!(request_id.len(), 36, "{e}");
    assert!(matches!(e, Error::Service { .. }), "{e:?}");
    assert_eq!(wire.count("GetUser"), 1, "NoPermission is not retried");
    assert_eq!(wire.count("AssumeRole"), 1);
    assert_eq!(
        wire.of("AssumeRole")[0].param("Policy"),
        Some(only_get_role)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Role chaining
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn role_chaining_through_two_providers() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let dev = srv.setup(&root).await;
    second_hop_role(&srv, &root).await;

    let first = role_provider(&srv, &wire, dev, "Reader", "hop1")
        .build()
        .unwrap();
    let second = role_provider(&srv, &wire, first, "Second", "hop2")
        .build()
        .unwrap();
    let client = client_with(&srv, &wire, second);
    let me = client.sts().get_caller_identity().await.unwrap();
    assert_eq!(
        me.arn,
        format!("acs:ram::{}:assumed-role/second/hop2", srv.account)
    );
    let cred = client.credentials().peek().unwrap();
    assert_sts(&cred);
    assert_eq!(cred.provider_name(), "ram_role_arn/ram_role_arn/static_ak");

    let hops = wire.of("AssumeRole");
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert_eq!(
        hops[0].param("RoleArn"),
        Some(srv.role_arn("Reader").as_str())
    );
    assert!(!hops[0].param("AccessKeyId").unwrap().starts_with("STS."));
    assert_eq!(hops[0].param("SecurityToken"), None);
    assert_eq!(
        hops[1].param("RoleArn"),
        Some(srv.role_arn("Second").as_str())
    );
    assert!(hops[1].param("AccessKeyId").unwrap().starts_with("STS."));
    assert!(hops[1].param("SecurityToken").is_some(), "signed by hop 1");
    assert!(hops.iter().all(|h| h.status == 200), "{hops:?}");
}

#[tokio::test]
async fn chained_sessions_both_revoked_are_renewed_hop_by_hop() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let dev = srv.setup(&root).await;
    second_hop_role(&srv, &root).await;
    let first = role_provider(&srv, &wire, dev, "Reader", "hop1")
        .build()
        .unwrap();
    let second = role_provider(&srv, &wire, first, "Second", "hop2")
        .build()
        .unwrap();
    let client = client_with(&srv, &wire, second);
    let arn = format!("acs:ram::{}:assumed-role/second/hop2", srv.account);
    assert_eq!(client.sts().get_caller_identity().await.unwrap().arn, arn);
    assert_eq!(wire.count("AssumeRole"), 2);

    for role in ["Reader", "Second"] {
        root.call(
            "ram",
            "RevokeRoleSessions",
            RAM_VERSION,
            [("RoleName", role)],
        )
        .await
        .unwrap();
    }
    srv.clock().advance(1);

    // The outer session is rejected; renewing it finds the inner one rejected too, renews
    // that, and the call succeeds.
    assert_eq!(client.sts().get_caller_identity().await.unwrap().arn, arn);
    let hops: Vec<_> = wire
        .of("AssumeRole")
        .into_iter()
        .map(|e| {
            let role = e
                .param("RoleArn")
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (role, e.status)
        })
        .collect();
    let want: Vec<(String, u16)> = [
        ("Reader", 200),
        ("Second", 200),
        ("Second", 400),
        ("Reader", 200),
        ("Second", 200),
    ]
    .iter()
    .map(|(r, s)| (r.to_string(), *s))
    .collect();
    assert_eq!(hops, want);
    assert_eq!(
        wire.of("AssumeRole")[2].code.as_deref(),
        Some("InvalidSecurityToken.Expired")
    );
    let statuses: Vec<u16> = wire
        .of("GetCallerIdentity")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [200, 400, 200]);
}

// ---------------------------------------------------------------------------------------------
// Clock skew: a host clock an hour slow
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_slow_host_clock_is_corrected_from_the_servers_date() {
    let srv = start().await;
    let wire = Wire::new();
    let dev = srv.setup(&srv.root_client(&wire)).await;
    let slow = ManualClock::new(SystemTime::now() - Duration::from_secs(3600));
    let ctx = wire.context().with_clock(slow.clone());

    let root = Client::builder()
        .endpoint(srv.http())
        .credentials(StaticProvider::access_key(&srv.root.id, &srv.root.secret))
        .context(ctx.clone())
        .build()
        .unwrap();
    root.sts().get_caller_identity().await.unwrap();
    let tries: Vec<_> = wire
        .of("GetCallerIdentity")
        .into_iter()
        .map(|e| (e.status, e.code))
        .collect();
    assert_eq!(
        tries,
        [
            (400, Some("InvalidTimeStamp.Expired".to_string())),
            (200, None)
        ]
    );
    assert!(
        (3598..=3602).contains(&root.clock_skew_secs()),
        "{}",
        root.clock_skew_secs()
    );
    root.call_with(
        "sts",
        &RpcCall::new("GetCallerIdentity", STS_VERSION),
        SignatureVersion::V3,
    )
    .await
    .unwrap();
    assert_eq!(wire.count("GetCallerIdentity"), 3, "the skew is remembered");

    let provider = RamRoleArnProvider::builder(dev)
        .role_arn(srv.role_arn("Reader"))
        .session_name("slow")
        .sts_endpoint(srv.http())
        .context(ctx.clone())
        .build()
        .unwrap();
    let c = provider.provide().await.unwrap();
    assert_eq!(wire.count("AssumeRole"), 2, "one timestamp retry");
    assert!((3598..=3602).contains(&c.clock_skew_secs()), "{c:?}");
    // On the slow clock the session still has its hour, no more.
    let now = slow.now();
    assert!(c.is_valid_at(now + Duration::from_secs(3500)));
    assert!(!c.is_valid_at(now + Duration::from_secs(3700)));
}

// ---------------------------------------------------------------------------------------------
// 4. Error mapping
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_and_not_retried() {
    let srv = start().await;
    let wire = Wire::new();
    let client = client_with(
        &srv,
        &wire,
        StaticProvider::access_key(&srv.root.id, "not-the-secret"),
    );
    let e = client.sts().get_caller_identity().await.unwrap_err();
    let (status, code, request_id) = service(&e);
    assert_eq!((status, code), (400, "SignatureDoesNotMatch"), "{e}");
    assert_eq!(request_id.len(), 36);
    assert!(matches!(e, Error::Service { .. }), "{e:?}");
    assert!(!e.is_retryable() && !e.is_credential_rejected());
    assert_eq!(wire.count("GetCallerIdentity"), 1, "one attempt only");

    // Same over V3.
    let e = client
        .call_with(
            "sts",
            &RpcCall::new("GetCallerIdentity", STS_VERSION),
            SignatureVersion::V3,
        )
        .await
        .unwrap_err();
    assert_eq!(service(&e).1, "SignatureDoesNotMatch", "{e}");
    assert_eq!(wire.count("GetCallerIdentity"), 2);

    // An unknown key: rejected, but a key that never expires is not "renewed" either.
    let wire = Wire::new();
    let client = client_with(
        &srv,
        &wire,
        StaticProvider::access_key("LTAI0000000000000000nope", "x"),
    );
    let e = client.sts().get_caller_identity().await.unwrap_err();
    assert_eq!(service(&e).1, "InvalidAccessKeyId.NotFound", "{e}");
    assert_eq!(wire.count("GetCallerIdentity"), 1);
}

#[tokio::test]
async fn untrusted_assume_role_is_no_permission_and_not_retried() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let dev = srv.setup(&root).await;
    root.ram()
        .create_role("OnlyBob", &srv.trust("user/bob"), None)
        .await
        .unwrap();
    let provider = role_provider(&srv, &wire, dev, "OnlyBob", "dev")
        .build()
        .unwrap();
    let e = provider.provide().await.unwrap_err();
    assert!(
        matches!(&e, Error::Provider { provider, .. } if provider == "ram_role_arn"),
        "{e:?}"
    );
    let (status, code, request_id) = service(&e);
    assert_eq!((status, code), (403, "NoPermission"), "{e}");
    assert!(!request_id.is_empty());
    assert!(!e.is_retryable());
    assert_eq!(wire.count("AssumeRole"), 1, "not retried");

    // Through a client: the call fails before anything is sent with the missing credential.
    let client = client_with(&srv, &wire, provider);
    let e = client.sts().get_caller_identity().await.unwrap_err();
    assert_eq!(e.code(), Some("NoPermission"), "{e}");
    assert_eq!(wire.count("AssumeRole"), 2);
    assert_eq!(wire.count("GetCallerIdentity"), 0);
}

#[tokio::test]
async fn an_unknown_source_key_costs_one_assume_role() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    srv.setup(&root).await;
    let provider = RamRoleArnProvider::builder(StaticProvider::access_key(
        "LTAI0000000000000000nope",
        "secret",
    ))
    .role_arn(srv.role_arn("Reader"))
    .session_name("unknown")
    .sts_endpoint(srv.http())
    .context(wire.context())
    .build()
    .unwrap();
    let e = provider.provide().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidAccessKeyId.NotFound"), "{e}");
    // A key that never expires cannot be renewed: asking again with it is a wasted call (the
    // Client itself only renews credentials that expire).
    let sent: Vec<_> = wire
        .of("AssumeRole")
        .into_iter()
        .map(|e| (e.param("AccessKeyId").unwrap().to_string(), e.code))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[tokio::test]
async fn typed_assume_role_and_the_default_session_name() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let dev = srv.setup(&root).await;

    // The typed call, by a client signing with dev's key.
    let mut req = tessera_credentials::sts::AssumeRoleRequest::new(srv.role_arn("Reader"), "typed");
    req.duration_seconds = Some(900);
    let r = client_with(&srv, &wire, dev.clone())
        .sts()
        .assume_role(&req)
        .await
        .unwrap();
    assert_sts(&r.credentials);
    assert_eq!(lifetime(&r.credentials, srv.now()), 900);
    assert!(r.assumed_role_user.arn.ends_with("/typed"), "{r:?}");
    assert!(
        r.assumed_role_user.assumed_role_id.ends_with(":typed"),
        "{r:?}"
    );
    assert_eq!(r.request_id.len(), 36);
    // Roles are not for root accounts, as on Alibaba Cloud.
    let e = root.sts().assume_role(&req).await.unwrap_err();
    assert_eq!(service(&e).1, "NoPermission", "{e}");

    // Without a session name (and without ALIBABA_CLOUD_ROLE_SESSION_NAME) one is made up.
    let provider = RamRoleArnProvider::builder(dev)
        .role_arn(srv.role_arn("Reader"))
        .sts_endpoint(srv.http())
        .context(wire.context())
        .build()
        .unwrap();
    let me = client_with(&srv, &wire, provider)
        .sts()
        .get_caller_identity()
        .await
        .unwrap();
    let prefix = format!(
        "acs:ram::{}:assumed-role/reader/tessera-credentials-",
        srv.account
    );
    assert!(me.arn.starts_with(&prefix), "{}", me.arn);
}

#[tokio::test]
async fn duration_above_the_roles_maximum_falls_back_to_an_hour_once() {
    let srv = start().await;
    let wire = Wire::new();
    let dev = srv.setup(&srv.root_client(&wire)).await;
    // Reader allows the default maximum, 3600 s.
    let provider = role_provider(&srv, &wire, dev.clone(), "Reader", "long")
        .duration_seconds(7200)
        .build()
        .unwrap();
    let c = provider.provide().await.unwrap();
    assert_sts(&c);
    assert_eq!(lifetime(&c, srv.now()), 3600);
    let asked: Vec<_> = wire
        .of("AssumeRole")
        .iter()
        .map(|e| {
            (
                e.param("DurationSeconds").unwrap().to_string(),
                e.code.clone(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            (
                "7200".to_string(),
                Some("InvalidParameter.DurationSeconds".to_string())
            ),
            ("3600".to_string(), None),
        ]
    );
    // The provider keeps asking for what the role allows.
    let again = provider.provide().await.unwrap();
    assert_eq!(lifetime(&again, srv.now()), 3600);
    assert_eq!(wire.count("AssumeRole"), 3);
    assert_eq!(
        wire.of("AssumeRole")[2].param("DurationSeconds"),
        Some("3600")
    );

    // A role that allows two hours gets two hours: no fallback.
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    root.ram()
        .create_role("Long", &srv.trust("root"), Some(7200))
        .await
        .unwrap();
    let provider = role_provider(&srv, &wire, dev, "Long", "long")
        .duration_seconds(7200)
        .build()
        .unwrap();
    let c = provider.provide().await.unwrap();
    assert_eq!(lifetime(&c, srv.now()), 7200);
    assert_eq!(wire.count("AssumeRole"), 1);
}

// ---------------------------------------------------------------------------------------------
// 5. A rejected token is renewed once
// ---------------------------------------------------------------------------------------------

/// A session client over `Reader`, and the wire it uses.
async fn session_client(srv: &TestServer, wire: &Wire) -> Client {
    let dev = srv.setup(&srv.root_client(wire)).await;
    let provider = role_provider(srv, wire, dev, "Reader", "renewing")
        .build()
        .unwrap();
    client_with(srv, wire, provider)
}

async fn revoke_reader_sessions(srv: &TestServer, wire: &Wire) {
    let v = srv
        .root_client(wire)
        .call(
            "ram",
            "RevokeRoleSessions",
            RAM_VERSION,
            [("RoleName", "Reader")],
        )
        .await
        .unwrap();
    assert!(v["RequestId"].is_string(), "{v}");
}

#[tokio::test]
async fn revoked_session_is_renewed_once_and_the_call_succeeds() {
    let srv = start().await;
    let wire = Wire::new();
    let session = session_client(&srv, &wire).await;
    let arn = format!("acs:ram::{}:assumed-role/reader/renewing", srv.account);
    assert_eq!(session.sts().get_caller_identity().await.unwrap().arn, arn);
    let before = session.credentials().peek().unwrap();
    assert_eq!(wire.count("AssumeRole"), 1);

    revoke_reader_sessions(&srv, &wire).await;
    // Revocation refuses sessions issued up to its second; the renewal comes a second later.
    srv.clock().advance(1);

    assert_eq!(session.sts().get_caller_identity().await.unwrap().arn, arn);
    let after = session.credentials().peek().unwrap();
    assert_ne!(after.access_key_id(), before.access_key_id());
    assert!(!after.is_same(&before));
    assert_eq!(wire.count("AssumeRole"), 2, "exactly one renewal");
    let calls: Vec<_> = wire
        .of("GetCallerIdentity")
        .into_iter()
        .map(|e| {
            let key = e.param("AccessKeyId").unwrap().to_string();
            (e.status, e.code, key)
        })
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0].0, 200);
    assert_eq!(
        (calls[1].0, calls[1].1.as_deref()),
        (400, Some("InvalidSecurityToken.Expired")),
        "the revoked token is rejected once"
    );
    assert_eq!(calls[1].2, before.access_key_id());
    assert_eq!(
        (calls[2].0, calls[2].2.as_str()),
        (200, after.access_key_id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_rejecting_one_token_cost_one_assume_role() {
    // 200 rather than 1000: each call is a connection on both sides, and CI machines often
    // allow a process 1024 descriptors.
    const CALLS: usize = 200;
    let srv = start().await;
    let wire = Wire::new();
    let session = session_client(&srv, &wire).await;
    session.sts().get_caller_identity().await.unwrap();
    let before = session.credentials().peek().unwrap();
    revoke_reader_sessions(&srv, &wire).await;
    srv.clock().advance(1);

    let barrier = Arc::new(tokio::sync::Barrier::new(CALLS));
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let (session, barrier) = (session.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                session.sts().get_caller_identity().await
            })
        })
        .collect();
    for c in calls {
        let me = c.await.unwrap().unwrap();
        assert_eq!(me.identity_type, "AssumedRoleUser");
    }
    assert_eq!(
        wire.count("AssumeRole"),
        2,
        "{CALLS} rejections, one renewal"
    );
    let after = session.credentials().peek().unwrap();
    assert!(!after.is_same(&before));
    let sent = wire.of("GetCallerIdentity");
    let rejected = sent
        .iter()
        .filter(|e| e.code.as_deref() == Some("InvalidSecurityToken.Expired"))
        .count();
    assert!(
        sent.iter()
            .filter(|e| e.status == 400)
            .all(|e| e.param("AccessKeyId") == Some(before.access_key_id())),
        "only the revoked session was rejected"
    );
    assert_eq!(
        sent.len(),
        1 + CALLS + rejected,
        "each call renewed at most once"
    );
    assert!(rejected >= 1);
}

#[tokio::test]
async fn typed_assume_role_renews_a_rejected_session() {
    let srv = start().await;
    let wire = Wire::new();
    let root = srv.root_client(&wire);
    let dev = srv.setup(&root).await;
    second_hop_role(&srv, &root).await;
    let provider = role_provider(&srv, &wire, dev, "Reader", "typed")
        .build()
        .unwrap();
    let session = client_with(&srv, &wire, provider);
    let req = tessera_credentials::sts::AssumeRoleRequest::new(srv.role_arn("Second"), "hop");
    session.sts().assume_role(&req).await.unwrap();
    revoke_reader_sessions(&srv, &wire).await;
    srv.clock().advance(1);

    // GetCallerIdentity would renew the revoked Reader session; AssumeRole should too.
    let r = session.sts().assume_role(&req).await;
    let codes: Vec<_> = wire
        .of("AssumeRole")
        .into_iter()
        .map(|e| (e.param("RoleArn").unwrap().to_string(), e.code))
        .collect();
    let r = r.unwrap_or_else(|e| panic!("{e}; AssumeRoles: {codes:?}"));
    assert_sts(&r.credentials);
}

#[tokio::test]
async fn renewal_is_attempted_only_once_per_call() {
    let srv = start().await;
    let wire = Wire::new();
    let session = session_client(&srv, &wire).await;
    session.sts().get_caller_identity().await.unwrap();
    revoke_reader_sessions(&srv, &wire).await;
    // The server's clock stays in the revocation's second: the renewed session is refused too.
    let e = session.sts().get_caller_identity().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidSecurityToken.Expired"), "{e}");
    assert_eq!(wire.count("AssumeRole"), 2, "one renewal, no loop");
    assert_eq!(wire.count("GetCallerIdentity"), 3);
}

// ---------------------------------------------------------------------------------------------
// 6. 1,000 tasks ask a shared cache while the session expires: one AssumeRole
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_refresh_an_expired_session_with_one_assume_role() {
    const TASKS: usize = 1000;
    let srv = start().await;
    let wire = Wire::new();
    let dev = srv.setup(&srv.root_client(&wire)).await;

    // The cache decides with the SDK's manual clock, standing where the server's stands.
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(srv.now().try_into().unwrap()));
    let ctx = wire.context().with_clock(clock.clone());
    let provider = RamRoleArnProvider::builder(dev)
        .role_arn(srv.role_arn("Reader"))
        .session_name("storm")
        .sts_endpoint(srv.http())
        .context(ctx.clone())
        .build()
        .unwrap();
    let cache = CredentialsCache::new(provider, &ctx);

    let first = cache.get().await.unwrap();
    assert_sts(&first);
    assert!(
        cache.get().await.unwrap().is_same(&first),
        "served from the cache"
    );
    assert_eq!(wire.count("AssumeRole"), 1);

    // Past the session's expiry on both clocks, so the refresh's timestamp is inside the
    // server's window. (The server's `Date` header comes from hyper's real clock, not from its
    // ManualClock, so the skew the provider measures from this refresh's answer is off by the
    // jump; only requests after the refresh would notice, and there are none.)
    let until = first.valid_until().unwrap();
    let by = until.duration_since(clock.now()).unwrap() + Duration::from_secs(60);
    clock.advance(by);
    srv.clock().advance(by.as_secs().try_into().unwrap());
    assert!(!first.is_valid_at(clock.now()));
    assert!(cache.peek().unwrap().is_same(&first), "nothing moved yet");

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let cache = cache.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                cache.get().await
            })
        })
        .collect();
    let mut got = Vec::with_capacity(TASKS);
    for t in tasks {
        got.push(t.await.unwrap().unwrap());
    }

    assert_eq!(
        wire.count("AssumeRole"),
        2,
        "exactly one AssumeRole for 1000 tasks"
    );
    let fresh = &got[0];
    assert_sts(fresh);
    assert!(!fresh.is_same(&first));
    assert_ne!(fresh.access_key_id(), first.access_key_id());
    assert!(fresh.is_valid_at(clock.now()));
    assert_eq!(lifetime(fresh, srv.now()), 3600);
    assert!(
        got.iter().all(|c| c.is_same(fresh)),
        "all {TASKS} tasks got the same new credential"
    );
    assert!(cache.peek().unwrap().is_same(fresh));
    assert!(wire.of("AssumeRole").iter().all(|e| e.status == 200));
}

/// A warmed cache over a `Reader` session of `duration` seconds whose next refresh is refused
/// (`NoPermission`: the user has lost `AliyunSTSAssumeRoleAccess`), and the SDK clock it decides
/// with, standing where the server's stands.
async fn cache_whose_refresh_fails(
    srv: &TestServer,
    wire: &Wire,
    duration: u32,
) -> (CredentialsCache, ManualClock, Credential) {
    let root = srv.root_client(wire);
    let dev = srv.setup(&root).await;
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(srv.now().try_into().unwrap()));
    let ctx = wire.context().with_clock(clock.clone());
    let provider = RamRoleArnProvider::builder(dev)
        .role_arn(srv.role_arn("Reader"))
        .session_name("failing")
        .duration_seconds(duration)
        .sts_endpoint(srv.http())
        .context(ctx.clone())
        .build()
        .unwrap();
    let cache = CredentialsCache::new(provider, &ctx);
    let first = cache.get().await.unwrap();
    root.call(
        "ram",
        "DetachPolicyFromUser",
        RAM_VERSION,
        [
            ("PolicyType", "System"),
            ("PolicyName", "AliyunSTSAssumeRoleAccess"),
            ("UserName", "dev"),
        ],
    )
    .await
    .unwrap();
    (cache, clock, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_share_one_failed_refresh() {
    const TASKS: usize = 1000;
    let srv = start().await;
    let wire = Wire::new();
    let (cache, clock, first) = cache_whose_refresh_fails(&srv, &wire, 3600).await;
    // Past expiry on both clocks, as in the successful storm above.
    let by = first
        .valid_until()
        .unwrap()
        .duration_since(clock.now())
        .unwrap();
    let by = by + Duration::from_secs(60);
    clock.advance(by);
    srv.clock().advance(by.as_secs().try_into().unwrap());

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (cache, barrier) = (cache.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                cache.get().await
            })
        })
        .collect();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert_eq!(e.code(), Some("NoPermission"), "{e}");
    }
    let refused: Vec<_> = wire.of("AssumeRole").into_iter().skip(1).collect();
    assert_eq!(
        refused.len(),
        1,
        "one refused AssumeRole for {TASKS} tasks: {refused:?}"
    );
    assert_eq!(refused[0].code.as_deref(), Some("NoPermission"));
}

#[tokio::test]
async fn a_failed_refresh_serves_the_still_valid_session_until_it_expires() {
    let srv = start().await;
    let wire = Wire::new();
    // A 900 s session, and only the SDK's clock moves: every request stays within the server's
    // 15-minute timestamp window, and the server's clock keeps agreeing with its Date header.
    let (cache, clock, first) = cache_whose_refresh_fails(&srv, &wire, 900).await;
    assert_eq!(lifetime(&first, srv.now()), 900);
    let by = first
        .valid_until()
        .unwrap()
        .duration_since(clock.now())
        .unwrap();
    clock.advance(by - Duration::from_secs(30));
    assert!(first.is_valid_at(clock.now()));

    // 30 s left: inside every refresh window. The refresh fails; the session is still served.
    let got = cache
        .get()
        .await
        .expect("the still-valid session is served");
    assert!(got.is_same(&first));
    let codes = |w: &Wire| -> Vec<Option<String>> {
        w.of("AssumeRole").into_iter().map(|e| e.code).collect()
    };
    assert_eq!(codes(&wire), [None, Some("NoPermission".to_string())]);
    // Within the back-off nobody calls STS again.
    assert!(cache.get().await.unwrap().is_same(&first));
    assert_eq!(wire.count("AssumeRole"), 2);

    // Expired: the failure surfaces instead of a dead session.
    clock.advance(Duration::from_secs(31));
    assert!(!first.is_valid_at(clock.now()));
    let e = cache.get().await.unwrap_err();
    assert_eq!(e.code(), Some("NoPermission"), "{e}");
    assert!(matches!(e, Error::Provider { .. }), "{e:?}");
    assert_eq!(
        codes(&wire),
        [
            None,
            Some("NoPermission".to_string()),
            Some("NoPermission".to_string())
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 7. The blocking facade, from a thread without a runtime
// ---------------------------------------------------------------------------------------------

#[test]
fn blocking_client_from_a_plain_test() {
    // The server needs a runtime of its own; the test thread has none.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let srv = rt.block_on(start());
    assert!(tokio::runtime::Handle::try_current().is_err());

    let wire = Wire::new();
    let client = blocking::Client::new(srv.root_client(&wire)).unwrap();
    let me = client.get_caller_identity().unwrap();
    assert_eq!(me.arn, format!("acs:ram::{}:root", srv.account));
    assert_eq!(me.identity_type, "Account");
    let v = client
        .call("ram", "CreateUser", RAM_VERSION, &[("UserName", "sync")])
        .unwrap();
    assert_eq!(v["User"]["UserName"], "sync", "{v}");
    let e = client
        .call("ram", "CreateUser", RAM_VERSION, &[("UserName", "sync")])
        .unwrap_err();
    assert_eq!(service(&e).1, "EntityAlreadyExists.User", "{e}");
    assert_eq!(client.credential().unwrap().access_key_id(), srv.root.id);
    assert_eq!(wire.count("GetCallerIdentity"), 1);
    assert_eq!(wire.count("CreateUser"), 2);
    drop(client);
    drop(srv);
}
