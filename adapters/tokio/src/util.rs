//! Runtime-free helpers for the async code: panic containment for futures, a deadline race,
//! and a tiny `block_on` for the fallback cleanup thread.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use crate::rt;

/// The core's panic containment: a callback's panic becomes `Err(message)`.
pub(crate) use patinox_memory::{catch_panic, panic_message};

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

/// Runs `fut` until it completes or `deadline` passes (`None`: no deadline). The timer is
/// only created if `fut` does not finish on its first poll.
pub(crate) async fn until<F: Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut timer: Option<rt::Sleep> = None;
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        let timer = timer.get_or_insert_with(|| rt::sleep_until(deadline));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Sleeps until `deadline`.
pub(crate) async fn sleep_until(deadline: Instant) {
    rt::sleep_until(deadline).await;
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
/// runtime: used by the fallback path of async cleanups on the core's cleanup thread.
///
/// A future that needs its runtime's reactor or timers cannot make progress (or panics)
/// here; callers catch the panic. A future that never completes parks the thread forever,
/// which is why only cleanups that were already handed to a background thread come here.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
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
}
