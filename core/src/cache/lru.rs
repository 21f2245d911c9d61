//! [`LruCache`]: a single-threaded least-recently-used cache.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashTable};

use super::slab::{List, Slab};

/// A bounded map that evicts the least recently used entry when full.
///
/// Entries live in one slab linked into a recency list by index: every operation is O(1), no
/// entry is allocated on its own, and the code has no `unsafe`. The method names and their
/// meaning follow the [`lru`](https://docs.rs/lru) crate (`put` returns the old value, `push`
/// returns what it displaced, `peek` does not promote, `iter` goes from most to least recent),
/// so it can replace it; a differential test checks both against random operation sequences.
///
/// A capacity of 0 is allowed and stores nothing.
///
/// Not thread-safe by itself; wrap it in a lock or use
/// [`ShardedCache`](super::ShardedCache) for concurrent use.
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::LruCache;
///
/// let mut cache = LruCache::new(2);
/// cache.put("a", 1);
/// cache.put("b", 2);
/// assert_eq!(cache.get(&"a"), Some(&1)); // "a" is now the most recent
/// cache.put("c", 3); // evicts "b", the least recent
/// assert!(!cache.contains(&"b"));
/// let keys: Vec<_> = cache.iter().map(|(k, _)| *k).collect();
/// assert_eq!(keys, ["c", "a"]);
/// ```
pub struct LruCache<K, V, S = DefaultHashBuilder> {
    table: HashTable<u32>,
    slab: Slab<(K, V)>,
    list: List,
    cap: usize,
    hasher: S,
}

impl<K: Hash + Eq, V> LruCache<K, V> {
    /// An empty cache holding at most `capacity` entries (0: holds nothing).
    ///
    /// Entries are addressed by `u32`, so a cache never holds more than
    /// [`MAX_ENTRIES`](super::MAX_ENTRIES) entries whatever its capacity.
    pub fn new(capacity: usize) -> Self {
        Self::with_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> LruCache<K, V, S> {
    /// An empty cache of `capacity` entries using `hasher`.
    pub fn with_hasher(capacity: usize, hasher: S) -> Self {
        let initial = capacity.min(1 << 12);
        Self {
            table: HashTable::with_capacity(initial),
            slab: Slab::with_capacity(initial),
            list: List::new(),
            cap: capacity,
            hasher,
        }
    }

    #[inline]
    fn find<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let slab = &self.slab;
        self.table
            .find(hash, |&i| slab.get(i).0.borrow() == key)
            .copied()
    }

    /// Stores `value` under `key` as the most recent entry; returns the previous value of
    /// `key`, if any. When full, the least recent entry is evicted (and dropped).
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        self.store(key, value).and_then(|d| match d {
            Displaced::Old(_, v) => Some(v),
            Displaced::Evicted(..) => None,
        })
    }

    /// Like [`put`](Self::put), but returns what the call displaced: the passed key with the
    /// old value if `key` was present, else the evicted least recent entry if the cache was
    /// full. With capacity 0 the new entry itself is returned.
    pub fn push(&mut self, key: K, value: V) -> Option<(K, V)> {
        self.store(key, value).map(|d| match d {
            Displaced::Old(k, v) | Displaced::Evicted(k, v) => (k, v),
        })
    }

    fn store(&mut self, key: K, mut value: V) -> Option<Displaced<K, V>> {
        if self.cap == 0 {
            return Some(Displaced::Evicted(key, value));
        }
        let hash = self.hasher.hash_one(&key);
        let slab = &self.slab;
        if let Some(&idx) = self.table.find(hash, |&i| slab.get(i).0 == key) {
            std::mem::swap(&mut self.slab.get_mut(idx).1, &mut value);
            self.slab.move_to_front(&mut self.list, idx);
            return Some(Displaced::Old(key, value));
        }
        let evicted = if self.slab.len() >= self.cap.min(super::MAX_ENTRIES) {
            self.pop_lru().map(|(k, v)| Displaced::Evicted(k, v))
        } else {
            None
        };
        let idx = self.slab.insert((key, value));
        self.slab.push_front(&mut self.list, idx);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.table
            .insert_unique(hash, idx, |&i| hasher.hash_one(&slab.get(i).0));
        evicted
    }

