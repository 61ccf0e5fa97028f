//! STS session tokens: self-contained and sealed (DESIGN decisions 1–2).
//!
//! A SecurityToken is `base64url(version | key id (4, BE) | nonce (12) | AES-256-GCM(claims))`.
//! Version 2 claims end with the session's ancestors (the role sessions it was chained from, so
//! revoking any of them ends it too); version 1 tokens, which have none, still open. The
//! 5-byte header is the associated data, so a token cannot be moved to another key id; the
//! claims name the STS AccessKeyId they were issued with, so a token presented with another
//! AccessKeyId is told apart from a damaged one. Claims carry everything needed to authenticate
//! and authorize the session without I/O, including the session's AccessKeySecret. Issuing a
//! token writes nothing; any server holding the keyring opens it.
//!
//! Token keys live in the store sealed under the master key ([`Keyring::from_records`]). The
//! newest unretired key seals; retired keys still open until every token they sealed has
//! expired, after which they are dropped.
//!
//! AES-GCM with random 96-bit nonces must not seal more than about 2^32 messages under one key
//! (NIST SP 800-38D, §8.3), so keys rotate by themselves ([`rotate_when_due`]): by age, and by
//! the count of tokens sealed, which each key keeps in an atomic counter (one relaxed add per
//! AssumeRole; the request never waits for a rotation).

use crate::ids::AccountId;
use crate::keys::MasterKey;
use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::Rng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_protocol::Secret;
use tessera_store::{Store, TokenKeyRecord};
use zeroize::{Zeroize, Zeroizing};

/// The version new tokens are sealed with.
const VERSION: u8 = 2;
/// Tokens of the first format (no ancestors) are still opened until they expire.
const VERSION_1: u8 = 1;
const HEADER_LEN: usize = 5;
const TAG_LEN: usize = 16;
/// Tokens longer than this are not ours; refused before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Who a session belongs to and what it may do, as sealed in its token.
#[derive(Clone)]
pub struct SessionClaims {
    /// The STS AccessKeyId the token was issued with.
    pub access_key_id: String,
    /// The session's AccessKeySecret.
    pub secret: Secret,
    /// The role's account.
    pub account: AccountId,
    /// The role's id (sessions of a deleted and recreated role do not survive).
    pub role_id: String,
    /// The role's name as created.
    pub role_name: String,
    /// RoleSessionName.
    pub session_name: String,
    /// Issue time, Unix seconds.
    pub issued: i64,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// The session policy, if one was given.
    pub policy: Option<String>,
    /// SourceIdentity, kept through role chains.
    pub source_identity: Option<String>,
    /// The account and user id of the RAM user that started the chain (for revocation).
    pub origin_user: Option<(AccountId, String)>,
    /// 1 for a session assumed by a user, 2 when that session assumed a role, and so on.
    pub depth: u8,
    /// The role sessions this one was chained from, the first (started by a user) first: each
    /// must still be valid for this one to be. Empty for an unchained session (no allocation).
    pub ancestors: Vec<Ancestor>,
}

/// A role session another was chained from: enough to tell whether it has been revoked, or its
/// role deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    /// The role's account.
    pub account: AccountId,
    /// The role's id.
    pub role_id: String,
    /// When that session was issued, Unix seconds.
    pub issued: i64,
}

impl PartialEq for SessionClaims {
    fn eq(&self, o: &Self) -> bool {
        self.access_key_id == o.access_key_id
            && self.secret.ct_eq(&o.secret)
            && self.account == o.account
            && self.role_id == o.role_id
            && self.role_name == o.role_name
            && self.session_name == o.session_name
            && self.issued == o.issued
            && self.expires == o.expires
            && self.policy == o.policy
            && self.source_identity == o.source_identity
            && self.origin_user == o.origin_user
            && self.depth == o.depth
            && self.ancestors == o.ancestors
    }
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &self.secret)
            .field("account", &self.account)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("issued", &self.issued)
            .field("expires", &self.expires)
            .field("depth", &self.depth)
            .field("ancestors", &self.ancestors)
            .finish()
    }
}

/// Bytes zeroed when dropped: the decoded token (plaintext claims, the session's secret among
/// them), wherever it was decoded to.
struct Wipe<'a>(&'a mut [u8]);

