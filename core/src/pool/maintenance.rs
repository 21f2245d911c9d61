//! The pool's background thread: reaping idle and expired connections, health checks, and
//! keeping `min_connections` open.
//!
//! One thread per pool (only if the configuration needs one). It holds a [`Weak`] link to the
//! pool's shared state and a stop signal; it exits when the last `Pool` handle is dropped (the
//! handle signals it, so it does not wait for its next tick) or when the pool is closed.

use std::time::{Duration, Instant};

use super::Shared;
use super::manager::ManageConnection;
use crate::monitor::CloseReason;
use crate::sync::{Condvar, Mutex, StdArc, Weak};
use crate::util::catch_panic;

/// The stop signal between the pool handles and the maintenance thread.
#[derive(Debug, Default)]
pub(super) struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    pub(super) fn signal(&self) {
        *self.stopped.lock() = true;
        self.cv.notify_all();
    }

    /// Sleeps up to `d`; `true` if stopped.
    fn sleep(&self, d: Duration) -> bool {
        let mut stopped = self.stopped.lock();
        if !*stopped {
            // Bounded by `d`; a spurious wake-up only makes the tick early.
            let _ = self.cv.wait_for(&mut stopped, d);
        }
        *stopped
    }
}

/// First delay after a failed background connect; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the maintenance thread if the configuration needs one.
pub(super) fn start<M: ManageConnection>(shared: &StdArc<Shared<M>>, stop: &StdArc<Stop>) {
    let Some(tick) = shared.engine.config().maintenance_tick() else {
        return;
    };
    let weak = StdArc::downgrade(shared);
    let stop = StdArc::clone(stop);
    let spawned = crate::sync::thread::Builder::new()
        .name("patinox-pool".into())
        .spawn(move || run(&weak, &stop, tick));
    // If the OS refuses a thread the pool still works; only background upkeep is missing.
    drop(spawned);
}

fn run<M: ManageConnection>(weak: &Weak<Shared<M>>, stop: &Stop, tick: Duration) {
    let mut backoff = MIN_BACKOFF;
    let mut next_refill = Instant::now();
    // Fill up to min_connections at once, then every tick.
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        if shared.engine.is_closed() {
            return;
        }
        let now = Instant::now();
        shared.engine.reap(now);
        health_check(&shared, now);
        if now >= next_refill {
            match refill(&shared) {
                Ok(()) => backoff = MIN_BACKOFF,
                Err(()) => {
                    next_refill = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        drop(shared);
        if stop.sleep(tick) {
            return;
        }
    }
}

fn health_check<M: ManageConnection>(shared: &Shared<M>, now: Instant) {
    for mut live in shared.engine.take_for_health_check(now) {
        let ok = matches!(
            catch_panic(|| shared.manager.is_valid(live.conn_mut())),
            Ok(Ok(()))
        );
        if ok {
            live.mark_checked(now);
            shared.engine.put_back(live, Instant::now());
        } else {
            shared.engine.discard(live, CloseReason::Invalid);
        }
    }
}

/// Opens the connections missing to reach `min_connections`; stops at the first failure.
fn refill<M: ManageConnection>(shared: &Shared<M>) -> Result<(), ()> {
    for permit in shared.engine.refill_permits() {
        // One attempt each; the remaining permits are dropped (their slots freed) on failure.
        match shared.connect(permit, None) {
            Ok(live) => shared.engine.put_back(live, Instant::now()),
            Err(_) => return Err(()),
        }
    }
    Ok(())
}
