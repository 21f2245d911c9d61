//! [`ShardedCache`]: the concurrent cache, one locked [`Store`] per shard.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use hashbrown::DefaultHashBuilder;

use super::clock::{Clock, SystemClock};
use super::config::{CacheConfig, EvictionPolicy, split};
use super::policy::{Counters, Lookup, NEVER, Removals, Store};
use super::single_flight::Flight;
use super::stats::CacheStats;
use crate::error::ConfigError;
use crate::monitor::{CacheEvent, Event, Monitor, RemovalCause};
use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering, StdArc};
use crate::util::catch_panic;

/// Measures an entry for the weight bound ([`CacheConfig::max_weight`]).
///
/// Implemented for every `Fn(&K, &V) -> u32 + Send + Sync`. It runs before the shard's lock is
/// taken; a panic is caught and counted, and the entry is then not stored.
pub trait Weigher<K, V>: Send + Sync {
    /// The weight of `value` stored under `key`.
    fn weigh(&self, key: &K, value: &V) -> u32;
}

impl<K, V, F: Fn(&K, &V) -> u32 + Send + Sync> Weigher<K, V> for F {
    fn weigh(&self, key: &K, value: &V) -> u32 {
        self(key, value)
    }
}

/// Told about every entry that leaves the cache, with the [`RemovalCause`].
///
/// Implemented for every `Fn(K, V, RemovalCause) + Send + Sync`. It runs on the thread that
/// caused the removal, after the shard's lock is released; a panic is caught and counted.
pub trait EvictionListener<K, V>: Send + Sync {
    /// `key` and `value` left the cache because of `cause`.
    fn on_removal(&self, key: K, value: V, cause: RemovalCause);
}

impl<K, V, F: Fn(K, V, RemovalCause) + Send + Sync> EvictionListener<K, V> for F {
    fn on_removal(&self, key: K, value: V, cause: RemovalCause) {
        self(key, value, cause)
    }
}

/// A concurrent, bounded cache with LRU or TinyLFU eviction, expiry, weights, statistics and
/// single-flight loading.
///
/// Keys are spread over a power-of-two number of shards, each an independent single-threaded
/// store behind its own mutex. The shard is chosen from hash bits the store's table does not
/// probe with, so both stay uniform. `get` returns a clone of the value (use `Arc<T>` values for
/// large data). With one shard and [`EvictionPolicy::Lru`] the cache is an exact LRU.
///
/// **Bounds.** The shards' bounds sum to exactly `max_size` (and `max_weight`), and each shard
/// evicts under its own lock before the insert returns, so `len()` never exceeds `max_size`,
/// not even transiently: the overshoot is 0. The price is that a shard may evict while another
/// still has room, so with uneven keys the cache holds a little less than `max_size`; automatic
/// sharding keeps at least 256 entries per shard to keep that small.
///
/// **Expiry.** Entries expire after their time to live ([`insert_with_ttl`], or
/// [`CacheConfig::default_ttl`]). An expired entry is never returned; it is removed when it is
/// next touched, and by a background thread every [`CacheConfig::cleanup_interval`] if one is
/// set. Time comes from a [`Clock`] (tests use [`ManualClock`](super::ManualClock)).
///
/// **Callbacks.** Weighers run before the lock is taken; eviction listeners and the monitor
/// after it is released, so values are also dropped outside the lock.
///
/// Cloning a `ShardedCache` gives another handle to the same cache.
///
/// [`insert_with_ttl`]: ShardedCache::insert_with_ttl
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::{EvictionPolicy, ShardedCache};
///
/// let cache = ShardedCache::builder()
///     .max_size(10_000)
///     .eviction_policy(EvictionPolicy::TinyLfu)
///     .build()?;
/// cache.insert("answer", 42);
/// assert_eq!(cache.get(&"answer"), Some(42));
/// assert_eq!(cache.stats().hits, 1);
/// # Ok::<(), patinox_memory::ConfigError>(())
/// ```
pub struct ShardedCache<K, V, S = DefaultHashBuilder> {
    pub(crate) inner: StdArc<Inner<K, V, S>>,
}

