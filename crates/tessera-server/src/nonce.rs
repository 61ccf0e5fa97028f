//! Replay protection: a `SignatureNonce` (or `x-acs-signature-nonce`) may be used once per
//! AccessKey while its request's timestamp is inside the accepted window. A nonce is kept until
//! its timestamp leaves the window; after that the timestamp check refuses a replay anyway.
//!
//! Memory is bounded: entries are 16-byte digests in sharded maps, expired entries are swept as
//! shards fill, and when the bound is reached new requests are throttled rather than letting old
//! nonces be forgotten early (which would open a replay window).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Seen before within the window.
    Used,
    /// The cache is full of live nonces.
    Full,
}

/// See the module documentation.
pub struct NonceCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    map: HashMap<[u8; 16], i64>,
    /// The earliest expiry in `map` (as of the last sweep or insert): until then a sweep would
    /// free nothing, so a full shard refuses at once instead of rescanning every entry.
    min_expiry: i64,
}

impl NonceCache {
    /// A cache remembering at most `capacity` live nonces.
    pub fn new(capacity: usize) -> Self {
        NonceCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Records `nonce` for `access_key_id` until `expires` (Unix seconds), or says why not.
    pub fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires: i64,
        now: i64,
    ) -> Result<(), NonceError> {
        let mut h = Sha256::new();
        h.update((access_key_id.len() as u64).to_le_bytes());
        h.update(access_key_id.as_bytes());
        h.update(nonce.as_bytes());
        let digest = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        let shard = usize::from(key[0]) % SHARDS;
        let mut shard = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        match shard.map.get(&key) {
            Some(&exp) if exp > now => return Err(NonceError::Used),
            _ => {}
        }
        if shard.map.len() >= self.per_shard {
            if now < shard.min_expiry {
                return Err(NonceError::Full);
            }
            shard.map.retain(|_, exp| *exp > now);
            shard.min_expiry = shard.map.values().copied().min().unwrap_or(i64::MAX);
            if shard.map.len() >= self.per_shard {
                return Err(NonceError::Full);
            }
        }
        shard.min_expiry = shard.min_expiry.min(expires);
        shard.map.insert(key, expires);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_refused_until_expiry() {
        let c = NonceCache::new(1000);
        assert_eq!(c.check_and_insert("AK", "n1", 100, 0), Ok(()));
        assert_eq!(
            c.check_and_insert("AK", "n1", 100, 50),
            Err(NonceError::Used)
        );
        assert_eq!(
            c.check_and_insert("AK2", "n1", 100, 50),
            Ok(()),
            "nonces are per AccessKey"
        );
        assert_eq!(
            c.check_and_insert("AK", "n1", 300, 100),
            Ok(()),
            "expired nonces may come back"
        );
        // The length prefix keeps (AK, nonce) pairs from colliding by concatenation.
        assert_eq!(c.check_and_insert("AKn", "1", 100, 0), Ok(()));
    }

    #[test]
    fn a_full_cache_refuses_without_rescanning_until_something_expires() {
        let c = NonceCache::new(SHARDS * 4);
        let mut inserted = 0;
        for i in 0..10_000 {
            if c.check_and_insert("AK", &i.to_string(), 1_000 + i, 0)
                .is_ok()
            {
                inserted += 1;
            }
        }
        assert!(inserted <= SHARDS * 4);
        // Nothing has expired yet at t=500: refused at once.
        assert_eq!(
            c.check_and_insert("AK", "x", 2_000, 500),
            Err(NonceError::Full)
        );
        // Once the earliest have expired there is room again.
        assert_eq!(c.check_and_insert("AK", "y", 20_000, 15_000), Ok(()));
    }

    #[test]
    fn bounded() {
        let c = NonceCache::new(SHARDS);
        let mut full = false;
        for i in 0..1000 {
            if c.check_and_insert("AK", &i.to_string(), 100, 0) == Err(NonceError::Full) {
                full = true;
                break;
            }
        }
        assert!(full);
        // Once entries expire there is room again.
        assert_eq!(c.check_and_insert("AK", "late", 300, 200), Ok(()));
    }
}
