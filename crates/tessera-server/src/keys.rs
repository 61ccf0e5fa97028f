//! The master key and what it protects. Long-term AccessKey secrets must be kept in plaintext
//! form somewhere to verify HMACs, so they are stored sealed with AES-256-GCM under the master
//! key, bound to their AccessKeyId as associated data (a sealed secret moved to another row does
//! not open).

use anyhow::{bail, Context};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::io::Write;
use std::path::Path;
use tessera_protocol::Secret;
use zeroize::Zeroizing;

const SEALED_V1: u8 = 1;
const KEY_LEN: usize = 32;

/// The 256-bit master key of a data directory.
pub struct MasterKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// A sealed value that did not open: wrong key, wrong associated data, or damaged bytes.
#[derive(Debug, thiserror::Error)]
#[error("sealed value does not open under this master key")]
pub struct OpenError;

impl MasterKey {
    fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| anyhow::anyhow!("master key must be 32 bytes"))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// A fresh random key and its hex form for the key file.
    pub fn generate() -> anyhow::Result<(Self, Zeroizing<String>)> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        let hexed = Zeroizing::new(hex::encode(bytes.as_ref()));
        Ok((Self::from_bytes(bytes.as_ref())?, hexed))
    }

    /// Creates `path` (mode 0600, must not exist) holding a fresh key.
    pub fn create_file(path: &Path) -> anyhow::Result<Self> {
        let (key, hexed) = Self::generate()?;
        let mut f = crate::fsutil::create_private(path)?;
        f.write_all(hexed.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        Ok(key)
    }

    /// Reads a key file: 64 hex digits, optionally followed by a newline.
    pub fn load_file(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the master key {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is accessible by other users (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            );
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the master key {}", path.display()))?,
        );
        Self::from_hex(&text, &path.display().to_string())
    }

    /// Reads a key given as 64 hex digits (surrounding whitespace ignored); `source` names where
    /// it came from in the error.
    pub fn from_hex(text: &str, source: &str) -> anyhow::Result<Self> {
        let not_a_key =
            || anyhow::anyhow!("{source} is not a Tessera master key (expected 64 hex digits)");
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| not_a_key())?);
        if bytes.len() != KEY_LEN {
            return Err(not_a_key());
        }
        Self::from_bytes(&bytes)
    }

    /// Seals `plaintext`, bound to `aad`: `1 | nonce(12) | ciphertext+tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // SystemRandom only fails if the OS has no entropy source at all; nothing can go on then.
        self.rng
            .fill(&mut nonce)
            .expect("the system random generator failed");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        // Room for the tag up front, so appending it cannot reallocate and leave a copy of the
        // plaintext in freed memory.
        let mut buf = Vec::with_capacity(plaintext.len() + AES_256_GCM.tag_len());
        buf.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .expect("AES-GCM sealing of a short value cannot fail");
        out.extend_from_slice(&buf);
        buf.iter_mut().for_each(|b| *b = 0);
        out
    }

    /// Opens a value sealed by [`MasterKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEALED_V1 {
            return Err(OpenError);
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| OpenError)?;
        let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| OpenError)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Seals an AccessKey secret for storage, bound to its AccessKeyId and its owner (e.g.
    /// `user:<account>:<user id>`): someone who can write the database but lacks the master key
    /// cannot move a user's key to the root, or to another user.
    pub fn seal_secret(&self, access_key_id: &str, owner: &str, secret: &Secret) -> Vec<u8> {
        self.seal(
            &aad_for_key(access_key_id, owner),
            secret.expose().as_bytes(),
        )
    }

    /// Opens a stored AccessKey secret sealed for this id and owner.
    pub fn open_secret(
        &self,
        access_key_id: &str,
        owner: &str,
        sealed: &[u8],
    ) -> Result<Secret, OpenError> {
        let plain = self.open(&aad_for_key(access_key_id, owner), sealed)?;
        let s = std::str::from_utf8(&plain).map_err(|_| OpenError)?;
        Ok(Secret::new(s))
    }
}

fn aad_for_key(access_key_id: &str, owner: &str) -> Vec<u8> {
    // Length-prefixed so no (id, owner) pair can be read as another.
    let mut aad = b"tessera/access-key-secret/v2/".to_vec();
    aad.extend_from_slice(&(access_key_id.len() as u32).to_be_bytes());
    aad.extend_from_slice(access_key_id.as_bytes());
    aad.extend_from_slice(owner.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let (k, _) = MasterKey::generate().unwrap();
        let s = Secret::new("PupkTg8jdmau1cXxYacgE736PJj4cA");
        let sealed = k.seal_secret("LTAIa", "user:1:2", &s);
        assert!(!sealed.windows(5).any(|w| w == b"Pupk"));
        assert!(k
            .open_secret("LTAIa", "user:1:2", &sealed)
            .unwrap()
            .ct_eq(&s));
        assert!(k.open_secret("LTAIb", "user:1:2", &sealed).is_err());
        assert!(
            k.open_secret("LTAIa", "root:1", &sealed).is_err(),
            "a key moved to another owner does not open"
        );
        let (other, _) = MasterKey::generate().unwrap();
        assert!(other.open_secret("LTAIa", "user:1:2", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(
                k.open_secret("LTAIa", "user:1:2", &t).is_err(),
                "bit flip at {i} accepted"
            );
        }
        assert!(k
            .open_secret("LTAIa", "user:1:2", &sealed[..sealed.len() - 1])
            .is_err());
        assert!(k.open_secret("LTAIa", "user:1:2", &[]).is_err());
    }

    #[test]
    fn key_file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master.key");
        let k = MasterKey::create_file(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = k.seal(b"a", b"hello");
        let k2 = MasterKey::load_file(&p).unwrap();
        assert_eq!(k2.open(b"a", &sealed).unwrap().as_slice(), b"hello");
        assert!(MasterKey::create_file(&p).is_err(), "must not overwrite");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            MasterKey::load_file(&p).is_err(),
            "a key others can read is refused"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&p, "nothex").unwrap();
        assert!(MasterKey::load_file(&p).is_err());
    }
}
