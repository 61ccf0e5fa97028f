//! The cost of `CredentialsCache::get` on a warm cache, next to two baselines measured in the same
//! run (a `Credential` clone, which is one `Arc` increment, and `SystemTime::now()`), so the
//! result reads as a ratio that survives a change of machine.

// criterion_group! and criterion_main! generate public items without documentation; a
// benchmark may unwrap its own setup.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};
use tessera_credentials::{Context, Credential, CredentialsCache, Error, ProvideCredentials};

/// An STS token valid for 12 hours from each call: a warm cache stays outside its windows.
#[derive(Debug)]
struct TwelveHours;

#[async_trait]
impl ProvideCredentials for TwelveHours {
    async fn provide(&self) -> Result<Credential, Error> {
        Ok(Credential::sts_token("STS.bench", "secret", "token")
            .with_expiration(SystemTime::now() + Duration::from_secs(12 * 3600)))
    }

    fn name(&self) -> &str {
        "bench"
    }
}

fn cache(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let cache = CredentialsCache::new(TwelveHours, &Context::os());
    let warm = rt.block_on(cache.get()).expect("the provider never fails");

    let mut group = c.benchmark_group("cache");
    group.bench_function("cached_get", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(black_box(&cache).get().await.ok());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("baseline_credential_clone", |b| {
        b.iter(|| black_box(black_box(&warm).clone()))
    });
    group.bench_function("baseline_system_time_now", |b| {
        b.iter(|| black_box(SystemTime::now()))
    });
    group.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);
