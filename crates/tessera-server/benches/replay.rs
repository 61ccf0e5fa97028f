//! What remembering a nonce costs, next to the keyed hash it starts with:
//!
//! - `raw/siphash13_128`: SipHash-1-3 (128-bit) of an (AccessKeyId, nonce) pair, plus the
//!   64-bit SipHash-1-3 of the AccessKeyId alone: the two hashes every check computes;
//! - `raw/random_read_128MiB`: one read at a random place in 128 MiB, i.e. a cache and TLB miss
//!   (independent reads, so they may overlap as the window's read-ahead does);
//! - `window/nearly_empty`: `check_and_insert` with time moving on (100 requests a simulated
//!   second, each nonce expiring a second later, so kept to the end of its two-minute bucket):
//!   at most 12,000 live nonces, buckets created and dropped as time goes;
//! - `window/full_10M`: a window holding 10 million nonces, spread as clients with right clocks
//!   leave them (timestamps over the past 15 minutes, so 8 or 9 buckets a shard), each check a
//!   fresh nonce stamped now, time moving on so that the window stays at 10 million;
//! - `window/full_10M_all_buckets`: the same with timestamps spread over ±15 minutes, so every
//!   shard has all 16 buckets to probe: the most a check can cost;
//! - `window/full_10M_60s_buckets`, `window/full_10M_300s_buckets`: `full_10M` with buckets of
//!   60 and 300 seconds instead of 120 ([`BUCKET_SECS`]): more or fewer tables a check probes.
//!
//! Before the timings it prints the footprint of 10 million nonces: bytes each by the window's
//! own accounting, the process's resident memory grown over the same inserts, and the slots
//! read per check.
//!
//! With the argument `sustain` (`cargo bench -p tessera-server --bench replay -- sustain`) it only
//! simulates 40 minutes of 60,000 signed requests a second from one AccessKey against the
//! server's default budget, and fails if any is refused.
//!
//! Run with `cargo bench -p tessera-server --bench replay`; medians land in
//! `target/criterion/<group>/<name>/new/estimates.json`.

// criterion_group! and criterion_main! generate public items without documentation; a
// benchmark may unwrap its own setup.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use criterion::Criterion;
use siphasher::sip::SipHasher13 as KeyHasher;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;
use std::hint::black_box;
use tessera_server::nonce::{NonceError, ReplayWindow, Stats, BUCKET_SECS};
use tessera_server::state::DEFAULT_REPLAY_MEMORY;

const NOW: i64 = 1_800_000_000;
const TTL: i64 = 1801;
const KEYS: [u64; 4] = [0x1234, 0x5678, 0x9abc, 0xdef0];
const AK: &str = "LTAI5tFakeKeyForBench0001";

/// A 32-hex-digit nonce, as the load generator sends, written into `buf`.
fn nonce(buf: &mut [u8; 32], prefix: u64, i: u64) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (k, b) in buf.iter_mut().enumerate() {
        let v = if k < 16 { prefix } else { i };
        *b = HEX[((v >> (60 - 4 * (k % 16))) & 0xf) as usize];
    }
    std::str::from_utf8(buf).unwrap_or("")
}

