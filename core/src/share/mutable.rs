//! [`SharedMutableData`]: a value many threads read and a few change, behind a reader-writer lock.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::lock::{Access, LockWait, RawRwLock};
use crate::sync::{Arc, UnsafeCell};

/// A shared value behind a fair reader-writer lock that threads and async tasks share.
///
/// Clones are handles to the same value: a change through one is seen by all. Readers run in
/// parallel; a writer waits for them and then excludes everyone. Prefer
/// [`modify`](SharedMutableData::modify) and [`read_with`](SharedMutableData::read_with), which
/// release the lock when the closure returns.
///
/// **Fair.** Whoever has to wait joins one FIFO line (the core's waiter queue): blocked
/// threads ([`read`](Self::read), [`write`](Self::write), the timed forms) and async tasks
/// ([`read_async`](Self::read_async), [`write_async`](Self::write_async)) alike. While anyone
/// waits, newcomers queue behind them, so a writer is never starved by a stream of readers;
/// a released lock goes to the front of the line (a writer, or every reader up to the next
/// writer). Uncontended, taking and releasing the lock is one atomic operation each.
///
/// **No poisoning.** A panic while holding a guard leaves the value as the panicking code
/// left it and the lock usable. A guard held while calling back into the same value from the
/// same task or thread deadlocks when someone waits in between (as with any fair lock, a
/// second `read` queues behind a waiting writer).
///
/// For values that are replaced as a whole and read on every request (configuration), a
/// [`Snapshot`](super::Snapshot) is much faster to read.
///
/// # Examples
///
/// ```
/// use patinox_memory::share::SharedMutableData;
///
/// let hits = SharedMutableData::new(Vec::<u32>::new());
/// let writer = hits.clone();
/// std::thread::spawn(move || writer.modify(|v| v.push(7))).join().unwrap();
/// assert_eq!(*hits.read(), vec![7]);
/// ```
pub struct SharedMutableData<T> {
    inner: Arc<Lock<T>>,
}

/// The lock and the value it guards.
struct Lock<T> {
    raw: RawRwLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value moves with the lock (`T: Send`); `&Lock` hands out `&T` to several
// threads at once (readers) and `&mut T` to one at a time (a writer, possibly on another
// thread than the one that created the value), so sharing it needs `T: Send + Sync`, as
// `std::sync::RwLock` does. The raw lock makes readers and a writer mutually exclusive.
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: see `Send`.
unsafe impl<T: Send + Sync> Sync for Lock<T> {}

/// Shared read access to a [`SharedMutableData`]; the lock is released when it is dropped.
///
/// It may be sent to another thread (it is `Send` when `T: Send + Sync`), so an async task
/// may hold it across an `.await`; others wait meanwhile.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct ReadGuard<'a, T> {
    lock: &'a Lock<T>,
}

/// Exclusive write access to a [`SharedMutableData`]; the lock is released when it is dropped.
///
/// `Send` when `T: Send + Sync`, like [`ReadGuard`].
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct WriteGuard<'a, T> {
    lock: &'a Lock<T>,
}

/// The future of [`SharedMutableData::read_async`].
///
/// # Cancel safety
///
/// Dropping it at any point leaves the line; if the lock had been handed to it meanwhile, it
/// is released to the next waiter. Polling it again after it completed takes the lock anew.
#[must_use = "futures do nothing unless polled"]
pub struct ReadFuture<'a, T> {
    lock: &'a Lock<T>,
    wait: LockWait,
}

/// The future of [`SharedMutableData::write_async`]; cancel safe as [`ReadFuture`].
#[must_use = "futures do nothing unless polled"]
pub struct WriteFuture<'a, T> {
    lock: &'a Lock<T>,
    wait: LockWait,
}

