//! The refresh engine for expiring credentials.
//!
//! A [`CredentialsCache`] sits in front of one provider and decides when to call it. The rules,
//! all measured on the context's clock against [`Credential::valid_until`] (the expiration
//! corrected for the issuer's clock skew):
//!
//! - **Windows scaled to the lifetime.** The lifetime is `valid_until − now` when the credential
//!   arrives. The *advisory window* is the last `min(5 min, 20 %)` of it, the *mandatory window*
//!   the last `min(60 s, 5 %)`. A 900 s session therefore gets advisory = 180 s and
//!   mandatory = 45 s; 3600 s and longer get 300 s and 60 s. (The official Python, Java and
//!   Node libraries use a fixed 15-minute margin, which makes a 900 s session stale on arrival
//!   and costs one AssumeRole per call.)
//! - **Jitter.** Each fetched credential's advisory start is drawn uniformly from the first
//!   quarter of its advisory window, so a fleet that fetched at the same moment does not refresh
//!   in lockstep.
//! - **Advisory window:** the first caller to notice spawns one background refresh on the current
//!   tokio runtime; everybody keeps getting the current value without waiting. No threads, and
//!   no timers while idle: nothing runs unless a caller asks.
//! - **Mandatory window, nothing cached, or expired:** callers wait for the refresh.
//! - **Single flight.** At most one provider call is in flight. Callers that queued behind an
//!   attempt take its outcome, success or error, instead of calling the provider again.
//! - **Static stability.** When a refresh fails (or returns an already-expired credential) and
//!   the cached value is still valid, the cached value keeps being served and the next attempt
//!   waits a back-off of `min(60 s, 1 s · 2^(n−1))` after the n-th consecutive failure, drawn
//!   uniformly from its upper half, and never more than half the remaining validity, so retries
//!   keep happening (ever more often) until the credential expires. A good value is never
//!   replaced by an error. When nothing valid is cached the caller gets the error, and the
//!   back-off is capped at 10 s so a recovered provider is noticed quickly.
//! - **Unchanged credential.** A source that hands back the very credential already cached (IMDS
//!   until it rotates) keeps the credential's original windows and is asked again after a
//!   back-off, instead of shrinking the windows at every fetch.
//! - **[`invalidate`](CredentialsCache::invalidate)** drops the cached value only if it is the
//!   one a service rejected, so a thousand reports about one token cost one refresh.
//! - Credentials without an expiration are cached for good.

use crate::context::{Clock, Context};
use crate::{Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use rand::Rng;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

/// The advisory window's upper bound.
pub const DEFAULT_ADVISORY_MAX: Duration = Duration::from_secs(300);
/// The advisory window's share of the lifetime.
pub const DEFAULT_ADVISORY_FRACTION: f64 = 0.20;
/// The mandatory window's upper bound.
pub const DEFAULT_MANDATORY_MAX: Duration = Duration::from_secs(60);
/// The mandatory window's share of the lifetime.
pub const DEFAULT_MANDATORY_FRACTION: f64 = 0.05;
/// The back-off after the first failure (before jitter).
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest back-off while a valid credential is being served.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// The longest back-off when nothing valid is cached: callers are failing meanwhile, so a
/// recovered provider must be noticed soon.
pub const EMPTY_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Caches what a provider returns and refreshes it before it expires. Cheap to clone; clones
/// share one cache. See the [module documentation](self) for the refresh policy.
#[derive(Debug, Clone)]
pub struct CredentialsCache {
    inner: Arc<Inner>,
}

/// Counters for diagnostics, since the cache was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Provider calls that returned a usable credential (including an unchanged one).
    pub refreshes: u64,
    /// Provider calls that failed or returned an already-expired credential.
    pub failures: u64,
    /// Times a caller was handed the cached credential because refreshing it had failed.
    pub served_stale: u64,
}

/// Tunables for a [`CredentialsCache`]; start with [`CredentialsCache::builder`].
#[derive(Debug)]
pub struct CredentialsCacheBuilder {
    provider: Box<dyn ProvideCredentials>,
    tunables: Tunables,
}

#[derive(Debug, Clone, Copy)]
struct Tunables {
    advisory_max: Duration,
    advisory_fraction: f64,
    mandatory_max: Duration,
    mandatory_fraction: f64,
    backoff_base: Duration,
    backoff_max: Duration,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            advisory_max: DEFAULT_ADVISORY_MAX,
            advisory_fraction: DEFAULT_ADVISORY_FRACTION,
            mandatory_max: DEFAULT_MANDATORY_MAX,
            mandatory_fraction: DEFAULT_MANDATORY_FRACTION,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
        }
    }
}

/// A fraction in `0..=1`; NaN counts as 0 (no window) rather than poisoning every comparison.
fn fraction(f: f64) -> f64 {
    if f.is_nan() {
        0.0
    } else {
        f.clamp(0.0, 1.0)
    }
}

