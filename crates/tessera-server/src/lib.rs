//! # tessera-server
//!
//! The Tessera service: Alibaba Cloud RAM and STS, wire-compatible with the official SDKs.
//!
//! A request flows one way:
//! [`http`] (parse, limits) → [`authn`] (signature, nonce, timestamp; the action from the
//! [`catalog`]) → [`authz`] (may this [`principal`] do this to these resources?) → [`actions`]
//! (RAM and STS handlers) → [`tessera_store`], and back through [`tessera_protocol::render`] as
//! JSON or XML. Errors of every stage are [`error::ApiError`], mapped to the wire in one place.
//! Each module imports only modules below it in that order; `docs/architecture.md` walks a
//! request through them.
//!
//! Long-term AccessKeys are served from the in-memory [`identity`] cache, which follows the
//! store's change feed, so authenticating a request reads no disk. Their secrets are sealed at
//! rest with the data directory's master key ([`keys`]); STS tokens with the keyring
//! ([`tokens`]). [`datadir`] creates or reopens the data directory; [`server`] runs the
//! listeners, whose connections are capped and given a deadline in every phase (`listener`,
//! `conn`).

pub mod actions;
pub mod authn;
pub mod authz;
pub mod bound;
pub mod catalog;
pub mod clock;
pub mod cluster;
mod conn;
pub mod datadir;
pub mod error;
mod fsutil;
pub mod http;
pub mod identity;
pub mod ids;
pub mod keys;
mod listener;
pub mod metrics;
pub mod nonce;
pub mod password;
pub mod policy_docs;
pub mod principal;
pub mod recovery;
pub mod request;
pub mod server;
pub mod shared_replay;
pub mod state;
pub mod system_policies;
pub mod tls;
pub mod tokens;

pub use server::{Endpoint, Server, ServerConfig, StoreConfig};
pub use state::Limits;
pub use tls::TlsSource;
