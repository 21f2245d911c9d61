//! [`ShardedMap`]: a concurrent hash map split into independently locked shards.
//!
//! The rule that keeps it deadlock-free is documented on [`ShardedMap`] (public docs).
//!
//! # Layout
//!
//! The shard count is a power of two. A key is hashed once; the shard comes from the hash bits
//! just below the top seven, which hashbrown uses neither for its control bytes (the top seven)
//! nor for the bucket position (the low bits), so keys stay spread within each shard.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
#[cfg(not(loom))]
use std::ops::{Deref, DerefMut};

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::sync::{Arc, RwLock};

/// Debug-build detection of the one rule: which maps this thread holds a shard lock of.
mod held {
    #[cfg(all(debug_assertions, not(loom)))]
    use std::cell::RefCell;

    #[cfg(all(debug_assertions, not(loom)))]
    thread_local! {
        static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// Marks that this thread holds a lock of the map at an address, until dropped.
    #[derive(Debug)]
    pub(super) struct Token {
        #[cfg(all(debug_assertions, not(loom)))]
        map: usize,
    }

    /// Records that this thread is about to lock a shard of the map at `map`.
    ///
    /// # Panics
    ///
    /// In debug builds, if this thread already holds a lock of the same map: the call would
    /// deadlock (the map's one rule).
    #[inline]
    pub(super) fn enter(map: usize) -> Token {
        #[cfg(all(debug_assertions, not(loom)))]
        {
            let nested = HELD.with(|held| {
                let mut held = held.borrow_mut();
                let nested = held.contains(&map);
                if !nested {
                    held.push(map);
                }
                nested
            });
            assert!(
                !nested,
                "ShardedMap called while this thread holds one of its guards or runs inside one \
                 of its closures; this would deadlock. Drop the guard first, or use get_cloned / \
                 iter_cloned"
            );
            Token { map }
        }
        #[cfg(not(all(debug_assertions, not(loom))))]
        {
            let _ = map;
            Token {}
        }
    }

    #[cfg(all(debug_assertions, not(loom)))]
    impl Drop for Token {
        fn drop(&mut self) {
            // `try_with`: the thread-local may already be gone when a guard is dropped during
            // thread teardown.
            let _ = HELD.try_with(|held| {
                let mut held = held.borrow_mut();
                if let Some(i) = held.iter().rposition(|&m| m == self.map) {
                    held.swap_remove(i);
                }
            });
        }
    }
}

/// A shared, reference-counted [`ShardedMap`]: clone it into each thread.
pub type SharedMap<K, V, S = RandomState> = Arc<ShardedMap<K, V, S>>;

/// Largest shard count accepted; larger requests are clamped to it.
pub const MAX_SHARDS: usize = 1 << 16;

type Shard<K, V> = CachePadded<RwLock<HashTable<(K, V)>>>;

/// A concurrent hash map made of `RwLock`-protected hashbrown tables.
///
/// # The one rule
///
/// Every method locks one shard at a time and releases it before returning, except the guard
/// methods ([`get`](ShardedMap::get), [`get_mut`](ShardedMap::get_mut)) whose guard keeps its
/// shard locked until dropped, and the closures given to [`with`](ShardedMap::with),
/// [`with_mut`](ShardedMap::with_mut), [`update`](ShardedMap::update),
/// [`retain`](ShardedMap::retain) and [`for_each`](ShardedMap::for_each), which run while their
/// shard is locked. Hence the rule: **do not call the same map while holding one of its guards or
/// from inside one of its closures.** Doing so can deadlock, exactly as with `dashmap`.
///
/// The closure methods make the rule hard to break by accident: the closure receives only the
/// value (or key and value), never the map, and the lock is released when it returns. Guards are
/// for the rare case where a borrowed value must cross a few statements; keep them in a tight
/// scope. [`get_cloned`](ShardedMap::get_cloned) and [`iter_cloned`](ShardedMap::iter_cloned)
/// hold no lock at all once they return.
///
/// In debug builds the rule is checked: calling a map from a thread that already holds one of
/// that map's locks (through a guard or inside a closure) panics with a message naming the rule,
/// instead of deadlocking. Release builds skip the check (it costs a thread-local lookup per
/// call).
///
/// # Examples
///
/// ```
/// use patinox_memory::share::{ShardedMap, SharedMap};
/// use std::sync::Arc;
///
/// let map: SharedMap<String, u64> = Arc::new(ShardedMap::new());
/// let handles: Vec<_> = (0..4)
///     .map(|t| {
///         let map = Arc::clone(&map);
///         std::thread::spawn(move || {
///             for i in 0..100 {
///                 map.insert(format!("{t}-{i}"), i);
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(map.len(), 400);
///
/// // Closure access: the lock is released when the closure returns.
/// map.with_mut("1-5", |v| *v += 1000);
/// assert_eq!(map.get_cloned("1-5"), Some(1005));
///
/// // Insert-or-update in one locked step.
/// map.update("hits".to_owned(), |slot| *slot.get_or_insert(0) += 1);
/// assert_eq!(map.get_cloned("hits"), Some(1));
/// ```
pub struct ShardedMap<K, V, S = RandomState> {
    shards: Box<[Shard<K, V>]>,
    /// Right shift that leaves `log2(shards)` bits of `hash << 7`; 64 when there is one shard.
    shift: u32,
    hasher: S,
}

/// Shared access to one value of a [`ShardedMap`]; its shard stays read-locked until the guard is
/// dropped. Do not call the same map while holding it.
#[cfg(not(loom))]
#[must_use = "the shard stays locked while the guard lives; drop it as soon as possible"]
pub struct MapRef<'a, V> {
    guard: parking_lot::MappedRwLockReadGuard<'a, V>,
    _held: held::Token,
}