pub(crate) struct Inner<K, V, S = DefaultHashBuilder> {
    shards: Box<[Shard<K, V>]>,
    /// `hash >> shift & mask` picks the shard.
    mask: usize,
    hasher: S,
    clock: Box<dyn Clock>,
    origin: Instant,
    /// Set once any entry may expire; until then lookups skip reading the clock.
    ttl_used: AtomicBool,
    default_ttl: Option<Duration>,
    max_weight: Option<u64>,
    weigher: Option<Box<dyn Weigher<K, V>>>,
    listener: Option<Box<dyn EvictionListener<K, V>>>,
    monitor: Option<StdArc<dyn Monitor>>,
    callback_panics: AtomicU64,
    pub(crate) loads: AtomicU64,
    /// Keys being loaded by `get_or_insert_with` and friends.
    pub(crate) flights: Mutex<hashbrown::HashMap<K, Arc<Flight<V>>>>,
    pub(crate) load_failures: AtomicU64,
    cleanup: Option<Duration>,
    #[cfg(not(loom))]
    cleanup_thread: Mutex<Option<crate::sync::thread::Thread>>,
    /// Set by [`ShardedCache::stop_maintenance`]; the cleanup thread exits when it sees it.
    maintenance_stopped: AtomicBool,
    /// Set by the cleanup thread as it exits after a stop.
    #[cfg_attr(loom, allow(dead_code, reason = "no cleanup thread under loom"))]
    cleanup_exited: AtomicBool,
}

/// One shard: a store behind its own lock, padded to its own cache line.
type Shard<K, V> = CachePadded<Mutex<Store<K, V>>>;

/// Shard selection uses bits 40.. of the hash; hashbrown probes with the low bits and tags
/// with the top 7, so the three stay independent up to 2^16 shards.
const SHARD_SHIFT: u32 = 40;

impl<K, V, S> Clone for ShardedCache<K, V, S> {
    fn clone(&self) -> Self {
        Self {
            inner: StdArc::clone(&self.inner),
        }
    }
}

impl<K, V, S> fmt::Debug for ShardedCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedCache")
            .field("shards", &self.inner.shards.len())
            .field("default_ttl", &self.inner.default_ttl)
            .finish_non_exhaustive()
    }
}

impl<K, V> ShardedCache<K, V>
where
    K: Hash + Eq + Send + 'static,
    V: Clone + Send + 'static,
{
    /// An LRU cache of at most `max_size` entries with default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::ShardedCache;
    ///
    /// let cache = ShardedCache::new(100);
    /// cache.insert(1, "one");
    /// assert_eq!(cache.get(&1), Some("one"));
    /// ```
    pub fn new(max_size: usize) -> Self {
        let config = CacheConfig {
            max_size,
            ..CacheConfig::default()
        };
        Self::from_parts(config, CacheBuilder::new())
    }

    /// A builder starting from [`CacheConfig::default`].
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::new()
    }

    /// A cache from `config`, with no weigher, listener or monitor.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `config` is invalid (see [`CacheConfig::validate`]).
    pub fn with_config(config: CacheConfig) -> Result<Self, ConfigError> {
        CacheBuilder::new().config(config).build()
    }
}

