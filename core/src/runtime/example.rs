//! A stand-in runtime for the core's own doc examples and tests: every spawned task and every
//! pending timer gets an OS thread. It lets the examples of the runtime-generic types run in
//! this crate, reading as they would with an adapter (`adapter::pool::Pool` and so on). Not
//! for services: use `patinox_memory_tokio` or `patinox_memory_async_std`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Instant;

use super::{Runtime, block_on};

/// Tasks and timers on threads of their own (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Threads;

impl Runtime for Threads {
    const NAME: &'static str = "threads (examples)";
    type Timer = ThreadTimer;
    type Home = ();

    fn timer(deadline: Instant) -> ThreadTimer {
        ThreadTimer {
            deadline,
            shared: None,
        }
    }

    fn try_spawn<F>(task: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Some(task)));
        let theirs = Arc::clone(&slot);
        let spawned = thread::Builder::new()
            .name("patinox-example-task".into())
            .spawn(move || {
                let task = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(task) = task {
                    block_on(task);
                }
            });
        match spawned {
            Ok(_) => Ok(()),
            Err(_) => match slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(task) => Err(task),
                None => Ok(()),
            },
        }
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

/// [`Threads`]' timer: its first pending poll starts a thread that waits for the deadline
/// (or for the timer's drop) and then wakes the last registered waker.
#[derive(Debug)]
pub struct ThreadTimer {
    deadline: Instant,
    shared: Option<Arc<TimerShared>>,
}

#[derive(Debug, Default)]
struct TimerShared {
    state: Mutex<TimerState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct TimerState {
    fired: bool,
    dropped: bool,
    waker: Option<Waker>,
}

impl TimerShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The timer thread: waits until `deadline` (or the timer's drop), then wakes.
    fn run(&self, deadline: Instant) {
        let mut state = self.lock();
        loop {
            if state.dropped {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                state.fired = true;
                let waker = state.waker.take();
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                return;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Future for ThreadTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if let Some(shared) = &self.shared {
            let mut state = shared.lock();
            if state.fired {
                return Poll::Ready(());
            }
            state.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let shared = Arc::new(TimerShared::default());
        shared.lock().waker = Some(cx.waker().clone());
        let theirs = Arc::clone(&shared);
        let deadline = self.deadline;
        let started = thread::Builder::new()
            .name("patinox-example-timer".into())
            .spawn(move || theirs.run(deadline));
        if started.is_err() {
            // No thread for the timer: poll again soon instead.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.shared = Some(shared);
        Poll::Pending
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().dropped = true;
            shared.changed.notify_all();
        }
    }
}

/// The names an adapter crate gives the runtime-generic types, with [`Threads`] as the
/// runtime, so the core's examples read as an adapter's would.
pub mod adapter {
    /// As `patinox_memory_tokio::pool`.
    pub mod pool {
        pub use crate::pool::{
            AsyncManageConnection as ManageConnection, AsyncPooledConnection as PooledConnection,
        };

        /// The async pool on [`Threads`](super::super::Threads).
        pub type Pool<M> = crate::pool::AsyncPool<M, super::super::Threads>;
        /// Its builder.
        pub type PoolBuilder<M> = crate::pool::AsyncPoolBuilder<M, super::super::Threads>;
    }

    /// As `patinox_memory_tokio::resource`.
    pub mod resource {
        pub use crate::resource::cleanup_all_async as cleanup_all;

        /// The async guard on [`Threads`](super::super::Threads).
        pub type AsyncResourceGuard<T> =
            crate::resource::AsyncResourceGuard<T, super::super::Threads>;
    }

    /// As `patinox_memory_tokio::cache`.
    pub mod cache {
        use std::hash::{BuildHasher, Hash};
        use std::sync::Arc;
        use std::time::Duration;

        use crate::cache::ShardedCache;

        /// [`crate::cache::spawn_expiry`] on [`Threads`](super::super::Threads).
        pub fn spawn_expiry<K, V, S>(cache: &Arc<ShardedCache<K, V, S>>, every: Duration) -> bool
        where
            K: Hash + Eq + Send + Sync + 'static,
            V: Send + Sync + 'static,
            S: BuildHasher + Send + Sync + 'static,
        {
            crate::cache::spawn_expiry::<super::super::Threads, K, V, S>(cache, every)
        }
    }
}
