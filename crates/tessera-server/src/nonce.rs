//! Replay protection: a `SignatureNonce` (or `x-acs-signature-nonce`) may be used once per
//! AccessKey while its request's timestamp is inside the accepted window. A nonce is kept until
//! its timestamp has left the window; after that the timestamp check refuses a replay anyway.
//!
//! # Layout
//!
//! Each (AccessKeyId, nonce) pair is hashed with SipHash-1-3 (128-bit output) under a random
//! per-process key. 4 bits of one half pick one of 16 shards (each behind its own mutex); the
//! other half is the 64-bit *fingerprint* that is stored, 8 bytes a nonce, in open-addressing
//! tables.
//!
//! Inside a shard, nonces are grouped by expiry into time buckets of [`BUCKET_SECS`]: a bucket
//! holds every nonce whose expiry falls in its two minutes, in one Robin Hood linear-probing
//! table of fingerprints (home slot = the fingerprint scaled to the table size, so the table
//! stays sorted and a miss stops after a few slots). Tables are only ever inserted into, never
//! deleted from; expiry is by dropping a whole bucket once the last expiry it can hold has
//! passed. A check probes each live bucket of its shard once: with the ±15-minute window at
//! most 17 buckets are live (about 9 when clients' clocks are right), plus the old table of any
//! bucket that is growing, whatever the number of nonces held; nothing is ever rescanned. The
//! home slots of all those tables are read first, in one tight loop, so that their cache and
//! TLB misses overlap instead of following one another.
//!
//! Tables grow by a quarter (doubling below 1024 slots) when 7/8 full. The new table is filled
//! incrementally: every check on the shard moves the next [`MIGRATE_STEP`] slots of any old
//! table into its successor, so no request pays for a whole rehash; until the move is done a
//! lookup probes both. A nonce therefore costs 8 bytes / load factor: between 9.1 and 11.4
//! bytes once a table has grown at least once (the load stays between 0.7 and 0.875), ~10 on
//! average, plus a fixed 1 KiB per bucket for the per-key counts below. Memory is taken from
//! the budget only as buckets are created and grow, so an idle server holds almost nothing.
//!
//! # False positives, never false negatives
//!
//! A nonce is refused as used when a live entry of its shard has the same 64-bit fingerprint.
//! A replay always has (its pair hashes the same), so a replay inside the window is always
//! refused. A fresh nonce is wrongly refused only if its fingerprint collides with one of the
//! `n` live nonces of its shard: probability `n / 2^64` per request. With 60,000 requests per
//! second held for 16 minutes (about 58 M nonces, 3.6 M per shard) that is 2e-13 per request,
//! about one wrongly refused request in two and a half years at that rate. The key is secret,
//! so clients cannot aim for collisions.
//!
//! A nonce is forgotten when its bucket is dropped: at the end of the two minutes in which it
//! expires, up to [`BUCKET_SECS`] after the request's timestamp has left the window. Remembering
//! a little longer only refuses the reuse of a nonce (which clients never do) a little longer.
//!
//! # Per-key share
//!
//! One AccessKey must not be able to fill the window for everyone else: each bucket keeps a
//! count-min sketch (4 rows of 64 counters, indexed by a second keyed hash of the AccessKeyId)
//! of how many of its nonces each key holds, and each shard keeps the sum over its live buckets
//! (a dropped bucket's counts are subtracted). A key whose estimate reaches its share of the
//! shard's capacity is refused ([`NonceError::KeyShareFull`]) while the others go on. A
//! count-min sketch never underestimates, so a key can never exceed its share; it may
//! overestimate when heavy keys share a counter in all four rows, which for a key with fewer
//! nonces than its share needs collisions with heavy keys in every row (probability below
//! (heavy keys / 64)^4: 1e-6 with two keys holding about half each). The share is enforced per
//! shard (a sixteenth of it in each), which a key's nonces fill evenly.
//!
//! When the memory budget is spent (no room to grow a table or start a bucket), requests are
//! refused ([`NonceError::Full`]) rather than letting nonces be forgotten early (which would
//! open a replay window).

use siphasher::sip::SipHasher13 as KeyHasher;
use siphasher::sip128::{Hasher128, SipHasher13 as PairHasher};
use std::hash::Hasher;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Seconds of expiry one time bucket covers. Longer buckets mean fewer tables to probe per check
/// but nonces kept longer past their expiry (on average half a bucket). At 10 million nonces a
/// check cost 1.38 µs with 60-second buckets, 0.94 µs with 120, 0.80 µs with 300 (see
/// `BENCHMARKS.md`); 120 keeps nonces 3 % longer than 60 on average.
pub const BUCKET_SECS: i64 = 120;

/// Shards, each with its own lock, buckets and share of the work.
const SHARDS: usize = 16;

/// Slots of a new table: 512 bytes.
const MIN_SLOTS: usize = 64;

/// Tables below this many slots double when they grow; larger ones grow by a quarter, which
/// keeps the load between 0.7 and 0.875 and so the cost between 9.1 and 11.4 bytes a nonce.
const DOUBLING_BELOW: usize = 1024;

/// Old-table slots moved into the new table by every check on a shard while a table grows.
/// Enough that the move is done long before the new table is itself 7/8 full.
pub const MIGRATE_STEP: usize = 32;

/// Tables whose home slots a check reads ahead: more than a ring of 18 buckets, each with up to
/// two tables, ever has.
const PREREAD: usize = 40;

