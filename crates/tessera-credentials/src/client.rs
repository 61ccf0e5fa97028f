//! The signing client: RPC calls signed with credentials taken from the cache at send time, so
//! a retry never reuses a credential that has since been refreshed or rejected.

use crate::endpoint::{normalize, product_endpoint};
use crate::rpc::{self, Auth, RetryPolicy, SkewEstimate};
use crate::signing::{RpcCall, SignatureVersion};
use crate::sts::{AssumeRoleRequest, AssumeRoleResponse, CallerIdentity};
use crate::{Context, CredentialsCache, Error, ProvideCredentials};
use serde_json::Value;
use std::sync::Arc;
use tessera_protocol::{RAM_VERSION, STS_VERSION};

/// A client for Alibaba Cloud RPC APIs (or a Tessera server). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ctx: Context,
    credentials: CredentialsCache,
    endpoint: Option<String>,
    region: Option<String>,
    signature: SignatureVersion,
    retry: RetryPolicy,
    skew: SkewEstimate,
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    ctx: Option<Context>,
    credentials: Option<Box<dyn ProvideCredentials>>,
    endpoint: Option<String>,
    region: Option<String>,
    signature: SignatureVersion,
    retry: RetryPolicy,
}

impl ClientBuilder {
    /// One endpoint for every product (a Tessera server serves STS and RAM at one address).
    /// Without it, each product's public endpoint is used.
    pub fn endpoint(mut self, endpoint: impl AsRef<str>) -> Self {
        self.endpoint = Some(normalize(endpoint.as_ref()));
        self
    }

    /// The region, for regional product endpoints.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Where credentials come from. Required; wrap nothing yourself — the client caches.
    pub fn credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(Box::new(provider));
        self
    }

    /// The default signature scheme of calls (v1 unless set).
    pub fn signature_version(mut self, v: SignatureVersion) -> Self {
        self.signature = v;
        self
    }

    /// Timeouts and retries.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The environment, files, clock and HTTP (default: the real ones).
    pub fn context(mut self, ctx: Context) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let ctx = self.ctx.unwrap_or_default();
        let provider = self
            .credentials
            .ok_or_else(|| Error::config("Client", "no credentials provider was given"))?;
        Ok(Client {
            inner: Arc::new(Inner {
                credentials: CredentialsCache::new(provider, &ctx),
                ctx,
                endpoint: self.endpoint,
                region: self.region,
                signature: self.signature,
                retry: self.retry,
                skew: SkewEstimate::default(),
            }),
        })
    }
}

impl Client {
    /// Starts a builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The credentials cache the client signs with (for diagnostics, or to share it).
    pub fn credentials(&self) -> &CredentialsCache {
        &self.inner.credentials
    }

    /// The endpoint calls for `product` go to.
    pub fn endpoint_for(&self, product: &str) -> Result<String, Error> {
        match &self.inner.endpoint {
            Some(e) => Ok(e.clone()),
            None => product_endpoint(product, self.inner.region.as_deref()),
        }
    }

    /// The server's clock minus ours, as last measured (seconds).
    pub fn clock_skew_secs(&self) -> i64 {
        self.inner.skew.get()
    }

    /// Calls any RPC action with the default signature scheme and returns the JSON answer.
    pub async fn call(
        &self,
        product: &str,
        action: &str,
        version: &str,
        params: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Result<Value, Error> {
        let mut call = RpcCall::new(action, version);
        call.params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.call_with(product, &call, self.inner.signature).await
    }

    /// Calls `call` signed with `style`. If the service rejects the credential as expired or
    /// unknown, the cache drops it and the call is made once more with a fresh one.
    pub async fn call_with(
        &self,
        product: &str,
        call: &RpcCall,
        style: SignatureVersion,
    ) -> Result<Value, Error> {
        Ok(self.exchange(product, call, style).await?.body)
    }

    async fn exchange(
        &self,
        product: &str,
        call: &RpcCall,
        style: SignatureVersion,
    ) -> Result<rpc::Reply, Error> {
        let endpoint = self.endpoint_for(product)?;
        rpc::invoke(
            &self.inner.ctx,
            &endpoint,
            call,
            Auth::Cached(&self.inner.credentials, style),
            &self.inner.retry,
            &self.inner.skew,
        )
        .await
    }

    /// Typed STS calls.
    pub fn sts(&self) -> Sts<'_> {
        Sts(self)
    }

    /// Typed RAM calls.
    pub fn ram(&self) -> Ram<'_> {
        Ram(self)
    }
}

/// STS (2015-04-01).
#[derive(Debug, Clone, Copy)]
pub struct Sts<'a>(&'a Client);