impl Drop for Wipe<'_> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Claims are encoded compactly: strings as a u16 length and bytes, times as i64, options
/// behind a presence byte. (JSON cost more than the AES-GCM open itself: every request of a
/// session opens its token.)
mod encoding {
    use super::*;

    pub fn put_str(out: &mut Vec<u8>, s: &str) -> Option<()> {
        out.extend_from_slice(&u16::try_from(s.len()).ok()?.to_be_bytes());
        out.extend_from_slice(s.as_bytes());
        Some(())
    }

    pub fn put_opt(out: &mut Vec<u8>, s: Option<&str>) -> Option<()> {
        match s {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                put_str(out, s)?;
            }
        }
        Some(())
    }

    /// The length of the claims' encoding.
    pub fn len(c: &SessionClaims) -> usize {
        let strs = [
            c.access_key_id.len(),
            c.secret.expose().len(),
            c.account.as_str().len(),
            c.role_id.len(),
            c.role_name.len(),
            c.session_name.len(),
        ];
        let opts = [
            c.policy.as_deref().map(str::len),
            c.source_identity.as_deref().map(str::len),
            c.origin_user.as_ref().map(|(a, _)| a.as_str().len()),
            c.origin_user.as_ref().map(|(_, u)| u.len()),
        ];
        let ancestors: usize = c
            .ancestors
            .iter()
            .map(|a| 2 + a.account.as_str().len() + 2 + a.role_id.len() + 8)
            .sum();
        strs.iter().map(|n| 2 + n).sum::<usize>()
            + 16
            + opts.iter().map(|o| o.map_or(1, |n| 3 + n)).sum::<usize>()
            + 1
            + 1
            + ancestors
    }

    /// Appends the encoded claims to `out`.
    pub fn encode_into(c: &SessionClaims, out: &mut Vec<u8>) -> Option<()> {
        for s in [
            c.access_key_id.as_str(),
            c.secret.expose(),
            c.account.as_str(),
            &c.role_id,
            &c.role_name,
            &c.session_name,
        ] {
            put_str(out, s)?;
        }
        out.extend_from_slice(&c.issued.to_be_bytes());
        out.extend_from_slice(&c.expires.to_be_bytes());
        put_opt(out, c.policy.as_deref())?;
        put_opt(out, c.source_identity.as_deref())?;
        put_opt(out, c.origin_user.as_ref().map(|(a, _)| a.as_str()))?;
        put_opt(out, c.origin_user.as_ref().map(|(_, u)| u.as_str()))?;
        out.push(c.depth);
        out.push(u8::try_from(c.ancestors.len()).ok()?);
        for a in &c.ancestors {
            put_str(out, a.account.as_str())?;
            put_str(out, &a.role_id)?;
            out.extend_from_slice(&a.issued.to_be_bytes());
        }
        Some(())
    }

    pub struct Reader<'a>(pub &'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(head)
        }
        pub fn str(&mut self) -> Option<&'a str> {
            let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
            std::str::from_utf8(self.take(usize::from(len))?).ok()
        }
        pub fn i64(&mut self) -> Option<i64> {
            Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
        }
        pub fn u8(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }
        pub fn opt(&mut self) -> Option<Option<&'a str>> {
            match self.u8()? {
                0 => Some(None),
                1 => self.str().map(Some),
                _ => None,
            }
        }
    }

    /// Decodes the claims of a token of `version` (1: without ancestors).
    pub fn decode(version: u8, plain: &[u8]) -> Option<SessionClaims> {
        let mut r = Reader(plain);
        let (k, s, a, role, rn, sn) = (r.str()?, r.str()?, r.str()?, r.str()?, r.str()?, r.str()?);
        let (issued, expires) = (r.i64()?, r.i64()?);
        let (policy, si, oa, ou) = (r.opt()?, r.opt()?, r.opt()?, r.opt()?);
        let depth = r.u8()?;
        let mut ancestors = Vec::new();
        if version != VERSION_1 {
            let n = r.u8()?;
            if n > 0 {
                ancestors.reserve_exact(usize::from(n));
                for _ in 0..n {
                    let (account, role_id) = (r.str()?, r.str()?);
                    ancestors.push(Ancestor {
                        account: AccountId::from_trusted(account),
                        role_id: role_id.to_string(),
                        issued: r.i64()?,
                    });
                }
            }
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(SessionClaims {
            access_key_id: k.to_string(),
            secret: Secret::new(s),
            account: AccountId::from_trusted(a),
            role_id: role.to_string(),
            role_name: rn.to_string(),
            session_name: sn.to_string(),
            issued,
            expires,
            policy: policy.map(str::to_string),
            source_identity: si.map(str::to_string),
            origin_user: oa
                .zip(ou)
                .map(|(a, u)| (AccountId::from_trusted(a), u.to_string())),
            depth,
            ancestors,
        })
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of ours, damaged, or sealed under a key this server does not hold.
    #[error("malformed security token")]
    Malformed,
    /// A valid token presented with another AccessKeyId than the one it was issued with.
    #[error("security token does not match the AccessKeyId")]
    Mismatch,
}

struct TokenKey {
    key: LessSafeKey,
    /// Tokens this process has sealed under the key; shared by every rebuild of the keyring.
    seals: Arc<AtomicU64>,
}

/// When token keys are replaced by themselves.
#[derive(Debug, Clone)]
pub struct RotationPolicy {
    /// A key seals for at most this long.
    pub max_age: Duration,
    /// A key seals at most this many tokens (counted per server process) before it is replaced.
    pub max_seals: u64,
    /// How often the key's age is looked at (a key that reaches `max_seals` is replaced at once).
    pub check_interval: Duration,
}

/// The default [`RotationPolicy::max_age`]: a day.
pub const DEFAULT_KEY_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The default [`RotationPolicy::max_seals`]: 2^28, a sixteenth of the 2^32 random-nonce bound,
/// so that sixteen server processes (nodes, or restarts, which begin counting afresh) may seal
/// under one key before the bound is near.
pub const DEFAULT_KEY_MAX_SEALS: u64 = 1 << 28;
/// However the policy is set, a process seals no more than this under one key: if rotation
/// keeps failing, AssumeRole fails rather than wear the key out.
pub const HARD_SEAL_LIMIT: u64 = 1 << 31;

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            max_age: DEFAULT_KEY_MAX_AGE,
            max_seals: DEFAULT_KEY_MAX_SEALS,
            check_interval: Duration::from_secs(60),
        }
    }
}

