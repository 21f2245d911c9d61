//! [`Snapshot`]: a cell holding a read-mostly value (configuration, routing tables) that readers
//! load on every request and writers replace as a whole.
//!
//! # How it works
//!
//! The current value lives in an `Arc` behind a small mutex, next to a generation counter that
//! every replacement bumps. Readers do not touch that mutex or the value's reference count on
//! the fast path: each thread is assigned a *stripe* (a cache-padded slot of the cell) that caches
//! its own `Arc` of the current value together with the generation it was taken at. A load
//!
//! 1. reads the cell's generation (an `Acquire` load of a line that only writers modify),
//! 2. claims its stripe with one compare-and-swap of the stripe's state word, expecting "idle,
//!    holding that generation"; the same CAS tells it, when it fails, whether the stripe is busy
//!    (then it tries the next few stripes and finally falls back to cloning the `Arc` under the
//!    cell's mutex) or merely stale (then it claims it anyway and refreshes its `Arc`),
//! 3. returns a guard that borrows the value from the stripe; dropping the guard releases the
//!    stripe with a plain `Release` store.
//!
//! So a load costs a thread-local read, one uncontended CAS on a line this thread owns, and one
//! read of a shared, rarely written counter. A first version built on a per-stripe
//! `Mutex::try_lock` needed a second atomic read-modify-write to unlock and took about 15 ns
//! per load against about 5 ns now (criterion, this project's 2-core machine); that is what the
//! small amount of `unsafe` below buys.
//!
//! A store never waits for readers: it swaps the `Arc` and the generation under the mutex, then
//! re-points every idle stripe at the new value so the old one is freed promptly. Stripes that
//! were busy keep their `Arc` (and so keep the old value alive, which is what makes their guards
//! sound) until their next load or the next store, whichever comes first. The old value's
//! destructor therefore runs on whichever thread drops the last `Arc`: the storing thread in the
//! common case, otherwise a later reader or writer.
//!
//! Memory ordering: the generation is bumped with `Release` while the mutex is held and read
//! with `Acquire`; a load that happens after a store (joined thread, channel, any
//! synchronization) therefore sees the new generation and refreshes. The `(generation, Arc)`
//! pair a stripe caches is always read together under the mutex, so a stripe whose generation
//! matches holds exactly the value of that generation. A stripe's `Arc` is written only by the
//! thread that claimed the stripe (`Acquire` CAS setting `BUSY`) and published by the `Release`
//! store that clears `BUSY`, so the next claimer sees it.
//!
//! The one invariant the `unsafe` blocks rely on: **a stripe's value cell is touched only by the
//! holder of the stripe's `BUSY` bit.**

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;

use crossbeam_utils::CachePadded;

use crate::sync::{Arc, AtomicU64, Mutex, Ordering, UnsafeCell};

/// Set in a stripe's state while someone holds the stripe.
const BUSY: u64 = 1;

/// How many further stripes a load tries when its own is busy, before it clones the `Arc`.
const PROBES: usize = 3;

/// Upper bound on the stripe count, whatever is asked.
const MAX_STRIPES: usize = 1024;

