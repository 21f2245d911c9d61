//! The task that drives the pool's deadline keeper on the runtime's timer: it sweeps the
//! line when the earliest kept deadline comes, or when a waiter joins with an earlier one,
//! and ends when the pool is closed (dropping the last `AsyncPool` handle closes it). If the
//! runtime drops the task first (shutdown), dropping the keeper hands every deadline back to
//! its waiter, and its [`Respawn`] guard has the pool's next get spawn a new keeper.

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use crate::pool::engine::{DeadlineKeeper, KeeperStep};

use super::Respawn;
use crate::runtime::Runtime;

/// The keeper and its [`Respawn`] guard, in the order a dropped task drops them: the keeper
/// first (the engine then has none), then the guard, so a get that sees the guard's request
/// to respawn can always make a new keeper.
pub(super) struct Kept<C: 'static, E: 'static, R: Runtime> {
    pub(super) keeper: DeadlineKeeper<C, E>,
    pub(super) guard: Respawn<R>,
}

pub(super) async fn run<C, E, R: Runtime>(kept: Kept<C, E, R>) {
    let Kept { keeper, guard } = kept;
    // The timer, and the deadline it was armed for.
    let mut timer = pin!(None::<R::Timer>);
    let mut armed: Option<Instant> = None;
    poll_fn(|cx| {
        loop {
            let at = match keeper.sweep(Instant::now(), cx.waker()) {
                KeeperStep::Done => return Poll::Ready(()),
                KeeperStep::Idle => {
                    timer.set(None);
                    armed = None;
                    return Poll::Pending;
                }
                KeeperStep::At(at) => at,
            };
            if armed != Some(at) {
                timer.set(Some(R::timer(at)));
                armed = Some(at);
            }
            if let Some(sleep) = timer.as_mut().as_pin_mut()
                && sleep.poll(cx).is_pending()
            {
                return Poll::Pending;
            }
            // The deadline came: sweep again.
            timer.set(None);
            armed = None;
        }
    })
    .await;
    drop(keeper);
    guard.finished();
}
