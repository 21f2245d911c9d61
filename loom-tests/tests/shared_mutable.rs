//! loom models of `SharedMutableData`'s lock (`patinox_memory::share`): a release racing a
//! waiter that joins the line, a served future dropped before it looks, a timed wait that
//! gives up while it is served, and two writers where the woken one may lose to the other and
//! queue again. Each ends by taking the lock again, so a lost wake-up or a lock kept for
//! nobody shows up as a loom deadlock. Under loom the lock alternates between its two ways of
//! serving the line (waking the front, handing the lock over), so both are explored.
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use patinox_memory::share::SharedMutableData;

/// A writer that finds a reader holding the lock joins the line while the reader leaves:
/// whichever order, the writer is served (the last reader's release sees `QUEUED`, or the
/// writer's check sees the lock free).
#[test]
fn a_writer_joining_the_line_as_the_last_reader_leaves_is_served() {
    loom::model(|| {
        let data = SharedMutableData::new(0u32);
        let reader = data.read();
        let d = data.clone();
        let writer = thread::spawn(move || *d.write() += 1);
        drop(reader);
        writer.join().unwrap();
        assert_eq!(*data.read(), 1);
        assert!(data.try_write().is_some(), "nobody holds or waits");
    });
}

/// A read future that joined the line behind a writer is dropped while the writer's release
/// hands it the lock: the lock goes on (to the main thread's blocking write), never kept for
/// the dropped future.
#[test]
fn a_read_future_dropped_as_the_lock_is_handed_to_it_passes_it_on() {
    loom::model(|| {
        let data = SharedMutableData::new(0u32);
        let held = Arc::new(AtomicBool::new(false));
        let (d, h) = (data.clone(), Arc::clone(&held));
        let writer = thread::spawn(move || {
            let mut guard = d.write();
            h.store(true, Ordering::SeqCst);
            *guard += 1;
        });
        while !held.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        {
            let mut read = pin!(data.read_async());
            // In line behind the writer, unless it is done already.
            if let Poll::Ready(guard) = read.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            {
                assert_eq!(*guard, 1);
            }
            // Dropped here, racing the writer's release.
        }
        *data.write() += 10;
        writer.join().unwrap();
        assert_eq!(*data.read(), 11);
        assert!(data.try_write().is_some(), "nobody holds or waits");
    });
}

/// A writer whose deadline has passed leaves the line while the reader ahead releases the
/// lock to it: it either takes the lock (served at the last moment) or leaves without it,
/// and either way the next writer is served.
#[test]
fn a_timed_out_writer_racing_its_hand_off_keeps_nothing() {
    loom::model(|| {
        let data = SharedMutableData::new(0u32);
        let reader = data.read();
        let d = data.clone();
        // loom does not model time: a zero timeout is already past when the writer looks.
        let timed = thread::spawn(move || {
            if let Some(mut guard) = d.write_for(Duration::ZERO) {
                *guard += 1;
            }
        });
        drop(reader);
        *data.write() += 10;
        timed.join().unwrap();
        let value = *data.read();
        assert!(value == 10 || value == 11, "{value}");
        assert!(data.try_write().is_some(), "nobody holds or waits");
    });
}

/// Two writers contend while a reader holds the lock: a writer woken from the front may find
/// the other one took the lock first and join the line again; both writes land.
#[test]
fn two_writers_behind_a_reader_both_write() {
    loom::model(|| {
        let data = SharedMutableData::new(0u32);
        let reader = data.read();
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let d = data.clone();
                thread::spawn(move || *d.write() += 1)
            })
            .collect();
        drop(reader);
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(*data.read(), 2);
        assert!(data.try_write().is_some(), "nobody holds or waits");
    });
}
