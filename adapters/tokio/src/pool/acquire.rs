//! The future that waits in the engine's line: one `poll_acquire` per poll, the runtime's
//! timer only once it has to wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use patinox_memory::pool::PoolError;
use patinox_memory::pool::engine::{AcquireResult, Engine, Waiter};

use crate::rt;

/// Waits for an idle connection or a permit, up to `timeout` from its first `Pending`.
///
/// Dropping it at any point leaves the line; a connection or permit handed to it meanwhile
/// goes to the next waiter (the engine's `Waiter` does that on drop).
pub(super) struct Acquire<'a, C: 'static, E: 'static> {
    engine: &'a Arc<Engine<C, E>>,
    waiter: Option<Waiter<C, E>>,
    timeout: Duration,
    /// When it first had to wait, and the timer for its deadline.
    waiting: Option<(Instant, rt::Sleep)>,
}

impl<'a, C: 'static, E: 'static> Acquire<'a, C, E> {
    pub(super) fn new(engine: &'a Arc<Engine<C, E>>, timeout: Duration) -> Self {
        Self {
            waiter: Some(engine.waiter()),
            engine,
            timeout,
            waiting: None,
        }
    }
}

/// What an acquisition yields, and when it started waiting (`None`: it did not wait).
pub(super) type Acquisition<C, E> = (AcquireResult<C, E>, Option<Instant>);

impl<C: Send + 'static, E: std::error::Error + 'static> Future for Acquire<'_, C, E> {
    type Output = Acquisition<C, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(waiter) = this.waiter.as_mut() else {
            return Poll::Ready((Err(PoolError::Closed), None));
        };
        if let Poll::Ready(r) = this.engine.poll_acquire(waiter, cx.waker()) {
            this.waiter = None;
            return Poll::Ready((r, this.waiting.as_ref().map(|(since, _)| *since)));
        }
        let timeout = this.timeout;
        let (since, timer) = this.waiting.get_or_insert_with(|| {
            let now = Instant::now();
            let deadline = now.checked_add(timeout);
            // A timeout too large to represent is no timeout: a timer that never fires.
            let timer: rt::Sleep = match deadline {
                Some(d) => rt::sleep_until(d),
                None => Box::pin(std::future::pending()),
            };
            (now, timer)
        });
        if timer.as_mut().poll(cx).is_ready() {
            // Leave the line; anything handed over since the poll above is passed on.
            drop(this.waiter.take());
            let since = *since;
            let err = this.engine.timed_out(since.elapsed());
            return Poll::Ready((Err(err), Some(since)));
        }
        Poll::Pending
    }
}