impl Sts<'_> {
    /// `GetCallerIdentity`: who the client's credentials are.
    pub async fn get_caller_identity(&self) -> Result<CallerIdentity, Error> {
        let v = self
            .0
            .call_with(
                "sts",
                &RpcCall::new("GetCallerIdentity", STS_VERSION),
                self.0.inner.signature,
            )
            .await?;
        crate::sts::parse_caller_identity(&self.0.endpoint_for("sts")?, &v)
    }

    /// `AssumeRole`: a session of `req.role_arn` for the client's credentials.
    pub async fn assume_role(&self, req: &AssumeRoleRequest) -> Result<AssumeRoleResponse, Error> {
        req.validate()?;
        let endpoint = self.0.endpoint_for("sts")?;
        let reply = self
            .0
            .exchange("sts", &req.to_call(), self.0.inner.signature)
            .await?;
        crate::sts::parse_assume_role(&endpoint, &reply, "assume_role")
    }
}

/// An AccessKey as `CreateAccessKey` returns it (the only time the secret is shown).
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The secret.
    pub access_key_secret: crate::Secret,
}

/// RAM (2015-05-01). Each method is a thin typed wrapper over [`Client::call`]; answers are
/// the service's JSON.
#[derive(Debug, Clone, Copy)]
pub struct Ram<'a>(&'a Client);

impl Ram<'_> {
    async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, Error> {
        self.0
            .call(
                "ram",
                action,
                RAM_VERSION,
                params.iter().map(|(k, v)| (*k, *v)),
            )
            .await
    }

    /// `CreateUser`.
    pub async fn create_user(&self, user_name: &str) -> Result<Value, Error> {
        self.call("CreateUser", &[("UserName", user_name)]).await
    }

    /// `GetUser`.
    pub async fn get_user(&self, user_name: &str) -> Result<Value, Error> {
        self.call("GetUser", &[("UserName", user_name)]).await
    }

    /// `DeleteUser`.
    pub async fn delete_user(&self, user_name: &str) -> Result<Value, Error> {
        self.call("DeleteUser", &[("UserName", user_name)]).await
    }

    /// `CreateAccessKey` for a user.
    pub async fn create_access_key(&self, user_name: &str) -> Result<NewAccessKey, Error> {
        let v = self
            .call("CreateAccessKey", &[("UserName", user_name)])
            .await?;
        let key = &v["AccessKey"];
        match (key["AccessKeyId"].as_str(), key["AccessKeySecret"].as_str()) {
            (Some(id), Some(secret)) => Ok(NewAccessKey {
                access_key_id: id.to_string(),
                access_key_secret: crate::Secret::new(secret),
            }),
            _ => Err(Error::InvalidResponse {
                endpoint: self.0.endpoint_for("ram")?,
                message: "the answer has no AccessKey".into(),
            }),
        }
    }

    /// `CreateRole` with a trust policy document.
    pub async fn create_role(
        &self,
        role_name: &str,
        assume_role_policy_document: &str,
        max_session_duration: Option<u32>,
    ) -> Result<Value, Error> {
        let max = max_session_duration.map(|m| m.to_string());
        let mut params = vec![
            ("RoleName", role_name),
            ("AssumeRolePolicyDocument", assume_role_policy_document),
        ];
        if let Some(m) = &max {
            params.push(("MaxSessionDuration", m));
        }
        self.call("CreateRole", &params).await
    }

    /// `GetRole`.
    pub async fn get_role(&self, role_name: &str) -> Result<Value, Error> {
        self.call("GetRole", &[("RoleName", role_name)]).await
    }

    /// `DeleteRole`.
    pub async fn delete_role(&self, role_name: &str) -> Result<Value, Error> {
        self.call("DeleteRole", &[("RoleName", role_name)]).await
    }

    /// `CreatePolicy` (a custom policy).
    pub async fn create_policy(&self, policy_name: &str, document: &str) -> Result<Value, Error> {
        self.call(
            "CreatePolicy",
            &[("PolicyName", policy_name), ("PolicyDocument", document)],
        )
        .await
    }

    /// `AttachPolicyToUser`; `policy_type` is `System` or `Custom`.
    pub async fn attach_policy_to_user(
        &self,
        policy_type: &str,
        policy_name: &str,
        user_name: &str,
    ) -> Result<Value, Error> {
        self.call(
            "AttachPolicyToUser",
            &[
                ("PolicyType", policy_type),
                ("PolicyName", policy_name),
                ("UserName", user_name),
            ],
        )
        .await
    }

    /// `AttachPolicyToRole`; `policy_type` is `System` or `Custom`.
    pub async fn attach_policy_to_role(
        &self,
        policy_type: &str,
        policy_name: &str,
        role_name: &str,
    ) -> Result<Value, Error> {
        self.call(
            "AttachPolicyToRole",
            &[
                ("PolicyType", policy_type),
                ("PolicyName", policy_name),
                ("RoleName", role_name),
            ],
        )
        .await
    }
}