/// Rows and columns of the per-key count-min sketches.
const SKETCH_ROWS: usize = 4;
const SKETCH_COLS: usize = 64;
const SKETCH_BYTES: usize = SKETCH_ROWS * SKETCH_COLS * std::mem::size_of::<u32>();

/// The share of the window's capacity one AccessKey may hold, in percent.
pub const KEY_SHARE_PERCENT: u64 = 50;

/// Bytes per nonce used to state the capacity a budget buys. Measured steady states cost about
/// 10 (see the module documentation); this leaves room for tables that have just grown and for
/// the per-bucket sketches, so that a budget holds at least `budget / 12` nonces before the
/// first refusal.
pub const BYTES_PER_NONCE: u64 = 12;

/// The largest budget used; more is ignored. The per-key counters are 32-bit: this keeps a
/// shard's nonces (budget / 8 / 16 at most) below their limit.
pub const MAX_BUDGET: u64 = 256 << 30;

fn clamp_budget(budget: usize) -> usize {
    budget.min(usize::try_from(MAX_BUDGET).unwrap_or(usize::MAX))
}

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceError {
    /// Seen before within the window.
    Used,
    /// This AccessKey holds its whole share of the window.
    KeyShareFull,
    /// The memory budget is spent on live nonces.
    Full,
}

/// What a memory budget buys, for the startup log and the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// The budget in bytes.
    pub budget: usize,
    /// Live nonces the budget holds at least.
    pub nonces: u64,
    /// Signed requests per second that can be sustained indefinitely when clients' clocks are
    /// right (each nonce is then held about `window + 1 + BUCKET_SECS` seconds).
    pub sustained_rate: u64,
    /// The same when every client's clock runs as far ahead as the window allows (nonces are
    /// then held about twice as long).
    pub sustained_rate_worst: u64,
    /// The part of `nonces` one AccessKey may hold.
    pub per_key_nonces: u64,
}

impl Capacity {
    /// The capacity of `budget` bytes for a timestamp window of ±`window_secs`.
    pub fn of(budget: usize, window_secs: i64) -> Capacity {
        let budget = clamp_budget(budget);
        let nonces = nonces_held(budget, ring_len(2 * window_secs + 1, BUCKET_SECS));
        let held = u64::try_from(window_secs + 1 + BUCKET_SECS)
            .unwrap_or(u64::MAX)
            .max(1);
        let held_worst = u64::try_from(2 * window_secs + 1 + BUCKET_SECS)
            .unwrap_or(u64::MAX)
            .max(1);
        Capacity {
            budget,
            nonces,
            sustained_rate: nonces / held,
            sustained_rate_worst: nonces / held_worst,
            per_key_nonces: nonces * KEY_SHARE_PERCENT / 100,
        }
    }
}

/// Buckets live at once for nonces kept up to `max_ttl` seconds: expiries in
/// `(now, now + max_ttl]` span at most `max_ttl / BUCKET_SECS + 2` buckets; one more slot keeps a
/// live bucket from ever sharing its ring slot with another live one.
fn ring_len(max_ttl: i64, bucket_secs: i64) -> usize {
    usize::try_from(max_ttl.max(1) / bucket_secs.max(1) + 3).unwrap_or(usize::MAX)
}

/// Memory taken whether or not any nonce is held: the shards, their bucket rings and per-key
/// totals.
fn fixed_bytes(ring: usize) -> usize {
    std::mem::size_of::<ReplayWindow>()
        + SHARDS
            * (std::mem::size_of::<Mutex<Shard>>()
                + ring * std::mem::size_of::<Option<Bucket>>()
                + SKETCH_BYTES)
}

/// Nonces a budget holds at least: what is left after the fixed costs and the per-bucket costs
/// of a full ring of buckets in every shard, at [`BYTES_PER_NONCE`].
fn nonces_held(budget: usize, ring: usize) -> u64 {
    let per_bucket = SKETCH_BYTES + 2 * MIN_SLOTS * 8;
    let usable = budget
        .saturating_sub(fixed_bytes(ring))
        .saturating_sub(SHARDS * ring * per_bucket);
    usable as u64 / BYTES_PER_NONCE
}

/// Counters for tests and the benchmark's accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Nonces in live buckets as of the latest time seen (some may have expired within a
    /// bucket that has not ended).
    pub nonces: u64,
    /// Bytes taken from the budget. A bucket that has ended still counts here until the next
    /// check on its shard drops it.
    pub allocated: usize,
    /// Live buckets over all shards.
    pub buckets: usize,
    /// Tables being filled from their predecessor.
    pub migrating: usize,
    /// Checks made so far.
    pub checks: u64,
    /// Tables probed by those checks (a growing bucket has two).
    pub tables_probed: u64,
    /// Slots read by those probes.
    pub slots_read: u64,
}

/// See the module documentation.
pub struct ReplayWindow {
    shards: Box<[Mutex<Shard>]>,
    /// SipHash-1-3 keyed at random, copied for each pair.
    pair_hasher: PairHasher,
    /// Another random key, for the AccessKeyId alone (the per-key sketches).
    key_hasher: KeyHasher,
    budget: usize,
    allocated: AtomicUsize,
    /// A key reaching this estimate in a shard is refused there.
    key_limit: u32,
    /// The latest time seen by any check: the window never goes back in time, so a clock
    /// stepping back cannot bring back a dropped bucket's nonces as forgotten.
    latest: AtomicI64,
    /// The latest expiry accepted, relative to now.
    max_ttl: i64,
    /// Seconds of expiry a bucket covers.
    bucket_secs: i64,
    ring: usize,
}

