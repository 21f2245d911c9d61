//! The single-threaded engine of one cache shard: a hash table over a slab of entries, an
//! eviction policy ([`lru`] or [`tinylfu`]), weights, expiry times and counters.
//!
//! It knows nothing about locks, clocks or listeners: [`ShardedCache`](super::ShardedCache)
//! wraps one [`Store`] per shard in a mutex, passes the current time in, and receives every
//! removed entry in a [`Removals`] buffer so that values are dropped and listeners run after the
//! lock is released. Keeping it separate lets the policy be tested and fuzzed alone.

pub(crate) mod lru;
pub(crate) mod tinylfu;

use std::borrow::Borrow;
use std::hash::Hash;

use hashbrown::HashTable;

use super::config::EvictionPolicy;
use super::slab::Slab;
use crate::monitor::RemovalCause;

/// Segment tags of an entry (LRU uses only `WINDOW`).
pub(crate) const WINDOW: u8 = 0;
pub(crate) const PROBATION: u8 = 1;
pub(crate) const PROTECTED: u8 = 2;

/// "Never expires".
pub(crate) const NEVER: u64 = u64::MAX;

/// One cached entry. Its key's hash is kept beside its links in the slab ([`Slab::meta`]): a
/// hit does not need it, so the entry of a `u64` key and value fits in 32 bytes.
#[derive(Debug)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// Expiry time in nanoseconds since the cache's origin; [`NEVER`] for none.
    pub(crate) expires: u64,
    pub(crate) weight: u32,
    pub(crate) segment: u8,
    /// Hit since TinyLFU last moved it (TinyLFU's deferred promotion; unused by LRU).
    pub(crate) referenced: bool,
    /// TinyLFU: the key's sketch estimate when it was stored or last counted (unused by LRU),
    /// valid while the sketch's [`ages`](crate::cache::sketch::FrequencySketch::ages) equals
    /// `stamp_age`. See [`tinylfu`]'s docs.
    pub(crate) stamp: u8,
    pub(crate) stamp_age: u8,
}

/// Entries removed by an operation, handed back so they are dropped (and reported) outside
/// the shard's lock. Holds the common single removal inline.
#[derive(Debug)]
pub(crate) struct Removals<K, V> {
    first: Option<(K, V, RemovalCause)>,
    rest: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Default for Removals<K, V> {
    fn default() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<K, V> Removals<K, V> {
    pub(crate) fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.first.is_none() {
            self.first = Some((key, value, cause));
        } else {
            self.rest.push((key, value, cause));
        }
    }

    /// Whether nothing was pushed. `rest` is only pushed to while `first` is set, so an empty
    /// buffer owns no allocation either.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        debug_assert!(self.first.is_some() || self.rest.is_empty());
        self.first.is_none()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn into_iter(self) -> impl Iterator<Item = (K, V, RemovalCause)> {
        self.first.into_iter().chain(self.rest)
    }
}

/// What [`Store::lookup`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A live entry, at this slab index (promoted and counted).
    Hit(u32),
    /// No entry (counted).
    Miss,
    /// An expired entry at this index, not yet removed nor counted.
    Expired(u32),
}

/// Counters of one store, read under its lock (so they always add up).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) inserts: u64,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
}

#[derive(Debug)]
enum Policy {
    Lru(lru::Lru),
    TinyLfu(Box<tinylfu::TinyLfu>),
}

/// A bounded map with an eviction policy, weights and expiry times: one shard's state.
///
/// **Invariant (I)**, relied on by the unchecked slab accesses of the hot paths: the table
/// holds exactly the occupied slots of `slab`, and every occupied slot is in exactly one of
/// the policy's lists (the one its `segment` names; LRU has one list), except transiently
/// inside [`insert`](Self::insert) between storing an entry and linking it. Only this type
/// and its policies touch the slab, and every removal goes through
/// [`remove_index`](Self::remove_index), which unlinks and unindexes the slot before freeing
/// it; [`drain`](Self::drain) resets all three together.
///
/// The fields are laid out in order (`repr(C)`) so that what a hit writes (the hit count)
/// and most of what it reads (the table) sit in the store's first cache line with the
/// shard's lock byte, and the rest of what it reads (the policy, the slab's arrays) in a
/// second line that, with TinyLFU, inserts do not write either: under several threads a hit
/// then moves as few lines between cores as it can.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Store<K, V> {
    table: HashTable<u32>,
    hits: u64,
    misses: u64,
    inserts: u64,
    policy: Policy,
    slab: Slab<Entry<K, V>, u64>,
    evictions: u64,
    expirations: u64,
    max_len: usize,
    max_weight: u64,
    weight: u64,
    weighted: bool,
    /// Tests turn TinyLFU's one-entry eviction shortcut off to check it against the general
    /// round.
    #[cfg(test)]
    general_eviction_only: bool,
}

