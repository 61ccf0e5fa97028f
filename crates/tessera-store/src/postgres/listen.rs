//! Following other nodes' commits: [`PgStore::follow_feed`].
//!
//! A write's transaction notifies [`PgStore::feed_channel`] with its revision, and PostgreSQL
//! delivers the notification when the transaction commits. A node that `LISTEN`s on the channel
//! therefore learns of another node's commit within a round trip, and publishes its revision
//! through [`Store::revision`](crate::Store::revision) and
//! [`Store::subscribe`](crate::Store::subscribe), which is what a reader such as the server's
//! identity cache waits on.
//!
//! Notifications are not a log: one sent while the listening connection is down is gone, and
//! PostgreSQL gives no way to ask for it again. The feed is the log, so the follower never relies
//! on a notification for correctness, only for speed: after every (re)connection, once `LISTEN`
//! is in place, it reads the feed's newest revision, and it reads it again every poll interval.
//! A lost notification therefore delays a change by at most that interval; it never loses it.

use super::{backend, revision_from, Shared};
use deadpool_postgres::tokio_postgres::{AsyncMessage, Client, Config, NoTls};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the feed follower is doing, for a readiness report.
#[derive(Debug, Default)]
pub struct FeedHealth {
    listening: AtomicBool,
    /// Unix milliseconds of the last answer from the database; 0 before the first.
    last_contact_ms: AtomicI64,
}

impl FeedHealth {
    /// Whether the follower is connected and listening now.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// How long ago the database last answered the follower (a notification or a poll);
    /// `None` before it ever did.
    pub fn since_contact(&self) -> Option<Duration> {
        let at = self.last_contact_ms.load(Ordering::SeqCst);
        if at == 0 {
            return None;
        }
        let ms = u64::try_from(unix_ms().saturating_sub(at)).unwrap_or(0);
        Some(Duration::from_millis(ms))
    }

    fn contact(&self) {
        self.last_contact_ms.store(unix_ms(), Ordering::SeqCst);
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The running follower; see [`PgStore::follow_feed`](super::PgStore::follow_feed).
#[derive(Debug)]
pub struct FeedFollower {
    /// The task; it runs until aborted.
    pub task: JoinHandle<()>,
    /// What it reports.
    pub health: Arc<FeedHealth>,
}

/// The longest a poll of the feed's revision may take before the connection is given up on
/// and made again: a database that stopped answering without closing the connection.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between two attempts to connect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) fn spawn(shared: Arc<Shared>, mut config: Config, poll: Duration) -> FeedFollower {
    // Told apart from the pool's connections in pg_stat_activity.
    let name = format!(
        "{} feed",
        config.get_application_name().unwrap_or("tessera")
    );
    config.application_name(name);
    let health = Arc::new(FeedHealth::default());
    let task = tokio::spawn(run(shared, config, poll, Arc::clone(&health)));
    FeedFollower { task, health }
}

async fn run(shared: Arc<Shared>, config: Config, poll: Duration, health: Arc<FeedHealth>) {
    let mut failures = 0u32;
    loop {
        let started = std::time::Instant::now();
        let e = listen(&shared, &config, poll, &health).await;
        health.listening.store(false, Ordering::SeqCst);
        // A connection that lived a while was not a failure to connect: start the backoff over.
        if started.elapsed() > MAX_BACKOFF {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        tracing::warn!(
            error = %format!("{e:#}"),
            failures,
            channel = %shared.channel,
            "not listening to the change feed; reconnecting (changes wait for the next catch-up)"
        );
        let backoff = Duration::from_millis(100u64 << failures.min(6)).min(MAX_BACKOFF);
        tokio::time::sleep(backoff).await;
    }
}

/// One connection's life: returns why it ended.
async fn listen(
    shared: &Shared,
    config: &Config,
    poll: Duration,
    health: &FeedHealth,
) -> anyhow::Error {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => return anyhow::Error::new(e).context("cannot connect"),
    };
    // The connection object delivers notifications; it runs in a task of its own (as the pool
    // runs its connections) and hands them over, and its end, through a channel.
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<String, anyhow::Error>>();
    let driver = AbortOnDrop(tokio::spawn(async move {
        loop {
            let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
            let out = match message {
                Some(Ok(AsyncMessage::Notification(n))) => Ok(n.payload().to_string()),
                Some(Ok(_)) => continue, // notices
                Some(Err(e)) => Err(anyhow::Error::new(e)),
                None => Err(anyhow::anyhow!("the connection closed")),
            };
            let end = out.is_err();
            if tx.send(out).is_err() || end {
                return;
            }
        }
    }));
    // The channel name is a checked identifier (see `schema::check_name`), quoted all the same.
    if let Err(e) = client
        .batch_execute(&format!("LISTEN \"{}\"", shared.channel))
        .await
    {
        return anyhow::Error::new(e).context("LISTEN failed");
    }
    // Whatever committed while nobody listened is found here: the reader fetches the changes up
    // to this revision from the feed.
    if let Err(e) = poll_revision(&client, shared, health).await {
        return e;
    }
    health.listening.store(true, Ordering::SeqCst);
    tracing::info!(channel = %shared.channel, "listening to the change feed");
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate, and the revision was just read
    let out = loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Ok(payload)) => {
                    health.contact();
                    match payload.parse::<u64>() {
                        Ok(r) => shared.publish(r),
                        // Not ours (someone else notifies the channel): a poll settles it.
                        Err(_) => {
                            if let Err(e) = poll_revision(&client, shared, health).await {
                                break e;
                            }
                        }
                    }
                }
                Some(Err(e)) => break e,
                None => break anyhow::anyhow!("the connection's task ended"),
            },
            _ = tick.tick() => {
                if let Err(e) = poll_revision(&client, shared, health).await {
                    break e;
                }
            }
        }
    };
    drop(driver);
    out
}

/// Reads the feed's newest revision and publishes it.
async fn poll_revision(
    client: &Client,
    shared: &Shared,
    health: &FeedHealth,
) -> anyhow::Result<()> {
    let row = tokio::time::timeout(
        POLL_TIMEOUT,
        client.query_one("SELECT revision FROM feed WHERE id = 1", &[]),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the database did not answer within {POLL_TIMEOUT:?}"))??;
    let revision = revision_from(row.try_get(0).map_err(backend)?)?;
    health.contact();
    shared.publish(revision);
    Ok(())
}

/// Aborts a task when dropped, so the connection's task never outlives the follower's loop.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