impl<K, V, S> ShardedCache<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Clone + Send + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    fn from_parts(config: CacheConfig, parts: CacheBuilder<K, V, S>) -> Self {
        let shards = config.effective_shards();
        let clock = parts.clock.unwrap_or_else(|| Box::new(SystemClock));
        let origin = clock.now();
        let max_size = config.max_size as u64;
        let stores: Box<[_]> = (0..shards)
            .map(|i| {
                let len = split(max_size, shards, i) as usize;
                let weight = config.max_weight.map(|w| split(w, shards, i));
                CachePadded::new(Mutex::new(Store::new(config.eviction_policy, len, weight)))
            })
            .collect();
        let inner = StdArc::new(Inner {
            shards: stores,
            mask: shards - 1,
            hasher: parts.hasher,
            clock,
            origin,
            ttl_used: AtomicBool::new(config.default_ttl.is_some()),
            default_ttl: config.default_ttl,
            max_weight: config.max_weight,
            weigher: parts.weigher,
            listener: parts.listener,
            monitor: parts.monitor,
            callback_panics: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            flights: Mutex::new(hashbrown::HashMap::new()),
            load_failures: AtomicU64::new(0),
            cleanup: config.cleanup_interval,
            #[cfg(not(loom))]
            cleanup_thread: Mutex::new(None),
            maintenance_stopped: AtomicBool::new(false),
            cleanup_exited: AtomicBool::new(false),
        });
        #[cfg(not(loom))]
        if let Some(every) = config.cleanup_interval {
            super::cleanup::spawn(&inner, every);
        }
        Self { inner }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> Inner<K, V, S> {
    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    pub(crate) fn shard(&self, hash: u64) -> MutexGuard<'_, Store<K, V>> {
        self.shards[(hash >> SHARD_SHIFT) as usize & self.mask].lock()
    }

