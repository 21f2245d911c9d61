//! The wait in the engine's line: one engine step per poll, the runtime's timer only once it
//! has to wait.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::pool::engine::{AcquireResult, Engine, GrantBox};

use crate::runtime::Runtime;

/// What an acquisition yields, and when it started waiting (`None`: it did not wait).
pub(super) type Acquisition<C, E> = (AcquireResult<C, E>, Option<Instant>);

/// Waits for an idle connection or a permit, up to `timeout` from when it joins the line.
///
/// Its first poll takes what is free without a place in line, a timer or a clock read. Only
/// a get that has to wait gets a `Waiter` (its place in line, holding the waker). Its
/// deadline is kept by the pool's deadline keeper when one runs on this runtime
/// (`keeper_here`); otherwise (no keeper, another runtime, or the keeper ended meanwhile) it
/// arms the runtime's timer, kept in this future with no allocation of its own.
///
/// # Cancel safety
///
/// Dropping the future at any point leaves the line; a connection or permit handed to it
/// meanwhile goes to the next waiter (the engine's `Waiter` does that on drop).
pub(super) async fn acquire<C, E, R: Runtime>(
    engine: &Arc<Engine<C, E>>,
    timeout: Duration,
    keeper_here: impl FnOnce() -> bool,
) -> Acquisition<C, E>
where
    C: Send + 'static,
    E: std::error::Error + 'static,
{
    // Where a hand-off to this get is delivered: in this future, so waiting allocates nothing.
    let mailbox = GrantBox::for_task();
    let first = poll_fn(|cx| {
        // SAFETY: the waiter lives in this future, declared after `mailbox`, so it is dropped
        // (leaving the line) before `mailbox` when the future ends or is dropped. This
        // future is pinned while polled, and a pinned value's memory is not reused before its
        // drop runs (`Pin`'s drop guarantee): a future forgotten after a poll stays where it
        // is, mailbox included, for good.
        Poll::Ready(unsafe { engine.poll_acquire_first(cx.waker(), timeout, &mailbox) })
    })
    .await;
    let mut waiter = match first {
        Ok(result) => return (result, None),
        Err(waiter) => waiter,
    };
    // The wait's start, read once by the engine, is also the deadline's. A timeout too large
    // to represent is no timeout: no timer.
    let since = waiter.since();
    let deadline = since.and_then(|s| s.checked_add(timeout));
    // A keeper on another runtime may not be driven while this one waits: keep a timer too.
    let own_timer = !(waiter.is_kept() && keeper_here());
    let mut timer = pin!(deadline.filter(|_| own_timer).map(R::timer));
    let mut registered_now = true;
    let served = poll_fn(|cx| {
        // Right after joining the line (same poll, same waker) only the timer needs a look.
        if !std::mem::take(&mut registered_now)
            && let Poll::Ready(result) = engine.poll_acquire(&mut waiter, cx.waker())
        {
            return Poll::Ready(Some(result));
        }
        // The keeper ended (its runtime shut down): keep the deadline from now on.
        if timer.is_none() && !waiter.is_kept() {
            timer.set(deadline.map(R::timer));
        }
        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await;
    if let Some(result) = served {
        // Served, or timed out by the keeper (already counted).
        return (result, since);
    }
    // The deadline passed: leave the line (anything handed over since the last poll is passed
    // on) and report the timeout.
    drop(waiter);
    let since = since.unwrap_or_else(Instant::now);
    (Err(engine.timed_out(since.elapsed())), Some(since))
}
