//! Checking policy documents at the API edge: the size limit of the API that carries them, then
//! the grammar, with the policy engine's message saying what is wrong and where.

use crate::error::ApiError;
use tessera_policy::{Policy, PolicyKind};

/// Custom policy documents (CreatePolicy, CreatePolicyVersion): 1–6144 characters.
pub const MAX_CUSTOM_POLICY_CHARS: usize = 6144;

/// Parses a custom policy document given as parameter `field`.
pub fn custom(field: &'static str, document: &str) -> Result<Policy, ApiError> {
    if document.chars().count() > MAX_CUSTOM_POLICY_CHARS {
        return Err(ApiError::InvalidLength(field));
    }
    tessera_policy::parse(document, PolicyKind::Identity)
        .map_err(|e| ApiError::MalformedPolicyDocument(e.message))
}
