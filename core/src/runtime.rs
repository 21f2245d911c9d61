//! The seam between the core's async code and an executor: the [`Runtime`] trait, which the
//! adapter crates implement (`patinox_memory_tokio::Tokio`,
//! `patinox_memory_async_std::AsyncStd`), and runtime-free helpers for futures.
//!
//! The core's async types ([`AsyncPool`](crate::pool::AsyncPool),
//! [`AsyncResourceGuard`](crate::resource::AsyncResourceGuard), the cache's
//! [`spawn_expiry`](crate::cache::spawn_expiry)) are written once, generic over a `Runtime`;
//! an adapter names them with its runtime filled in (`patinox_memory_tokio::pool::Pool<M>` is
//! `AsyncPool<M, Tokio>`). What they need from an executor is small: a timer, a way to spawn a
//! background task, and, for the pool's deadline keeper, which runtime instance a task runs
//! on. Everything else (waiting in line, hand-offs, wake-ups) is plain `Future`s and
//! `Waker`s that need no runtime at all: [`block_on`] drives them on any thread.
//!
//! ```
//! use patinox_memory::runtime::block_on;
//! use patinox_memory::share::SharedMutableData;
//!
//! // The core's futures run without any executor.
//! let data = SharedMutableData::new(1);
//! *block_on(data.write_async()) += 1;
//! assert_eq!(*block_on(data.read_async()), 2);
//! ```

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::util::panic_message;

#[doc(hidden)]
pub mod example;

/// What the core's async code needs from an executor: a timer, spawning, and which runtime
/// instance the caller is on. Implemented by the adapter crates; a type implementing it is a
/// marker (never instantiated), so every method is an associated function.
///
/// Implementations must not block in any of these functions.
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name, for `Debug` output and messages.
    const NAME: &'static str;

    /// The future [`Runtime::timer`] returns.
    type Timer: Future<Output = ()> + Send + 'static;

    /// Which runtime instance a task runs on, as far as timers are concerned (see
    /// [`Runtime::drives_itself`]).
    type Home: Send + 'static;

    /// A timer that completes at `deadline` (at its first poll if `deadline` has passed).
    /// It may need to be polled inside the runtime.
    fn timer(deadline: Instant) -> Self::Timer;

    /// Spawns `task` on the runtime the caller runs on, or gives it back when there is none.
    ///
    /// A runtime that is shutting down may accept a task and then drop it unrun; the core's
    /// tasks are written so that their destructors take a fallback path then.
    ///
    /// # Errors
    ///
    /// `Err(task)` when there is no runtime to spawn on.
    fn try_spawn<F>(task: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime instance the caller runs on; `None` outside any.
    fn current() -> Option<Self::Home>;

    /// Whether `home`'s timers fire while nothing blocks on it (its own threads drive them,
    /// as on a multi-thread runtime). Then a task spawned there can keep deadlines for tasks
    /// on every runtime; otherwise (a current-thread runtime, driven only while something
    /// blocks on it) only for tasks on `home` itself.
    fn drives_itself(home: &Self::Home) -> bool;

    /// Whether the caller runs on `home`.
    fn is_current(home: &Self::Home) -> bool;
}

/// Polls a user future, turning a panic in any poll into `Err(message)`. The future is
/// dropped after a panic and never polled again.
pub(crate) async fn catch_unwind_future<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = pin!(fut);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        },
    )
    .await
}

/// Runs `fut` until it completes or `deadline` passes (`None`: no deadline): `Some(output)`,
/// or `None` at the deadline (`fut` is then dropped). The runtime's timer is only created if
/// `fut` does not finish on its first poll, and it lives in this future (no allocation).
///
/// # Cancel safety
///
/// As cancel safe as `fut`: dropping this future drops `fut`.
///
/// # Examples
///
/// ```
/// use patinox_memory::runtime::{Runtime, block_on, timeout_at};
/// # struct Rt;
/// # impl Runtime for Rt {
/// #     const NAME: &'static str = "example";
/// #     type Timer = std::future::Pending<()>;
/// #     type Home = ();
/// #     fn timer(_: std::time::Instant) -> Self::Timer { std::future::pending() }
/// #     fn try_spawn<F: std::future::Future<Output = ()> + Send + 'static>(f: F) -> Result<(), F> { Err(f) }
/// #     fn current() -> Option<()> { None }
/// #     fn drives_itself(_: &()) -> bool { false }
/// #     fn is_current(_: &()) -> bool { false }
/// # }
/// use std::time::{Duration, Instant};
///
/// // `Rt` stands for an adapter's runtime, e.g. `patinox_memory_tokio::Tokio`.
/// let ready = block_on(timeout_at::<Rt, _>(Some(Instant::now() + Duration::from_secs(1)), async { 7 }));
/// assert_eq!(ready, Some(7));
/// ```
pub async fn timeout_at<R: Runtime, F: Future>(
    deadline: Option<Instant>,
    fut: F,
) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut timer = pin!(None::<R::Timer>);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        if timer.is_none() {
            timer.set(Some(R::timer(deadline)));
        }
        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the calling thread, parking it between polls. Needs no
/// runtime; the core uses it for async cleanups that no runtime could take (on the core's
/// cleanup thread).
///
/// A future that needs a runtime's reactor or timers cannot make progress here (or panics,
/// as tokio's do outside their runtime). There is no timeout: a future that never completes
/// parks the calling thread forever, so bound it yourself (the core's own waits, like
/// [`SharedMutableData::read_async`](crate::share::SharedMutableData::read_async), have
/// blocking forms with timeouts).
///
/// # Examples
///
/// ```
/// use patinox_memory::runtime::block_on;
///
/// assert_eq!(block_on(async { 1 + 1 }), 2);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_runs_a_future_woken_from_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let waker_thread = thread::spawn(move || {
            let waker = rx.recv().unwrap();
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            waker.wake();
        });
        let mut sent = Some(tx);
        let value = block_on(poll_fn(|cx| {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                return Poll::Ready(7);
            }
            if let Some(tx) = sent.take() {
                tx.send(cx.waker().clone()).unwrap();
            }
            Poll::Pending
        }));
        assert_eq!(value, 7);
        waker_thread.join().unwrap();
    }

    #[test]
    fn catch_unwind_future_reports_the_panic_message() {
        let got = block_on(catch_unwind_future(async { panic!("boom in poll") }));
        assert_eq!(got, Err::<(), _>("boom in poll".to_owned()));
    }

    #[test]
    fn timeout_at_gives_up_at_the_deadline_and_drops_the_future() {
        use std::time::Duration;

        struct Dropped(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = Dropped(Arc::clone(&dropped));
        let start = Instant::now();
        let never = async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        };
        let got = block_on(timeout_at::<example::Threads, _>(
            Some(start + Duration::from_millis(20)),
            never,
        ));
        assert_eq!(got, None);
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "not before the deadline"
        );
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the future is dropped"
        );
    }

    #[test]
    fn timeout_at_without_a_deadline_waits_for_the_future() {
        let got = block_on(timeout_at::<example::Threads, _>(None, async { 3 }));
        assert_eq!(got, Some(3));
    }
}
