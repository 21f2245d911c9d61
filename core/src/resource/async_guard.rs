//! Async cleanup: [`AsyncResourceGuard`], whose cleanup is a future spawned on a
//! [`Runtime`], and an awaitable registry shutdown ([`cleanup_all_async`]).
//!
//! # Where an async cleanup runs
//!
//! Dropping an [`AsyncResourceGuard`] spawns its cleanup future on the runtime; the drop
//! itself neither blocks nor awaits. When that is impossible, the future goes to the core's
//! process-wide cleanup thread ([`BackgroundOffload::shared`]) and is driven there by a tiny
//! thread-parking executor; this happens when the guard is dropped outside any runtime, or
//! while the runtime shuts down (the runtime then drops the spawned task without finishing
//! it, and the task's destructor hands the rest of the future over). A panic in the cleanup is
//! caught wherever it runs. A cleanup that needs the runtime's own timers or sockets cannot
//! progress on the fallback thread (it fails there, caught); cleanups meant to survive the
//! runtime should use plain blocking calls or runtime-free futures.

use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::resource::{BackgroundOffload, CleanupReport, ResourceRegistry};
use crate::runtime::{Runtime, block_on, catch_unwind_future};
use crate::util::catch_panic;

type CleanupFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type MakeCleanup<T> = Box<dyn FnOnce(T) -> CleanupFuture + Send>;

/// A value with an async cleanup that runs on the runtime `R` once the guard is dropped.
///
/// The adapters name it with their runtime: `patinox_memory_tokio::resource::AsyncResourceGuard<T>`
/// is `AsyncResourceGuard<T, Tokio>`. If no runtime can take the cleanup (the guard is
/// dropped outside any, or while the runtime shuts down), it runs on the core's cleanup
/// thread instead, driven by [`block_on`]; a panic in it is caught wherever it runs. A
/// cleanup that needs the runtime's own timers or sockets cannot progress there (it fails,
/// caught): cleanups meant to survive the runtime should use blocking calls or runtime-free
/// futures.
///
/// In the example, `adapter` stands for an adapter crate (`patinox_memory_tokio` or
/// `patinox_memory_async_std`).
#[doc = crate::async_example!(r#"
use adapter::resource::AsyncResourceGuard;
use std::sync::mpsc;

let (tx, rx) = mpsc::channel();
{
    let mut buf = AsyncResourceGuard::new(vec![1u8, 2, 3], move |buf| async move {
        // an async close, flush, or deregistration
        tx.send(buf.len()).unwrap();
    });
    buf.push(4);
} // the cleanup is spawned here
# async fn yield_now() {
#     let mut yielded = false;
#     std::future::poll_fn(|cx| {
#         if yielded { return std::task::Poll::Ready(()); }
#         yielded = true;
#         cx.waker().wake_by_ref();
#         std::task::Poll::Pending
#     }).await
# }
let len = loop {
    match rx.try_recv() {
        Ok(len) => break len,
        Err(_) => yield_now().await, // let the runtime run the cleanup
    }
};
assert_eq!(len, 4);
"#)]
#[must_use = "dropping the guard at once runs the cleanup at once"]
pub struct AsyncResourceGuard<T: Send + 'static, R: Runtime> {
    value: Option<T>,
    /// Behind a mutex only so the guard is `Sync` for any `Send` closure; it is locked once,
    /// by whoever consumes the guard.
    cleanup: Mutex<Option<MakeCleanup<T>>>,
    runtime: PhantomData<fn() -> R>,
}

impl<T: Send + 'static, R: Runtime> AsyncResourceGuard<T, R> {
    /// Guards `value`; `cleanup(value)` builds the future that runs after the guard is
    /// dropped.
    pub fn new<F, Fut>(value: T, cleanup: F) -> Self
    where
        F: FnOnce(T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            value: Some(value),
            cleanup: Mutex::new(Some(Box::new(move |v| {
                Box::pin(cleanup(v)) as CleanupFuture
            }))),
            runtime: PhantomData,
        }
    }

    /// Takes the value out; the cleanup never runs.
    pub fn into_inner(mut guard: Self) -> T {
        *guard.cleanup.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        match guard.value.take() {
            Some(v) => v,
            None => unreachable!("the value is only taken by into_inner and drop"),
        }
    }

    /// Runs the cleanup now and waits for it, instead of spawning it on drop.
    ///
    /// # Errors
    ///
    /// The panic message if the cleanup panicked (the panic is caught).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping this future stops the cleanup at its current await point
    /// (the value is already consumed by it).
    pub async fn cleanup_now(mut guard: Self) -> Result<(), String> {
        let (Some(value), Some(cleanup)) = (
            guard.value.take(),
            guard
                .cleanup
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        ) else {
            return Ok(());
        };
        let fut = catch_panic(|| cleanup(value))?;
        catch_unwind_future(fut).await
    }
}