/// Exclusive access to one value of a [`ShardedMap`]; its shard stays write-locked until the guard
/// is dropped. Do not call the same map while holding it.
#[cfg(not(loom))]
#[must_use = "the shard stays locked while the guard lives; drop it as soon as possible"]
pub struct MapRefMut<'a, V> {
    guard: parking_lot::MappedRwLockWriteGuard<'a, V>,
    _held: held::Token,
}

/// The least shard count of [`ShardedMap::new`].
pub const MIN_DEFAULT_SHARDS: usize = 32;

/// Four shards per CPU, and at least [`MIN_DEFAULT_SHARDS`].
///
/// Four per CPU alone leaves a small machine with few shards: on 2 CPUs, 8 shards made two
/// threads meet on a shard lock often enough that 32 shards ran 13-20 % faster with 2 threads
/// (`compare map` workloads, interleaved A/B), and as fast with 1. A shard costs 128 bytes
/// empty, and `len`, iteration and `clear` visit every shard.
fn default_shards() -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    cpus.saturating_mul(4).max(MIN_DEFAULT_SHARDS)
}

impl<K: Hash + Eq, V> ShardedMap<K, V, RandomState> {
    /// An empty map with four shards per CPU and at least [`MIN_DEFAULT_SHARDS`] (rounded up to
    /// a power of two).
    pub fn new() -> Self {
        Self::with_shards_and_hasher(default_shards(), RandomState::new())
    }

