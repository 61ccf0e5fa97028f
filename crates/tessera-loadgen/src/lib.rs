//! # tessera-loadgen
//!
//! The project's own HTTP load generator. Tessera refuses replayed requests, so every request
//! must carry a fresh `SignatureNonce` (or `x-acs-signature-nonce`) and a current timestamp, and
//! be signed again: a generic tool such as wrk, which repeats one request, cannot drive it.
//!
//! - [`cli`]: the command line and its validation into a [`cli::Config`].
//! - [`target`]: the target URL, and the rule that only loopback addresses are loaded.
//! - [`engine`]: the closed loop over N keep-alive connections, with warmup and deadline.
//! - [`report`]: the JSON result line and the human summary.
//! - [`signer`]: each request, freshly nonced and signed with `tessera_protocol`'s v1 or v3 code.

pub mod cli;
pub mod engine;
pub mod report;
pub mod signer;
pub mod target;