/// Entries are addressed by `u32`.
const MAX_LEN: usize = super::MAX_ENTRIES;

impl<K: Hash + Eq, V> Store<K, V> {
    /// A store of at most `max_len` entries and, if `max_weight` is given, at most that total
    /// weight (then the policy's segments are sized in weight units).
    pub(crate) fn new(policy: EvictionPolicy, max_len: usize, max_weight: Option<u64>) -> Self {
        let max_len = max_len.min(MAX_LEN);
        let policy = match policy {
            EvictionPolicy::Lru => Policy::Lru(lru::Lru::default()),
            EvictionPolicy::TinyLfu => Policy::TinyLfu(Box::new(tinylfu::TinyLfu::new(
                max_weight.unwrap_or(max_len as u64),
                max_len,
            ))),
        };
        Self {
            table: HashTable::new(),
            slab: Slab::new(),
            policy,
            max_len,
            max_weight: max_weight.unwrap_or(u64::MAX),
            weighted: max_weight.is_some(),
            weight: 0,
            hits: 0,
            misses: 0,
            inserts: 0,
            evictions: 0,
            expirations: 0,
            #[cfg(test)]
            general_eviction_only: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// The store's counters.
    pub(crate) fn counters(&self) -> Counters {
        Counters {
            hits: self.hits,
            misses: self.misses,
            inserts: self.inserts,
            evictions: self.evictions,
            expirations: self.expirations,
        }
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slab = &self.slab;
        let eq = |&i: &u32| {
            // SAFETY: indices in the table are occupied slots (invariant (I)).
            let e = unsafe { slab.get_unchecked(i) };
            e.key.borrow() == key
        };
        self.table.find(hash, eq).copied()
    }

    /// Looks `key` up at time `now`: a live entry is promoted and counted as a hit; an expired
    /// one is removed into `out` and counted as an expiration and a miss. (The cache itself
    /// uses [`lookup`](Self::lookup).)
    #[cfg(test)]
    pub(crate) fn get<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: u64,
        out: &mut Removals<K, V>,
    ) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.lookup(hash, key, now) {
            Lookup::Hit(idx) => Some(&self.slab.get(idx).value),
            Lookup::Miss => None,
            Lookup::Expired(idx) => {
                self.expire_on_lookup(hash, idx, out);
                None
            }
        }
    }