/// A swappable cell for read-mostly values.
///
/// [`load`](Snapshot::load) returns a guard to the current value without blocking writers and,
/// on the fast path, without touching any cache line that other readers write.
/// [`store`](Snapshot::store), [`swap`](Snapshot::swap) and [`rcu`](Snapshot::rcu) replace the
/// value; loads that start after a replacement see the new value, loads that started before
/// keep the value they got, alive, until their guard is dropped.
///
/// Keep guards short (the scope of a request is fine): a held guard pins its thread's stripe, so
/// further loads on that thread take a slower path, and it keeps the value it saw alive. Use
/// [`load_full`](Snapshot::load_full) to keep a value for long.
///
/// # Examples
///
/// ```
/// use patinox_memory::share::Snapshot;
///
/// #[derive(Debug, Clone)]
/// struct Config { limit: u32 }
///
/// let config = Snapshot::new(Config { limit: 10 });
/// assert_eq!(config.load().limit, 10);
///
/// config.store(Config { limit: 20 });
/// assert_eq!(config.load().limit, 20);
///
/// // Read-copy-update: retried if another writer got in between.
/// config.rcu(|c| Config { limit: c.limit + 1 });
/// assert_eq!(config.load().limit, 21);
/// ```
pub struct Snapshot<T> {
    /// The current value. Lock order: a load may take `current` while it has a stripe claimed
    /// (to refresh it); writers release `current` before they claim stripes, never the reverse.
    current: Mutex<Arc<T>>,
    /// Bumped (under `current`) by every replacement.
    generation: CachePadded<AtomicU64>,
    /// Per-thread caches of `(generation, Arc)`; length is a power of two.
    stripes: Box<[CachePadded<Stripe<T>>]>,
}

/// One reader stripe: a cached `Arc` and a state word `generation << 1 | BUSY`.
struct Stripe<T> {
    state: AtomicU64,
    /// Touched only by the holder of `BUSY`.
    value: UnsafeCell<Arc<T>>,
}

// SAFETY: `value` is only accessed by the thread holding the stripe's BUSY bit (claimed with an
// Acquire CAS, released with a Release store), so the stripe hands the `Arc<T>` from thread to
// thread like a mutex would; sharing `Arc<T>` across threads needs `T: Send + Sync`.
unsafe impl<T: Send + Sync> Sync for Stripe<T> {}
// SAFETY: the stripe owns an `Arc<T>`, which may move between threads when `T: Send + Sync`.
unsafe impl<T: Send + Sync> Send for Stripe<T> {}

impl<T> Stripe<T> {
    fn new(value: Arc<T>, generation: u64) -> Self {
        Self {
            state: AtomicU64::new(generation << 1),
            value: UnsafeCell::new(value),
        }
    }

    /// Claims the stripe if it is idle; returns the generation it holds.
    #[inline]
    fn claim(&self, expected_generation: u64) -> Option<u64> {
        let idle_fresh = expected_generation << 1;
        match self.state.compare_exchange(
            idle_fresh,
            idle_fresh | BUSY,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => Some(expected_generation),
            Err(actual) if actual & BUSY == 0 => self
                .state
                .compare_exchange(actual, actual | BUSY, Ordering::Acquire, Ordering::Relaxed)
                .ok()
                .map(|_| actual >> 1),
            Err(_) => None,
        }
    }

    /// Releases a claimed stripe, recording the generation its value now has.
    #[inline]
    fn release(&self, generation: u64) {
        self.state.store(generation << 1, Ordering::Release);
    }

    /// Replaces the value of a stripe this thread has claimed, returning the old one.
    fn replace_claimed(&self, value: Arc<T>) -> Arc<T> {
        // SAFETY: the caller holds this stripe's BUSY bit, so no other thread reads or writes
        // `value` until it is released.
        self.value
            .with_mut(|slot| unsafe { std::mem::replace(&mut *slot, value) })
    }
}

/// A loaded value of a [`Snapshot`]; derefs to `T`. The value stays alive while the guard does.
#[must_use = "a guard is only useful for reading the value through it"]
pub struct SnapshotGuard<'a, T> {
    inner: GuardInner<'a, T>,
}

enum GuardInner<'a, T> {
    /// Borrowed from a stripe this guard has claimed; the claim keeps its `Arc` in place.
    Stripe {
        stripe: &'a Stripe<T>,
        generation: u64,
    },
    /// All probed stripes were busy: a clone of the `Arc`.
    Owned(Arc<T>),
}

