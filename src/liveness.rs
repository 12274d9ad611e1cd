//! Whether the daemon's long-running tasks are still alive, for the systemd watchdog.
//!
//! A hung daemon rarely stops all at once. The usual shapes are: a task stuck inside one poll
//! (blocking I/O or a lock on a runtime thread, a busy loop), which leaves the other threads
//! and the HTTP port apparently fine; a task that ended or panicked while the daemon keeps
//! running without it (no more launches, no more imports); or the database no longer answering.
//! [`Liveness::watch`] wraps each long-running task's future and records when each poll starts
//! and ends, so [`Liveness::check`] can name a task whose current poll has lasted too long or
//! that is gone; the caller adds the database ping. A runtime whose every thread is stuck does
//! not run the watchdog at all, which systemd notices the same way.
//!
//! What it cannot see: a task waiting forever on something that never happens (an await, not
//! a poll) looks like an idle one. Such waits in this crate are bounded by timeouts (database
//! acquire and busy timeouts, HTTP client timeouts).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tracing::instrument::Instrumented;
use tracing::Instrument;

/// The registry of watched tasks; cheap to clone.
#[derive(Clone)]
pub struct Liveness {
    inner: Arc<Inner>,
}

struct Inner {
    base: Instant,
    probes: Mutex<Vec<Arc<Probe>>>,
}

struct Probe {
    name: String,
    /// Nanoseconds since `base` + 1 at which the current poll began; 0 between polls.
    polling_since: AtomicU64,
    /// The future completed, panicked or was dropped.
    gone: AtomicBool,
}

impl Default for Liveness {
    fn default() -> Self {
        Self::new()
    }
}

impl Liveness {
    pub fn new() -> Liveness {
        Liveness {
            inner: Arc::new(Inner {
                base: Instant::now(),
                probes: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Wraps a long-running task's future so that [`check`](Self::check) can see it; the
    /// task runs in its `task` span ([`crate::telemetry::task_span`]).
    pub fn watch<F: Future>(&self, name: &str, fut: F) -> Watched<Instrumented<F>> {
        let probe = Arc::new(Probe {
            name: name.to_string(),
            polling_since: AtomicU64::new(0),
            gone: AtomicBool::new(false),
        });
        self.inner
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(probe.clone());
        Watched {
            fut: Box::pin(fut.instrument(crate::telemetry::task_span(name))),
            probe,
            base: self.inner.base,
        }
    }

    /// `Err` naming the first watched task that is gone or whose current poll began more than
    /// `stuck_after` ago.
    pub fn check(&self, stuck_after: Duration) -> Result<(), String> {
        let now = self.inner.base.elapsed();
        let probes = self.inner.probes.lock().unwrap_or_else(|e| e.into_inner());
        for p in probes.iter() {
            if p.gone.load(Ordering::Acquire) {
                return Err(format!("the {} task has stopped", p.name));
            }
            let since = p.polling_since.load(Ordering::Acquire);
            if since > 0 {
                let started = Duration::from_nanos(since - 1);
                let busy = now.saturating_sub(started);
                if busy > stuck_after {
                    return Err(format!(
                        "the {} task has been stuck for {:.1} s",
                        p.name,
                        busy.as_secs_f64()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A future reporting its polls to a [`Liveness`].
pub struct Watched<F> {
    fut: Pin<Box<F>>,
    probe: Arc<Probe>,
    base: Instant,
}

/// Clears the "polling" mark when the poll returns or unwinds.
struct PollGuard<'a>(&'a Probe);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.polling_since.store(0, Ordering::Release);
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let since = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        self.probe.polling_since.store(since, Ordering::Release);
        let probe = self.probe.clone();
        let _guard = PollGuard(&probe);
        let out = self.fut.as_mut().poll(cx);
        if out.is_ready() {
            probe.gone.store(true, Ordering::Release);
        }
        out
    }
}

impl<F> Drop for Watched<F> {
    fn drop(&mut self) {
        self.probe.gone.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until `cond` holds, polling every 5 ms, for at most 5 s.
    async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cond()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_blocked_inside_a_poll_is_named_then_recovers() {
        let live = Liveness::new();
        let idle = live.watch("idle", std::future::pending::<()>());
        let idle = tokio::spawn(idle);
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
        let stuck = live.watch("dialer", async move {
            // A blocking wait on a runtime thread: what a deadlock looks like from outside.
            let _ = entered_tx.send(());
            let _ = blocked.recv();
            std::future::pending::<()>().await
        });
        let stuck = tokio::spawn(stuck);
        entered
            .recv_timeout(Duration::from_secs(5))
            .expect("the task started");
        assert!(
            eventually(|| live
                .check(Duration::from_millis(20))
                .is_err_and(|e| e.contains("dialer") && e.contains("stuck")))
            .await
        );
        // A generous threshold tolerates the same poll.
        assert!(live.check(Duration::from_secs(3600)).is_ok());
        release.send(()).unwrap();
        assert!(eventually(|| live.check(Duration::from_millis(20)).is_ok()).await);
        idle.abort();
        stuck.abort();
    }

    #[tokio::test]
    async fn a_task_that_ended_or_panicked_is_named() {
        let live = Liveness::new();
        live.watch("outbox", async {}).await;
        assert_eq!(
            live.check(Duration::from_secs(1)),
            Err("the outbox task has stopped".into())
        );

        let live = Liveness::new();
        let h = tokio::spawn(live.watch("watcher", async { panic!("boom") }));
        assert!(h.await.is_err());
        assert_eq!(
            live.check(Duration::from_secs(1)),
            Err("the watcher task has stopped".into())
        );
    }

    #[tokio::test]
    async fn idle_tasks_are_healthy() {
        let live = Liveness::new();
        let h = tokio::spawn(live.watch("server", std::future::pending::<()>()));
        tokio::task::yield_now().await;
        assert!(live.check(Duration::ZERO).is_ok());
        h.abort();
    }
}