/// Wakes the rotation task when the current key has sealed its share: set once per server and
/// carried through every rebuild of the keyring.
#[derive(Debug)]
pub struct SealTrigger {
    max_seals: u64,
    wake: tokio::sync::Notify,
}

impl SealTrigger {
    /// A trigger firing when a key has sealed `max_seals` tokens.
    pub fn new(max_seals: u64) -> Self {
        SealTrigger {
            max_seals: max_seals.clamp(1, HARD_SEAL_LIMIT),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Returns once a key has sealed its share since the last call (at once if it did
    /// meanwhile: the wake-up is kept until taken).
    pub async fn fired(&self) {
        self.wake.notified().await;
    }
}

/// Whether the current key is due for replacement at `now`, given its creation time and seal
/// count ([`Keyring::current_usage`]). No current key is due at once.
pub fn rotation_due(usage: Option<(i64, u64)>, policy: &RotationPolicy, now: i64) -> bool {
    let max_age = i64::try_from(policy.max_age.as_secs()).unwrap_or(i64::MAX);
    match usage {
        None => true,
        Some((created, seals)) => {
            seals >= policy.max_seals.min(HARD_SEAL_LIMIT) || now.saturating_sub(created) >= max_age
        }
    }
}

/// Replaces the current token key with a fresh one, if it is still `expected` (another node, or
/// the operator, may have replaced it meanwhile: then nothing is done and `None` returned), and
/// drops keys retired long enough ago. Returns the new key's id.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    now: i64,
    expected: Option<u32>,
) -> anyhow::Result<Option<u32>> {
    let keys = store
        .token_keys()
        .await
        .context("cannot read the token keys")?;
    let current = keys
        .iter()
        .filter(|k| k.retired.is_none())
        .map(|k| k.id)
        .max();
    if current != expected {
        return Ok(None);
    }
    let sealed = new_sealed_key(master)?;
    let id = store
        .add_token_key(&sealed, now)
        .await
        .context("cannot add a token key")?;
    ensure_token_key(store, master, now).await?;
    Ok(Some(id))
}

/// The token keys this server can seal and open with.
pub struct Keyring {
    keys: HashMap<u32, TokenKey>,
    current: Option<u32>,
    /// When the current key was created, Unix seconds.
    current_created: i64,
    trigger: Option<Arc<SealTrigger>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<u32> = self.keys.keys().copied().collect();
        ids.sort_unstable();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .field("current", &self.current)
            .field("current_created", &self.current_created)
            .finish()
    }
}

/// A fresh token key, sealed for storage under the master key. (The store assigns its id; a key
/// moved to another id would only make that id's tokens fail, as the token header is bound to
/// the key by AEAD.)
pub fn new_sealed_key(master: &MasterKey) -> anyhow::Result<Vec<u8>> {
    let mut key = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(key.as_mut())
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(master.seal(b"tessera/token-key", key.as_ref()))
}

impl Keyring {
    /// An empty keyring: opens nothing, seals nothing.
    pub fn empty() -> Self {
        Keyring {
            keys: HashMap::new(),
            current: None,
            current_created: 0,
            trigger: None,
        }
    }