impl CredentialsCacheBuilder {
    /// The advisory window: the last `min(max, fraction × lifetime)` of a credential's lifetime,
    /// during which one background refresh is started. Default: 5 min, 0.20.
    pub fn advisory_window(mut self, max: Duration, fraction_of_lifetime: f64) -> Self {
        self.tunables.advisory_max = max;
        self.tunables.advisory_fraction = fraction(fraction_of_lifetime);
        self
    }

    /// The mandatory window: the last `min(max, fraction × lifetime)`, during which callers wait
    /// for a refresh. Default: 60 s, 0.05. Never starts before the advisory window.
    pub fn mandatory_window(mut self, max: Duration, fraction_of_lifetime: f64) -> Self {
        self.tunables.mandatory_max = max;
        self.tunables.mandatory_fraction = fraction(fraction_of_lifetime);
        self
    }

    /// The back-off after failed refreshes: `min(max, base · 2^(n−1))` after the n-th failure in
    /// a row, jittered into its upper half. Default: 1 s, 60 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.tunables.backoff_base = base;
        self.tunables.backoff_max = max;
        self
    }

    /// The cache, reading time from `ctx.clock`.
    pub fn build(self, ctx: &Context) -> CredentialsCache {
        CredentialsCache {
            inner: Arc::new(Inner {
                provider: self.provider,
                clock: Arc::clone(&ctx.clock),
                tunables: self.tunables,
                state: RwLock::new(State::default()),
                refresh: tokio::sync::Mutex::new(()),
                background: AtomicBool::new(false),
                refreshes: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                served_stale: AtomicU64::new(0),
            }),
        }
    }
}

struct Inner {
    provider: Box<dyn ProvideCredentials>,
    clock: Arc<dyn Clock>,
    tunables: Tunables,
    state: RwLock<State>,
    /// Held for the whole of a provider call: the single flight.
    refresh: tokio::sync::Mutex<()>,
    /// A background refresh has been spawned and has not finished.
    background: AtomicBool,
    refreshes: AtomicU64,
    failures: AtomicU64,
    served_stale: AtomicU64,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("Inner")
            .field("provider", &self.provider)
            .field("tunables", &self.tunables)
            .field("cached", &state.entry)
            .field("consecutive_failures", &state.failures)
            .field("retry_at", &state.retry_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    entry: Option<Entry>,
    /// No provider call before this instant (back-off).
    retry_at: Option<SystemTime>,
    /// Consecutive attempts that did not bring a new credential; drives the back-off.
    failures: u32,
    /// Bumped, under the refresh lock, whenever an attempt finishes: a caller that queued for the
    /// lock compares it with what it saw before to learn that an attempt finished meanwhile.
    attempts: u64,
    /// Why the last attempt failed; cleared by a success.
    last_error: Option<Error>,
}

#[derive(Debug)]
struct Entry {
    credential: Credential,
    /// `None`: the credential does not expire.
    windows: Option<Windows>,
}

#[derive(Debug, Clone, Copy)]
struct Windows {
    advisory_at: SystemTime,
    mandatory_at: SystemTime,
    valid_until: SystemTime,
}

impl Entry {
    fn is_valid_at(&self, now: SystemTime) -> bool {
        self.windows.is_none_or(|w| now < w.valid_until)
    }
}

/// What a caller does, decided under the read lock.
enum Plan {
    Serve(Credential),
    /// Serve the cached value, which a failed refresh left in place.
    ServeStale(Credential),
    /// Serve, and start a background refresh unless one is running.
    ServeAndRefresh(Credential, u64),
    Fail(Error),
    /// Wait for a refresh; carries the attempt count seen.
    Block(u64),
}

impl State {
    fn plan(&self, now: SystemTime) -> Plan {
        let backing_off = self.retry_at.is_some_and(|r| now < r);
        if let Some(entry) = &self.entry {
            let Some(w) = entry.windows else {
                return Plan::Serve(entry.credential.clone());
            };
            if now < w.advisory_at {
                return Plan::Serve(entry.credential.clone());
            }
            if now < w.valid_until {
                if backing_off {
                    return if self.last_error.is_some() {
                        Plan::ServeStale(entry.credential.clone())
                    } else {
                        Plan::Serve(entry.credential.clone())
                    };
                }
                if now < w.mandatory_at {
                    return Plan::ServeAndRefresh(entry.credential.clone(), self.attempts);
                }
            }
        }
        match &self.last_error {
            Some(e) if backing_off => Plan::Fail(e.clone()),
            _ => Plan::Block(self.attempts),
        }
    }
}

/// `t + d`, saturating instead of panicking on an absurd expiration.
fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}