    /// An empty map with `shards` shards, rounded up to a power of two and clamped to
    /// `1..=`[`MAX_SHARDS`]. Use [`shards`](Self::shards) to see the count chosen.
    pub fn with_shards(shards: usize) -> Self {
        Self::with_shards_and_hasher(shards, RandomState::new())
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// Marks this thread as holding a lock of this map (checked in debug builds).
    #[inline]
    fn enter(&self) -> held::Token {
        held::enter(self as *const Self as usize)
    }
}

impl<K: Hash + Eq, V> Default for ShardedMap<K, V, RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// An empty map with the default shard count and the given hasher.
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_shards_and_hasher(default_shards(), hasher)
    }

    /// An empty map with `shards` shards (rounded and clamped as in
    /// [`with_shards`](ShardedMap::with_shards)) and the given hasher.
    pub fn with_shards_and_hasher(shards: usize, hasher: S) -> Self {
        let n = shards
            .clamp(1, MAX_SHARDS)
            .checked_next_power_of_two()
            .unwrap_or(MAX_SHARDS);
        let bits = n.trailing_zeros();
        Self {
            shards: (0..n)
                .map(|_| CachePadded::new(RwLock::new(HashTable::new())))
                .collect(),
            shift: 64 - bits,
            hasher,
        }
    }

    /// Number of shards (a power of two).
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<HashTable<(K, V)>> {
        // The top 7 bits are hashbrown's control tag; take the bits right below them.
        let index = (hash << 7).checked_shr(self.shift).unwrap_or(0) as usize;
        &self.shards[index & (self.shards.len() - 1)]
    }

    /// Inserts `value` under `key`, returning the value it replaced.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        let _held = self.enter();
        let mut table = self.shard(hash).write();
        match table.entry(hash, |(k, _)| *k == key, |(k, _)| self.hasher.hash_one(k)) {
            Entry::Occupied(mut occupied) => {
                Some(std::mem::replace(&mut occupied.get_mut().1, value))
            }
            Entry::Vacant(vacant) => {
                vacant.insert((key, value));
                None
            }
        }
    }

    /// A clone of the value under `key`. No lock is held once it returns.
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.with(key, V::clone)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.with(key, |_| ()).is_some()
    }

    /// Runs `f` on the value under `key` while its shard is read-locked, returning `f`'s result,
    /// or `None` if the key is absent.
    ///
    /// `f` gets only the value; do not let it reach the map through a capture (see the
    /// [one rule](ShardedMap#the-one-rule)). If `f` panics, the panic propagates and the map is
    /// unchanged.
    ///
    /// # Panics
    ///
    /// In debug builds, if this thread already holds one of this map's locks (a guard, or inside
    /// one of its closures): the call would deadlock. Every locking method checks the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::ShardedMap;
    ///
    /// let map = ShardedMap::new();
    /// map.insert("user", vec![1, 2, 3]);
    /// assert_eq!(map.with("user", |v| v.len()), Some(3));
    /// assert_eq!(map.with("nobody", |v| v.len()), None);
    /// ```
    pub fn with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let _held = self.enter();
        let table = self.shard(hash).read();
        table
            .find(hash, |(k, _)| k.borrow() == key)
            .map(|(_, v)| f(v))
    }

    /// Runs `f` on the value under `key` while its shard is write-locked, returning `f`'s result,
    /// or `None` if the key is absent. Same rule as [`with`](Self::with).
    pub fn with_mut<Q, R>(&self, key: &Q, f: impl FnOnce(&mut V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let _held = self.enter();
        let mut table = self.shard(hash).write();
        table
            .find_mut(hash, |(k, _)| k.borrow() == key)
            .map(|(_, v)| f(v))
    }

    /// Inserts, changes or removes the entry under `key` in one locked step.
    ///
    /// `f` receives the slot: `None` if the key is absent, `Some(value)` if present. Whatever
    /// the slot holds when `f` returns is stored (`None` removes the entry). Same rule as
    /// [`with`](Self::with). If `f` panics, the panic propagates and the key is left absent.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::ShardedMap;
    ///
    /// let counts = ShardedMap::new();
    /// for word in ["a", "b", "a"] {
    ///     counts.update(word, |slot| *slot.get_or_insert(0) += 1);
    /// }
    /// assert_eq!(counts.get_cloned("a"), Some(2));
    /// // Remove when a condition holds, in the same step.
    /// counts.update("b", |slot| if *slot == Some(1) { *slot = None });
    /// assert!(!counts.contains_key("b"));
    /// ```
    pub fn update<R>(&self, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> R {
        let hash = self.hash(&key);
        let _held = self.enter();
        let mut table = self.shard(hash).write();
        match table.entry(hash, |(k, _)| *k == key, |(k, _)| self.hasher.hash_one(k)) {
            Entry::Occupied(occupied) => {
                let ((key, value), vacant) = occupied.remove();
                let mut slot = Some(value);
                let result = f(&mut slot);
                if let Some(value) = slot {
                    vacant.insert((key, value));
                }
                result
            }
            Entry::Vacant(vacant) => {
                let mut slot = None;
                let result = f(&mut slot);
                if let Some(value) = slot {
                    vacant.insert((key, value));
                }
                result
            }
        }
    }

    /// The value under `key`, inserting `make()` first if absent; returns a clone.
    ///
    /// `make` runs under the shard's write lock, so it runs at most once per absent key even
    /// when threads race; keep it cheap and do not call the map from it.
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> V
    where
        V: Clone,
    {
        let hash = self.hash(&key);
        let _held = self.enter();
        let mut table = self.shard(hash).write();
        match table.entry(hash, |(k, _)| *k == key, |(k, _)| self.hasher.hash_one(k)) {
            Entry::Occupied(occupied) => occupied.get().1.clone(),
            Entry::Vacant(vacant) => vacant.insert((key, make())).get().1.clone(),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`, returning the stored key and value.
    pub fn remove_entry<Q>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let _held = self.enter();
        let mut table = self.shard(hash).write();
        match table.find_entry(hash, |(k, _)| k.borrow() == key) {
            Ok(occupied) => Some(occupied.remove().0),
            Err(_) => None,
        }
    }

    /// Keeps only the entries for which `keep` returns `true`, one shard at a time (each shard is
    /// write-locked while `keep` runs on its entries; removed entries are dropped after the lock
    /// is released). Same rule as [`with`](Self::with).
    pub fn retain(&self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let _held = self.enter();
        for shard in self.shards.iter() {
            // Removed entries are dropped after the shard's lock is released.
            let removed: Vec<(K, V)> = shard.write().extract_if(|(k, v)| !keep(k, v)).collect();
            drop(removed);
        }
    }

    /// Number of entries: the sum over shards, each read in turn (not an atomic snapshot while
    /// other threads insert or remove).
    pub fn len(&self) -> usize {
        let _held = self.enter();
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether the map has no entries (same caveat as [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        let _held = self.enter();
        self.shards.iter().all(|s| s.read().is_empty())
    }

    /// Removes every entry, one shard at a time. Values are dropped after each shard's lock is
    /// released.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let taken = {
                let _held = self.enter();
                std::mem::take(&mut *shard.write())
            };
            drop(taken);
        }
    }

    /// Calls `f` on every entry, visiting one shard at a time under its read lock. Same rule as
    /// [`with`](Self::with). Entries inserted or removed concurrently may or may not be seen.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        let _held = self.enter();
        for shard in self.shards.iter() {
            for (k, v) in shard.read().iter() {
                f(k, v);
            }
        }
    }

    /// An iterator over clones of the entries. It copies one shard at a time and holds no lock
    /// between `next` calls that do not cross into a new shard, so the loop body may call the
    /// map freely.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::ShardedMap;
    ///
    /// let map = ShardedMap::with_shards(4);
    /// for i in 0..10 {
    ///     map.insert(i, i * i);
    /// }
    /// for (k, _) in map.iter_cloned() {
    ///     if k % 2 == 0 {
    ///         map.remove(&k); // fine: no lock is held here
    ///     }
    /// }
    /// assert_eq!(map.len(), 5);
    /// ```
    pub fn iter_cloned(&self) -> IterCloned<'_, K, V, S>
    where
        K: Clone,
        V: Clone,
    {
        IterCloned {
            map: self,
            next_shard: 0,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Shared access to the value under `key` through a guard that keeps its shard read-locked.
    ///
    /// **Do not call this map while the guard lives**; prefer [`with`](Self::with) or
    /// [`get_cloned`](Self::get_cloned).
    #[cfg(not(loom))]
    pub fn get<Q>(&self, key: &Q) -> Option<MapRef<'_, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let held = self.enter();
        let table = self.shard(hash).read();
        crate::sync::RwLockReadGuard::try_map(table, |t| {
            t.find(hash, |(k, _)| k.borrow() == key).map(|(_, v)| v)
        })
        .ok()
        .map(|guard| MapRef { guard, _held: held })
    }

    /// Exclusive access to the value under `key` through a guard that keeps its shard
    /// write-locked.
    ///
    /// **Do not call this map while the guard lives**; prefer [`with_mut`](Self::with_mut) or
    /// [`update`](Self::update).
    #[cfg(not(loom))]
    pub fn get_mut<Q>(&self, key: &Q) -> Option<MapRefMut<'_, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let held = self.enter();
        let table = self.shard(hash).write();
        crate::sync::RwLockWriteGuard::try_map(table, |t| {
            t.find_mut(hash, |(k, _)| k.borrow() == key).map(|(_, v)| v)
        })
        .ok()
        .map(|guard| MapRefMut { guard, _held: held })
    }
}

/// Iterator returned by [`ShardedMap::iter_cloned`].
pub struct IterCloned<'a, K, V, S> {
    map: &'a ShardedMap<K, V, S>,
    next_shard: usize,
    buffer: std::vec::IntoIter<(K, V)>,
}

impl<K: Clone, V: Clone, S> Iterator for IterCloned<'_, K, V, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(item);
            }
            let shard = self.map.shards.get(self.next_shard)?;
            self.next_shard += 1;
            let copy: Vec<(K, V)> = {
                let _held = self.map.enter();
                shard.read().iter().cloned().collect()
            };
            self.buffer = copy.into_iter();
        }
    }
}

