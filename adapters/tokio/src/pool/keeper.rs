//! The task that drives the pool's deadline keeper on the runtime's timer: it sweeps the
//! line when the earliest kept deadline comes, or when a waiter joins with an earlier one,
//! and ends when the pool is closed (dropping the last `Pool` handle closes it). If the
//! runtime drops the task first (shutdown), dropping the keeper hands every deadline back to
//! its waiter, and its [`Respawn`] guard has the pool's next get spawn a new keeper.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Instant;

use patinox_memory::pool::engine::{DeadlineKeeper, KeeperStep};

use super::Respawn;
use crate::rt;

/// The keeper and its [`Respawn`] guard, in the order a dropped task drops them: the keeper
/// first (the engine then has none), then the guard, so a get that sees the guard's request
/// to respawn can always make a new keeper.
pub(super) struct Kept<C: 'static, E: 'static> {
    pub(super) keeper: DeadlineKeeper<C, E>,
    pub(super) guard: Respawn,
}

pub(super) async fn run<C, E>(kept: Kept<C, E>) {
    let Kept { keeper, guard } = kept;
    // The timer and the deadline it was armed for.
    let mut timer: Option<(Instant, rt::Sleep)> = None;
    poll_fn(|cx| {
        loop {
            let at = match keeper.sweep(Instant::now(), cx.waker()) {
                KeeperStep::Done => return Poll::Ready(()),
                KeeperStep::Idle => {
                    timer = None;
                    return Poll::Pending;
                }
                KeeperStep::At(at) => at,
            };
            let sleep = match &mut timer {
                Some((armed, sleep)) if *armed == at => sleep,
                _ => &mut timer.insert((at, rt::sleep_until(at))).1,
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The deadline came: sweep again.
            timer = None;
        }
    })
    .await;
    drop(keeper);
    guard.finished();
}