fn earlier(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The windows of a credential fetched at `now`.
    fn schedule(&self, credential: Credential, now: SystemTime) -> Entry {
        let windows = credential.valid_until().map(|valid_until| {
            let t = &self.tunables;
            let lifetime = valid_until.duration_since(now).unwrap_or_default();
            let advisory = t.advisory_max.min(lifetime.mul_f64(t.advisory_fraction));
            let mandatory = t.mandatory_max.min(lifetime.mul_f64(t.mandatory_fraction));
            let jitter = advisory.mul_f64(rand::rng().random_range(0.0..0.25));
            let mandatory_at = earlier(valid_until, mandatory);
            Windows {
                advisory_at: later(earlier(valid_until, advisory), jitter).min(mandatory_at),
                mandatory_at,
                valid_until,
            }
        });
        Entry {
            credential,
            windows,
        }
    }

    /// How long to wait after the `failures`-th unproductive attempt in a row, jittered into
    /// `[d/2, d]` so that instances which failed together do not retry together.
    fn backoff(&self, failures: u32) -> Duration {
        let t = &self.tunables;
        let doubling = 2u32.saturating_pow(failures.saturating_sub(1));
        let d = t
            .backoff_base
            .checked_mul(doubling)
            .unwrap_or(t.backoff_max)
            .min(t.backoff_max);
        d.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    /// Calls the provider and records the outcome. The caller holds `self.refresh`.
    async fn attempt(&self) -> Result<Credential, Error> {
        let result = self.provider.provide().await;
        let now = self.clock.now();
        let name = self.provider.name();
        let mut st = self.write();
        st.attempts = st.attempts.wrapping_add(1);
        let fresh = match result {
            Ok(fresh) => fresh,
            Err(e) => return self.fail(&mut st, e.in_provider(name), now),
        };
        if let Some(until) = fresh.valid_until().filter(|until| *until <= now) {
            // Caching it would make every later call refetch at once; treat it as a failure so
            // the back-off applies, and keep any older value that is still good.
            let late = now.duration_since(until).unwrap_or_default().as_secs();
            let e = Error::Provider {
                provider: name.to_string(),
                source: Box::new(Error::InvalidResponse {
                    endpoint: fresh.provider_name().to_string(),
                    message: format!(
                        "the credential had expired {late} s before it arrived \
                         (clock skew {} s); is the local clock right?",
                        fresh.clock_skew_secs()
                    ),
                }),
            };
            return self.fail(&mut st, e, now);
        }
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        st.last_error = None;
        let unchanged = st
            .entry
            .as_ref()
            .is_some_and(|e| e.credential.is_same(&fresh));
        if let Some(entry) = st.entry.as_ref().filter(|_| unchanged) {
            // The source has not rotated yet. Keep the original windows: measuring the lifetime
            // from now would shrink them at every fetch and refetch ever faster.
            let credential = entry.credential.clone();
            let remaining = entry.windows.map(|w| w.valid_until.duration_since(now));
            st.failures = st.failures.saturating_add(1);
            let mut wait = self.backoff(st.failures);
            if let Some(Ok(remaining)) = remaining {
                wait = wait.min(remaining / 2);
            }
            st.retry_at = Some(later(now, wait));
            tracing::debug!(
                provider = name,
                retry_in_ms = wait.as_millis() as u64,
                "refresh returned the cached credential unchanged"
            );
            return Ok(credential);
        }
        st.entry = Some(self.schedule(fresh.clone(), now));
        st.failures = 0;
        st.retry_at = None;
        tracing::debug!(
            provider = name,
            expires_in_secs = fresh
                .valid_until()
                .and_then(|u| u.duration_since(now).ok())
                .map(|d| d.as_secs()),
            "credentials refreshed"
        );
        Ok(fresh)
    }

    /// Records a failed attempt: serves the cached value while it is valid, else the error.
    fn fail(&self, st: &mut State, err: Error, now: SystemTime) -> Result<Credential, Error> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        st.failures = st.failures.saturating_add(1);
        let backoff = self.backoff(st.failures);
        let name = self.provider.name();
        let still_valid = st.entry.as_ref().filter(|e| e.is_valid_at(now));
        let Some(entry) = still_valid else {
            st.entry = None;
            let wait = backoff.min(EMPTY_BACKOFF_MAX);
            st.retry_at = Some(later(now, wait));
            tracing::warn!(
                provider = name,
                error = %err,
                retry_in_ms = wait.as_millis() as u64,
                "credential refresh failed and nothing valid is cached"
            );
            st.last_error = Some(err.clone());
            return Err(err);
        };
        let credential = entry.credential.clone();
        let remaining = entry
            .windows
            .and_then(|w| w.valid_until.duration_since(now).ok());
        // Halving the remaining validity keeps attempts coming before expiry, however long the
        // back-off has grown.
        let wait = remaining.map_or(backoff, |r| backoff.min(r / 2));
        st.retry_at = Some(later(now, wait));
        tracing::warn!(
            provider = name,
            error = %err,
            valid_for_secs = remaining.map(|r| r.as_secs()),
            retry_in_ms = wait.as_millis() as u64,
            "credential refresh failed; serving the cached credential while it is valid"
        );
        st.last_error = Some(err);
        Ok(credential)
    }

    /// Waits for the single flight; runs it if no attempt finished since `seen`.
    async fn refresh_blocking(&self, seen: u64) -> Result<Credential, Error> {
        let _flight = self.refresh.lock().await;
        {
            let st = self.read();
            if st.attempts != seen {
                // An attempt finished while we queued: its outcome is ours too, error included.
                let now = self.clock.now();
                if let Some(entry) = st.entry.as_ref().filter(|e| e.is_valid_at(now)) {
                    if st.last_error.is_some() {
                        self.served_stale.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(entry.credential.clone());
                }
                if let Some(e) = &st.last_error {
                    return Err(e.clone());
                }
                // It succeeded, but its credential was invalidated since: fetch anew.
            }
        }
        let result = self.attempt().await;
        // Counted here rather than in `fail`, so a failed background refresh, which serves
        // nobody, is not counted.
        if result.is_ok() && self.read().last_error.is_some() {
            self.served_stale.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Starts one background refresh on the current tokio runtime, unless one is running. Outside
    /// a runtime nothing is spawned; the mandatory window then refreshes in line.
    fn spawn_refresh(self: &Arc<Self>, seen: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .background
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        // Made before the spawn so the flag is cleared even if the task is dropped unpolled
        // (runtime shutting down) or the provider panics.
        let running = BackgroundFlag(Arc::clone(self));
        runtime.spawn(async move {
            let inner = &running.0;
            let _flight = inner.refresh.lock().await;
            if inner.read().attempts != seen {
                return;
            }
            // The outcome is recorded in the state (and a failure logged) by `attempt`.
            let _ = inner.attempt().await;
        });
    }
}

struct BackgroundFlag(Arc<Inner>);

impl Drop for BackgroundFlag {
    fn drop(&mut self) {
        self.0.background.store(false, Ordering::Release);
    }
}

impl CredentialsCache {
    /// Wraps `provider` with the default windows and back-off, using `ctx`'s clock.
    pub fn new(provider: impl ProvideCredentials + 'static, ctx: &Context) -> Self {
        Self::builder(provider).build(ctx)
    }

    /// A builder, to change the windows or the back-off.
    pub fn builder(provider: impl ProvideCredentials + 'static) -> CredentialsCacheBuilder {
        CredentialsCacheBuilder {
            provider: Box::new(provider),
            tunables: Tunables::default(),
        }
    }

    /// The cached credential, refreshed first if it must be.
    ///
    /// On a warm cache outside the refresh windows this is a read lock, one clock read and a
    /// reference-count increment. In the advisory window it also starts a background refresh
    /// (on the current tokio runtime) without waiting for it.
    ///
    /// Errors: the provider's error, as [`Error::Provider`] (or [`Error::NotConfigured`] as is),
    /// only when nothing valid is cached.
    pub async fn get(&self) -> Result<Credential, Error> {
        let now = self.inner.clock.now();
        let plan = self.inner.read().plan(now);
        match plan {
            Plan::Serve(c) => Ok(c),
            Plan::ServeStale(c) => {
                self.inner.served_stale.fetch_add(1, Ordering::Relaxed);
                Ok(c)
            }
            Plan::ServeAndRefresh(c, seen) => {
                self.inner.spawn_refresh(seen);
                Ok(c)
            }
            Plan::Fail(e) => Err(e),
            Plan::Block(seen) => self.inner.refresh_blocking(seen).await,
        }
    }

    /// The cached value, without refreshing; it may have expired.
    pub fn peek(&self) -> Option<Credential> {
        self.inner
            .read()
            .entry
            .as_ref()
            .map(|e| e.credential.clone())
    }

    /// Drops `rejected` if it is still the cached value, so the next [`get`](Self::get) fetches
    /// a new one. A report about a credential already replaced does nothing.
    pub fn invalidate(&self, rejected: &Credential) {
        let mut st = self.inner.write();
        if st
            .entry
            .as_ref()
            .is_some_and(|e| e.credential.is_same(rejected))
        {
            st.entry = None;
            // A back-off left by an earlier failed refresh (say, throttling) must not make the
            // callers who need a replacement now wait for it, or get that old error instead.
            st.retry_at = None;
            st.last_error = None;
            tracing::debug!(
                provider = self.inner.provider.name(),
                "cached credential invalidated"
            );
        }
        drop(st);
        // A cache over a cache (a role's source, a client over a provider that caches) must
        // drop the rejected value at every level, or the next fetch returns it again. Each
        // level checks for itself that it holds the rejected value.
        self.inner.provider.invalidate(rejected);
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            refreshes: self.inner.refreshes.load(Ordering::Relaxed),
            failures: self.inner.failures.load(Ordering::Relaxed),
            served_stale: self.inner.served_stale.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
impl ProvideCredentials for CredentialsCache {
    async fn provide(&self) -> Result<Credential, Error> {
        self.get().await
    }

    fn name(&self) -> &str {
        self.inner.provider.name()
    }

    fn invalidate(&self, rejected: &Credential) {
        CredentialsCache::invalidate(self, rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ManualClock;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use tokio::sync::Semaphore;

    const T0: Duration = Duration::from_secs(1_700_000_000);

    #[derive(Debug, Clone, Copy)]
    enum Mode {
        /// A new credential per call, valid for this many seconds from the clock's now.
        Lifetime(u64),
        /// The same credential on every call (a source that has not rotated yet).
        Fixed(SystemTime),
        /// A new credential per call, without expiration.
        NoExpiry,
        /// A new credential per call that expired 10 s ago.
        Expired,
        Fail,
    }

    #[derive(Debug)]
    struct State {
        clock: ManualClock,
        mode: Mutex<Mode>,
        calls: AtomicUsize,
        latency: Duration,
        gate: Option<Semaphore>,
    }

    /// Counts its calls; a clone shares the counter and the mode.
    #[derive(Debug, Clone)]
    struct TestProvider(Arc<State>);

    impl TestProvider {
        fn with(
            clock: &ManualClock,
            mode: Mode,
            latency: Duration,
            gate: Option<Semaphore>,
        ) -> Self {
            TestProvider(Arc::new(State {
                clock: clock.clone(),
                mode: Mutex::new(mode),
                calls: AtomicUsize::new(0),
                latency,
                gate,
            }))
        }

        fn calls(&self) -> usize {
            self.0.calls.load(Ordering::SeqCst)
        }

        fn set(&self, mode: Mode) {
            *self.0.mode.lock().unwrap() = mode;
        }

        fn release(&self) {
            self.0.gate.as_ref().unwrap().add_permits(1);
        }
    }

    #[async_trait]
    impl ProvideCredentials for TestProvider {
        async fn provide(&self) -> Result<Credential, Error> {
            let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(gate) = &self.0.gate {
                gate.acquire().await.unwrap().forget();
            }
            if !self.0.latency.is_zero() {
                tokio::time::sleep(self.0.latency).await;
            }
            let now = self.0.clock.now();
            let mode = *self.0.mode.lock().unwrap();
            let fresh = || Credential::sts_token(format!("STS.{n}"), "s3cr3t", format!("tok3n{n}"));
            Ok(match mode {
                Mode::Lifetime(secs) => fresh().with_expiration(now + Duration::from_secs(secs)),
                Mode::Fixed(exp) => {
                    Credential::sts_token("STS.fixed", "s", "t").with_expiration(exp)
                }
                Mode::NoExpiry => Credential::access_key(format!("LTAI{n}"), "s3cr3t"),
                Mode::Expired => fresh().with_expiration(now - Duration::from_secs(10)),
                Mode::Fail => {
                    return Err(Error::Transport {
                        endpoint: "http://sts.test".into(),
                        message: "connection refused".into(),
                    })
                }
            })
        }

        fn name(&self) -> &str {
            "test"
        }
    }

    fn setup(mode: Mode) -> (ManualClock, TestProvider, CredentialsCache) {
        setup_with(mode, Duration::ZERO, None)
    }

    fn setup_with(
        mode: Mode,
        latency: Duration,
        gate: Option<Semaphore>,
    ) -> (ManualClock, TestProvider, CredentialsCache) {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + T0);
        let provider = TestProvider::with(&clock, mode, latency, gate);
        let ctx = Context::os().with_clock(clock.clone());
        let cache = CredentialsCache::new(provider.clone(), &ctx);
        (clock, provider, cache)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn windows(cache: &CredentialsCache) -> Windows {
        cache.inner.read().entry.as_ref().unwrap().windows.unwrap()
    }

    fn retry_at(cache: &CredentialsCache) -> Option<SystemTime> {
        cache.inner.read().retry_at
    }

    async fn many(cache: &CredentialsCache, n: usize) -> Vec<Result<Credential, Error>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get().await })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_flight_on_a_cold_cache() {
        let (_, provider, cache) = setup_with(Mode::Lifetime(3600), secs(0.05), None);
        let results = many(&cache, 1000).await;
        assert_eq!(provider.calls(), 1);
        for r in results {
            assert_eq!(r.unwrap().access_key_id(), "STS.1");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_flight_in_the_mandatory_window_and_everyone_waits_for_the_new_value() {
        let (clock, provider, cache) = setup_with(Mode::Lifetime(900), secs(0.05), None);
        cache.get().await.unwrap();
        // 900 s: mandatory window = 45 s, so 870 s in is inside it.
        clock.advance(secs(870.0));
        let results = many(&cache, 1000).await;
        assert_eq!(provider.calls(), 2);
        for r in results {
            assert_eq!(r.unwrap().access_key_id(), "STS.2");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiters_share_a_failed_attempt() {
        let (_, provider, cache) = setup_with(Mode::Fail, secs(0.05), None);
        let results = many(&cache, 1000).await;
        assert_eq!(provider.calls(), 1);
        for r in results {
            let e = r.unwrap_err();
            assert!(
                matches!(&e, Error::Provider { provider, .. } if provider == "test"),
                "{e}"
            );
        }
        // Back-off: the next caller gets the same error without a provider call.
        assert!(cache.get().await.is_err());
        assert_eq!(provider.calls(), 1);
        assert_eq!(cache.stats().failures, 1);
    }

    #[test]
    fn windows_scale_with_the_lifetime() {
        let (clock, _, cache) = setup(Mode::NoExpiry);
        let now = clock.now();
        for (lifetime, advisory, mandatory) in [
            (900.0, 180.0, 45.0),
            (1000.0, 200.0, 50.0),
            (3600.0, 300.0, 60.0),
            (43200.0, 300.0, 60.0),
            (20.0, 4.0, 1.0),
        ] {
            let until = now + secs(lifetime);
            let c = Credential::sts_token("a", "b", "c").with_expiration(until);
            let w = cache.inner.schedule(c, now).windows.unwrap();
            assert_eq!(w.valid_until, until);
            assert_eq!(w.mandatory_at, until - secs(mandatory), "{lifetime}");
            // Jitter: somewhere in the first quarter of the advisory window.
            assert!(w.advisory_at >= until - secs(advisory), "{lifetime}");
            assert!(w.advisory_at <= until - secs(advisory * 0.75), "{lifetime}");
        }
    }

    #[test]
    fn windows_use_the_skew_corrected_expiry() {
        let (clock, _, cache) = setup(Mode::NoExpiry);
        let now = clock.now();
        // The issuer's clock is 120 s ahead: its "now + 900" is our now + 780.
        let c = Credential::sts_token("a", "b", "c")
            .with_expiration(now + secs(900.0))
            .with_clock_skew(120);
        let w = cache.inner.schedule(c, now).windows.unwrap();
        assert_eq!(w.valid_until, now + secs(780.0));
        assert_eq!(w.mandatory_at, now + secs(780.0 - 39.0));
    }

    #[test]
    fn advisory_start_is_jittered_per_credential() {
        let (clock, _, cache) = setup(Mode::NoExpiry);
        let now = clock.now();
        let starts: Vec<_> = (0..200)
            .map(|_| {
                let c = Credential::sts_token("a", "b", "c").with_expiration(now + secs(3600.0));
                cache.inner.schedule(c, now).windows.unwrap().advisory_at
            })
            .collect();
        // Uniform over the first quarter of a 300 s window: 75 s wide. 200 draws all landing
        // within 50 s of each other has a probability of about 200 · (2/3)^199.
        let (min, max) = (starts.iter().min().unwrap(), starts.iter().max().unwrap());
        assert!(
            max.duration_since(*min).unwrap() > secs(50.0),
            "{min:?}..{max:?}"
        );
    }

    #[tokio::test]
    async fn a_900_second_session_is_not_refetched_per_call() {
        let (clock, provider, cache) = setup(Mode::Lifetime(900));
        for _ in 0..100 {
            assert_eq!(cache.get().await.unwrap().access_key_id(), "STS.1");
            // Let a background refresh run, had one been (wrongly) spawned.
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
            clock.advance(secs(6.0));
        }
        assert_eq!(provider.calls(), 1);
    }

    #[tokio::test]
    async fn advisory_window_refreshes_once_in_the_background() {
        let gate = Semaphore::new(1);
        let (clock, provider, cache) = setup_with(Mode::Lifetime(3600), Duration::ZERO, Some(gate));
        cache.get().await.unwrap();
        // Advisory starts between 300 and 225 s before expiry; mandatory at 60 s.
        clock.advance(secs(3600.0 - 200.0));
        for _ in 0..100 {
            let c = tokio::time::timeout(secs(1.0), cache.get())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(c.access_key_id(), "STS.1");
        }
        // The spawned refresh is parked on the gate: one call, nobody waited for it.
        while provider.calls() < 2 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            cache.get().await.unwrap();
        }
        assert_eq!(provider.calls(), 2);
        provider.release();
        while cache.peek().unwrap().access_key_id() != "STS.2" {
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.get().await.unwrap().access_key_id(), "STS.2");
        assert_eq!(provider.calls(), 2);
        assert!(!cache.inner.background.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn before_the_advisory_window_nothing_is_refreshed() {
        let (clock, provider, cache) = setup(Mode::Lifetime(3600));
        cache.get().await.unwrap();
        clock.advance(secs(3600.0 - 301.0));
        cache.get().await.unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(provider.calls(), 1);
    }

    #[tokio::test]
    async fn warm_get_never_waits_on_the_refresh_lock() {
        let (_, _, cache) = setup(Mode::Lifetime(3600));
        cache.get().await.unwrap();
        let _held = cache.inner.refresh.lock().await;
        let c = tokio::time::timeout(secs(1.0), cache.get()).await;
        assert_eq!(c.unwrap().unwrap().access_key_id(), "STS.1");
    }

    #[tokio::test]
    async fn failed_refresh_serves_the_valid_value_with_capped_backoff_until_expiry() {
        let (clock, provider, cache) = setup(Mode::Lifetime(3600));
        let first = cache.get().await.unwrap();
        let valid_until = first.valid_until().unwrap();
        clock.advance(secs(3550.0)); // mandatory window
        provider.set(Mode::Fail);

        assert!(cache.get().await.unwrap().is_same(&first));
        assert_eq!(provider.calls(), 2);
        // First back-off: 0.5–1 s.
        assert!(cache.get().await.unwrap().is_same(&first));
        clock.advance(secs(0.45));
        assert!(cache.get().await.unwrap().is_same(&first));
        assert_eq!(provider.calls(), 2);
        clock.advance(secs(0.55));
        assert!(cache.get().await.unwrap().is_same(&first));
        assert_eq!(provider.calls(), 3);
        // Second back-off: 1–2 s.
        clock.advance(secs(0.95));
        cache.get().await.unwrap();
        assert_eq!(provider.calls(), 3);
        clock.advance(secs(1.05));
        cache.get().await.unwrap();
        assert_eq!(provider.calls(), 4);

        // Keep failing up to expiry: the value is served while valid, never after, and the
        // next attempt is always scheduled before the expiry.
        let mut last_attempt = clock.now();
        while clock.now() < valid_until {
            let before = provider.calls();
            let c = cache.get().await.unwrap();
            assert!(c.is_same(&first) && c.is_valid_at(clock.now()));
            if provider.calls() > before {
                last_attempt = clock.now();
            }
            assert!(retry_at(&cache).unwrap() < valid_until);
            clock.advance(secs(0.25));
        }
        assert!(provider.calls() < 30, "{} calls", provider.calls());
        assert!(valid_until.duration_since(last_attempt).unwrap() <= secs(1.0));
        let stats = cache.stats();
        assert_eq!(stats.failures as usize, provider.calls() - 1);
        assert!(stats.served_stale > stats.failures);

        let e = cache.get().await.unwrap_err();
        assert!(matches!(e, Error::Provider { .. }), "{e}");
        assert_eq!(cache.peek().map(|c| c.is_same(&first)), None);

        // Recovery within the empty-cache cap of 10 s; the back-off resets.
        provider.set(Mode::Lifetime(3600));
        clock.advance(secs(10.0));
        let fresh = cache.get().await.unwrap();
        assert!(!fresh.is_same(&first));
        assert_eq!(cache.inner.read().failures, 0);
        assert_eq!(retry_at(&cache), None);
    }

    #[tokio::test]
    async fn backoff_is_capped() {
        let (_, _, cache) = setup(Mode::Fail);
        for n in [7, 8, 20, 100, u32::MAX] {
            let d = cache.inner.backoff(n);
            assert!(d >= secs(30.0) && d <= secs(60.0), "{n}: {d:?}");
        }
        assert!(cache.inner.backoff(1) <= secs(1.0));
        assert!(cache.inner.backoff(3) >= secs(2.0));
    }

    #[tokio::test]
    async fn an_already_expired_credential_is_not_refetched_in_a_hot_loop() {
        let (clock, provider, cache) = setup(Mode::Expired);
        let e = cache.get().await.unwrap_err();
        assert!(e.to_string().contains("expired 10 s before"), "{e}");
        for _ in 0..100 {
            assert!(cache.get().await.is_err());
        }
        assert_eq!(provider.calls(), 1);
        assert_eq!(cache.peek().map(|c| c.access_key_id().to_string()), None);

        // With a valid value cached, it keeps being served.
        provider.set(Mode::Lifetime(3600));
        clock.advance(secs(10.0));
        let good = cache.get().await.unwrap();
        clock.advance(secs(3590.0 - 10.0));
        provider.set(Mode::Expired);
        for _ in 0..100 {
            assert!(cache.get().await.unwrap().is_same(&good));
        }
        assert_eq!(provider.calls(), 3);
    }

    #[tokio::test]
    async fn an_unchanged_credential_keeps_its_windows_and_backs_off() {
        let clock_start = SystemTime::UNIX_EPOCH + T0;
        let (clock, provider, cache) = setup(Mode::Fixed(clock_start + secs(100.0)));
        let c = cache.get().await.unwrap();
        let original = windows(&cache);
        clock.advance(secs(96.0)); // mandatory window (95 s)
        for _ in 0..100 {
            assert!(cache.get().await.unwrap().is_same(&c));
        }
        assert_eq!(provider.calls(), 2);
        assert_eq!(windows(&cache).mandatory_at, original.mandatory_at);
        assert_eq!(windows(&cache).advisory_at, original.advisory_at);
        assert!(retry_at(&cache).unwrap() > clock.now());
        assert_eq!(cache.stats().served_stale, 0);
        while clock.now() < original.valid_until {
            cache.get().await.unwrap();
            clock.advance(secs(0.01));
        }
        assert!(provider.calls() <= 15, "{} calls", provider.calls());
    }

    #[tokio::test]
    async fn invalidate_drops_only_the_rejected_value() {
        let (_, provider, cache) = setup(Mode::Lifetime(3600));
        let a = cache.get().await.unwrap();
        for _ in 0..1000 {
            cache.invalidate(&a);
        }
        let b = cache.get().await.unwrap();
        assert!(!b.is_same(&a));
        assert_eq!(provider.calls(), 2);
        // A late report about the replaced token does nothing.
        ProvideCredentials::invalidate(&cache, &a);
        assert!(cache.get().await.unwrap().is_same(&b));
        assert_eq!(provider.calls(), 2);
        // An equal credential from elsewhere (same key, token and expiration) counts.
        let copy = Credential::sts_token("STS.2", "s3cr3t", "tok3n2")
            .with_expiration(b.expiration().unwrap());
        cache.invalidate(&copy);
        assert_eq!(cache.peek().map(|c| c.is_same(&b)), None);
    }

    #[tokio::test]
    async fn invalidate_clears_a_pending_back_off() {
        let (clock, provider, cache) = setup(Mode::Lifetime(3600));
        let first = cache.get().await.unwrap();
        clock.advance(secs(3550.0)); // mandatory window
        provider.set(Mode::Fail);
        assert!(cache.get().await.unwrap().is_same(&first));
        assert!(retry_at(&cache).is_some(), "a failed refresh backs off");
        // The service now rejects the token and the provider has recovered: the replacement is
        // fetched at once, not after the back-off, and the old failure is not reported.
        provider.set(Mode::Lifetime(3600));
        cache.invalidate(&first);
        let fresh = cache.get().await.unwrap();
        assert!(!fresh.is_same(&first));
        assert_eq!(provider.calls(), 3);
    }

    #[tokio::test]
    async fn invalidation_reaches_a_cache_underneath() {
        let (clock, provider, inner) = setup(Mode::Lifetime(3600));
        let outer = CredentialsCache::new(inner.clone(), &Context::os().with_clock(clock));
        let a = outer.get().await.unwrap();
        outer.invalidate(&a);
        let b = outer.get().await.unwrap();
        assert!(
            !b.is_same(&a),
            "the inner cache handed the rejected value back"
        );
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rejection_reports_cause_one_refresh() {
        let (_, provider, cache) = setup_with(Mode::Lifetime(3600), secs(0.01), None);
        let a = cache.get().await.unwrap();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (cache, a) = (cache.clone(), a.clone());
                tokio::spawn(async move {
                    cache.invalidate(&a);
                    cache.get().await.unwrap()
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().access_key_id(), "STS.2");
        }
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn credentials_without_expiration_are_cached_for_good() {
        let (clock, provider, cache) = setup(Mode::NoExpiry);
        let c = cache.get().await.unwrap();
        clock.advance(Duration::from_secs(10 * 365 * 86_400));
        assert!(cache.get().await.unwrap().is_same(&c));
        assert_eq!(provider.calls(), 1);
    }

    #[tokio::test]
    async fn clones_share_one_cache_and_report_the_providers_name() {
        let (_, provider, cache) = setup(Mode::Lifetime(3600));
        let other = cache.clone();
        let c = cache.get().await.unwrap();
        assert!(other.get().await.unwrap().is_same(&c));
        assert!(ProvideCredentials::provide(&other)
            .await
            .unwrap()
            .is_same(&c));
        assert_eq!(provider.calls(), 1);
        assert_eq!(ProvideCredentials::name(&other), "test");
        let debug = format!("{cache:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("tok3n"),
            "{debug}"
        );
    }

    #[test]
    fn mandatory_window_outside_a_runtime_still_refreshes() {
        let (clock, provider, cache) = setup(Mode::Lifetime(900));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(cache.get()).unwrap();
        // Advisory window with no runtime to spawn on: the value is served, nothing spawned.
        clock.advance(secs(800.0));
        let get = cache.get();
        let c = futures_lite_block_on(get).unwrap();
        assert_eq!(c.access_key_id(), "STS.1");
        assert_eq!(provider.calls(), 1);
        clock.advance(secs(60.0));
        assert_eq!(rt.block_on(cache.get()).unwrap().access_key_id(), "STS.2");
    }

    /// Polls a future that never waits to completion, with no runtime entered.
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context as TaskContext, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = TaskContext::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the future waited"),
        }
    }
}