impl<K, V, S> fmt::Debug for IterCloned<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterCloned")
            .field("next_shard", &self.next_shard)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<K, V, S> fmt::Debug for ShardedMap<K, V, S> {
    /// Shows the shard count and, for each shard that is not locked right now, its length (never
    /// waits for a lock, so it is safe to call anywhere).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lens: Vec<Option<usize>> = self
            .shards
            .iter()
            .map(|s| s.try_read().map(|t| t.len()))
            .collect();
        f.debug_struct("ShardedMap")
            .field("shards", &self.shards.len())
            .field("shard_lens", &lens)
            .finish()
    }
}

#[cfg(not(loom))]
impl<V> Deref for MapRef<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.guard
    }
}

#[cfg(not(loom))]
impl<V> Deref for MapRefMut<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.guard
    }
}

#[cfg(not(loom))]
impl<V> DerefMut for MapRefMut<'_, V> {
    fn deref_mut(&mut self) -> &mut V {
        &mut self.guard
    }
}

#[cfg(not(loom))]
impl<V: fmt::Debug> fmt::Debug for MapRef<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(not(loom))]
impl<V: fmt::Debug> fmt::Debug for MapRefMut<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn map_insert_get_remove_roundtrip() {
        let map = ShardedMap::with_shards(4);
        assert!(map.is_empty());
        assert_eq!(map.insert("a", 1), None);
        assert_eq!(map.insert("a", 2), Some(1));
        assert_eq!(map.get_cloned("a"), Some(2));
        assert!(map.contains_key("a"));
        assert_eq!(map.len(), 1);
        assert_eq!(map.remove("a"), Some(2));
        assert_eq!(map.remove("a"), None);
        assert!(map.is_empty());
    }

    #[test]
    fn map_shard_count_is_rounded_and_clamped() {
        assert_eq!(ShardedMap::<u8, u8>::with_shards(0).shards(), 1);
        assert_eq!(ShardedMap::<u8, u8>::with_shards(5).shards(), 8);
        assert_eq!(
            ShardedMap::<u8, u8>::with_shards(usize::MAX).shards(),
            MAX_SHARDS
        );
        let default = ShardedMap::<u8, u8>::new().shards();
        assert!(
            default.is_power_of_two() && default >= MIN_DEFAULT_SHARDS,
            "{default}"
        );
    }

    #[test]
    fn map_single_shard_works() {
        let map = ShardedMap::with_shards(1);
        for i in 0..100 {
            map.insert(i, i);
        }
        assert_eq!(map.len(), 100);
        assert_eq!(map.get_cloned(&42), Some(42));
    }

    #[test]
    fn map_keys_spread_over_shards() {
        let map = ShardedMap::with_shards(8);
        for i in 0..8_000u32 {
            map.insert(i, ());
        }
        for shard in map.shards.iter() {
            let n = shard.read().len();
            assert!((500..1500).contains(&n), "unbalanced shard: {n}");
        }
    }

    #[test]
    fn map_update_inserts_changes_and_removes() {
        let map = ShardedMap::with_shards(2);
        assert_eq!(map.update("k", |s| s.replace(1)), None);
        assert_eq!(map.update("k", |s| s.map(|v| v + 1)), Some(2));
        // The closure above returned the new value but left the slot unchanged.
        assert_eq!(map.get_cloned("k"), Some(1));
        map.update("k", |s| *s = None);
        assert!(!map.contains_key("k"));
        assert_eq!(map.get_or_insert_with("k", || 7), 7);
        assert_eq!(map.get_or_insert_with("k", || 8), 7);
    }

    #[test]
    fn map_guards_read_and_write() {
        let map = ShardedMap::with_shards(2);
        map.insert(1, String::from("x"));
        {
            let mut g = map.get_mut(&1).unwrap();
            g.push('y');
        }
        assert_eq!(&*map.get(&1).unwrap(), "xy");
        assert!(map.get(&2).is_none());
        assert!(map.get_mut(&2).is_none());
        assert_eq!(map.with_mut(&1, |s| s.len()), Some(2));
    }

    #[test]
    fn map_retain_clear_and_iteration() {
        let map = ShardedMap::with_shards(4);
        for i in 0..50 {
            map.insert(i, i);
        }
        map.retain(|k, v| {
            *v += 1;
            k % 5 == 0
        });
        let mut seen: Vec<_> = map.iter_cloned().collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..50).step_by(5).map(|i| (i, i + 1)).collect::<Vec<_>>()
        );
        let mut sum = 0;
        map.for_each(|_, v| sum += v);
        assert_eq!(sum, seen.iter().map(|(_, v)| v).sum::<i32>());
        map.clear();
        assert!(map.is_empty());
        assert_eq!(map.iter_cloned().count(), 0);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "would deadlock")]
    fn map_call_inside_a_closure_panics_in_debug_builds() {
        let map = ShardedMap::with_shards(1);
        map.insert(1, 1);
        map.with(&1, |_| map.insert(2, 2));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "would deadlock")]
    fn map_call_while_holding_a_guard_panics_in_debug_builds() {
        let map = ShardedMap::with_shards(1);
        map.insert(1, 1);
        let _guard = map.get(&1);
        let _ = map.len();
    }

    #[test]
    fn map_nesting_two_different_maps_is_allowed() {
        let a = ShardedMap::with_shards(1);
        let b = ShardedMap::with_shards(1);
        a.insert(1, 10);
        b.insert(1, 20);
        let sum = a.with(&1, |x| b.with(&1, |y| x + y));
        assert_eq!(sum, Some(Some(30)));
        let guard = a.get(&1).unwrap();
        b.insert(2, *guard);
        drop(guard);
        // After the guard is gone the map is usable again on this thread.
        a.insert(2, 0);
        assert_eq!(a.len(), 2);
        assert_eq!(b.get_cloned(&2), Some(10));
    }

    #[test]
    fn map_iter_cloned_allows_writes_in_the_loop() {
        let map = ShardedMap::with_shards(2);
        for i in 0..20 {
            map.insert(i, 0);
        }
        for (k, _) in map.iter_cloned() {
            map.insert(k, 1);
            map.with_mut(&k, |v| *v += 1);
        }
        let mut ok = true;
        map.for_each(|_, v| ok &= *v == 2);
        assert!(ok);
    }
}