impl<T> SharedMutableData<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: Arc::new(Lock {
                raw: RawRwLock::new(),
                value: UnsafeCell::new(value),
            }),
        }
    }

    /// Shared access, waiting in line while a writer holds the lock or waits for it.
    ///
    /// The wait is unbounded by design (like `std`'s `RwLock`): writers hold the lock only for
    /// the duration of their closure or guard. Use [`read_for`](Self::read_for) for a bound.
    pub fn read(&self) -> ReadGuard<'_, T> {
        self.inner.raw.lock(Access::Shared, None);
        ReadGuard { lock: &self.inner }
    }

    /// Exclusive access, waiting in line while anyone holds the lock (unbounded, as
    /// [`read`](Self::read)).
    pub fn write(&self) -> WriteGuard<'_, T> {
        self.inner.raw.lock(Access::Exclusive, None);
        WriteGuard { lock: &self.inner }
    }

    /// Shared access if no writer holds the lock and nobody waits for it right now.
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        self.inner
            .raw
            .try_lock(Access::Shared)
            .then(|| ReadGuard { lock: &self.inner })
    }

    /// Exclusive access if nobody holds the lock or waits for it right now.
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        self.inner
            .raw
            .try_lock(Access::Exclusive)
            .then(|| WriteGuard { lock: &self.inner })
    }

    /// Shared access, waiting in line at most `timeout`; `None` if the lock was not handed
    /// over by then. A timeout too large to represent waits without a bound.
    pub fn read_for(&self, timeout: Duration) -> Option<ReadGuard<'_, T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.inner
            .raw
            .lock(Access::Shared, deadline)
            .then(|| ReadGuard { lock: &self.inner })
    }

    /// Exclusive access, waiting in line at most `timeout`; `None` if the lock was not
    /// handed over by then.
    pub fn write_for(&self, timeout: Duration) -> Option<WriteGuard<'_, T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.inner
            .raw
            .lock(Access::Exclusive, deadline)
            .then(|| WriteGuard { lock: &self.inner })
    }

    /// Shared access for an async task: a future that waits in the same line as threads,
    /// without blocking the executor's thread (its waker is registered; whoever releases the
    /// lock to it wakes it). Needs no particular runtime. Bound it with the runtime's
    /// timeout (dropping the future leaves the line).
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use patinox_memory::share::SharedMutableData;
    ///
    /// async fn total(data: &SharedMutableData<Vec<u32>>) -> u32 {
    ///     data.read_async().await.iter().sum()
    /// }
    ///
    /// let data = SharedMutableData::new(vec![1, 2, 3]);
    /// // Any executor runs it; uncontended, it is ready on its first poll.
    /// let mut fut = pin!(total(&data));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(6));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`ReadFuture`].
    pub fn read_async(&self) -> ReadFuture<'_, T> {
        ReadFuture {
            lock: &self.inner,
            wait: LockWait::new(),
        }
    }

    /// Exclusive access for an async task, waiting in line as [`read_async`](Self::read_async).
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use patinox_memory::share::SharedMutableData;
    ///
    /// let data = SharedMutableData::new(0u32);
    /// let reader = data.read();
    /// let mut write = pin!(data.write_async());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// // A reader holds the lock: the write waits in line, and a newcomer queues behind it.
    /// assert!(write.as_mut().poll(&mut cx).is_pending());
    /// assert!(data.try_read().is_none());
    /// drop(reader); // the lock goes to the waiting writer (its waker would be woken)
    /// let Poll::Ready(mut guard) = write.as_mut().poll(&mut cx) else { unreachable!() };
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*data.read(), 1);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`WriteFuture`].
    pub fn write_async(&self) -> WriteFuture<'_, T> {
        WriteFuture {
            lock: &self.inner,
            wait: LockWait::new(),
        }
    }

    /// Runs `f` with exclusive access and returns its result; the lock is released on return.
    pub fn modify<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.write())
    }

    /// Runs `f` with shared access and returns its result; the lock is released on return.
    pub fn read_with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.read())
    }

    /// Whether two handles share one value.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl<'a, T> Future for ReadFuture<'a, T> {
    type Output = ReadGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ReadGuard<'a, T>> {
        let this = self.get_mut();
        let lock = this.lock;
        lock.raw
            .poll_lock(Access::Shared, &mut this.wait, cx.waker())
            .map(|()| ReadGuard { lock })
    }
}

impl<'a, T> Future for WriteFuture<'a, T> {
    type Output = WriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WriteGuard<'a, T>> {
        let this = self.get_mut();
        let lock = this.lock;
        lock.raw
            .poll_lock(Access::Exclusive, &mut this.wait, cx.waker())
            .map(|()| WriteGuard { lock })
    }
}

impl<T> Drop for ReadFuture<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.cancel(Access::Shared, &mut self.wait);
    }
}

impl<T> Drop for WriteFuture<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.cancel(Access::Exclusive, &mut self.wait);
    }
}

impl<T> fmt::Debug for ReadFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadFuture").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for WriteFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteFuture").finish_non_exhaustive()
    }
}

impl<T: Clone> SharedMutableData<T> {
    /// A copy of the current value, taken under the read lock.
    pub fn get_cloned(&self) -> T {
        self.read().clone()
    }
}

impl<T> Clone for SharedMutableData<T> {
    /// Another handle to the same value (not a copy of it).
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Default> Default for SharedMutableData<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedMutableData<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(v) => f.debug_tuple("SharedMutableData").field(&*v).finish(),
            None => f.write_str("SharedMutableData(<locked>)"),
        }
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock shared, so no writer has `&mut T` while the
        // returned reference (bound to the guard) lives.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock(Access::Shared);
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock exclusively: nobody else has a reference to the
        // value while the returned one (bound to the guard) lives.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the guard's only reference.
        self.lock.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock(Access::Exclusive);
    }
}

