//! The pool's background task: reaping idle and expired connections, health checks, and
//! keeping `min_connections` open. The same work as the blocking pool's thread, as a task on
//! the runtime.
//!
//! It holds a [`Weak`] link to the pool's shared state and a stop signal; it ends when the
//! last `AsyncPool` handle is dropped (the handle signals it, waking it at once) or when the pool
//! is closed.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::monitor::CloseReason;

use super::conn::Held;
use super::manager::AsyncManageConnection;
use super::{Respawn, Shared};
use crate::runtime::{Runtime, catch_unwind_future, timeout_at};

/// The stop signal between the pool handles and the maintenance task.
#[derive(Debug, Default)]
pub(super) struct Stop {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Stop {
    pub(super) fn signal(&self) {
        let waker = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.0 = true;
            st.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn is_stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Sleeps up to `d`; `true` if stopped.
    async fn sleep<R: Runtime>(&self, d: Duration) -> bool {
        let stopped = poll_fn(|cx| {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.0 {
                Poll::Ready(())
            } else {
                st.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        timeout_at::<R, _>(Some(Instant::now() + d), stopped).await;
        self.is_stopped()
    }
}

/// First delay after a failed background connect; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The maintenance loop, to be spawned on the runtime. `guard` asks for a respawn if the
/// runtime drops the task before the pool is gone.
pub(super) async fn run<M: AsyncManageConnection, R: Runtime>(
    weak: Weak<Shared<M>>,
    stop: Arc<Stop>,
    tick: Duration,
    guard: Respawn<R>,
) {
    work::<M, R>(weak, stop, tick).await;
    guard.finished();
}

async fn work<M: AsyncManageConnection, R: Runtime>(
    weak: Weak<Shared<M>>,
    stop: Arc<Stop>,
    tick: Duration,
) {
    let mut backoff = MIN_BACKOFF;
    let mut next_refill = Instant::now();
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        if shared.engine.is_closed() || stop.is_stopped() {
            return;
        }
        let now = Instant::now();
        shared.engine.reap(now);
        health_check::<M, R>(&shared, now).await;
        if now >= next_refill {
            if refill::<M, R>(&shared).await {
                backoff = MIN_BACKOFF;
            } else {
                next_refill = Instant::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        drop(shared);
        if stop.sleep::<R>(tick).await {
            return;
        }
    }
}

async fn health_check<M: AsyncManageConnection, R: Runtime>(shared: &Shared<M>, now: Instant) {
    let engine = &shared.engine;
    let deadline = Instant::now().checked_add(engine.config().connection_timeout);
    for live in engine.take_for_health_check(now) {
        let mut held = Held::new(engine, live);
        let ok = match held.conn_mut() {
            Some(conn) => matches!(
                timeout_at::<R, _>(deadline, catch_unwind_future(shared.manager.is_valid(conn)))
                    .await,
                Some(Ok(Ok(())))
            ),
            None => false,
        };
        if let Some(mut live) = held.take() {
            if ok {
                live.mark_checked(now);
                engine.put_back(live, Instant::now());
            } else {
                engine.discard(live, CloseReason::Invalid);
            }
        }
    }
}

/// Opens the connections missing to reach `min_connections`; stops at the first failure.
/// Returns whether all succeeded.
async fn refill<M: AsyncManageConnection, R: Runtime>(shared: &Shared<M>) -> bool {
    let deadline = Instant::now().checked_add(shared.engine.config().connection_timeout);
    for permit in shared.engine.refill_permits() {
        // One attempt each, bounded by connection_timeout; the remaining permits are dropped
        // (their slots freed) on failure.
        match shared.connect::<R>(permit, None, deadline).await {
            Ok(live) => shared.engine.put_back(live, Instant::now()),
            Err(_) => return false,
        }
    }
    true
}