thread_local! {
    /// This thread's preferred stripe, handed out round robin so threads spread evenly.
    static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Hands out stripe numbers. A plain `std` atomic on purpose: it only spreads threads over
/// stripes and never orders any data, so the loom build need not model it.
static NEXT_STRIPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[inline]
fn thread_stripe() -> usize {
    STRIPE.with(|s| match s.get() {
        Some(i) => i,
        None => {
            let i = NEXT_STRIPE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.set(Some(i));
            i
        }
    })
}

fn default_stripes() -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    cpus.saturating_mul(4).clamp(8, 128)
}

impl<T> Snapshot<T> {
    /// A cell holding `value`, with a stripe count suited to this machine (four per CPU,
    /// at least 8).
    pub fn new(value: T) -> Self {
        Self::with_stripes(value, default_stripes())
    }

    /// A cell holding `value` with about `stripes` reader stripes (rounded up to a power of two,
    /// between 1 and 1024).
    ///
    /// More stripes than concurrently loading threads keep every load on the fast path; each
    /// stripe costs a cache line pair.
    pub fn with_stripes(value: T, stripes: usize) -> Self {
        let n = stripes
            .clamp(1, MAX_STRIPES)
            .checked_next_power_of_two()
            .unwrap_or(MAX_STRIPES);
        let value = Arc::new(value);
        let stripes = (0..n)
            .map(|_| CachePadded::new(Stripe::new(Arc::clone(&value), 0)))
            .collect();
        Self {
            current: Mutex::new(value),
            generation: CachePadded::new(AtomicU64::new(0)),
            stripes,
        }
    }

    /// The current value, as a guard. Never blocks on writers.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::Snapshot;
    ///
    /// let cell = Snapshot::new(String::from("v1"));
    /// let seen = cell.load();
    /// cell.store(String::from("v2"));
    /// assert_eq!(*seen, "v1"); // a loaded value stays valid
    /// assert_eq!(*cell.load(), "v2");
    /// ```
    #[inline]
    pub fn load(&self) -> SnapshotGuard<'_, T> {
        let mask = self.stripes.len() - 1;
        let home = thread_stripe();
        let current = self.generation.load(Ordering::Acquire);
        for probe in 0..=PROBES.min(mask) {
            let stripe = &self.stripes[(home + probe) & mask];
            let Some(held) = stripe.claim(current) else {
                continue;
            };
            let generation = if held == current {
                held
            } else {
                // A store happened since this stripe was filled. The stale Arc is dropped here;
                // if it was the last one, the old value's destructor runs on this thread while
                // only this stripe is claimed (other loads skip a busy stripe).
                let (generation, value) = self.current_pair();
                drop(stripe.replace_claimed(value));
                generation
            };
            return SnapshotGuard {
                inner: GuardInner::Stripe { stripe, generation },
            };
        }
        SnapshotGuard {
            inner: GuardInner::Owned(self.load_full()),
        }
    }

    /// The current value as an owned `Arc`, for keeping beyond a short scope.
    ///
    /// Slower than [`load`](Self::load) under concurrency: it takes the cell's mutex and
    /// increments the shared reference count.
    pub fn load_full(&self) -> Arc<T> {
        Arc::clone(&self.current.lock())
    }

    /// Replaces the value. Loads that start afterwards see `value`.
    pub fn store(&self, value: T) {
        drop(self.swap(value));
    }

    /// Replaces the value and returns the previous one.
    pub fn swap(&self, value: T) -> Arc<T> {
        let new = Arc::new(value);
        let (old, generation) = {
            let mut current = self.current.lock();
            let old = std::mem::replace(&mut *current, Arc::clone(&new));
            let generation = self.generation.load(Ordering::Relaxed) + 1;
            self.generation.store(generation, Ordering::Release);
            (old, generation)
        };
        self.repoint_idle_stripes(generation, &new);
        old
    }

    /// Read-copy-update: replaces the value with `f(&current)`, retrying with the newer value if
    /// another writer replaced it meanwhile. Returns the value that was replaced.
    ///
    /// `f` runs with no lock held and may run more than once, so it should be a pure function
    /// of its input.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::Snapshot;
    ///
    /// let routes = Snapshot::new(vec!["/a"]);
    /// let before = routes.rcu(|r| {
    ///     let mut r = r.clone();
    ///     r.push("/b");
    ///     r
    /// });
    /// assert_eq!(*before, vec!["/a"]);
    /// assert_eq!(*routes.load(), vec!["/a", "/b"]);
    /// ```
    pub fn rcu(&self, mut f: impl FnMut(&T) -> T) -> Arc<T> {
        let mut seen = self.load_full();
        loop {
            let new = Arc::new(f(&seen));
            let outcome = {
                let mut current = self.current.lock();
                if Arc::ptr_eq(&current, &seen) {
                    let old = std::mem::replace(&mut *current, Arc::clone(&new));
                    let generation = self.generation.load(Ordering::Relaxed) + 1;
                    self.generation.store(generation, Ordering::Release);
                    Ok((old, generation))
                } else {
                    Err(Arc::clone(&current))
                }
            };
            match outcome {
                Ok((old, generation)) => {
                    self.repoint_idle_stripes(generation, &new);
                    return old;
                }
                Err(newer) => seen = newer,
            }
        }
    }

    /// Number of reader stripes.
    pub fn stripes(&self) -> usize {
        self.stripes.len()
    }

    fn current_pair(&self) -> (u64, Arc<T>) {
        let current = self.current.lock();
        // Read under the mutex: writers change both together while holding it.
        (
            self.generation.load(Ordering::Relaxed),
            Arc::clone(&current),
        )
    }

    /// Points every stripe nobody is reading at the freshly stored value, so the old value is
    /// released now rather than at each stripe's next load. Busy stripes are skipped: they
    /// refresh themselves on their next load.
    fn repoint_idle_stripes(&self, generation: u64, new: &Arc<T>) {
        let mut released = Vec::new();
        for stripe in self.stripes.iter() {
            let state = stripe.state.load(Ordering::Relaxed);
            // Skip busy stripes, and never take a stripe back to an older value than it has.
            if state & BUSY != 0 || state >> 1 >= generation {
                continue;
            }
            if stripe
                .state
                .compare_exchange(state, state | BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                released.push(stripe.replace_claimed(Arc::clone(new)));
                stripe.release(generation);
            }
        }
        // Old values' destructors (if these were the last handles) run with no stripe claimed.
        drop(released);
    }
}

