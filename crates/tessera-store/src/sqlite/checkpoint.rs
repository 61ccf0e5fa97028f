//! Checkpoints off the write path.
//!
//! In WAL mode a commit appends its pages to `tessera.db-wal`; a checkpoint copies them back into
//! the database file and syncs it. SQLite's default runs that checkpoint inside whichever commit
//! crosses 1,000 log pages, so every eightieth write or so waited for it, and what it waits for
//! grows with the data: with 200,000 AccessKeys a checkpoint writes pages scattered over a
//! quarter-gigabyte file, and one `fsync` of those took 20-70 ms on this project's machines.
//! Here a thread of its own, on a connection of its own, does the copying while writers go on
//! (a `PASSIVE` checkpoint never blocks a writer); the writer's own automatic checkpoint stays
//! as a bound on the log's size should this thread fall behind or fail.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Commits after which the thread checkpoints at once (about 700 log pages: a user or key
/// write touches six to twelve).
const COMMITS_PER_CHECKPOINT: u32 = 64;

/// How long a smaller backlog waits, so that a quiet server's database file is soon
/// self-contained.
const IDLE: Duration = Duration::from_millis(500);

/// Log pages at which a commit checkpoints by itself after all (64 MiB of 4 KiB pages).
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_384;

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint began.
    pending: u32,
    stop: bool,
}

/// The checkpointing thread and what wakes it.
pub(super) struct Checkpointer {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens a second connection to the database at `path` and starts the thread.
    pub(super) fn start(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // With FULL, the checkpoint syncs the log before copying and the database after, so
        // a power loss in the middle leaves the log to replay.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("tessera-checkpoint".into())
            .spawn(move || run(conn, &shared))?;
        Ok(Checkpointer {
            state,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Called by the writer after each commit; never blocks on a checkpoint.
    pub(super) fn committed(&self) {
        let (lock, wake) = &*self.state;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        s.pending = s.pending.saturating_add(1);
        if s.pending == 1 || s.pending >= COMMITS_PER_CHECKPOINT {
            wake.notify_one();
        }
    }

    /// Stops the thread and waits for a checkpoint in progress to end.
    pub(super) fn stop(&self) {
        {
            let (lock, wake) = &*self.state;
            lock.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
            wake.notify_one();
        }
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            // The thread only ends by returning; a panic in it has nothing left to clean.
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: Connection, state: &(Mutex<State>, Condvar)) {
    let (lock, wake) = state;
    loop {
        {
            let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Sleep until there is something to copy; then give a small backlog IDLE to grow
            // so that a burst of writes is copied once, not once per commit.
            while s.pending == 0 && !s.stop {
                s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.pending < COMMITS_PER_CHECKPOINT && !s.stop {
                s = wake
                    .wait_timeout_while(s, IDLE, |s| s.pending < COMMITS_PER_CHECKPOINT && !s.stop)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            if s.stop {
                return;
            }
            s.pending = 0;
        }
        // (busy, log pages, pages copied). Pages a reader still needs are left for another
        // pass after IDLE; a failure waits for the next commit (the writer's own checkpoint
        // bounds the log meanwhile).
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((log, copied)) if copied < log => {
                let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                s.pending = s.pending.max(1);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint of the database log failed; will retry")
            }
        }
    }
}
