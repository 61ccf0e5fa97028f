//! # tessera-credentials
//!
//! (See also the crate's README.md: how it differs from the official libraries.)
//!
//! Alibaba Cloud credentials for Rust, for Tessera and for Alibaba Cloud itself.
//!
//! - [`Credential`]: an AccessKey, an STS token or a bearer token; secrets zeroized and redacted.
//! - Providers ([`providers`]): static AccessKey and STS token, environment variables, RamRoleArn
//!   (AssumeRole, chainable on any provider), OIDCRoleArn, ECS instance metadata, a credentials
//!   URI, the `~/.alibabacloud/credentials` INI file and the aliyun CLI's `~/.aliyun/config.json`.
//! - [`providers::DefaultChain`]: the official order, where a provider that is configured but
//!   broken stops the chain with its reason, and [`providers::DefaultChain::explain`] says which
//!   provider was chosen and why.
//! - [`CredentialsCache`]: one refresh engine for every expiring credential (single-flight,
//!   advisory and mandatory windows scaled to the lifetime, jitter, serve-while-valid on failure
//!   with capped back-off, `invalidate`, clock-skew correction).
//! - [`Client`]: signs RPC calls (v1 HMAC-SHA1 or V3 ACS3-HMAC-SHA256) with credentials taken
//!   from the cache at send time; typed STS and RAM calls plus a generic `call`; timeouts and
//!   classified retries. [`blocking::Client`] wraps it for synchronous code.
//! - [`Context`]: the environment, files, clock and HTTP a provider uses, all injectable.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera_credentials::Error> {
//! use tessera_credentials::{Client, providers::DefaultChain};
//!
//! let client = Client::builder()
//!     .endpoint("http://127.0.0.1:8080")
//!     .credentials(DefaultChain::new())
//!     .build()?;
//! let me = client.sts().get_caller_identity().await?;
//! println!("{}", me.arn);
//! # Ok(()) }
//! ```

pub mod blocking;
pub mod cache;
pub mod cli_config;
pub mod client;
pub mod context;
pub mod credential;
pub mod endpoint;
pub mod error;
pub mod http;
pub mod provider;
pub mod providers;
mod rpc;
pub mod signing;
pub mod sts;

pub use cache::CredentialsCache;
pub use client::{Client, ClientBuilder};
pub use context::Context;
pub use credential::{Credential, CredentialKind};
pub use error::Error;
pub use provider::{ProvideCredentials, SharedProvider};
pub use rpc::RetryPolicy;
pub use signing::SignatureVersion;
pub use tessera_protocol::Secret;