    /// Opens the stored keys. A key that does not open is skipped (and logged): tokens under it
    /// are refused, nothing else is affected.
    pub fn from_records(master: &MasterKey, records: &[TokenKeyRecord]) -> Self {
        Self::rebuild(master, records, &Keyring::empty())
    }

    /// [`Keyring::from_records`], keeping what `previous` counted for the keys both hold, and
    /// its trigger.
    pub fn rebuild(master: &MasterKey, records: &[TokenKeyRecord], previous: &Keyring) -> Self {
        let mut ring = Keyring::empty();
        ring.trigger = previous.trigger.clone();
        for r in records {
            let Ok(bytes) = master.open(b"tessera/token-key", &r.sealed_key) else {
                tracing::error!(key_id = r.id, "token key does not open under the master key; tokens it sealed will be refused");
                continue;
            };
            let Ok(unbound) = UnboundKey::new(&AES_256_GCM, &bytes) else {
                continue;
            };
            let seals = previous
                .keys
                .get(&r.id)
                .map_or_else(|| Arc::new(AtomicU64::new(0)), |k| Arc::clone(&k.seals));
            ring.keys.insert(
                r.id,
                TokenKey {
                    key: LessSafeKey::new(unbound),
                    seals,
                },
            );
            if r.retired.is_none() && ring.current.is_none_or(|c| r.id > c) {
                ring.current = Some(r.id);
                ring.current_created = r.created;
            }
        }
        ring
    }

    /// This keyring, waking `trigger` when the current key has sealed its share.
    pub fn with_trigger(mut self, trigger: Option<Arc<SealTrigger>>) -> Self {
        self.trigger = trigger;
        self
    }

    /// The key id new tokens are sealed under, if any.
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// When the current key was created (Unix seconds) and how many tokens this process has
    /// sealed under it.
    pub fn current_usage(&self) -> Option<(i64, u64)> {
        let id = self.current?;
        let seals = self.keys.get(&id)?.seals.load(Ordering::Relaxed);
        Some((self.current_created, seals))
    }

    /// Seals claims into a SecurityToken under the current key. `None` when there is no key to
    /// seal with, or the key has sealed [`HARD_SEAL_LIMIT`] tokens (rotation having failed).
    pub fn seal(&self, claims: &SessionClaims) -> Option<String> {
        let id = self.current?;
        let TokenKey { key, seals } = self.keys.get(&id)?;
        // Counted before sealing, so a key never seals past the hard limit however many
        // requests race; the trigger fires once, on the seal that reaches the share.
        let n = seals.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if let Some(t) = &self.trigger {
            if n == t.max_seals {
                t.wake.notify_one();
            }
        }
        if n > HARD_SEAL_LIMIT {
            tracing::error!(
                key_id = id,
                "the token key has sealed its limit and was not rotated; refusing to seal"
            );
            return None;
        }
        // A random 96-bit nonce per token, from the thread CSPRNG (ChaCha, reseeded from the
        // kernel): asking the kernel itself cost a system call on every AssumeRole.
        let nonce: [u8; NONCE_LEN] = rand::rng().random();
        // One buffer: header, nonce, then the claims, sealed where they are written, so the
        // plaintext exists only inside it until it is overwritten (and zeroed if sealing fails).
        // Sized exactly: a buffer that grew would leave a copy of the plaintext behind, unzeroed.
        let len = HEADER_LEN + NONCE_LEN + encoding::len(claims) + TAG_LEN;
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.push(VERSION);
        out.extend_from_slice(&id.to_be_bytes());
        let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().ok()?;
        out.extend_from_slice(&nonce);
        encoding::encode_into(claims, &mut out)?;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut out[HEADER_LEN + NONCE_LEN..],
            )
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        debug_assert_eq!(out.len(), len, "the token's length was computed exactly");
        Some(B64.encode(&*out))
    }