    /// The value of `key`, making it the most recent entry.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.find(key)?;
        self.slab.move_to_front(&mut self.list, idx);
        Some(&self.slab.get(idx).1)
    }

    /// A mutable reference to the value of `key`, making it the most recent entry.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.find(key)?;
        self.slab.move_to_front(&mut self.list, idx);
        Some(&mut self.slab.get_mut(idx).1)
    }

    /// The value of `key` without changing its recency.
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).map(|idx| &self.slab.get(idx).1)
    }

    /// Whether `key` is present (does not change its recency).
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).is_some()
    }

    /// Removes `key` and returns its value.
    pub fn pop<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let slab = &self.slab;
        let entry = self
            .table
            .find_entry(hash, |&i| slab.get(i).0.borrow() == key)
            .ok()?;
        let (idx, _) = entry.remove();
        self.slab.unlink(&mut self.list, idx);
        Some(self.slab.remove(idx).1)
    }

    /// Removes and returns the least recently used entry.
    pub fn pop_lru(&mut self) -> Option<(K, V)> {
        let idx = self.list.tail()?;
        let hash = self.hasher.hash_one(&self.slab.get(idx).0);
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        self.slab.unlink(&mut self.list, idx);
        Some(self.slab.remove(idx))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// The capacity in entries.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Changes the capacity, evicting least recent entries until the cache fits.
    pub fn resize(&mut self, capacity: usize) {
        while self.slab.len() > capacity {
            drop(self.pop_lru());
        }
        self.cap = capacity;
        if capacity == 0 {
            self.slab.shrink_to_fit();
            self.table.shrink_to_fit(|_| 0);
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.table.clear();
        self.slab.clear();
        self.list = List::new();
    }
}

impl<K, V, S> LruCache<K, V, S> {
    /// Entries from the most to the least recently used, without changing recency.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            slab: &self.slab,
            front: self.list.head(),
            back: self.list.tail(),
            remaining: self.list.len(),
        }
    }
}

enum Displaced<K, V> {
    Old(K, V),
    Evicted(K, V),
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for LruCache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruCache")
            .field("len", &self.slab.len())
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl<'a, K, V, S> IntoIterator for &'a LruCache<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// Iterator over an [`LruCache`] from the most to the least recently used entry.
#[derive(Debug)]
pub struct Iter<'a, K, V> {
    slab: &'a Slab<(K, V)>,
    front: Option<u32>,
    back: Option<u32>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let idx = self.front?;
        self.remaining -= 1;
        self.front = self.slab.next(idx);
        let (k, v) = self.slab.get(idx);
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let idx = self.back?;
        self.remaining -= 1;
        self.back = self.slab.prev(idx);
        let (k, v) = self.slab.get(idx);
        Some((k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_zero_stores_nothing() {
        let mut c = LruCache::new(0);
        assert_eq!(c.put(1, 1), None);
        assert_eq!(c.push(2, 2), Some((2, 2)));
        assert!(c.is_empty());
        assert_eq!(c.get(&1), None);
    }

    #[test]
    fn push_returns_old_value_or_evicted_entry() {
        let mut c = LruCache::new(2);
        assert_eq!(c.push(1, "a"), None);
        assert_eq!(c.push(1, "b"), Some((1, "a")));
        assert_eq!(c.push(2, "c"), None);
        assert_eq!(c.push(3, "d"), Some((1, "b")));
        assert_eq!(c.iter().rev().map(|(k, _)| *k).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn peek_does_not_promote_but_get_does() {
        let mut c = LruCache::new(2);
        c.put(1, 1);
        c.put(2, 2);
        assert_eq!(c.peek(&1), Some(&1));
        c.put(3, 3);
        assert!(!c.contains(&1));
        assert_eq!(c.get(&2), Some(&2));
        c.put(4, 4);
        assert!(c.contains(&2) && !c.contains(&3));
    }

    #[test]
    fn resize_evicts_least_recent_first() {
        let mut c = LruCache::new(4);
        for i in 0..4 {
            c.put(i, i);
        }
        c.get(&0);
        c.resize(2);
        assert_eq!(c.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [0, 3]);
        assert_eq!(c.cap(), 2);
        c.clear();
        assert!(c.is_empty());
        c.put(9, 9);
        assert_eq!(c.pop(&9), Some(9));
        assert_eq!(c.pop_lru(), None);
    }
}
