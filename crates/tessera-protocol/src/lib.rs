//! # tessera-protocol
//!
//! The Alibaba Cloud POP RPC wire protocol as STS (2015-04-01) and RAM (2015-05-01) speak it,
//! shared by the Tessera server and its clients. Everything here is pure: no I/O, no clocks.
//!
//! - [`encoding`]: RFC 3986 percent-encoding and decoding of parameters, plus the two off-spec
//!   canonicalisations that some official clients use.
//! - [`v1`]: RPC signature version 1.0 (HMAC-SHA1): string to sign, signing, verification.
//! - [`v3`]: `ACS3-HMAC-SHA256`: `Authorization` parsing, canonical request, signing.
//! - [`timestamp`]: the ISO 8601 timestamps of the protocol.
//! - [`error`]: the gateway error catalogue (HTTP status, code, message).
//! - [`node`]: the response tree every action builds.
//! - [`render`]: that tree rendered as JSON or XML.
//! - [`secret`]: a string secret that is zeroized on drop and redacted in `Debug`.

pub mod encoding;
pub mod error;
pub mod node;
pub mod render;
pub mod secret;
pub mod timestamp;
pub mod v1;
pub mod v3;

pub use error::{GatewayError, WireError};
pub use secret::Secret;

/// The STS API version this protocol serves.
pub const STS_VERSION: &str = "2015-04-01";
/// The RAM API version this protocol serves.
pub const RAM_VERSION: &str = "2015-05-01";
/// The largest clock difference the gateway accepts between a request's timestamp and its own
/// clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 15 * 60;