impl<T: Default> Default for Snapshot<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Snapshot<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("value", &*self.load())
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

impl<T> Deref for SnapshotGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.inner {
            // SAFETY: this guard holds the stripe's BUSY bit until it is dropped, so nobody
            // writes the cell meanwhile, and the `Arc` in it keeps the value alive.
            GuardInner::Stripe { stripe, .. } => stripe.value.with(|arc| unsafe { &**arc }),
            GuardInner::Owned(value) => value,
        }
    }
}

impl<T> SnapshotGuard<'_, T> {
    /// The loaded value as an owned `Arc` (one reference-count increment).
    pub fn to_arc(&self) -> Arc<T> {
        match &self.inner {
            GuardInner::Stripe { stripe, .. } => {
                // SAFETY: as in `deref`: the guard holds the stripe's BUSY bit.
                stripe.value.with(|arc| Arc::clone(unsafe { &*arc }))
            }
            GuardInner::Owned(value) => Arc::clone(value),
        }
    }
}

impl<T> Drop for SnapshotGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let GuardInner::Stripe { stripe, generation } = self.inner {
            stripe.release(generation);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SnapshotGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn snapshot_load_after_store_sees_new_value() {
        let cell = Snapshot::new(1);
        assert_eq!(*cell.load(), 1);
        cell.store(2);
        assert_eq!(*cell.load(), 2);
        assert_eq!(*cell.swap(3), 2);
        assert_eq!(*cell.load(), 3);
        assert_eq!(*cell.load_full(), 3);
    }

