//! # tessera-loadgen
//!
//! The project's own HTTP load generator. Tessera refuses replayed requests, so every request
//! must carry a fresh `SignatureNonce` (or `x-acs-signature-nonce`) and a current timestamp, and
//! be signed again: a generic tool such as wrk, which repeats one request, cannot drive it.
//!
//! - [`cli`]: the command line and its validation into a [`cli::Config`].
//! - [`target`]: the target URL, and the rule that only loopback addresses are loaded.
//! - [`signer`]: each request, freshly nonced and signed with `tessera_protocol`'s v1 or v3 code.

pub mod cli;
pub mod signer;
pub mod target;