    /// Nanoseconds since the origin, or 0 while no entry can expire (nothing expires at 0).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        if self.ttl_used.load(Ordering::Relaxed) {
            self.now_always()
        } else {
            0
        }
    }

    fn now_always(&self) -> u64 {
        let nanos = self
            .clock
            .now()
            .saturating_duration_since(self.origin)
            .as_nanos();
        u64::try_from(nanos).unwrap_or(NEVER - 1).min(NEVER - 1)
    }

    fn expiry(&self, ttl: Option<Duration>) -> u64 {
        match ttl {
            None => NEVER,
            Some(ttl) => {
                let ttl = u64::try_from(ttl.as_nanos()).unwrap_or(NEVER);
                self.now_always().saturating_add(ttl).min(NEVER - 1)
            }
        }
    }

    #[inline]
    pub(crate) fn emit(&self, event: CacheEvent) {
        if let Some(m) = &self.monitor {
            m.on_event(&Event::Cache(event));
        }
    }

    /// Reports removed entries, then drops them; call with no lock held.
    #[inline]
    pub(crate) fn finish(&self, removed: Removals<K, V>) {
        if removed.is_empty() {
            // Nothing to drop: `rest` is only pushed to while `first` is set, so it owns no
            // allocation; skipping its destructor keeps the common path short.
            std::mem::forget(removed);
            return;
        }
        if self.listener.is_none() && self.monitor.is_none() {
            drop(removed);
            return;
        }
        self.report(removed);
    }

    #[inline(never)]
    fn report(&self, removed: Removals<K, V>) {
        for (key, value, cause) in removed.into_iter() {
            self.emit(CacheEvent::Removal { cause });
            if let Some(listener) = &self.listener
                && catch_panic(|| listener.on_removal(key, value, cause)).is_err()
            {
                self.callback_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Stores `key` with an explicit expiry (nanoseconds since the origin).
    pub(crate) fn insert_at(&self, key: K, value: V, expires: u64) {
        let weight = match &self.weigher {
            None => 1,
            Some(w) => match catch_panic(|| w.weigh(&key, &value)) {
                Ok(weight) => weight,
                Err(_) => {
                    self.callback_panics.fetch_add(1, Ordering::Relaxed);
                    u32::MAX
                }
            },
        };
        let hash = self.hash(&key);
        let mut removed = Removals::default();
        self.shard(hash)
            .insert(hash, key, value, weight, expires, &mut removed);
        self.emit(CacheEvent::Insert);
        self.finish(removed);
    }

    pub(crate) fn expiry_for(&self, ttl: Option<Duration>) -> u64 {
        let ttl = ttl.or(self.default_ttl);
        if ttl.is_some() {
            self.ttl_used.store(true, Ordering::Relaxed);
        }
        self.expiry(ttl)
    }

    /// Looks `key` up (counted as a hit or a miss) and clones its value. Inlined into the
    /// caller: a call here cost about 23 of 259 instructions per operation of the Zipf
    /// benchmark (saving and restoring registers, callgrind).
    #[inline]
    pub(crate) fn lookup<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hash(key);
        let now = self.now();
        let mut shard = self.shard(hash);
        match shard.lookup(hash, key, now) {
            Lookup::Hit(idx) => {
                // SAFETY: `idx` is the hit just returned by this store, under the same lock.
                let value = unsafe { shard.value_unchecked(idx) }.clone();
                drop(shard);
                self.emit(CacheEvent::Hit);
                Some(value)
            }
            Lookup::Miss => {
                drop(shard);
                self.emit(CacheEvent::Miss);
                None
            }
            Lookup::Expired(idx) => {
                let mut removed = Removals::default();
                shard.expire_on_lookup(hash, idx, &mut removed);
                drop(shard);
                self.emit(CacheEvent::Miss);
                self.finish(removed);
                None
            }
        }
    }

    /// A clone of the live value of `key`, not counted and without promotion.
    pub(crate) fn peek_live<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hash(key);
        let now = self.now();
        self.shard(hash).peek(hash, key, now).cloned()
    }

    /// Removes expired entries from every shard, a bounded number of slots per lock hold.
    pub(crate) fn run_cleanup(&self) {
        const SLOTS_PER_LOCK: usize = 4096;
        if !self.ttl_used.load(Ordering::Relaxed) {
            return; // nothing can have expired
        }
        let now = self.now_always();
        for shard in self.shards.iter() {
            let mut start = 0;
            loop {
                let mut removed = Removals::default();
                start = shard
                    .lock()
                    .expire_some(now, start, SLOTS_PER_LOCK, &mut removed);
                self.finish(removed);
                if start == 0 {
                    break;
                }
            }
        }
    }

    /// `true` once maintenance was stopped; the cleanup thread checks this on each wake.
    #[cfg_attr(loom, allow(dead_code, reason = "no cleanup thread under loom"))]
    pub(crate) fn maintenance_stopped(&self) -> bool {
        self.maintenance_stopped.load(Ordering::Acquire)
    }

    /// Called by the cleanup thread as it exits after a stop.
    #[cfg_attr(loom, allow(dead_code, reason = "no cleanup thread under loom"))]
    pub(crate) fn mark_cleanup_exited(&self) {
        self.cleanup_exited.store(true, Ordering::Release);
    }

    #[cfg(not(loom))]
    pub(crate) fn set_cleanup_thread(&self, thread: crate::sync::thread::Thread) {
        *self.cleanup_thread.lock() = Some(thread);
    }
}

#[cfg(not(loom))]
impl<K, V, S> Drop for Inner<K, V, S> {
    fn drop(&mut self) {
        // Wake the cleanup thread so it notices at once that the cache is gone.
        if let Some(t) = self.cleanup_thread.get_mut().take() {
            t.unpark();
        }
    }
}