/// Fills a window with `n` nonces from 50 keys; timestamps spread evenly over
/// `[NOW - back, NOW + ahead]`.
fn filled(n: u64, back: i64, ahead: i64, bucket_secs: i64) -> ReplayWindow {
    let w = ReplayWindow::with_bucket_secs(4 << 30, TTL, bucket_secs, KEYS);
    let span = (back + ahead + 1) as u64;
    let mut buf = [0u8; 32];
    for i in 0..n {
        let ts = NOW - back + (i % span) as i64;
        let ak = format!("LTAI5tFakeKeyForBench{:04}", i % 50);
        let r = w.check_and_insert(&ak, nonce(&mut buf, 1, i), ts + 901, NOW);
        assert_eq!(r, Ok(()), "prefill {i}");
    }
    w
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes a nonce, by the window's accounting and by resident memory.
fn footprint() {
    let n = 10_000_000;
    let before = resident_bytes();
    let w = filled(n, 900, 0, BUCKET_SECS);
    let after = resident_bytes();
    let s = w.stats();
    let rss = after.saturating_sub(before);
    println!(
        "footprint: {} nonces in {} buckets; accounted {} bytes = {:.2} B/nonce; resident +{} bytes = {:.2} B/nonce",
        s.nonces,
        s.buckets,
        s.allocated,
        s.allocated as f64 / s.nonces as f64,
        rss,
        rss as f64 / s.nonces as f64,
    );
    let before = w.stats();
    let mut buf = [0u8; 32];
    for i in 0..100_000 {
        let _ = w.check_and_insert(AK, nonce(&mut buf, 2, i), NOW + 901, NOW);
    }
    let after = w.stats();
    let checks = (after.checks - before.checks) as f64;
    println!(
        "probes at 10M: {:.1} tables and {:.1} slots read per check",
        (after.tables_probed - before.tables_probed) as f64 / checks,
        (after.slots_read - before.slots_read) as f64 / checks,
    );
}

fn raw(c: &mut Criterion) {
    let pair = SipHasher13::new_with_keys(KEYS[0], KEYS[1]);
    let key = KeyHasher::new_with_keys(KEYS[2], KEYS[3]);
    let mut g = c.benchmark_group("raw");
    let mut i = 0u64;
    let mut buf = [0u8; 32];
    g.bench_function("siphash13_128", |b| {
        b.iter(|| {
            i += 1;
            let n = nonce(&mut buf, 3, i);
            let mut h = pair;
            h.write(&(AK.len() as u64).to_le_bytes());
            h.write(black_box(AK).as_bytes());
            h.write(n.as_bytes());
            let mut k = key;
            k.write(black_box(AK).as_bytes());
            black_box((h.finish128(), k.finish()))
        })
    });
    // One read at a random place in 128 MiB (about what 10 M nonces take): a cache and TLB
    // miss, the unit a check at a full window pays a few of.
    let big = vec![1u64; 16 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    g.bench_function("random_read_128MiB", |b| {
        b.iter(|| {
            // xorshift64: the next place does not depend on what was read.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            black_box(big[(x % big.len() as u64) as usize])
        })
    });
    g.finish();
}

fn window(c: &mut Criterion) {
    let mut g = c.benchmark_group("window");
    g.sample_size(30);

    let w = ReplayWindow::with_keys(1 << 30, TTL, KEYS);
    let mut i = 0u64;
    let mut buf = [0u8; 32];
    g.bench_function("nearly_empty", |b| {
        b.iter(|| {
            i += 1;
            let now = NOW + (i / 100) as i64;
            let r = w.check_and_insert(black_box(AK), nonce(&mut buf, 4, i), now + 1, now);
            black_box(r)
        })
    });
    println!("nearly_empty ended with {:?}", w.stats());
    drop(w);

    // Steady state at 10 million live nonces: time moves on by a second every RATE checks,
    // each nonce kept 901 s on average, so buckets are dropped as fast as they fill.
    const RATE: u64 = 10_000_000 / 901;
    for (name, ahead, secs) in [
        ("full_10M", 0, BUCKET_SECS),
        ("full_10M_all_buckets", 900, BUCKET_SECS),
        ("full_10M_60s_buckets", 0, 60),
        ("full_10M_300s_buckets", 0, 300),
    ] {
        let w = filled(10_000_000, 900, ahead, secs);
        let mut i = 0u64;
        let mut buf = [0u8; 32];
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let now = NOW + (i / RATE) as i64;
                let ts = if ahead == 0 {
                    now
                } else {
                    now - 900 + (i % 1801) as i64
                };
                let r = w.check_and_insert(black_box(AK), nonce(&mut buf, 5, i), ts + 901, now);
                black_box(r)
            })
        });
        let s = w.stats();
        println!("{name} ended with {s:?}");
        // A replay is still caught after all that.
        let now = NOW + (i / RATE) as i64;
        let r = w.check_and_insert(AK, nonce(&mut buf, 5, i), now + 901, now);
        assert!(ahead > 0 || r == Err(NonceError::Used), "{r:?}");
    }
    g.finish();
}

/// Simulates 60,000 signed requests a second from one AccessKey, clocks right, for 40 minutes
/// (more than twice the longest a nonce is kept) against the server's default budget: no
/// request may be refused. Prints the peak held, the bytes each and the resident memory.
fn sustain() {
    const RATE: u64 = 60_000;
    let w = ReplayWindow::new(DEFAULT_REPLAY_MEMORY, TTL);
    let before = resident_bytes();
    let (mut refused, mut peak, mut peak_rss) = (0u64, Stats::default(), 0);
    let mut buf = [0u8; 32];
    let mut i = 0u64;
    for sec in 0..2400 {
        let now = NOW + sec;
        for _ in 0..RATE {
            i += 1;
            if w.check_and_insert(AK, nonce(&mut buf, 6, i), now + 901, now)
                .is_err()
            {
                refused += 1;
            }
        }
        if sec % 60 == 59 {
            let s = w.stats();
            if s.nonces > peak.nonces {
                peak = s;
            }
            peak_rss = peak_rss.max(resident_bytes().saturating_sub(before));
            println!(
                "sustain: {} min, {} nonces, {} bytes accounted, {} refused",
                (sec + 1) / 60,
                s.nonces,
                s.allocated,
                refused
            );
        }
    }
    println!(
        "sustain: {i} requests at {RATE}/s from one key, {refused} refused; peak {} nonces in {} bytes accounted ({:.2} B/nonce), resident +{peak_rss} bytes ({:.2} B/nonce)",
        peak.nonces,
        peak.allocated,
        peak.allocated as f64 / peak.nonces as f64,
        peak_rss as f64 / peak.nonces as f64,
    );
    assert_eq!(refused, 0);
}

fn main() {
    // `cargo bench --bench replay -- sustain`: the 40-minute simulation only (about 3 minutes).
    if std::env::args().any(|a| a == "sustain") {
        sustain();
        return;
    }
    footprint();
    let mut c = Criterion::default().configure_from_args();
    raw(&mut c);
    window(&mut c);
    c.final_summary();
}