impl std::fmt::Debug for ReplayWindow {
    // Not derived: the hash keys must not reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("budget", &self.budget)
            .field("allocated", &self.allocated.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// A window holding nonces for at most `max_ttl` seconds from now, in at most `budget`
    /// bytes, with random hash keys.
    pub fn new(budget: usize, max_ttl: i64) -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let (k0, k1, k2, k3) = (rng.random(), rng.random(), rng.random(), rng.random());
        Self::with_keys(budget, max_ttl, [k0, k1, k2, k3])
    }

    /// As [`ReplayWindow::new`] with the given hash keys (tests and benchmarks).
    pub fn with_keys(budget: usize, max_ttl: i64, keys: [u64; 4]) -> Self {
        Self::with_bucket_secs(budget, max_ttl, BUCKET_SECS, keys)
    }

    /// As [`ReplayWindow::with_keys`] with buckets of another length than [`BUCKET_SECS`]
    /// (benchmarks: fewer, longer buckets mean fewer tables to probe but nonces kept longer).
    pub fn with_bucket_secs(budget: usize, max_ttl: i64, bucket_secs: i64, keys: [u64; 4]) -> Self {
        let budget = clamp_budget(budget);
        let max_ttl = max_ttl.max(1);
        let bucket_secs = bucket_secs.max(1);
        let ring = ring_len(max_ttl, bucket_secs);
        let capacity = nonces_held(budget, ring);
        let key_limit = (capacity * KEY_SHARE_PERCENT / 100 / SHARDS as u64)
            .clamp(1, u64::from(u32::MAX)) as u32;
        let shards = (0..SHARDS)
            .map(|i| {
                Mutex::new(Shard {
                    buckets: (0..ring).map(|_| None).collect(),
                    key_totals: vec![0; SKETCH_ROWS * SKETCH_COLS].into_boxed_slice(),
                    // Staggered first sizes, so that shards' tables reach their growth points
                    // at different times and their transient old+new tables do not coincide.
                    first_slots: MIN_SLOTS + i * MIN_SLOTS / SHARDS,
                    probes: Probes::default(),
                })
            })
            .collect();
        ReplayWindow {
            shards,
            pair_hasher: PairHasher::new_with_keys(keys[0], keys[1]),
            key_hasher: KeyHasher::new_with_keys(keys[2], keys[3]),
            budget,
            allocated: AtomicUsize::new(fixed_bytes(ring)),
            key_limit,
            latest: AtomicI64::new(i64::MIN),
            max_ttl,
            bucket_secs,
            ring,
        }
    }

    /// What the budget buys.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Records `nonce` for `access_key_id` until `expires` (Unix seconds), or says why not.
    /// `now` may go backwards; the window keeps to the latest time it has seen, so nothing is
    /// forgotten early.
    pub fn check_and_insert(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires: i64,
        now: i64,
    ) -> Result<(), NonceError> {
        let (shard, fp) = self.pair_hash(access_key_id, nonce);
        let cols = self.key_columns(access_key_id);
        let mut shard = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.check_and_insert(self, fp, &cols, expires, now)
    }

    /// Shard and fingerprint of a pair. The AccessKeyId's length goes first so that pairs
    /// cannot collide by moving bytes between the two.
    fn pair_hash(&self, access_key_id: &str, nonce: &str) -> (usize, u64) {
        let mut h = self.pair_hasher;
        h.write(&(access_key_id.len() as u64).to_le_bytes());
        h.write(access_key_id.as_bytes());
        h.write(nonce.as_bytes());
        let (fp, rest) = h.finish128().as_u64();
        // 0 marks an empty slot; mapping it to 1 makes one value twice as likely, harmlessly.
        ((rest >> 60) as usize % SHARDS, fp.max(1))
    }

    /// The key's counter in each sketch row.
    fn key_columns(&self, access_key_id: &str) -> [usize; SKETCH_ROWS] {
        let mut h = self.key_hasher;
        h.write(access_key_id.as_bytes());
        let v = h.finish();
        std::array::from_fn(|r| r * SKETCH_COLS + ((v >> (16 * r)) as usize % SKETCH_COLS))
    }

