//! A bound on expensive blocking work (DESIGN decision 11): at most `workers` jobs run at once
//! on tokio's blocking pool, at most `queue` more wait for a worker, and anything beyond is
//! refused at once, for the caller to answer with `Throttling`, instead of each request taking
//! a thread and its memory of its own.
//!
//! A job holds its place until it has finished running, even if the request that asked for it
//! is abandoned: the thread goes on working either way, and its memory must stay counted.

use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why bounded work did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoundError {
    /// As many jobs as allowed are running and waiting.
    #[error("at capacity")]
    Busy,
    /// The job panicked.
    #[error("the job failed: {0}")]
    Failed(#[from] tokio::task::JoinError),
}

/// Runs blocking jobs, a bounded number at a time.
#[derive(Debug)]
pub struct BlockingBound {
    /// Jobs running or waiting.
    admitted: Arc<Semaphore>,
    /// Jobs running.
    running: Arc<Semaphore>,
    capacity: usize,
}

impl BlockingBound {
    /// At most `workers` (at least 1) running at once and `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let capacity = workers.saturating_add(queue);
        BlockingBound {
            admitted: Arc::new(Semaphore::new(capacity)),
            running: Arc::new(Semaphore::new(workers)),
            capacity,
        }
    }

    /// Jobs running or waiting now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }

    /// Jobs that may run or wait at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `job` on the blocking pool once a worker is free; [`BoundError::Busy`] at once if
    /// the queue is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, BoundError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| BoundError::Busy)?;
        // Waiting here is cancellable: a caller that gives up leaves the queue.
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| BoundError::Busy)?;
        // Both places move into the job, so they are held until it ends, not until its caller
        // stops waiting.
        let handle = tokio::task::spawn_blocking(move || {
            let _places = (admitted, running);
            job()
        });
        Ok(handle.await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// Blocks jobs until opened.
    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Gate {
        fn wait(&self) {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    /// Opens the gate when dropped: a failing test must not leave blocked threads that the
    /// runtime would wait for forever.
    struct OpenOnDrop(Arc<Gate>);

    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            self.0.open();
        }
    }

    /// Polls `cond` until it holds; fails after 5 s rather than hanging.
    async fn eventually(what: &str, cond: impl Fn() -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while !cond() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "never: {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_workers_run_and_the_excess_is_refused() {
        const WORKERS: usize = 2;
        const QUEUE: usize = 3;
        const CALLS: usize = 20;
        let bound = Arc::new(BlockingBound::new(WORKERS, QUEUE));
        let gate = Arc::new(Gate::default());
        let _opens = OpenOnDrop(Arc::clone(&gate));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let busy = Arc::new(AtomicUsize::new(0));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..CALLS {
            let (bound, gate, running, most, busy) = (
                Arc::clone(&bound),
                Arc::clone(&gate),
                Arc::clone(&running),
                Arc::clone(&most),
                Arc::clone(&busy),
            );
            calls.spawn(async move {
                let result = bound
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        gate.wait();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await;
                if matches!(result, Err(BoundError::Busy)) {
                    busy.fetch_add(1, Ordering::SeqCst);
                }
                result.is_ok()
            });
        }
        // While the admitted jobs are blocked, the rest are refused at once.
        eventually("the excess is refused", || {
            busy.load(Ordering::SeqCst) == CALLS - WORKERS - QUEUE
        })
        .await;
        eventually("the workers are busy", || {
            running.load(Ordering::SeqCst) == WORKERS
        })
        .await;
        assert_eq!(bound.in_use(), WORKERS + QUEUE);
        gate.open();
        let mut done = 0;
        while let Some(ok) = calls.join_next().await {
            done += usize::from(ok.unwrap());
        }
        assert_eq!(done, WORKERS + QUEUE, "every admitted job ran");
        assert_eq!(
            most.load(Ordering::SeqCst),
            WORKERS,
            "never more than the workers"
        );
        assert_eq!(bound.in_use(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_job_keeps_its_place_until_it_ends() {
        let bound = Arc::new(BlockingBound::new(1, 0));
        let gate = Arc::new(Gate::default());
        let _opens = OpenOnDrop(Arc::clone(&gate));
        let started = Arc::new(AtomicUsize::new(0));
        let caller = {
            let (bound, gate, started) =
                (Arc::clone(&bound), Arc::clone(&gate), Arc::clone(&started));
            tokio::spawn(async move {
                bound
                    .run(move || {
                        started.fetch_add(1, Ordering::SeqCst);
                        gate.wait();
                    })
                    .await
            })
        };
        eventually("the job runs", || started.load(Ordering::SeqCst) == 1).await;
        // The request goes away; its thread does not.
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert!(matches!(bound.run(|| ()).await, Err(BoundError::Busy)));
        gate.open();
        eventually("the place is freed when the job ends", || {
            bound.in_use() == 0
        })
        .await;
        assert!(bound.run(|| ()).await.is_ok());
    }
}