impl<K, V, S> ShardedCache<K, V, S>
where
    K: Hash + Eq,
    V: Clone,
    S: BuildHasher,
{
    /// A clone of the value of `key`, if present and not expired. Counts a hit or a miss and
    /// refreshes the entry's recency (or frequency, under TinyLFU).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.lookup(key)
    }

    /// Removes `key` and returns its value if it was present and not expired. The eviction
    /// listener, if any, is told (`Removed`) with a clone of the value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &self.inner;
        let hash = inner.hash(key);
        let now = inner.now();
        let mut removed = Removals::default();
        let taken = inner.shard(hash).remove(hash, key, now, &mut removed);
        let (key, value) = match taken {
            Some(kv) => kv,
            None => {
                inner.finish(removed);
                return None;
            }
        };
        if inner.listener.is_some() {
            removed.push(key, value.clone(), RemovalCause::Removed);
        } else {
            inner.emit(CacheEvent::Removal {
                cause: RemovalCause::Removed,
            });
        }
        inner.finish(removed);
        Some(value)
    }

    /// Like [`get`](Self::get) but not counted and without refreshing recency.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.peek_live(key)
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedCache<K, V, S> {
    /// Stores `value` under `key` with the default time to live (if any), evicting as needed.
    /// A previous value is replaced (and reported to the listener as `Replaced`).
    pub fn insert(&self, key: K, value: V) {
        let expires = self.inner.expiry_for(None);
        self.inner.insert_at(key, value, expires);
    }

    /// Stores `value` under `key`, expiring after `ttl` instead of the default.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        let expires = self.inner.expiry_for(Some(ttl));
        self.inner.insert_at(key, value, expires);
    }

    /// Whether `key` has a live entry (not counted, recency unchanged).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &self.inner;
        let hash = inner.hash(key);
        let now = inner.now();
        inner.shard(hash).contains(hash, key, now)
    }

    /// Number of entries, summed over the shards (expired entries not yet removed included).
    /// Never more than `max_size`.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight held (entries weigh 1 without a weigher).
    pub fn weight(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.lock().weight()).sum()
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.inner.shards.len()
    }

    /// The current bound on the number of entries.
    pub fn max_size(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().max_len()).sum()
    }

    /// Removes every entry (reported as `Removed`). Counters are kept.
    pub fn invalidate_all(&self) {
        for shard in self.inner.shards.iter() {
            let mut removed = Removals::default();
            shard.lock().drain(&mut removed);
            self.inner.finish(removed);
        }
    }

    /// Keeps only the entries for which `keep` returns true; the others are removed (reported
    /// as `Removed`), and expired entries are removed too.
    ///
    /// `keep` runs under each shard's lock in turn: keep it quick and do not call back into this
    /// cache from it. If it panics, the panic is caught and counted and the entry is kept.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let inner = &self.inner;
        let now = inner.now();
        let mut panics = 0;
        for shard in inner.shards.iter() {
            let mut removed = Removals::default();
            shard.lock().retain(
                now,
                |k, v| match catch_panic(|| keep(k, v)) {
                    Ok(keep) => keep,
                    Err(_) => {
                        panics += 1;
                        true
                    }
                },
                &mut removed,
            );
            inner.finish(removed);
        }
        if panics > 0 {
            inner.callback_panics.fetch_add(panics, Ordering::Relaxed);
        }
    }

    /// Changes the entry bound, evicting (reported as `Size`) until the cache fits. The shard
    /// count stays; with `max_size` below it some shards hold nothing.
    pub fn set_max_size(&self, max_size: usize) {
        let n = self.inner.shards.len();
        for (i, shard) in self.inner.shards.iter().enumerate() {
            let mut removed = Removals::default();
            let len = split(max_size as u64, n, i) as usize;
            let weight = self.inner.max_weight.map(|w| split(w, n, i));
            shard.lock().set_limits(len, weight, &mut removed);
            self.inner.finish(removed);
        }
    }

    /// Removes every expired entry now (what the background cleanup does each interval).
    pub fn run_pending_cleanup(&self) {
        self.inner.run_cleanup();
    }

    /// Stops the background cleanup thread, if one runs, and waits until it has exited or
    /// `deadline` has passed; returns whether it has exited. Expired entries are still never
    /// returned and are removed when touched. Stopping twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::ShardedCache;
    /// use std::time::{Duration, Instant};
    ///
    /// let cache: ShardedCache<u32, u32> =
    ///     ShardedCache::builder().max_size(100).cleanup_interval(Duration::from_secs(60)).build()?;
    /// assert!(cache.stop_maintenance(Instant::now() + Duration::from_secs(1)));
    /// # Ok::<(), patinox_memory::ConfigError>(())
    /// ```
    pub fn stop_maintenance(&self, deadline: Instant) -> bool {
        self.inner
            .maintenance_stopped
            .store(true, Ordering::Release);
        #[cfg(not(loom))]
        {
            let thread = self.inner.cleanup_thread.lock().clone();
            if let Some(thread) = thread {
                thread.unpark();
                // The thread exits at its next wake, which the unpark makes immediate; poll
                // briefly rather than keep a join handle that Drop would have to manage.
                while !self.inner.cleanup_exited.load(Ordering::Acquire) {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let _ = deadline;
        true
    }

    /// The background cleanup interval, if one runs.
    pub fn cleanup_interval(&self) -> Option<Duration> {
        self.inner.cleanup
    }

    /// Counters since creation, plus the current size.
    pub fn stats(&self) -> CacheStats {
        let mut total = Counters::default();
        let (mut entries, mut weight) = (0, 0);
        for shard in self.inner.shards.iter() {
            let s = shard.lock();
            let c = s.counters();
            total.hits += c.hits;
            total.misses += c.misses;
            total.inserts += c.inserts;
            total.evictions += c.evictions;
            total.expirations += c.expirations;
            entries += s.len();
            weight += s.weight();
        }
        CacheStats {
            hits: total.hits,
            misses: total.misses,
            inserts: total.inserts,
            evictions: total.evictions,
            expirations: total.expirations,
            loads: self.inner.loads.load(Ordering::Relaxed),
            load_failures: self.inner.load_failures.load(Ordering::Relaxed),
            callback_panics: self.inner.callback_panics.load(Ordering::Relaxed),
            entries,
            weight,
        }
    }
}

/// Builds a [`ShardedCache`]: the [`CacheConfig`] fields plus a weigher, an eviction listener,
/// a clock and a monitor.
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::ShardedCache;
/// use patinox_memory::monitor::RemovalCause;
/// use std::sync::{Arc, Mutex};
///
/// let evicted = Arc::new(Mutex::new(Vec::new()));
/// let log = evicted.clone();
/// let cache = ShardedCache::builder()
///     .max_weight(10)
///     .weigher(|_k: &u32, v: &String| v.len() as u32)
///     .shards(1)
///     .eviction_listener(move |k: u32, _v: String, cause| log.lock().unwrap().push((k, cause)))
///     .build()?;
/// cache.insert(1, "abcdef".to_string());
/// cache.insert(2, "ghijkl".to_string()); // 12 > 10: the least recent goes
/// assert_eq!(*evicted.lock().unwrap(), [(1, RemovalCause::Size)]);
/// # Ok::<(), patinox_memory::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until .build()"]
pub struct CacheBuilder<K, V, S = DefaultHashBuilder> {
    hasher: S,
    config: CacheConfig,
    weigher: Option<Box<dyn Weigher<K, V>>>,
    listener: Option<Box<dyn EvictionListener<K, V>>>,
    clock: Option<Box<dyn Clock>>,
    monitor: Option<StdArc<dyn Monitor>>,
}

impl<K, V, S> fmt::Debug for CacheBuilder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("config", &self.config)
            .field("weigher", &self.weigher.is_some())
            .field("listener", &self.listener.is_some())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<K, V> Default for CacheBuilder<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> CacheBuilder<K, V> {
    /// A builder with [`CacheConfig::default`].
    pub fn new() -> Self {
        Self {
            hasher: DefaultHashBuilder::default(),
            config: CacheConfig::default(),
            weigher: None,
            listener: None,
            clock: None,
            monitor: None,
        }
    }

    /// Hashes keys with `hasher` instead of the default (randomly seeded) one, for example a
    /// fixed-seed hasher to make simulations repeatable.
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> CacheBuilder<K, V, S2> {
        CacheBuilder {
            hasher,
            config: self.config,
            weigher: self.weigher,
            listener: self.listener,
            clock: self.clock,
            monitor: self.monitor,
        }
    }
}

impl<K, V, S> CacheBuilder<K, V, S> {
    /// Replaces all [`CacheConfig`] fields at once.
    pub fn config(mut self, config: CacheConfig) -> Self {
        self.config = config;
        self
    }

    /// See [`CacheConfig::max_size`].
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// See [`CacheConfig::max_weight`]; requires a [`weigher`](Self::weigher) to matter.
    pub fn max_weight(mut self, max_weight: u64) -> Self {
        self.config.max_weight = Some(max_weight);
        self
    }

    /// See [`CacheConfig::shards`].
    pub fn shards(mut self, shards: usize) -> Self {
        self.config.shards = shards;
        self
    }

    /// See [`CacheConfig::eviction_policy`].
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.config.eviction_policy = policy;
        self
    }

    /// See [`CacheConfig::default_ttl`].
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.config.default_ttl = Some(ttl);
        self
    }

    /// See [`CacheConfig::cleanup_interval`].
    pub fn cleanup_interval(mut self, every: Duration) -> Self {
        self.config.cleanup_interval = Some(every);
        self
    }

    /// Measures entries for [`max_weight`](Self::max_weight).
    pub fn weigher(mut self, weigher: impl Weigher<K, V> + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Called for every entry that leaves the cache, with the cause.
    pub fn eviction_listener(mut self, listener: impl EvictionListener<K, V> + 'static) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The time source for expiry (default [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Receives hit, miss, insert, removal and load events.
    pub fn monitor(mut self, monitor: StdArc<dyn Monitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }
}

impl<K, V, S> CacheBuilder<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Clone + Send + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Validates the settings and builds the cache (starting the cleanup thread if asked).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: see [`CacheConfig::validate`]; also if a weigher is
    /// set without `max_weight`.
    pub fn build(self) -> Result<ShardedCache<K, V, S>, ConfigError> {
        self.config.validate()?;
        if self.weigher.is_some() && self.config.max_weight.is_none() {
            return Err(ConfigError::new(
                "max_weight",
                "must be set when a weigher is given",
            ));
        }
        let config = self.config.clone();
        Ok(ShardedCache::from_parts(config, self))
    }
}

/// A cache registered with a [`ResourceRegistry`](crate::resource::ResourceRegistry) is shut
/// down by its `cleanup_all`: the background cleanup thread is stopped (waiting for it until
/// the deadline), then every entry is released (reported to the listener as `Removed`).
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::ShardedCache;
/// use patinox_memory::resource::ResourceRegistry;
/// use std::time::Duration;
///
/// let cache: ShardedCache<u32, String> =
///     ShardedCache::builder().max_size(100).cleanup_interval(Duration::from_secs(30)).build()?;
/// cache.insert(1, "one".to_owned());
/// let registry = ResourceRegistry::new();
/// registry.register_component(cache.clone()).unwrap();
///
/// let report = registry.cleanup_all(Duration::from_secs(1));
/// assert!(report.components[0].result.is_ok());
/// assert_eq!(cache.len(), 0);
/// # Ok::<(), patinox_memory::ConfigError>(())
/// ```
impl<K, V, S> crate::resource::ManagedComponent for ShardedCache<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
    Self: Send + Sync,
{
    fn name(&self) -> &str {
        "cache"
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), crate::Error> {
        let started = Instant::now();
        if !self.stop_maintenance(deadline) {
            return Err(crate::Error::Timeout {
                operation: "cache maintenance stop",
                waited: started.elapsed(),
                last_error: None,
            });
        }
        self.invalidate_all();
        Ok(())
    }
}