impl<T: fmt::Debug> fmt::Debug for ReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for WriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn mutable_data_changes_are_seen_by_every_handle() {
        let a = SharedMutableData::new(1);
        let b = a.clone();
        assert_eq!(b.modify(|v| std::mem::replace(v, 2)), 1);
        assert_eq!(*a.read(), 2);
        *a.write() += 1;
        assert_eq!(b.get_cloned(), 3);
        assert_eq!(a.read_with(|v| v * 10), 30);
    }

    #[test]
    fn mutable_data_try_and_timed_access_respect_the_lock() {
        let data = SharedMutableData::new(0);
        {
            let _w = data.write();
            assert!(data.try_read().is_none());
            assert!(data.try_write().is_none());
            assert!(data.read_for(Duration::from_millis(5)).is_none());
            assert!(data.write_for(Duration::from_millis(5)).is_none());
        }
        let r1 = data.read();
        let r2 = data.try_read();
        assert!(r2.is_some(), "readers share the lock");
        assert!(data.write_for(Duration::from_millis(5)).is_none());
        drop((r1, r2));
        assert!(data.write_for(Duration::from_millis(5)).is_some());
    }

    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
    use std::task::{Context, Poll, Wake, Waker};

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, AtomicOrdering::SeqCst);
        }
    }

    fn counting_waker() -> (std::sync::Arc<Count>, Waker) {
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        (std::sync::Arc::clone(&count), Waker::from(count))
    }

    fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    /// Waits (briefly, bounded) until `n` waiters are in line.
    fn wait_for_line<T>(data: &SharedMutableData<T>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while data.inner.raw.waiting() != n {
            assert!(Instant::now() < deadline, "{n} waiters never lined up");
            std::thread::yield_now();
        }
    }

    #[test]
    fn waiters_are_served_in_order_and_newcomers_queue_behind_them() {
        let data = SharedMutableData::new(0);
        let (count, waker) = counting_waker();
        let writer = data.write();
        let mut r1 = data.read_async();
        let mut w2 = data.write_async();
        let mut r3 = data.read_async();
        assert!(poll_once(&mut r1, &waker).is_pending());
        assert!(poll_once(&mut w2, &waker).is_pending());
        assert!(poll_once(&mut r3, &waker).is_pending());
        drop(writer);
        // The front reader is served (and woken); the writer behind it, and the reader behind
        // that, still wait; a newcomer cannot cut in.
        assert_eq!(count.0.load(AtomicOrdering::SeqCst), 1);
        let Poll::Ready(g1) = poll_once(&mut r1, &waker) else {
            panic!("the first waiter holds the lock")
        };
        assert!(poll_once(&mut w2, &waker).is_pending());
        assert!(poll_once(&mut r3, &waker).is_pending());
        assert!(
            data.try_read().is_none(),
            "a try never cuts in ahead of the writer"
        );
        drop(g1);
        let Poll::Ready(mut g2) = poll_once(&mut w2, &waker) else {
            panic!("the writer is next")
        };
        *g2 = 2;
        assert!(poll_once(&mut r3, &waker).is_pending());
        drop(g2);
        let Poll::Ready(g3) = poll_once(&mut r3, &waker) else {
            panic!("then the last reader")
        };
        assert_eq!(*g3, 2);
        assert_eq!(count.0.load(AtomicOrdering::SeqCst), 3);
        drop(g3);
        assert!(data.try_write().is_some(), "the line is empty again");
    }

    #[test]
    fn readers_at_the_front_are_served_together() {
        let data = SharedMutableData::new(());
        let waker = Waker::noop();
        let writer = data.write();
        let mut readers: Vec<_> = (0..3).map(|_| data.read_async()).collect();
        let mut last_writer = data.write_async();
        for r in &mut readers {
            assert!(poll_once(r, waker).is_pending());
        }
        assert!(poll_once(&mut last_writer, waker).is_pending());
        drop(writer);
        let guards: Vec<_> = readers
            .iter_mut()
            .map(|r| match poll_once(r, waker) {
                Poll::Ready(g) => g,
                Poll::Pending => panic!("every reader up to the writer is served"),
            })
            .collect();
        assert!(poll_once(&mut last_writer, waker).is_pending());
        drop(guards);
        assert!(poll_once(&mut last_writer, waker).is_ready());
    }

    #[test]
    fn a_dropped_future_that_was_served_releases_the_lock() {
        let data = SharedMutableData::new(0);
        let writer = data.write();
        let mut read = data.read_async();
        let mut write = data.write_async();
        assert!(poll_once(&mut read, Waker::noop()).is_pending());
        assert!(poll_once(&mut write, Waker::noop()).is_pending());
        drop(writer);
        // `read` was handed the lock; dropping it unpolled passes the lock on.
        drop(read);
        let Poll::Ready(guard) = poll_once(&mut write, Waker::noop()) else {
            panic!("the writer behind the dropped reader is served")
        };
        drop(guard);
        drop(write);
        assert!(data.try_write().is_some());
    }

    #[test]
    fn a_writer_leaving_the_front_lets_the_readers_behind_it_in() {
        let data = SharedMutableData::new(0);
        let (count, waker) = counting_waker();
        let reader = data.read();
        let mut write = data.write_async();
        let mut read = data.read_async();
        assert!(poll_once(&mut write, &waker).is_pending());
        assert!(poll_once(&mut read, &waker).is_pending());
        drop(write);
        assert_eq!(
            count.0.load(AtomicOrdering::SeqCst),
            1,
            "the reader was woken"
        );
        assert!(poll_once(&mut read, &waker).is_ready());
        drop(reader);
    }

    #[test]
    fn a_timed_out_thread_leaves_the_line() {
        let data = SharedMutableData::new(0);
        let reader = data.read();
        let started = Instant::now();
        assert!(data.write_for(Duration::from_millis(20)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(data.inner.raw.waiting(), 0);
        assert!(
            data.try_read().is_some(),
            "nobody waits: readers come in again"
        );
        drop(reader);
        assert!(
            data.write_for(Duration::MAX).is_some(),
            "an unrepresentable bound waits"
        );
    }

    #[test]
    fn threads_and_tasks_share_one_line() {
        let data = SharedMutableData::new(Vec::new());
        let (count, waker) = counting_waker();
        let writer = data.write();
        let mut task = data.write_async();
        assert!(poll_once(&mut task, &waker).is_pending());
        std::thread::scope(|s| {
            let thread = s.spawn(|| data.write().push("thread"));
            wait_for_line(&data, 2);
            drop(writer);
            // The task was first in line: it holds the lock, the thread still waits.
            assert_eq!(count.0.load(AtomicOrdering::SeqCst), 1);
            let Poll::Ready(mut guard) = poll_once(&mut task, &waker) else {
                panic!("the task is served first")
            };
            guard.push("task");
            std::thread::sleep(Duration::from_millis(5));
            assert!(!thread.is_finished());
            drop(guard);
            thread.join().unwrap();
        });
        assert_eq!(*data.read(), ["task", "thread"]);
    }

    #[test]
    fn a_stream_of_readers_does_not_starve_a_writer() {
        let data = SharedMutableData::new(0u64);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !stop.load(AtomicOrdering::Relaxed) {
                        let g = data.read();
                        std::hint::black_box(*g);
                        std::thread::sleep(Duration::from_micros(50));
                    }
                });
            }
            for _ in 0..20 {
                let mut g = data
                    .write_for(Duration::from_secs(10))
                    .expect("the writer is served within the bound");
                *g += 1;
            }
            stop.store(true, AtomicOrdering::Relaxed);
        });
        assert_eq!(*data.read(), 20);
    }

    #[test]
    fn mixed_threads_and_tasks_keep_the_value_consistent() {
        const THREADS: usize = 4;
        const ROUNDS: usize = if cfg!(miri) { 20 } else { 2000 };
        let data = SharedMutableData::new((0usize, 0usize));
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let data = &data;
                s.spawn(move || {
                    let waker = Waker::noop();
                    for i in 0..ROUNDS {
                        match (t + i) % 4 {
                            0 => data.modify(|(a, b)| {
                                *a += 1;
                                *b += 1;
                            }),
                            1 => {
                                // A task's write, polled until served (the waker is a
                                // no-op, so poll in a loop).
                                let mut fut = pin!(data.write_async());
                                let mut guard = loop {
                                    match fut.as_mut().poll(&mut Context::from_waker(waker)) {
                                        Poll::Ready(g) => break g,
                                        Poll::Pending => std::thread::yield_now(),
                                    }
                                };
                                guard.0 += 1;
                                guard.1 += 1;
                            }
                            2 => {
                                // A task that gives up after one poll.
                                let mut fut = data.read_async();
                                if let Poll::Ready(g) = poll_once(&mut fut, waker) {
                                    assert_eq!(g.0, g.1);
                                }
                            }
                            _ => {
                                if let Some(g) = data.read_for(Duration::from_micros(100)) {
                                    assert_eq!(g.0, g.1, "a reader sees a whole write");
                                }
                            }
                        }
                    }
                });
            }
        });
        let (a, b) = *data.read();
        assert_eq!(a, b);
        assert_eq!(a, THREADS * ROUNDS / 2);
        assert_eq!(data.inner.raw.waiting(), 0);
        assert!(data.try_write().is_some());
    }
}
