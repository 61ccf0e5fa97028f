//! RamRoleArn: AssumeRole on top of any other provider.

use crate::rpc::{self, Auth, RetryPolicy, SkewEstimate};
use crate::signing::SignatureVersion;
use crate::sts::{self, AssumeRoleRequest};
use crate::{Context, Credential, CredentialsCache, Error, ProvideCredentials};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU32, Ordering};

/// Assumes a RAM role with credentials from another provider (a static key, the environment,
/// another role: chains of any depth). Each `provide` is one AssumeRole, signed RPC v1 in a POST
/// form body; the source credential is taken from its own cache at that moment.
#[derive(Debug)]
pub struct RamRoleArnProvider {
    ctx: Context,
    source: CredentialsCache,
    template: AssumeRoleRequest,
    session_name_given: bool,
    duration: AtomicU32,
    endpoint: String,
    retry: RetryPolicy,
    skew: SkewEstimate,
}

/// Builds a [`RamRoleArnProvider`].
#[derive(Debug)]
pub struct RamRoleArnBuilder {
    source: Box<dyn ProvideCredentials>,
    ctx: Option<Context>,
    template: AssumeRoleRequest,
    endpoint: Option<String>,
    region: Option<String>,
    vpc: Option<bool>,
    retry: RetryPolicy,
}

impl RamRoleArnBuilder {
    /// The role, `acs:ram::<account>:role/<name>` (required).
    pub fn role_arn(mut self, arn: impl Into<String>) -> Self {
        self.template.role_arn = arn.into();
        self
    }

    /// The session name (default: `ALIBABA_CLOUD_ROLE_SESSION_NAME`, else
    /// `tessera-credentials-<unix-ms>`).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.template.role_session_name = name.into();
        self
    }

    /// Session lifetime, 900..=43200 seconds (default 3600).
    pub fn duration_seconds(mut self, secs: u32) -> Self {
        self.template.duration_seconds = Some(secs);
        self
    }

    /// A session policy that narrows the role's permissions.
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.template.policy = Some(policy.into());
        self
    }

    /// The external id the role's trust policy requires.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.template.external_id = Some(id.into());
        self
    }

    /// STS endpoint (`host[:port]` or a URL); wins over region and VPC.
    pub fn sts_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// STS region (`sts.<region>.aliyuncs.com`).
    pub fn sts_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Use the VPC endpoint of the region.
    pub fn enable_vpc(mut self, vpc: bool) -> Self {
        self.vpc = Some(vpc);
        self
    }

    /// Timeouts and retries of the AssumeRole call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The context (default: the real world).
    pub fn context(mut self, ctx: Context) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// Checks the parameters and builds the provider.
    pub fn build(self) -> Result<RamRoleArnProvider, Error> {
        let ctx = self.ctx.unwrap_or_default();
        let mut template = self.template;
        let session_name_given = !template.role_session_name.is_empty();
        if !session_name_given {
            template.role_session_name = super::default_session_name(&ctx);
        }
        template.validate()?;
        let endpoint = crate::endpoint::sts_endpoint(
            &ctx,
            self.endpoint.as_deref(),
            self.region.as_deref(),
            self.vpc,
        )?;
        Ok(RamRoleArnProvider {
            duration: AtomicU32::new(
                template
                    .duration_seconds
                    .unwrap_or(sts::DEFAULT_DURATION_SECS),
            ),
            source: CredentialsCache::new(self.source, &ctx),
            ctx,
            template,
            session_name_given,
            endpoint,
            retry: self.retry,
            skew: SkewEstimate::default(),
        })
    }
}

impl RamRoleArnProvider {
    /// Starts a builder whose AssumeRole calls are signed with `source`'s credentials.
    pub fn builder(source: impl ProvideCredentials + 'static) -> RamRoleArnBuilder {
        RamRoleArnBuilder {
            source: Box::new(source),
            ctx: None,
            template: AssumeRoleRequest::default(),
            endpoint: None,
            region: None,
            vpc: None,
            retry: RetryPolicy::default(),
        }
    }

    /// The STS endpoint in use.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The role ARN.
    pub fn role_arn(&self) -> &str {
        &self.template.role_arn
    }

    async fn assume(&self) -> Result<Credential, Error> {
        let mut req = self.template.clone();
        if !self.session_name_given {
            req.role_session_name = super::default_session_name(&self.ctx);
        }
        req.duration_seconds = Some(self.duration.load(Ordering::Relaxed));
        // The source credential is read from its cache for every attempt, and renewed once
        // if STS rejects it (a source session that expired under us).
        let reply = rpc::invoke(
            &self.ctx,
            &self.endpoint,
            &req.to_call(),
            Auth::Cached(&self.source, SignatureVersion::V1),
            &self.retry,
            &self.skew,
        )
        .await?;
        let source = self.source.peek().map_or_else(
            || self.source.name().to_string(),
            |c| c.provider_name().to_string(),
        );
        let name = format!("ram_role_arn/{source}");
        Ok(sts::parse_assume_role(&self.endpoint, &reply, &name)?.credentials)
    }
}

#[async_trait]
impl ProvideCredentials for RamRoleArnProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let mut shortened = false;
        loop {
            match self.assume().await {
                Ok(c) => return Ok(c),
                // The role allows less than asked: fall back to the one-hour default once,
                // and keep asking for that, rather than failing every refresh.
                Err(e)
                    if !shortened
                        && e.code() == Some("InvalidParameter.DurationSeconds")
                        && self.duration.load(Ordering::Relaxed) > sts::DEFAULT_DURATION_SECS =>
                {
                    tracing::warn!(
                        role = %self.template.role_arn,
                        asked = self.duration.load(Ordering::Relaxed),
                        "the role's maximum session is shorter than asked; using 3600 s"
                    );
                    self.duration
                        .store(sts::DEFAULT_DURATION_SECS, Ordering::Relaxed);
                    shortened = true;
                }
                Err(e) => return Err(e.in_provider("ram_role_arn")),
            }
        }
    }

    fn name(&self) -> &str {
        "ram_role_arn"
    }
}
