//! loom models of the waiter queue (`patinox_memory::wait`): hand-off, a timeout racing a
//! hand-off, a cancelled waiter racing a hand-off, close, and notify-to-re-check.
//!
//! Under loom a timed wait only times out if its deadline has already passed, so the timeout
//! model uses a deadline in the past: the waiter registers, finds its deadline gone and leaves
//! while the hand-off races it.
#![cfg(loom)]

use std::task::{Poll, Waker};
use std::time::Instant;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use patinox_memory::wait::{WaitQueue, WaitResult, WaitSlot};

/// Hands `value` off, retrying until a waiter is registered to take it.
fn handoff_eventually(queue: &WaitQueue<u32>, mut value: u32) {
    loop {
        match queue.handoff(value) {
            Ok(()) => return,
            Err(back) => {
                value = back;
                thread::yield_now();
            }
        }
    }
}

/// Invariant: a handed-off value reaches the blocked waiter exactly once, and no waiter is
/// left registered afterwards.
#[test]
fn handoff_reaches_a_blocked_thread_exactly_once() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<u32>::new());
        let q = Arc::clone(&queue);
        let waiter = thread::spawn(move || q.wait(None));
        handoff_eventually(&queue, 7);
        assert_eq!(waiter.join().unwrap(), WaitResult::Value(7));
        assert_eq!(queue.handoff(8), Err(8), "nobody may still be waiting");
    });
}

/// Invariant: two handoffs to two waiters deliver each value to exactly one waiter (none
/// lost, none duplicated).
#[test]
fn two_waiters_get_two_distinct_values() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<u32>::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&queue);
                thread::spawn(move || q.wait(None))
            })
            .collect();
        handoff_eventually(&queue, 1);
        handoff_eventually(&queue, 2);
        let mut got: Vec<u32> = waiters
            .into_iter()
            .map(|w| match w.join().unwrap() {
                WaitResult::Value(v) => v,
                other => panic!("waiter ended with {other:?}"),
            })
            .collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Invariant: a waiter timing out while a value is handed off either takes the value or
/// times out and the handoff is refused (the value comes back): never lost, never both.
#[test]
fn timeout_racing_handoff_loses_nothing() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<u32>::new());
        let q = Arc::clone(&queue);
        // The deadline has passed by the time the waiter parks: it leaves at once.
        let waiter = thread::spawn(move || q.wait(Some(Instant::now())));
        let handed = queue.handoff(5);
        let waited = waiter.join().unwrap();
        match (handed, waited) {
            (Ok(()), WaitResult::Value(5)) => {}
            (Err(5), WaitResult::TimedOut) => {}
            other => panic!("value lost or duplicated: {other:?}"),
        }
        assert!(queue.is_empty());
    });
}

/// Invariant: a cancelled (dropped) task waiter that had been handed a value passes it on to
/// the next waiter in line.
#[test]
fn cancellation_racing_handoff_passes_value_on() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<u32>::new());
        // A polled waiter (a future) is first in line.
        let mut first = WaitSlot::new();
        assert!(
            queue
                .poll_wait_for(&mut first, Waker::noop(), || None::<()>)
                .is_pending()
        );
        // A blocked thread queues behind it.
        let q = Arc::clone(&queue);
        let second = thread::spawn(move || q.wait(None));
        let q = Arc::clone(&queue);
        let giver = thread::spawn(move || q.handoff(9));
        // The future is dropped, racing the hand-off.
        let returned = queue.cancel(&mut first);
        let handed = giver.join().unwrap();
        // The value is in exactly one place: with a waiter, back from the cancelled waiter
        // (handed to it while the second was not yet in line), or back from a hand-off that
        // found nobody in line. The owner hands a returned value on.
        match (returned, handed) {
            (None, Ok(())) => {}
            (Some(v), Ok(())) | (None, Err(v)) => handoff_eventually(&queue, v),
            other => panic!("value duplicated: {other:?}"),
        }
        assert_eq!(second.join().unwrap(), WaitResult::Value(9));
    });
}

/// Invariant: close wakes every waiter, thread or task, with `Closed`; none stays parked.
#[test]
fn close_wakes_threads_and_tasks() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<u32>::new());
        let mut task = WaitSlot::new();
        assert!(
            queue
                .poll_wait_for(&mut task, Waker::noop(), || None::<()>)
                .is_pending()
        );
        let q = Arc::clone(&queue);
        let waiter = thread::spawn(move || q.wait(None));
        queue.close();
        assert_eq!(waiter.join().unwrap(), WaitResult::Closed);
        assert_eq!(
            queue.poll_wait_for(&mut task, Waker::noop(), || None::<()>),
            Poll::Ready(WaitResult::Closed)
        );
        assert_eq!(queue.handoff(1), Err(1));
    });
}

/// Invariant: a notify after the state changed is never lost: the waiter either sees the new
/// state on its check or is woken by the notify (check, register, re-check).
#[test]
fn notify_after_state_change_is_never_lost() {
    loom::model(|| {
        let queue = Arc::new(WaitQueue::<()>::new());
        let loaded = Arc::new(AtomicBool::new(false));
        let (q, l) = (Arc::clone(&queue), Arc::clone(&loaded));
        let waiter = thread::spawn(move || {
            q.wait_for(None, || l.load(Ordering::Acquire).then_some("loaded"))
        });
        loaded.store(true, Ordering::Release);
        queue.notify_all();
        assert_eq!(waiter.join().unwrap(), WaitResult::Ready("loaded"));
    });
}