    /// Opens a SecurityToken presented with `access_key_id`. Expiry is the caller's to check.
    pub fn open(&self, access_key_id: &str, token: &str) -> Result<SessionClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        // Decoded on the stack when it fits (every token without a long session policy does),
        // else on the heap; wiped on drop either way (only the bytes used: wiping is slow).
        let mut stack = [0u8; 1024];
        let mut heap = Zeroizing::new(Vec::new());
        let token = token.trim();
        let decoded = match B64.decode_slice(token, &mut stack[..]) {
            Ok(n) => Wipe(&mut stack[..n]),
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                *heap = B64.decode(token).map_err(|_| TokenError::Malformed)?;
                Wipe(&mut heap[..])
            }
            Err(_) => return Err(TokenError::Malformed),
        };
        let raw: &mut [u8] = &mut *decoded.0;
        let version = raw.first().copied().unwrap_or(0);
        if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN
            || !(version == VERSION || version == VERSION_1)
        {
            return Err(TokenError::Malformed);
        }
        let id = u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]]);
        let key = &self.keys.get(&id).ok_or(TokenError::Malformed)?.key;
        let (head, sealed) = raw.split_at_mut(HEADER_LEN + NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&head[HEADER_LEN..])
            .map_err(|_| TokenError::Malformed)?;
        // Opened in place: no second copy of the ciphertext, and `raw` is wiped on drop.
        let plain = key
            .open_in_place(nonce, Aad::from(&head[..HEADER_LEN]), sealed)
            .map_err(|_| TokenError::Malformed)?;
        let claims = encoding::decode(version, plain).ok_or(TokenError::Malformed)?;
        if claims.access_key_id != access_key_id {
            return Err(TokenError::Mismatch);
        }
        Ok(claims)
    }
}

/// The longest any session lasts (RAM's MaxSessionDuration ceiling), plus the clock window.
const LONGEST_SESSION: i64 = 43_200 + tessera_protocol::TIMESTAMP_WINDOW_SECS;