impl<T: Send + 'static, R: Runtime> Deref for AsyncResourceGuard<T, R> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.value {
            Some(v) => v,
            None => unreachable!("the value is only taken by into_inner and drop"),
        }
    }
}

impl<T: Send + 'static, R: Runtime> DerefMut for AsyncResourceGuard<T, R> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.value {
            Some(v) => v,
            None => unreachable!("the value is only taken by into_inner and drop"),
        }
    }
}

impl<T: Send + fmt::Debug + 'static, R: Runtime> fmt::Debug for AsyncResourceGuard<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResourceGuard")
            .field("value", &self.value)
            .field("runtime", &R::NAME)
            .finish()
    }
}

impl<T: Send + 'static, R: Runtime> Drop for AsyncResourceGuard<T, R> {
    fn drop(&mut self) {
        let (Some(value), Some(cleanup)) = (
            self.value.take(),
            self.cleanup
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        ) else {
            return;
        };
        // Building the future runs user code: contain a panic (the value is then gone).
        let Ok(fut) = catch_panic(|| cleanup(value)) else {
            return;
        };
        spawn_cleanup::<R>(fut);
    }
}

/// Spawns a cleanup future on the runtime, or hands it to the fallback thread.
fn spawn_cleanup<R: Runtime>(fut: CleanupFuture) {
    let task = Cleanup { fut: Some(fut) };
    if let Err(mut task) = R::try_spawn(task)
        && let Some(fut) = task.fut.take()
    {
        run_on_fallback(fut);
    }
}

/// A spawned cleanup. If the runtime drops it unfinished (it is shutting down), its
/// destructor hands the rest of the future to the fallback thread.
struct Cleanup {
    fut: Option<CleanupFuture>,
}

impl Future for Cleanup {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(());
        };
        let polled = catch_panic(|| fut.as_mut().poll(cx));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            // Finished, or panicked (caught): either way it is over.
            Ok(Poll::Ready(())) | Err(_) => {
                self.fut = None;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(fut) = self.fut.take() {
            run_on_fallback(fut);
        }
    }
}

/// Runs a cleanup future on the core's cleanup thread (inline if no thread can be started).
fn run_on_fallback(fut: CleanupFuture) {
    BackgroundOffload::run_shared(Box::new(move || {
        let _ = catch_panic(|| block_on(fut));
    }));
}

/// Shuts the registry down like [`ResourceRegistry::cleanup_all`], without blocking the
/// executor.
///
/// The blocking `cleanup_all` runs on a thread of its own (started for this call, ended with
/// it) while the calling task waits for its report with its `Waker`; it never occupies a
/// runtime worker or the runtime's blocking pool. If no thread can be started, it runs inline
/// (blocking the current worker up to `timeout`).
///
/// # Cancel safety
///
/// Dropping the future does not stop the shutdown: it finishes on its thread, and only its
/// report is lost.
///
/// The adapters export it as `resource::cleanup_all`; it needs no runtime.
#[doc = crate::async_example!(r#"
use adapter::resource::cleanup_all;
use patinox_memory::resource::ResourceRegistry;
use std::time::Duration;

let registry = ResourceRegistry::new();
let file = registry.register(String::from("scratch"));
drop(file);
let report = cleanup_all(&registry, Duration::from_millis(100)).await;
assert!(report.is_clean());
"#)]
pub async fn cleanup_all_async(registry: &ResourceRegistry, timeout: Duration) -> CleanupReport {
    let slot: Arc<Mutex<Reply>> = Arc::new(Mutex::new(Reply::default()));
    let theirs = Arc::clone(&slot);
    let registry_for_thread = registry.clone();
    let spawned = std::thread::Builder::new()
        .name("patinox-async-cleanup".into())
        .spawn(move || {
            let report = registry_for_thread.cleanup_all(timeout);
            let waker = {
                let mut reply = theirs.lock().unwrap_or_else(|e| e.into_inner());
                reply.report = Some(report);
                reply.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    if spawned.is_err() {
        return registry.cleanup_all(timeout);
    }
    poll_fn(|cx| {
        let mut reply = slot.lock().unwrap_or_else(|e| e.into_inner());
        match reply.report.take() {
            Some(report) => Poll::Ready(report),
            None => {
                reply.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

#[derive(Default)]
struct Reply {
    report: Option<CleanupReport>,
    waker: Option<Waker>,
}

/// [`cleanup_all_async`] as a method of the registry.
pub trait AsyncCleanup {
    /// See [`cleanup_all_async`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop the shutdown; only its report is lost.
    fn cleanup_all_async(&self, timeout: Duration) -> impl Future<Output = CleanupReport> + Send;
}

impl AsyncCleanup for ResourceRegistry {
    fn cleanup_all_async(&self, timeout: Duration) -> impl Future<Output = CleanupReport> + Send {
        cleanup_all_async(self, timeout)
    }
}
