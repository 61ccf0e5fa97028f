//! Console passwords: RAM's default password policy, and hashing with Argon2id.
//!
//! A password is hashed as soon as it has passed the policy; only the PHC string
//! (`$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`) is stored, and a password is checked only by
//! recomputing it ([`verify`]). The plaintext is held in a [`Secret`], which is zeroed on drop
//! and never printed.
//!
//! Each hash takes 19 MiB and tens of milliseconds of one core, so the server hashes and
//! verifies only through [`Passwords`], which bounds how many run and wait at once; [`hash`]
//! and [`verify`] themselves are unbounded.

use crate::bound::{BlockingBound, BoundError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use tessera_protocol::Secret;

/// Shortest password RAM's default policy accepts (`MinimumPasswordLength` = 8).
pub const MIN_LENGTH: usize = 8;
/// Longest password RAM accepts (`MinimumPasswordLength` may be raised to 32, and the console
/// documents passwords of 8–32 characters).
pub const MAX_LENGTH: usize = 32;

/// Whether `password` satisfies RAM's default password policy: 8–32 characters, each a
/// visible ASCII character (`!` to `~`). The default policy requires no particular character
/// classes (`RequireLowercaseCharacters`, `RequireUppercaseCharacters`, `RequireNumbers` and
/// `RequireSymbols` are all false until an administrator sets a policy). Spaces, control and
/// non-ASCII characters are refused: they cannot be typed reliably on every console keyboard
/// and invite look-alike confusion.
pub fn meets_policy(password: &str) -> bool {
    (MIN_LENGTH..=MAX_LENGTH).contains(&password.len())
        && password.bytes().all(|b| b.is_ascii_graphic())
}

/// Hashes a password with Argon2id (19 MiB, 2 passes, 1 lane: the OWASP baseline) under a
/// fresh 16-byte random salt; returns the PHC string. CPU-heavy (tens of milliseconds): call it
/// off the async executor.
pub fn hash(password: &Secret) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("password salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hash: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (with the parameters recorded in it). A
/// hash that does not parse verifies nothing.
pub fn verify(hash: &str, password: &Secret) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Why a bounded hash or verification produced no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// As many hashes as allowed are running and waiting; the client should retry.
    #[error("password hashing is at capacity")]
    Busy,
    /// Hashing failed inside the server.
    #[error("password hashing failed: {0:#}")]
    Failed(anyhow::Error),
}

impl From<BoundError> for HashError {
    fn from(e: BoundError) -> Self {
        match e {
            BoundError::Busy => HashError::Busy,
            BoundError::Failed(join) => HashError::Failed(join.into()),
        }
    }
}

/// Password hashing and verification off the async executor, a bounded number at a time.
#[derive(Debug)]
pub struct Passwords {
    work: BlockingBound,
}

impl Passwords {
    /// At most `workers` hashes at once and `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        Passwords {
            work: BlockingBound::new(workers, queue),
        }
    }

    /// [`hash`], within the bound.
    pub async fn hash(&self, password: Secret) -> Result<String, HashError> {
        self.work
            .run(move || hash(&password))
            .await?
            .map_err(HashError::Failed)
    }

    /// [`verify`], within the bound.
    pub async fn verify(&self, hash: String, password: Secret) -> Result<bool, HashError> {
        Ok(self.work.run(move || verify(&hash, &password)).await?)
    }

    /// The bound itself, for observing (and, in tests, filling) it.
    pub fn work(&self) -> &BlockingBound {
        &self.work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(meets_policy("abcdefgh"));
        assert!(meets_policy("P@ssw0rd!~{}"));
        assert!(meets_policy(&"x".repeat(32)));
        assert!(!meets_policy("abcdefg"), "7 characters");
        assert!(!meets_policy(&"x".repeat(33)));
        assert!(!meets_policy("abcd efgh"), "space");
        assert!(!meets_policy("abcdefg\n"), "control");
        assert!(!meets_policy("pässwörter"), "non-ASCII");
        assert!(!meets_policy(""));
    }

    #[test]
    fn hash_and_verify() {
        let pw = Secret::new("Correct-Horse-9");
        let h = hash(&pw).unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(!h.contains(pw.expose()));
        assert!(verify(&h, &pw));
        assert!(!verify(&h, &Secret::new("Correct-Horse-8")));
        assert!(!verify("not a hash", &pw));
        // A fresh salt every time: the same password never hashes the same way twice.
        assert_ne!(h, hash(&pw).unwrap());
    }

    #[tokio::test]
    async fn bounded_hash_and_verify() {
        let p = Passwords::new(1, 0);
        let h = p.hash(Secret::new("Correct-Horse-9")).await.unwrap();
        assert!(p
            .verify(h.clone(), Secret::new("Correct-Horse-9"))
            .await
            .unwrap());
        assert!(!p.verify(h, Secret::new("Correct-Horse-8")).await.unwrap());
        assert_eq!(p.work().in_use(), 0);
    }
}