/// A deployment seals tokens from its first start; keys retired long enough ago that nothing
/// they sealed can still be valid are dropped.
pub async fn ensure_token_key(
    store: &dyn Store,
    master: &MasterKey,
    now: i64,
) -> anyhow::Result<()> {
    let token_keys = store
        .token_keys()
        .await
        .context("cannot read the token keys")?;
    if !token_keys.iter().any(|k| k.retired.is_none()) {
        let sealed = new_sealed_key(master)?;
        let id = store
            .add_token_key(&sealed, now)
            .await
            .context("cannot create a token key")?;
        tracing::info!(key_id = id, "created a token key");
    }
    let dropped = store
        .drop_token_keys_retired_before(now - LONGEST_SESSION)
        .await
        .context("cannot drop retired token keys")?;
    if dropped > 0 {
        tracing::info!(dropped, "dropped retired token keys");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring_with(ids: &[(u32, bool)]) -> (MasterKey, Vec<TokenKeyRecord>) {
        let (master, _) = MasterKey::generate().unwrap();
        let records = ids
            .iter()
            .map(|(id, retired)| TokenKeyRecord {
                id: *id,
                sealed_key: new_sealed_key(&master).unwrap(),
                created: 0,
                retired: retired.then_some(1),
            })
            .collect();
        (master, records)
    }

    fn claims(ak: &str) -> SessionClaims {
        SessionClaims {
            access_key_id: ak.into(),
            secret: Secret::new("s3cr3t-session-secret"),
            account: AccountId::from_trusted("1234567890123456"),
            role_id: "300812807442711234".into(),
            role_name: "Admin".into(),
            session_name: "alice".into(),
            issued: 100,
            expires: 3700,
            policy: Some(r#"{"Version":"1"}"#.into()),
            source_identity: None,
            origin_user: Some((AccountId::from_trusted("1234567890123456"), "222".into())),
            depth: 1,
            ancestors: Vec::new(),
        }
    }

    fn chained(ak: &str) -> SessionClaims {
        SessionClaims {
            depth: 3,
            ancestors: vec![
                Ancestor {
                    account: AccountId::from_trusted("1234567890123456"),
                    role_id: "300812807442711111".into(),
                    issued: 90,
                },
                Ancestor {
                    account: AccountId::from_trusted("6543210987654321"),
                    role_id: "300812807442712222".into(),
                    issued: 95,
                },
            ],
            ..claims(ak)
        }
    }

    /// A token as the first format sealed it: claims without the ancestors' count.
    fn seal_v1(ring: &Keyring, claims: &SessionClaims) -> String {
        assert!(claims.ancestors.is_empty());
        let id = ring.current().unwrap();
        let mut plain = Vec::new();
        encoding::encode_into(claims, &mut plain).unwrap();
        assert_eq!(
            plain.pop(),
            Some(0),
            "the count of no ancestors ends the claims"
        );
        let header = [VERSION_1, 0, 0, 0, id as u8];
        let nonce = [7u8; NONCE_LEN];
        ring.keys[&id]
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut plain,
            )
            .unwrap();
        B64.encode([&header[..], &nonce, &plain].concat())
    }

    #[test]
    fn ancestors_round_trip_and_version_1_tokens_still_open() {
        let (master, records) = ring_with(&[(1, false)]);
        let ring = Keyring::from_records(&master, &records);
        let token = ring.seal(&chained("STS.c")).unwrap();
        assert_eq!(B64.decode(&token).unwrap()[0], VERSION);
        assert_eq!(ring.open("STS.c", &token).unwrap(), chained("STS.c"));

        let old = seal_v1(&ring, &claims("STS.a"));
        assert_eq!(ring.open("STS.a", &old).unwrap(), claims("STS.a"));
        // The version is authenticated: a first-format token relabelled as the second (or the
        // other way round) does not open.
        let mut relabelled = B64.decode(&old).unwrap();
        relabelled[0] = VERSION;
        assert_eq!(
            ring.open("STS.a", &B64.encode(&relabelled)),
            Err(TokenError::Malformed)
        );
        let mut relabelled = B64.decode(&token).unwrap();
        relabelled[0] = VERSION_1;
        assert_eq!(
            ring.open("STS.c", &B64.encode(&relabelled)),
            Err(TokenError::Malformed)
        );
        let mut unknown = B64.decode(&token).unwrap();
        unknown[0] = 3;
        assert_eq!(
            ring.open("STS.c", &B64.encode(&unknown)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn seal_open_mismatch_and_rotation() {
        let (master, mut records) = ring_with(&[(1, false)]);
        let ring = Keyring::from_records(&master, &records);
        let token = ring.seal(&claims("STS.a")).unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe ASCII"
        );
        assert!(!token.contains("s3cr3t"));
        assert_eq!(ring.open("STS.a", &token).unwrap(), claims("STS.a"));
        assert_eq!(ring.open("STS.b", &token), Err(TokenError::Mismatch));

        // Rotation: key 2 seals, key 1 still opens.
        records[0].retired = Some(5);
        records.push(TokenKeyRecord {
            id: 2,
            sealed_key: new_sealed_key(&master).unwrap(),
            created: 5,
            retired: None,
        });
        let rotated = Keyring::from_records(&master, &records);
        assert_eq!(rotated.current(), Some(2));
        assert!(rotated.open("STS.a", &token).is_ok());
        let newer = rotated.seal(&claims("STS.a")).unwrap();
        // Once key 1 is dropped, its tokens are refused and key 2's still open.
        let dropped = Keyring::from_records(&master, &records[1..]);
        assert_eq!(dropped.open("STS.a", &token), Err(TokenError::Malformed));
        assert!(dropped.open("STS.a", &newer).is_ok());
        // Another deployment's keys open nothing.
        let (other, other_records) = ring_with(&[(1, false)]);
        assert_eq!(
            Keyring::from_records(&other, &other_records).open("STS.a", &token),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let (master, records) = ring_with(&[(1, false)]);
        let ring = Keyring::from_records(&master, &records);
        for t in ["", "!!!", "AAAA", &"A".repeat(MAX_TOKEN_LEN + 1)] {
            assert_eq!(ring.open("STS.a", t), Err(TokenError::Malformed));
        }
        assert!(Keyring::empty().seal(&claims("STS.a")).is_none());
    }

    #[test]
    fn rotation_is_due_by_age_or_count() {
        let policy = RotationPolicy {
            max_age: Duration::from_secs(100),
            max_seals: 10,
            check_interval: Duration::from_secs(1),
        };
        assert!(rotation_due(None, &policy, 0), "no key: one is needed");
        assert!(!rotation_due(Some((1000, 9)), &policy, 1099));
        assert!(rotation_due(Some((1000, 9)), &policy, 1100), "old enough");
        assert!(
            rotation_due(Some((1000, 10)), &policy, 1000),
            "sealed enough"
        );
        let unbounded = RotationPolicy {
            max_seals: u64::MAX,
            ..policy
        };
        assert!(
            rotation_due(Some((1000, HARD_SEAL_LIMIT)), &unbounded, 1000),
            "never past the hard limit"
        );
        let d = RotationPolicy::default();
        assert!(d.max_seals <= 1 << 30 && d.max_age <= Duration::from_secs(7 * 86400));
    }

    #[tokio::test]
    async fn seals_are_counted_across_rebuilds_and_wake_the_trigger() {
        let (master, mut records) = ring_with(&[(1, false)]);
        let trigger = Arc::new(SealTrigger::new(3));
        let ring = Keyring::from_records(&master, &records).with_trigger(Some(trigger.clone()));
        ring.seal(&claims("STS.a")).unwrap();
        ring.seal(&claims("STS.a")).unwrap();
        assert_eq!(ring.current_usage(), Some((0, 2)));
        // A rebuild (another key added) keeps the count of the keys it keeps, and the trigger.
        records.push(TokenKeyRecord {
            id: 2,
            sealed_key: new_sealed_key(&master).unwrap(),
            created: 50,
            retired: Some(60),
        });
        let ring = Keyring::rebuild(&master, &records, &ring);
        assert_eq!(ring.current_usage(), Some((0, 2)));
        let fired = tokio::time::timeout(Duration::from_millis(50), trigger.fired()).await;
        assert!(fired.is_err(), "not yet at the share");
        ring.seal(&claims("STS.a")).unwrap();
        tokio::time::timeout(Duration::from_secs(5), trigger.fired())
            .await
            .expect("the third seal wakes the rotation");
        // Past the hard limit nothing more is sealed under the key.
        ring.keys[&1]
            .seals
            .store(HARD_SEAL_LIMIT, Ordering::Relaxed);
        assert!(ring.seal(&claims("STS.a")).is_none());
    }

    proptest! {
        #[test]
        fn any_single_bit_flip_truncation_or_key_id_swap_is_refused(bit in 0usize..4000, cut in 1usize..400, other_id in 2u32..1000) {
            let (master, records) = ring_with(&[(1, false), (other_id, true)]);
            let ring = Keyring::from_records(&master, &records);
            let token = ring.seal(&claims("STS.x")).unwrap();
            let raw = B64.decode(&token).unwrap();

            let mut flipped = raw.clone();
            let i = bit % (raw.len() * 8);
            flipped[i / 8] ^= 1 << (i % 8);
            prop_assert!(ring.open("STS.x", &B64.encode(&flipped)).is_err());

            let truncated = &raw[..raw.len().saturating_sub(cut)];
            prop_assert!(ring.open("STS.x", &B64.encode(truncated)).is_err());

            let mut swapped = raw.clone();
            swapped[1..5].copy_from_slice(&other_id.to_be_bytes());
            prop_assert_eq!(ring.open("STS.x", &B64.encode(&swapped)), Err(TokenError::Malformed));

            prop_assert_eq!(ring.open("STS.x", &token).unwrap(), claims("STS.x"));
        }
    }
}