    /// [`get`](Self::get) without the removal buffer: a hit is promoted and counted, a miss
    /// counted, and an expired entry is left for the caller to pass to
    /// [`expire_on_lookup`](Self::expire_on_lookup) (the common paths then build no buffer).
    #[inline]
    pub(crate) fn lookup<Q>(&mut self, hash: u64, key: &Q, now: u64) -> Lookup
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Policy::TinyLfu(p) = &self.policy {
            // A miss or a first hit counts the key in the sketch: start loading its counters
            // now, so that cache miss overlaps the table probe's instead of following it.
            // Measured (Zipf(1.0), 100k entries, 2-core Intel VM, medians of 9 and 11
            // processes against quick_cache, with `Inner::lookup` inlined): 4-5 % off the time
            // per operation with one thread, 2 % with two.
            p.prefetch_counters(hash);
        }
        let found = self.find(hash, key);
        let Some(idx) = found else {
            self.count_miss(hash);
            return Lookup::Miss;
        };
        // SAFETY: `idx` comes from the table (invariant (I)).
        if unsafe { self.slab.get_unchecked(idx) }.expires <= now {
            return Lookup::Expired(idx);
        }
        self.hits += 1;
        match &mut self.policy {
            // SAFETY: `idx` is occupied (from the table) and the policy's lists are threaded
            // through this slab (invariant (I)).
            Policy::Lru(p) => unsafe { p.on_hit(&mut self.slab, idx) },
            Policy::TinyLfu(p) => {
                // SAFETY: as above.
                if unsafe { p.on_hit(&mut self.slab, idx) } {
                    // SAFETY: as above.
                    unsafe { p.count_hit(&mut self.slab, idx, hash) };
                }
                p.climb_if_sampled(self.hits, self.hits + self.misses);
            }
        }
        Lookup::Hit(idx)
    }

    /// The value of the live entry at `idx` (from [`Lookup::Hit`]), without bounds or
    /// occupancy check.
    ///
    /// # Safety
    ///
    /// `idx` came from a [`Lookup::Hit`] of this store, with no other call on the store since.
    #[inline]
    pub(crate) unsafe fn value_unchecked(&self, idx: u32) -> &V {
        // SAFETY: a hit's index is an occupied slot, and nothing removed it since.
        &unsafe { self.slab.get_unchecked(idx) }.value
    }

    /// A lookup found `idx` expired: removes it and counts a miss.
    #[cold]
    #[inline(never)]
    pub(crate) fn expire_on_lookup(&mut self, hash: u64, idx: u32, out: &mut Removals<K, V>) {
        self.remove_index(idx, RemovalCause::Expired, out);
        self.count_miss(hash);
    }

    #[inline]
    fn count_miss(&mut self, hash: u64) {
        self.misses += 1;
        // The caller usually inserts next, and a full store then evicts: start loading what
        // the eviction reads first (the lists' tails), so those misses overlap the insert's
        // own work instead of adding to it.
        let full = self.slab.len() >= self.max_len;
        match &mut self.policy {
            Policy::Lru(p) => {
                if full && let Some(tail) = p.list.tail() {
                    self.slab.prefetch(tail);
                }
            }
            Policy::TinyLfu(p) => {
                if full {
                    if let Some(tail) = p.window.tail() {
                        self.slab.prefetch(tail);
                    }
                    if let Some(tail) = p.probation.tail() {
                        self.slab.prefetch(tail);
                    }
                }
            }
        }
        if let Policy::TinyLfu(p) = &mut self.policy {
            p.count_miss(&mut self.slab, hash);
            p.climb_if_sampled(self.hits, self.hits + self.misses);
        }
    }

    /// Whether `key` has a live entry at `now` (no promotion, not counted).
    pub(crate) fn contains<Q>(&self, hash: u64, key: &Q, now: u64) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(hash, key)
            .is_some_and(|idx| self.slab.get(idx).expires > now)
    }

    /// The value of a live entry at `now` without promotion or counting.
    pub(crate) fn peek<Q>(&self, hash: u64, key: &Q, now: u64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.find(hash, key)?;
        let e = self.slab.get(idx);
        (e.expires > now).then_some(&e.value)
    }

    /// Stores `key` → `value`. A previous value is handed back in `out` as `Replaced`; entries
    /// evicted to make room as `Size`. An entry heavier than the whole store is not stored and
    /// comes back as `Size` too.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        expires: u64,
        out: &mut Removals<K, V>,
    ) {
        let weight = if self.weighted { weight } else { 1 };
        // Every store counts as an insert, so inserts = entries + evictions + replacements.
        self.inserts += 1;
        if self.max_len == 0 || u64::from(weight) > self.max_weight {
            // The new value cannot be stored; the one it replaces must not outlive it, or a
            // later lookup would return a value older than the last insert.
            if let Some(idx) = self.find(hash, &key) {
                self.remove_index(idx, RemovalCause::Replaced, out);
            }
            self.evictions += 1;
            out.push(key, value, RemovalCause::Size);
            return;
        }
        if let Some(idx) = self.find(hash, &key) {
            self.replace(idx, key, value, weight, expires, out);
        } else {
            let idx = self.slab.insert_with_meta(
                Entry {
                    key,
                    value,
                    expires,
                    weight,
                    segment: WINDOW,
                    referenced: false,
                    stamp: 0,
                    stamp_age: 0,
                },
                hash,
            );
            self.weight += u64::from(weight);
            let slab = &self.slab;
            // SAFETY: indices in the table are occupied slots (invariant (I)).
            let rehash = |&i: &u32| unsafe { slab.meta_unchecked(i) };
            self.table.insert_unique(hash, idx, rehash);
            match &mut self.policy {
                // SAFETY: `idx` was just stored and is in no list yet; linking it restores (I).
                Policy::Lru(p) => unsafe { p.on_insert(&mut self.slab, idx) },
                // SAFETY: as above.
                Policy::TinyLfu(p) => unsafe { p.on_insert(&mut self.slab, idx) },
            }
        }
        self.evict(out);
    }

    /// Replaces the value of the entry at `idx` (the old one goes to `out` as `Replaced`).
    fn replace(
        &mut self,
        idx: u32,
        key: K,
        value: V,
        weight: u32,
        expires: u64,
        out: &mut Removals<K, V>,
    ) {
        // SAFETY: `idx` comes from the table (invariant (I)).
        let e = unsafe { self.slab.get_unchecked_mut(idx) };
        let old_value = std::mem::replace(&mut e.value, value);
        let old_weight = std::mem::replace(&mut e.weight, weight);
        e.expires = expires;
        self.weight = self.weight - u64::from(old_weight) + u64::from(weight);
        match &mut self.policy {
            // SAFETY: `idx` is occupied (from the table) and in one of the policy's lists over
            // this slab (invariant (I)).
            Policy::Lru(p) => unsafe { p.on_hit(&mut self.slab, idx) },
            // SAFETY: as above.
            Policy::TinyLfu(p) => unsafe {
                p.on_reweigh(&mut self.slab, idx, old_weight);
                let _moved = p.on_hit(&mut self.slab, idx);
            },
        }
        out.push(key, old_value, RemovalCause::Replaced);
    }

    fn over(&self) -> bool {
        self.slab.len() > self.max_len || self.weight > self.max_weight
    }

    /// Evicts until the store is within its bounds.
    fn evict(&mut self, out: &mut Removals<K, V>) {
        if !self.over() {
            return;
        }
        if let Policy::TinyLfu(p) = &mut self.policy {
            #[cfg(test)]
            let shortcut = !self.general_eviction_only;
            #[cfg(not(test))]
            let shortcut = true;
            if shortcut && !self.weighted && self.slab.len() == self.max_len + 1 {
                // SAFETY: the policy's lists are threaded through this slab (invariant (I)).
                if let Some(victim) = unsafe { p.evict_one_unit(&mut self.slab) } {
                    // One unit-weight entry over: this removal ends the round.
                    self.evictions += 1;
                    self.remove_index(victim, RemovalCause::Size, out);
                    debug_assert!(!self.over());
                    return;
                }
            }
            // SAFETY: as above.
            unsafe { p.begin_evict(&mut self.slab) };
        }
        while self.over() {
            let victim = match &mut self.policy {
                Policy::Lru(p) => p.select_victim(),
                // SAFETY: as above.
                Policy::TinyLfu(p) => unsafe { p.select_victim(&mut self.slab) },
            };
            let Some(victim) = victim else { break };
            self.evictions += 1;
            self.remove_index(victim, RemovalCause::Size, out);
        }
    }

    /// Removes the entry at `idx` into `out` with `cause` (expirations are counted here).
    #[inline]
    fn remove_index(&mut self, idx: u32, cause: RemovalCause, out: &mut Removals<K, V>) {
        if self.slab.try_get(idx).is_none() {
            debug_assert!(false, "remove_index of free slot {idx}");
            return;
        }
        // SAFETY: checked occupied just above.
        let hash = unsafe { self.slab.meta_unchecked(idx) };
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        match &mut self.policy {
            // SAFETY: `idx` is occupied (checked above), so it is in one of the policy's lists
            // over this slab (invariant (I)); unlinking and freeing it below keeps (I).
            Policy::Lru(p) => unsafe { p.on_remove(&mut self.slab, idx) },
            // SAFETY: as above.
            Policy::TinyLfu(p) => unsafe { p.on_remove(&mut self.slab, idx) },
        }
        // SAFETY: occupied (checked above) and now unlinked.
        let e = unsafe { self.slab.remove_unchecked(idx) };
        self.weight -= u64::from(e.weight);
        if cause == RemovalCause::Expired {
            self.expirations += 1;
        }
        out.push(e.key, e.value, cause);
    }

    /// Removes `key`; returns its value if it was live at `now` (an expired entry is removed
    /// into `out` as `Expired`).
    pub(crate) fn remove<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: u64,
        out: &mut Removals<K, V>,
    ) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.find(hash, key)?;
        if self.slab.get(idx).expires <= now {
            self.remove_index(idx, RemovalCause::Expired, out);
            return None;
        }
        let mut tmp = Removals::default();
        self.remove_index(idx, RemovalCause::Removed, &mut tmp);
        tmp.first.map(|(k, v, _)| (k, v))
    }

    /// Removes every entry for which `keep` returns false (`Removed`) and every expired one.
    pub(crate) fn retain(
        &mut self,
        now: u64,
        mut keep: impl FnMut(&K, &V) -> bool,
        out: &mut Removals<K, V>,
    ) {
        for idx in 0..self.slab.slot_count() as u32 {
            let Some(e) = self.slab.try_get(idx) else {
                continue;
            };
            if e.expires <= now {
                self.remove_index(idx, RemovalCause::Expired, out);
            } else if !keep(&e.key, &e.value) {
                self.remove_index(idx, RemovalCause::Removed, out);
            }
        }
    }

    /// Removes expired entries among slots `start..start + budget`; returns where the next scan
    /// should start (0 after the last slot).
    pub(crate) fn expire_some(
        &mut self,
        now: u64,
        start: usize,
        budget: usize,
        out: &mut Removals<K, V>,
    ) -> usize {
        let end = start.saturating_add(budget).min(self.slab.slot_count());
        for idx in start..end {
            if self
                .slab
                .try_get(idx as u32)
                .is_some_and(|e| e.expires <= now)
            {
                self.remove_index(idx as u32, RemovalCause::Expired, out);
            }
        }
        if end >= self.slab.slot_count() {
            0
        } else {
            end
        }
    }

    /// Takes every entry out (`Removed`) and forgets the policy's history.
    pub(crate) fn drain(&mut self, out: &mut Removals<K, V>) {
        let slab = std::mem::take(&mut self.slab);
        self.table.clear();
        self.weight = 0;
        match &mut self.policy {
            Policy::Lru(p) => p.clear(),
            Policy::TinyLfu(p) => p.clear(),
        }
        let mut slab = slab;
        for idx in 0..slab.slot_count() as u32 {
            if slab.try_get(idx).is_some() {
                let e = slab.remove(idx);
                out.push(e.key, e.value, RemovalCause::Removed);
            }
        }
    }

    /// Changes the bounds and evicts (`Size`) until the store fits.
    pub(crate) fn set_limits(
        &mut self,
        max_len: usize,
        max_weight: Option<u64>,
        out: &mut Removals<K, V>,
    ) {
        self.max_len = max_len.min(MAX_LEN);
        if let Some(w) = max_weight {
            self.max_weight = w;
        }
        if let Policy::TinyLfu(p) = &mut self.policy {
            let units = if self.weighted {
                self.max_weight
            } else {
                self.max_len as u64
            };
            let (hits, requests) = (self.hits, self.hits + self.misses);
            p.set_capacity(units, self.max_len, hits, requests);
            // Renewing the sketch moved its age count on, possibly round to a kept one's.
            p.forget_estimates_if_wrapped(&mut self.slab);
        }
        self.evict(out);
    }

    /// Keys from the most to the least recently used (LRU policy), or window, probation then
    /// protected (TinyLFU). For tests and debugging.
    #[cfg(test)]
    pub(crate) fn keys_in_order(&self) -> Vec<&K> {
        let lists = match &self.policy {
            Policy::Lru(p) => vec![p.list],
            Policy::TinyLfu(p) => vec![p.window, p.probation, p.protected],
        };
        let mut keys = Vec::new();
        for list in lists {
            let mut cur = list.head();
            while let Some(i) = cur {
                keys.push(&self.slab.get(i).key);
                // A list longer than the slab has a cycle: fail instead of growing forever.
                assert!(keys.len() <= self.slab.len(), "a list has a cycle");
                cur = self.slab.next(i);
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &mut Store<u64, u64>, k: u64) -> Removals<u64, u64> {
        let mut out = Removals::default();
        s.insert(
            k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            k,
            k,
            1,
            NEVER,
            &mut out,
        );
        out
    }

    fn get(s: &mut Store<u64, u64>, k: u64) -> Option<u64> {
        let mut out = Removals::default();
        s.get(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), &k, 0, &mut out)
            .copied()
    }

    #[test]
    fn lru_store_evicts_least_recent() {
        let mut s = Store::new(EvictionPolicy::Lru, 3, None);
        for k in 0..3 {
            put(&mut s, k);
        }
        get(&mut s, 0);
        let out = put(&mut s, 3);
        let evicted: Vec<_> = out.into_iter().collect();
        assert_eq!(evicted, vec![(1, 1, RemovalCause::Size)]);
        assert_eq!(s.keys_in_order(), vec![&3, &0, &2]);
        assert_eq!(s.counters().evictions, 1);
    }

    /// Hot keys requested between scan keys: every hot key recurs after 150 distinct keys, so
    /// an LRU of 100 never hits, while TinyLFU keeps the hot set and rejects the scan.
    fn hot_hits_during_scan(policy: EvictionPolicy) -> f64 {
        let mut s = Store::new(policy, 100, None);
        let (mut hot_hits, mut hot_requests) = (0, 0);
        let mut scan = 1_000u64;
        for round in 0..200 {
            for k in 0..50u64 {
                let hit = get(&mut s, k).is_some();
                if !hit {
                    put(&mut s, k);
                }
                if round >= 20 {
                    hot_requests += 1;
                    hot_hits += u32::from(hit);
                }
                for _ in 0..2 {
                    if get(&mut s, scan).is_none() {
                        put(&mut s, scan);
                    }
                    scan += 1;
                }
            }
            assert!(s.len() <= 100);
        }
        f64::from(hot_hits) / f64::from(hot_requests)
    }

    #[test]
    fn tinylfu_keeps_hot_keys_through_a_scan_that_flushes_lru() {
        let lru = hot_hits_during_scan(EvictionPolicy::Lru);
        let tiny = hot_hits_during_scan(EvictionPolicy::TinyLfu);
        assert_eq!(lru, 0.0);
        assert!(tiny > 0.9, "TinyLFU hot hit ratio {tiny}");
    }

    #[test]
    fn weights_bound_the_store_and_oversized_entries_are_rejected() {
        let mut s: Store<u64, u64> = Store::new(EvictionPolicy::TinyLfu, 100, Some(10));
        let mut out = Removals::default();
        s.insert(1, 1, 1, 11, NEVER, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(s.len(), 0);
        for k in 0..10u64 {
            s.insert(k * 7919, k, k, 3, NEVER, &mut Removals::default());
            assert!(s.weight() <= 10);
        }
        assert!(s.len() <= 3);
    }

    #[test]
    fn an_oversized_insert_removes_the_value_it_replaces() {
        let mut s: Store<u64, u64> = Store::new(EvictionPolicy::Lru, 4, Some(2));
        s.insert(7, 7, 1, 1, NEVER, &mut Removals::default());
        let mut out = Removals::default();
        s.insert(7, 7, 2, 3, NEVER, &mut out);
        let causes: Vec<_> = out.into_iter().collect();
        assert_eq!(
            causes,
            [(7, 1, RemovalCause::Replaced), (7, 2, RemovalCause::Size)]
        );
        assert_eq!(s.get(7, &7, 0, &mut Removals::default()), None);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn expired_entries_are_misses_and_removed() {
        let mut s: Store<u64, u64> = Store::new(EvictionPolicy::Lru, 10, None);
        s.insert(5, 5, 5, 1, 100, &mut Removals::default());
        let mut out = Removals::default();
        assert_eq!(s.get(5, &5, 99, &mut out), Some(&5));
        assert_eq!(s.get(5, &5, 100, &mut out), None);
        assert_eq!(out.len(), 1);
        assert_eq!(s.len(), 0);
        assert_eq!(s.counters().expirations, 1);
        assert_eq!((s.counters().hits, s.counters().misses), (1, 1));
    }

    /// The layout the hit path relies on under several threads (see [`Store`]): the table and
    /// the hit count within the first 56 bytes (the shard's first cache line, after its lock),
    /// the policy and the slab's item array within the next 64, the counters only inserts
    /// write after those.
    #[test]
    fn hit_path_fields_lead_the_store() {
        use std::mem::{offset_of, size_of};
        type S = Store<u64, u64>;
        assert_eq!(offset_of!(S, table), 0);
        assert!(offset_of!(S, hits) + 8 <= 56);
        assert!(offset_of!(S, misses) + 8 <= 56);
        assert!(offset_of!(S, policy) >= 56);
        // The item array (the slab's first field) is what a hit reads of the slab.
        let items_end = offset_of!(S, slab) + size_of::<Vec<u8>>();
        assert!(items_end <= 56 + 64, "the slab's items end at {items_end}");
        assert!(offset_of!(S, evictions) >= 56 + 64);
    }

    /// Every path of the store that uses unchecked slab access (hits, replacements, evictions
    /// with second chances and promotions, expiry, removal, retain, resizing, drain), on both
    /// policies, small enough to run under miri (`.ci/miri-targets`).
    #[test]
    fn miri_store_paths_on_both_policies() {
        for policy in [EvictionPolicy::Lru, EvictionPolicy::TinyLfu] {
            for weighted in [false, true] {
                let max_weight = weighted.then_some(40);
                let mut s: Store<u64, u64> = Store::new(policy, 16, max_weight);
                let mut removed = 0usize;
                for i in 0..300u64 {
                    let k = (i * 7) % 37;
                    let hash = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut out = Removals::default();
                    let expires = if i % 11 == 0 { i + 5 } else { NEVER };
                    match i % 5 {
                        0 | 1 => s.insert(hash, k, i, 1 + (i % 3) as u32, expires, &mut out),
                        2 | 3 => {
                            if let Some(&v) = s.get(hash, &k, i, &mut out) {
                                assert!(v <= i);
                            }
                        }
                        _ => {
                            let _ = s.remove(hash, &k, i, &mut out);
                        }
                    }
                    removed += out.into_iter().count();
                    assert!(s.len() <= 16);
                    assert!(s.weight() <= max_weight.unwrap_or(u64::MAX));
                }
                let mut out = Removals::default();
                s.retain(150, |k, _| k % 2 == 0, &mut out);
                assert!(s.keys_in_order().iter().all(|&&k| k % 2 == 0));
                let mut out = Removals::default();
                s.set_limits(4, max_weight.map(|_| 9), &mut out);
                assert!(s.len() <= 4);
                let mut out = Removals::default();
                let _ = s.expire_some(u64::MAX - 1, 0, 64, &mut out);
                s.insert(1, 1, 1, 1, NEVER, &mut Removals::default());
                let mut out = Removals::default();
                s.drain(&mut out);
                assert_eq!(s.len(), 0);
                assert!(removed > 0);
                s.insert(2, 2, 2, 1, NEVER, &mut Removals::default());
                assert_eq!(s.get(2, &2, 0, &mut Removals::default()), Some(&2));
            }
        }
    }

    /// Every current stamp (see [`tinylfu`]) and the remembered victim estimate are at most
    /// the sketch's estimate of their key (the sketch only grows between agings, and other
    /// keys' increments may raise an estimate without the entry knowing); stamps are equal
    /// to it when `exact` (no other key shares a counter). Returns how many stamps were
    /// current.
    fn check_stamps(s: &Store<u64, u64>, exact: bool) -> usize {
        let Policy::TinyLfu(p) = &s.policy else {
            return 0;
        };
        let mut current = 0;
        for list in [p.window, p.probation, p.protected] {
            let mut cur = list.head();
            while let Some(i) = cur {
                if let Some((stamp, estimate)) = p.stamp_and_estimate(&s.slab, i) {
                    current += 1;
                    let key = s.slab.get(i).key;
                    assert!(
                        u32::from(stamp) <= estimate,
                        "key {key}: {stamp} > {estimate}"
                    );
                    if exact {
                        assert_eq!(u32::from(stamp), estimate, "key {key}");
                    }
                }
                cur = s.slab.next(i);
            }
        }
        // The remembered victim estimate obeys the same rule (and names an occupied slot).
        if let Some((estimate, now)) = p.victim_and_estimate(&s.slab) {
            assert!(u32::from(estimate) <= now, "victim: {estimate} > {now}");
        }
        current
    }

    /// Stamps follow misses, inserts and first hits: with a sketch far larger than the keys
    /// used (no shared counters in practice), every stamp is the sketch's estimate.
    #[test]
    fn tinylfu_stamps_follow_the_sketch() {
        let mut s: Store<u64, u64> = Store::new(EvictionPolicy::TinyLfu, 1 << 16, None);
        let hash = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for round in 0..5u64 {
            for k in 0..40u64 {
                let mut out = Removals::default();
                // Key k is requested k % 5 + 1 times a round; a miss inserts it.
                for _ in 0..(k % 5 + 1) {
                    if s.get(hash(k), &k, 0, &mut out).is_none() {
                        s.insert(hash(k), k, round, 1, NEVER, &mut out);
                    }
                }
                // An insert of a key never looked up stamps from the sketch, also right after
                // another key's miss.
                assert!(s.get(hash(2000 + k), &(2000 + k), 0, &mut out).is_none());
                s.insert(hash(1000 + k), 1000 + k, round, 1, NEVER, &mut out);
            }
            assert_eq!(check_stamps(&s, true), 80);
        }
    }

    /// The sketch's age count comes round again every 255 renewals or agings; a stamp kept
    /// from a full cycle earlier must not then be taken as current (its estimate is from a
    /// sketch long gone). Renewals (`set_limits`) move the count on as agings do.
    #[test]
    fn tinylfu_stamps_from_a_full_age_cycle_ago_are_not_used() {
        let mut s: Store<u64, u64> = Store::new(EvictionPolicy::TinyLfu, 64, None);
        let mut out = Removals::default();
        for k in 0..8u64 {
            for _ in 0..3 {
                if s.get(k, &k, 0, &mut out).is_none() {
                    s.insert(k, k, k, 1, NEVER, &mut out);
                }
            }
        }
        assert_eq!(check_stamps(&s, true), 8);
        for cycle in 1..=255 {
            s.set_limits(64, None, &mut out);
            // Stale from the first renewal on, and still after the count came round.
            assert_eq!(check_stamps(&s, false), 0, "after {cycle} renewals");
        }
        assert_eq!(s.len(), 8);
        // New stamps are taken as before.
        assert!(s.get(0, &0, 0, &mut out).is_some());
        assert!(s.get(100, &100, 0, &mut out).is_none());
        s.insert(100, 100, 100, 1, NEVER, &mut out);
        assert_eq!(check_stamps(&s, true), 1);
    }

    use proptest::prelude::*;

    proptest! {
        /// TinyLFU's one-entry eviction shortcut decides and orders exactly as the general
        /// round: same removals, same list order, same counters, after every operation.
        #[test]
        fn tinylfu_eviction_shortcut_matches_the_general_round(
            max_len in 1..40usize,
            ops in proptest::collection::vec((0..4u8, 0..60u64, 0..30u64), 1..600),
        ) {
            let mut fast: Store<u64, u64> = Store::new(EvictionPolicy::TinyLfu, max_len, None);
            let mut general: Store<u64, u64> = Store::new(EvictionPolicy::TinyLfu, max_len, None);
            general.general_eviction_only = true;
            let mut now = 0;
            for (i, (kind, k, ttl)) in ops.into_iter().enumerate() {
                let hash = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let (mut a, mut b) = (Removals::default(), Removals::default());
                match kind {
                    0 | 1 => {
                        let expires = if ttl > 20 { NEVER } else { now + ttl };
                        fast.insert(hash, k, i as u64, 1, expires, &mut a);
                        general.insert(hash, k, i as u64, 1, expires, &mut b);
                    }
                    2 => {
                        let x = fast.get(hash, &k, now, &mut a).copied();
                        let y = general.get(hash, &k, now, &mut b).copied();
                        prop_assert_eq!(x, y);
                    }
                    _ => {
                        if k % 7 == 0 {
                            now += 2;
                        } else {
                            let x = fast.remove(hash, &k, now, &mut a);
                            let y = general.remove(hash, &k, now, &mut b);
                            prop_assert_eq!(x, y);
                        }
                    }
                }
                let a: Vec<_> = a.into_iter().collect();
                let b: Vec<_> = b.into_iter().collect();
                prop_assert_eq!(a, b);
                prop_assert_eq!(fast.keys_in_order(), general.keys_in_order());
                prop_assert_eq!(fast.counters(), general.counters());
            }
        }

        /// The store alone under random operations, weights and expiry times: bounds hold,
        /// lookups return the latest live value, and every insert is accounted for.
        #[test]
        fn store_invariants_hold_under_random_operations(
            tiny in any::<bool>(),
            max_len in 0..24usize,
            max_weight in proptest::option::of(1..40u64),
            ops in proptest::collection::vec((0..5u8, 0..40u64, 1..8u32, 0..50u64), 1..300),
        ) {
            let policy = if tiny { EvictionPolicy::TinyLfu } else { EvictionPolicy::Lru };
            let mut s: Store<u64, u64> = Store::new(policy, max_len, max_weight);
            let mut model: std::collections::HashMap<u64, (u64, u64)> = Default::default();
            let mut now = 0;
            let mut accounted = 0u64;
            for (i, (kind, k, w, ttl)) in ops.into_iter().enumerate() {
                let hash = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut out = Removals::default();
                match kind {
                    0 | 1 => {
                        let expires = if ttl > 40 { NEVER } else { now + ttl };
                        s.insert(hash, k, i as u64, w, expires, &mut out);
                        model.insert(k, (i as u64, expires));
                    }
                    2 => {
                        let got = s.get(hash, &k, now, &mut out).copied();
                        if let Some(v) = got {
                            let (latest, expires) = model[&k];
                            prop_assert_eq!(v, latest);
                            prop_assert!(expires > now);
                        }
                    }
                    3 => {
                        if s.remove(hash, &k, now, &mut out).is_some() {
                            accounted += 1;
                        }
                        model.remove(&k);
                    }
                    _ => now += 3,
                }
                for (key, _, cause) in out.into_iter() {
                    if cause != RemovalCause::Replaced {
                        model.remove(&key);
                    }
                    if cause == RemovalCause::Replaced {
                        accounted += 1;
                    }
                }
                prop_assert!(s.len() <= max_len);
                prop_assert!(s.weight() <= max_weight.unwrap_or(u64::MAX));
                check_stamps(&s, false);
            }
            // Every insert is still there, or was evicted, expired, replaced or removed.
            let c = s.counters();
            prop_assert_eq!(c.inserts, s.len() as u64 + c.evictions + c.expirations + accounted);
        }
    }
}