    fn reserve(&self, bytes: usize) -> bool {
        let before = self.allocated.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.budget {
            self.allocated.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn release(&self, bytes: usize) {
        self.allocated.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Counters over all shards. Takes each lock in turn and counts what a growing table has
    /// not yet moved: for tests and benchmarks, not for the request path.
    pub fn stats(&self) -> Stats {
        let now = self.latest.load(Ordering::Relaxed);
        let mut s = Stats {
            allocated: self.allocated.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            s.checks += shard.probes.checks;
            s.tables_probed += shard.probes.tables;
            s.slots_read += shard.probes.slots;
            for b in shard
                .buckets
                .iter()
                .flatten()
                .filter(|b| !b.ended(now, self.bucket_secs))
            {
                s.nonces += b.table.len as u64;
                s.buckets += 1;
                if let Some(m) = &b.old {
                    s.migrating += 1;
                    // Entries not yet moved are counted in the old table only.
                    s.nonces += m.table.slots[m.next..].iter().filter(|&&x| x != 0).count() as u64;
                }
            }
        }
        s
    }
}

struct Shard {
    /// Ring of live buckets, indexed by bucket id modulo its length.
    buckets: Box<[Option<Bucket>]>,
    /// Per-key counts summed over the live buckets.
    key_totals: Box<[u32]>,
    first_slots: usize,
    /// What the checks cost, to show that it does not grow with the fill.
    probes: Probes,
}

/// Work done by lookups; counted always, since two additions per check cost nothing next to
/// the probes themselves.
#[derive(Default)]
struct Probes {
    checks: u64,
    tables: u64,
    slots: u64,
}

impl Shard {
    fn check_and_insert(
        &mut self,
        w: &ReplayWindow,
        fp: u64,
        cols: &[usize; SKETCH_ROWS],
        expires: i64,
        now: i64,
    ) -> Result<(), NonceError> {
        let now = now.max(w.latest.fetch_max(now, Ordering::Relaxed));
        // Keeping a nonce longer than asked is always safe.
        let expires = expires.max(now.saturating_add(1));
        if expires.saturating_sub(now) > w.max_ttl {
            // The caller checked the timestamp; a nonce this far out cannot be held without
            // risking that its bucket's ring slot be reused while it is live.
            return Err(NonceError::Full);
        }
        self.probes.checks += 1;
        for slot in self.buckets.iter_mut() {
            let Some(b) = slot else { continue };
            if b.ended(now, w.bucket_secs) {
                if let Some(b) = slot.take() {
                    for (t, c) in self.key_totals.iter_mut().zip(b.keys.iter()) {
                        *t -= c;
                    }
                    w.release(b.bytes());
                }
                continue;
            }
            b.migrate_step(w);
        }
        // First read the home slot of every table, then probe. The reads do not depend on one
        // another, so the CPU overlaps their cache and TLB misses; probing table after table
        // would wait out each miss in turn (with 60-second buckets at 10 M nonces: 3.35 µs a
        // check without this, 1.9 µs with it, in one pair of runs).
        let mut tables: [Option<&Table>; PREREAD] = [None; PREREAD];
        let mut n = 0;
        for t in self.buckets.iter().flatten().flat_map(Bucket::tables) {
            if let Some(slot) = tables.get_mut(n) {
                *slot = Some(t);
                n += 1;
            }
        }
        // A tight loop, so that all the loads are in flight at once.
        let mut first = [0u64; PREREAD];
        for (f, t) in first.iter_mut().zip(tables.iter().flatten()) {
            *f = t.slots[t.home(fp)];
        }
        let mut seen = false;
        for (t, &f) in tables.iter().flatten().zip(&first) {
            seen |= t.contains(fp, Some(f), &mut self.probes);
        }
        // Tables past the read-ahead list, if any (none with the 15-minute window).
        for t in self
            .buckets
            .iter()
            .flatten()
            .flat_map(Bucket::tables)
            .skip(n)
        {
            seen |= t.contains(fp, None, &mut self.probes);
        }
        if seen {
            return Err(NonceError::Used);
        }
        let estimate = cols.iter().map(|&c| self.key_totals[c]).min().unwrap_or(0);
        if estimate >= w.key_limit {
            return Err(NonceError::KeyShareFull);
        }
        let id = expires.div_euclid(w.bucket_secs);
        let ix = usize::try_from(id.rem_euclid(w.ring as i64)).unwrap_or(0);
        let bucket = match &mut self.buckets[ix] {
            Some(b) if b.id == id => b,
            // Cannot happen: the ring is longer than the live span, and dead buckets were
            // dropped above. Refusing is the safe answer if it ever did.
            Some(_) => return Err(NonceError::Full),
            empty @ None => {
                let slots = self.first_slots;
                if !w.reserve(slots * 8 + SKETCH_BYTES) {
                    return Err(NonceError::Full);
                }
                empty.insert(Bucket {
                    id,
                    table: Table::new(slots),
                    old: None,
                    keys: vec![0; SKETCH_ROWS * SKETCH_COLS].into_boxed_slice(),
                })
            }
        };
        bucket.insert(w, fp)?;
        for &c in cols {
            bucket.keys[c] += 1;
            self.key_totals[c] += 1;
        }
        Ok(())
    }
}

/// The nonces expiring within one bucket's span of seconds.
struct Bucket {
    /// Expiry / bucket length.
    id: i64,
    /// Where new nonces go.
    table: Table,
    /// The table before the last growth, while its slots are moved into `table`.
    old: Option<Migration>,
    /// Count-min sketch of nonces per AccessKey in this bucket.
    keys: Box<[u32]>,
}

struct Migration {
    table: Table,
    /// Slots before this one have been moved.
    next: usize,
}

impl Bucket {
    /// Whether every nonce the bucket can hold has expired: its expiries are at most
    /// `(id + 1) * bucket_secs - 1`, and a nonce is live while its expiry is later than now.
    fn ended(&self, now: i64, bucket_secs: i64) -> bool {
        (self.id + 1).saturating_mul(bucket_secs) <= now.saturating_add(1)
    }

    /// The current table and the one it is being filled from, if any.
    fn tables(&self) -> impl Iterator<Item = &Table> {
        std::iter::once(&self.table).chain(self.old.as_ref().map(|m| &m.table))
    }

    fn bytes(&self) -> usize {
        self.table.bytes() + self.old.as_ref().map_or(0, |m| m.table.bytes()) + SKETCH_BYTES
    }

    /// Moves the next slots of the old table, if any, into the current one.
    fn migrate_step(&mut self, w: &ReplayWindow) {
        let Some(m) = &mut self.old else { return };
        let end = (m.next + MIGRATE_STEP).min(m.table.slots.len());
        for &s in &m.table.slots[m.next..end] {
            if s != 0 {
                self.table.insert(s);
            }
        }
        m.next = end;
        if end == m.table.slots.len() {
            w.release(m.table.bytes());
            self.old = None;
        }
    }

    fn insert(&mut self, w: &ReplayWindow, fp: u64) -> Result<(), NonceError> {
        let cap = self.table.slots.len();
        if self.old.is_none() && (self.table.len + 1) * 8 > cap * 7 {
            // Big enough for everything the old table holds plus one insert per check until
            // the move is done (one step of MIGRATE_STEP slots per check), below 7/8.
            let during = cap.div_ceil(MIGRATE_STEP) + 2;
            let grown = if cap < DOUBLING_BELOW {
                cap * 2
            } else {
                cap + cap / 4
            };
            let slots = grown.max((self.table.len + during) * 8 / 7 + 1);
            if w.reserve(slots * 8) {
                let old = std::mem::replace(&mut self.table, Table::new(slots));
                self.old = Some(Migration {
                    table: old,
                    next: 0,
                });
                self.migrate_step(w);
            }
            // Without room to grow, the table may fill to 15/16 before the window is full.
        }
        if (self.table.len + 1) * 16 > self.table.slots.len() * 15 {
            return Err(NonceError::Full);
        }
        self.table.insert(fp);
        Ok(())
    }
}

/// A Robin Hood linear-probing set of non-zero 64-bit fingerprints; 0 marks an empty slot. It is
/// never completely full (the callers stop at 15/16), so every probe ends.
struct Table {
    slots: Box<[u64]>,
    len: usize,
}

impl Table {
    fn new(slots: usize) -> Table {
        Table {
            // Zeroed allocation: large tables come straight from the kernel, untouched pages
            // and all.
            slots: vec![0; slots.max(2)].into_boxed_slice(),
            len: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * 8
    }

    /// The slot where `fp` would sit undisturbed: `fp` scaled to the table, so that home slots
    /// follow fingerprint order.
    #[inline]
    fn home(&self, fp: u64) -> usize {
        ((u128::from(fp) * self.slots.len() as u128) >> 64) as usize
    }

    /// How far the entry in slot `i` sits from its home slot.
    #[inline]
    fn displacement(&self, fp: u64, i: usize) -> usize {
        let h = self.home(fp);
        if i >= h {
            i - h
        } else {
            i + self.slots.len() - h
        }
    }

    /// Whether `fp` is in the table; `home_slot`, if given, is what its home slot held when
    /// read ahead of time.
    fn contains(&self, fp: u64, home_slot: Option<u64>, probes: &mut Probes) -> bool {
        let n = self.slots.len();
        let mut i = self.home(fp);
        let mut dist = 0;
        probes.tables += 1;
        let mut pre = home_slot;
        loop {
            let s = match pre.take() {
                Some(s) => s,
                None => self.slots[i],
            };
            probes.slots += 1;
            if s == fp {
                return true;
            }
            // An empty slot, or an entry closer to its home than `fp` would be here: Robin
            // Hood insertion would have put `fp` in its place, so `fp` is absent.
            if s == 0 || self.displacement(s, i) < dist {
                return false;
            }
            i += 1;
            if i == n {
                i = 0;
            }
            dist += 1;
        }
    }

    /// Inserts `fp`, which must be absent (a duplicate would only waste a slot).
    fn insert(&mut self, fp: u64) {
        let n = self.slots.len();
        let mut carried = fp;
        let mut i = self.home(fp);
        let mut dist = 0;
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = carried;
                self.len += 1;
                return;
            }
            let d = self.displacement(s, i);
            if d < dist {
                // Take the slot from the entry nearer its home and carry that one on.
                self.slots[i] = carried;
                carried = s;
                dist = d;
            }
            i += 1;
            if i == n {
                i = 0;
            }
            dist += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    /// The longest a nonce is kept with the ±900 s window: ts + 901 with ts up to now + 900.
    const TTL: i64 = 1801;
    const KEYS: [u64; 4] = [1, 2, 3, 4];
    const NOW: i64 = 1_000_000;

    fn window(budget: usize) -> ReplayWindow {
        ReplayWindow::with_keys(budget, TTL, KEYS)
    }

    /// The last second at which the window may still remember a nonce expiring at `expires`
    /// (the end of its bucket): from then on it must have forgotten it.
    fn forgotten_at(expires: i64) -> i64 {
        (expires.div_euclid(BUCKET_SECS) + 1) * BUCKET_SECS - 1
    }

    /// Request `i` of a steady stream: 7 keys, timestamps spread over the past 15 minutes.
    fn steady(c: &ReplayWindow, i: u64) -> Result<(), NonceError> {
        let ts = NOW - 900 + (i % 901) as i64;
        c.check_and_insert(&format!("AK{}", i % 7), &i.to_string(), ts + 901, NOW)
    }

    #[test]
    fn replay_is_refused_until_expiry() {
        let c = window(1 << 20);
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
            Err(NonceError::Used),
            "until its bucket ends the nonce is still remembered"
        );
        assert_eq!(
            c.check_and_insert("AK", "n1", 400, forgotten_at(100)),
            Ok(()),
            "expired nonces may come back"
        );
        // The length prefix keeps (AK, nonce) pairs from colliding by concatenation.
        assert_eq!(c.check_and_insert("AKn", "1", 400, 0), Ok(()));
        assert_eq!(
            c.check_and_insert("AK", "n1", 500, 0),
            Err(NonceError::Used)
        );
    }

    /// A replay in the last second its timestamp is accepted, with the expiry authn computes
    /// (ts + window + 1): refused; once the bucket has ended: forgotten.
    fn replay_in_the_last_second(c: &ReplayWindow, ak: &str, nonce: &str, ts: i64) {
        let window = TTL / 2;
        let expires = ts + window + 1;
        assert_eq!(c.check_and_insert(ak, nonce, expires, ts), Ok(()));
        assert_eq!(
            c.check_and_insert(ak, nonce, expires, ts),
            Err(NonceError::Used)
        );
        // The timestamp check passes while now <= ts + window.
        assert_eq!(
            c.check_and_insert(ak, nonce, expires, ts + window),
            Err(NonceError::Used),
            "a replay in the window's last second"
        );
        let after = forgotten_at(expires);
        assert!(after > ts + window);
        assert_eq!(
            c.check_and_insert(ak, nonce, after + 1000, after - 1),
            Err(NonceError::Used),
            "kept to the end of its bucket"
        );
        assert_eq!(c.check_and_insert(ak, nonce, after + 1000, after), Ok(()));
    }

    #[test]
    fn replay_at_an_empty_window() {
        let c = window(1 << 20);
        assert_eq!(c.stats().nonces, 0);
        replay_in_the_last_second(&c, "AK", "fresh", NOW);
    }

    /// Fills `c` with a steady stream until `n` requests in a row were refused as `Full`;
    /// returns the accepted request numbers and how many requests were made.
    fn fill(c: &ReplayWindow, n: u32) -> (Vec<u64>, u64) {
        let mut accepted = Vec::new();
        let mut in_a_row = 0;
        let mut i = 0;
        while in_a_row < n {
            match steady(c, i) {
                Ok(()) => {
                    accepted.push(i);
                    in_a_row = 0;
                }
                Err(NonceError::Full) => in_a_row += 1,
                Err(e) => panic!("{e:?} at {i}"),
            }
            i += 1;
        }
        (accepted, i)
    }

    #[test]
    fn replay_at_a_full_window() {
        let c = window(4 << 20);
        let (accepted, _) = fill(&c, 200);
        assert_eq!(c.stats().nonces, accepted.len() as u64);
        // Full: fresh nonces are refused.
        assert_eq!(
            c.check_and_insert("AK0", "fresh", NOW + 901, NOW),
            Err(NonceError::Full)
        );
        // Every accepted nonce is refused on replay as used, not merely as full.
        for &i in &accepted {
            assert_eq!(steady(&c, i), Err(NonceError::Used), "{i}");
        }
        // The first accepted one expires first: at the last second of its window still a replay.
        let ts = NOW - 900;
        assert_eq!(
            c.check_and_insert("AK0", "0", ts + 901, ts + 900),
            Err(NonceError::Used)
        );
    }

    #[test]
    fn a_full_window_recovers_as_buckets_expire() {
        let c = window(4 << 20);
        let mut accepted = 0u64;
        let mut in_a_row = 0;
        let mut i = 0u64;
        while in_a_row < 200 {
            match c.check_and_insert(&format!("AK{}", i % 7), &i.to_string(), NOW + 901, NOW) {
                Ok(()) => {
                    accepted += 1;
                    in_a_row = 0;
                }
                Err(NonceError::Full) => in_a_row += 1,
                Err(e) => panic!("{e:?}"),
            }
            i += 1;
        }
        let s = c.stats();
        assert_eq!(s.nonces, accepted);
        assert!(s.allocated <= c.budget());
        // Still full later: nothing has expired yet.
        assert_eq!(
            c.check_and_insert("AK0", "late", NOW + 901, NOW + 500),
            Err(NonceError::Full)
        );
        // Once every nonce has expired their buckets are dropped and there is room again.
        let later = forgotten_at(NOW + 901);
        assert_eq!(
            c.check_and_insert("AK0", "late", later + 901, later),
            Ok(())
        );
        assert_eq!(c.stats().nonces, 1);
        replay_in_the_last_second(&c, "AK0", "again", later);
    }

    #[test]
    fn capacity_is_at_least_what_is_stated() {
        let budget = 8 << 20;
        let c = window(budget);
        let promised = Capacity::of(budget, TTL / 2).nonces;
        let mut accepted = 0u64;
        for i in 0u64.. {
            match steady(&c, i) {
                Ok(()) => accepted += 1,
                Err(NonceError::Full) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(
            accepted >= promised,
            "first refusal after {accepted} nonces, {promised} promised"
        );
        let s = c.stats();
        let per_nonce = s.allocated as f64 / s.nonces as f64;
        assert!(per_nonce <= 12.0, "{per_nonce} bytes a nonce");
    }

    #[test]
    fn one_key_cannot_fill_the_window_for_the_others() {
        let budget = 4 << 20;
        let c = window(budget);
        let share = Capacity::of(budget, TTL / 2).per_key_nonces;
        let mut accepted = 0u64;
        let mut refused = 0;
        for i in 0u64.. {
            match c.check_and_insert("HOG", &i.to_string(), NOW + 901, NOW) {
                Ok(()) => accepted += 1,
                Err(NonceError::KeyShareFull) => {
                    refused += 1;
                    if refused == 2000 {
                        break;
                    }
                }
                Err(e) => panic!("{e:?} after {accepted}"),
            }
        }
        assert!(accepted <= share, "{accepted} > {share}");
        // Each shard stops the key at its own limit: together close to the share.
        assert!(accepted * 100 >= share * 95, "{accepted} of {share}");
        // The others go on.
        for i in 0..1000 {
            assert_eq!(
                c.check_and_insert(&format!("AK{i}"), "n", NOW + 901, NOW),
                Ok(())
            );
        }
        // A replay by the throttled key is still a replay.
        assert_eq!(
            c.check_and_insert("HOG", "0", NOW + 901, NOW),
            Err(NonceError::Used)
        );
        // When its nonces expire the key gets its share back.
        let later = forgotten_at(NOW + 901);
        assert_eq!(c.check_and_insert("HOG", "new", later + 901, later), Ok(()));
    }

    #[test]
    fn cost_does_not_grow_with_the_fill() {
        // Nonces spread over the whole window (clients' clocks up to 15 minutes off either
        // way), so every shard has all 16 buckets; cost measured on 10,000 fresh nonces after
        // each step of filling.
        let c = window(128 << 20);
        let ts = |i: u64| NOW - 900 + (i % 1801) as i64;
        let cost = |c: &ReplayWindow, from: u64| {
            let before = c.stats();
            for i in from..from + 10_000 {
                let r = c.check_and_insert("AK", &format!("probe{i}"), ts(i) + 901, NOW);
                assert!(r.is_ok(), "{r:?}");
            }
            let after = c.stats();
            let checks = (after.checks - before.checks) as f64;
            (
                (after.tables_probed - before.tables_probed) as f64 / checks,
                (after.slots_read - before.slots_read) as f64 / checks,
            )
        };
        let mut levels = Vec::new();
        let mut n = 0u64;
        for target in [20_000u64, 400_000, 1_000_000] {
            while n < target {
                let r =
                    c.check_and_insert(&format!("AK{}", n % 3), &n.to_string(), ts(n) + 901, NOW);
                assert!(r.is_ok(), "{r:?}");
                n += 1;
            }
            levels.push((c.stats().nonces, cost(&c, n)));
            n += 10_000;
        }
        let max_tables = (c.ring + 2) as f64;
        for &(held, (tables, slots)) in &levels {
            assert!(tables <= max_tables, "{tables} tables per check at {held}");
            // A Robin Hood miss reads (1 + 1 / (1 - load)) / 2 slots on average: 4.5 at the
            // highest load before growth (7/8), 2.2 at the lowest after it (0.7).
            assert!(
                slots / tables < 4.5,
                "{slots} slots per check over {tables} tables at {held}"
            );
        }
        // From 400,000 to a million nonces (tables past their doubling phase, loads between 0.7
        // and 0.875 alike), the cost stays where it was.
        let (_, (_, before)) = levels[1];
        let (_, (_, after)) = levels[2];
        assert!(after < 1.15 * before, "{before} → {after} slots per check");

        // Refusing at a full window costs no more than accepting.
        let c = window(2 << 20);
        let (_, made) = fill(&c, 2000);
        let before = c.stats();
        let mut refused = 0;
        for j in made..made + 10_000 {
            if steady(&c, j) == Err(NonceError::Full) {
                refused += 1;
            }
        }
        assert!(refused > 9_000, "{refused}");
        let after = c.stats();
        let tables = (after.tables_probed - before.tables_probed) as f64 / 10_000.0;
        let slots = (after.slots_read - before.slots_read) as f64 / 10_000.0;
        assert!(tables <= max_tables, "{tables} tables per refusal");
        // Tables that could not grow are up to 15/16 full: a miss reads (1 + 16) / 2 = 8.5
        // slots on average there, one or two cache lines.
        assert!(
            slots / tables < 10.0,
            "{slots} slots per refusal over {tables} tables"
        );
    }

    #[test]
    fn growth_moves_every_nonce() {
        // One bucket per shard grows from 64 slots to about 20,000; every nonce stays found.
        let c = window(64 << 20);
        let mut migrations_seen = 0;
        for i in 0..200_000u64 {
            assert_eq!(
                c.check_and_insert("AK", &i.to_string(), NOW + 901, NOW),
                Ok(())
            );
            if i % 1000 == 0 && c.stats().migrating > 0 {
                migrations_seen += 1;
            }
        }
        assert!(migrations_seen > 10, "{migrations_seen}");
        for i in 0..200_000u64 {
            assert_eq!(
                c.check_and_insert("AK", &i.to_string(), NOW + 901, NOW),
                Err(NonceError::Used),
                "{i}"
            );
        }
        assert_eq!(c.stats().nonces, 200_000);
    }

    #[test]
    fn the_clock_going_back_forgets_nothing() {
        let c = window(1 << 20);
        assert_eq!(c.check_and_insert("AK", "n", 2_000, 1_000), Ok(()));
        assert_eq!(c.check_and_insert("AK", "m", 2_400, 1_500), Ok(()));
        // The window has seen 1_500; a request claiming 900 neither brings back dropped
        // buckets nor shortens anything.
        assert_eq!(
            c.check_and_insert("AK", "n", 1_800, 900),
            Err(NonceError::Used)
        );
        assert_eq!(
            c.check_and_insert("AK", "m", 1_000, 900),
            Err(NonceError::Used)
        );
        assert_eq!(c.check_and_insert("AK", "o", 1_000, 900), Ok(()));
        assert_eq!(
            c.check_and_insert("AK", "o", 1_000, 1_500),
            Err(NonceError::Used),
            "kept at least until the latest time seen"
        );
    }

    #[test]
    fn expiries_beyond_the_horizon_are_refused() {
        let c = window(1 << 20);
        assert_eq!(
            c.check_and_insert("AK", "n", 1_000 + TTL + 1, 1_000),
            Err(NonceError::Full)
        );
        assert_eq!(c.check_and_insert("AK", "n", 1_000 + TTL, 1_000), Ok(()));
    }

    #[test]
    fn memory_is_taken_as_nonces_arrive_and_given_back() {
        let c = window(1 << 30);
        let idle = c.stats().allocated;
        assert!(idle < 256 << 10, "{idle} bytes when idle");
        for i in 0..1000u64 {
            assert_eq!(
                c.check_and_insert("AK", &i.to_string(), NOW + 901, NOW),
                Ok(())
            );
        }
        let busy = c.stats().allocated;
        assert!(busy > idle);
        assert!(busy - idle < 256 << 10, "{} bytes", busy - idle);
        // Every shard drops the bucket once its nonces have expired.
        let later = forgotten_at(NOW + 901);
        for i in 0..200 {
            let _ = c.check_and_insert("AK", &format!("y{i}"), later + 1, later);
        }
        let s = c.stats();
        assert_eq!(s.nonces, 200);
        assert_eq!(
            s.buckets, SHARDS,
            "one new bucket a shard, the old ones dropped"
        );
        assert!(s.allocated <= busy, "{} > {busy}", s.allocated);
    }

    #[test]
    fn hash_keys_are_random_and_matter() {
        let a = ReplayWindow::with_keys(1 << 20, TTL, [1, 2, 3, 4]);
        let b = ReplayWindow::with_keys(1 << 20, TTL, [5, 6, 3, 4]);
        assert_ne!(a.pair_hash("AK", "n"), b.pair_hash("AK", "n"));
        assert_ne!(a.key_columns("AK"), a.key_columns("AK2"));
        let r1 = ReplayWindow::new(1 << 20, TTL);
        let r2 = ReplayWindow::new(1 << 20, TTL);
        assert_ne!(r1.pair_hash("AK", "n"), r2.pair_hash("AK", "n"));
        assert!(!format!("{r1:?}").contains(&r1.pair_hasher.keys().0.to_string()));
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A request: key, nonce, timestamp offset from now.
        Check(u8, u8, i64),
        /// Time passes.
        Tick(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u8..4, 0u8..40, -900i64..=900).prop_map(|(k, n, d)| Op::Check(k, n, d)),
            1 => (0i64..400).prop_map(Op::Tick),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Against a plain map of what was accepted and until when: the window never says
        /// "new" for a live pair seen before, and says "used" only for a pair it accepted whose
        /// bucket has not ended.
        #[test]
        fn never_forgets_a_live_nonce(ops in proptest::collection::vec(op(), 1..400)) {
            let c = window(8 << 20);
            let mut model: HashMap<(u8, u8), i64> = HashMap::new();
            let mut now = NOW;
            for op in ops {
                match op {
                    Op::Tick(d) => now += d,
                    Op::Check(k, n, d) => {
                        let expires = now + d + 901;
                        let r = c.check_and_insert(&format!("AK{k}"), &format!("n{n}"), expires, now);
                        match model.get(&(k, n)) {
                            Some(&e) if e > now => prop_assert_eq!(r, Err(NonceError::Used)),
                            Some(&e) if forgotten_at(e) > now => {
                                prop_assert!(r.is_ok() || r == Err(NonceError::Used), "{:?}", r);
                                if r.is_ok() {
                                    model.insert((k, n), expires);
                                }
                            }
                            _ => {
                                prop_assert_eq!(r, Ok(()));
                                model.insert((k, n), expires);
                            }
                        }
                    }
                }
            }
        }

        /// The table alone against a set, with values spread out and values packed close
        /// together (long runs, wrapping around the end).
        #[test]
        fn table_is_a_set(fps in proptest::collection::vec(1u64..u64::MAX, 1..1500), small in 1u64..64) {
            let mut t = Table::new(5200);
            let mut set = HashSet::new();
            let mut probes = Probes::default();
            for fp in fps {
                for v in [fp, fp % small + 1, u64::MAX - fp % small] {
                    prop_assert_eq!(t.contains(v, None, &mut probes), set.contains(&v));
                    if set.insert(v) {
                        t.insert(v);
                    }
                }
            }
            prop_assert_eq!(t.len, set.len());
            for v in &set {
                prop_assert!(t.contains(*v, Some(t.slots[t.home(*v)]), &mut probes));
            }
        }
    }
}