    #[test]
    fn snapshot_guard_keeps_old_value_alive_across_store() {
        let cell = Snapshot::with_stripes(String::from("old"), 1);
        let guard = cell.load();
        cell.store(String::from("new"));
        assert_eq!(*guard, "old");
        // The only stripe is busy: this load falls back to an owned Arc, and must be new.
        assert_eq!(*cell.load(), "new");
        drop(guard);
        assert_eq!(*cell.load(), "new");
    }

    #[test]
    fn snapshot_nested_loads_on_one_thread_do_not_block() {
        let cell = Snapshot::with_stripes(5u32, 2);
        let guards: Vec<_> = (0..6).map(|_| cell.load()).collect();
        assert!(guards.iter().all(|g| **g == 5));
        cell.store(6);
        assert_eq!(*cell.load(), 6);
        assert!(guards.iter().all(|g| **g == 5));
    }

    #[derive(Debug)]
    struct Tracked<'a>(u32, &'a AtomicUsize);
    impl Drop for Tracked<'_> {
        fn drop(&mut self) {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn snapshot_releases_replaced_values_promptly() {
        let drops = AtomicUsize::new(0);
        let cell = Snapshot::with_stripes(Tracked(0, &drops), 4);
        assert_eq!(cell.load().0, 0);
        for i in 1..=10 {
            cell.store(Tracked(i, &drops));
        }
        // No guard was held: every replaced value is gone once store returns.
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 10);
        let held = cell.load();
        cell.store(Tracked(11, &drops));
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 10);
        assert_eq!(held.0, 10);
        drop(held);
        assert_eq!(cell.load().0, 11);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 11);
        drop(cell);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 12);
    }

    /// Loop counts, smaller under miri (which interprets every step).
    const ROUNDS: u64 = if cfg!(miri) { 20 } else { 200 };

    #[test]
    #[cfg_attr(
        miri,
        ignore = "parking_lot's futex parking is rejected by miri; loom models this race"
    )]
    fn snapshot_rcu_applies_every_update_under_contention() {
        let cell = Arc::new(Snapshot::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let cell = Arc::clone(&cell);
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        cell.rcu(|v| v + 1);
                        let _ = *cell.load();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*cell.load(), 4 * ROUNDS);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "parking_lot's futex parking is rejected by miri; loom models this race"
    )]
    fn snapshot_readers_see_monotonic_values_while_a_writer_stores() {
        let cell = Arc::new(Snapshot::with_stripes(0u64, 2));
        let reader = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                let mut last = 0;
                for _ in 0..ROUNDS * 10 {
                    let now = *cell.load();
                    assert!(now >= last, "went back from {last} to {now}");
                    last = now;
                }
            })
        };
        for i in 1..=ROUNDS * 2 {
            cell.store(i);
        }
        reader.join().unwrap();
        assert_eq!(*cell.load(), ROUNDS * 2);
    }

    #[test]
    fn snapshot_threads_load_through_stripes_without_races() {
        // No stores, and at most four guards at once on four stripes (a load probes them all):
        // the cell's mutex is never taken, so miri can run this and check the stripe cells for
        // data races across threads.
        let cell = Snapshot::with_stripes(String::from("shared"), 4);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        let a = cell.load();
                        let b = cell.load(); // nested: claims a second stripe or falls back
                        assert_eq!(*a, "shared");
                        assert_eq!(*b, "shared");
                        assert_eq!(*a.to_arc(), "shared");
                    }
                });
            }
        });
    }

    #[test]
    fn snapshot_stripe_count_is_a_power_of_two() {
        assert_eq!(Snapshot::with_stripes(0, 0).stripes(), 1);
        assert_eq!(Snapshot::with_stripes(0, 3).stripes(), 4);
        assert_eq!(Snapshot::with_stripes(0, usize::MAX).stripes(), 1024);
        assert!(Snapshot::new(0).stripes().is_power_of_two());
    }
}
