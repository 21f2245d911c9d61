//! The async pool driven by hand, on one thread and with no runtime work (so miri runs them):
//! the hand-off into a waiting get's own mailbox, and guards that outlive the pool's handles.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{AsyncManageConnection, AsyncPool};
use crate::runtime::{Runtime, block_on};

/// A runtime that runs nothing: spawns are refused (the pool then has no background tasks)
/// and timers never fire.
struct Idle;

impl Runtime for Idle {
    const NAME: &'static str = "idle (tests)";
    type Timer = std::future::Pending<()>;
    type Home = ();

    fn timer(_deadline: Instant) -> Self::Timer {
        std::future::pending()
    }

    fn try_spawn<F>(task: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Err(task)
    }

    fn current() -> Option<()> {
        Some(())
    }

    fn drives_itself((): &()) -> bool {
        true
    }

    fn is_current((): &()) -> bool {
        true
    }
}

/// Numbers its connections from 0 and says when it is dropped (with the pool's shared state).
#[derive(Default)]
struct Numbered {
    next: AtomicU32,
    dropped: Arc<AtomicBool>,
}

impl Drop for Numbered {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl AsyncManageConnection for Numbered {
    type Connection = u32;
    type Error = io::Error;

    async fn connect(&self) -> Result<u32, io::Error> {
        Ok(self.next.fetch_add(1, Ordering::SeqCst))
    }

    async fn is_valid(&self, _conn: &mut u32) -> Result<(), io::Error> {
        Ok(())
    }
}

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A pool of `max` connections and the flag its manager sets when dropped.
fn pool(max: usize) -> (AsyncPool<Numbered, Idle>, Arc<AtomicBool>) {
    let manager = Numbered::default();
    let dropped = Arc::clone(&manager.dropped);
    let pool = AsyncPool::builder(manager)
        .max_connections(max)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap();
    (pool, dropped)
}

#[test]
fn a_returned_connection_is_delivered_into_the_waiting_gets_future() {
    let (pool, _) = pool(1);
    let first = block_on(pool.get()).unwrap();
    {
        let mut second = pin!(pool.get());
        let mut third = pin!(pool.get());
        assert!(poll_once(second.as_mut()).is_pending());
        assert!(poll_once(third.as_mut()).is_pending());
        assert_eq!(pool.state().waiting, 2);
        // Written into the mailbox inside `second`, the older waiter.
        drop(first);
        assert_eq!(pool.state().waiting, 1);
        let Poll::Ready(Ok(conn)) = poll_once(second.as_mut()) else {
            panic!("the oldest waiting get is served");
        };
        assert_eq!(*conn, 0);
        assert!(poll_once(third.as_mut()).is_pending());
        drop(conn);
        // `third` now holds it in its mailbox and is dropped unpolled: it passes it back.
    }
    let state = pool.state();
    assert_eq!((state.waiting, state.idle_connections), (0, 1));
    let again = block_on(pool.get()).unwrap();
    assert_eq!(*again, 0, "the connection was passed back, not lost");
}

#[test]
fn guards_outlive_the_last_handle_and_the_last_return_frees_the_pool() {
    let (pool, dropped) = pool(2);
    let first = block_on(pool.get()).unwrap();
    let second = block_on(pool.get()).unwrap();
    drop(pool);
    // Closed, but the checked-out connections still reach it.
    assert!(!dropped.load(Ordering::SeqCst));
    assert_eq!((*first, *second), (0, 1));
    drop(first);
    assert!(
        !dropped.load(Ordering::SeqCst),
        "one connection is still out"
    );
    // The return that frees the last slot frees the pool too.
    drop(second);
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn a_discarded_last_guard_frees_the_pool_and_an_idle_pool_goes_with_its_handle() {
    let (pool, dropped) = pool(2);
    let conn = block_on(pool.get()).unwrap();
    let spare = block_on(pool.get()).unwrap();
    drop(spare);
    drop(pool);
    assert!(!dropped.load(Ordering::SeqCst));
    super::AsyncPooledConnection::discard(conn);
    assert!(dropped.load(Ordering::SeqCst));

    let (pool, dropped) = pool_with_idle();
    drop(pool);
    assert!(
        dropped.load(Ordering::SeqCst),
        "nothing was out: freed with the handle"
    );
}

fn pool_with_idle() -> (AsyncPool<Numbered, Idle>, Arc<AtomicBool>) {
    let (pool, dropped) = pool(1);
    drop(block_on(pool.get()).unwrap());
    assert_eq!(pool.state().idle_connections, 1);
    (pool, dropped)
}

#[test]
fn a_guard_returned_from_another_thread_after_the_last_handle_frees_the_pool() {
    let (pool, dropped) = pool(1);
    let conn = block_on(pool.get()).unwrap();
    drop(pool);
    std::thread::spawn(move || drop(conn)).join().unwrap();
    assert!(dropped.load(Ordering::SeqCst));
}
