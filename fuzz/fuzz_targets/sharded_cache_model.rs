//! `ShardedCache` operation sequences against a model.
//!
//! The cache is built from fuzzed settings (shards, policy, size and weight bounds, a default
//! time to live) with a manual clock and an eviction listener. The model is a map from key to
//! (value, expiry) that follows every insert and every removal the listener reports. Values
//! are unique (a sequence number), so every reported removal names one model entry exactly.
//!
//! Checked after every operation:
//! - each result agrees with the model (a `get` never returns a stale, removed or expired
//!   value; `remove` returns what was live);
//! - each reported removal has a cause the operation allows (`get` may only expire the key it
//!   looked up, `retain` only removes entries its predicate rejects, only stores and
//!   `set_max_size` evict for size, and `Expired` only names entries past their expiry);
//! - the cache holds exactly the model's entries, never more than `max_size` of them, and never
//!   more weight than `max_weight`;
//! - statistics add up: `hits + misses` = lookups, `hits` = lookups that found a value,
//!   `inserts = entries + evictions + replacements + removals + expirations`, `evictions` and
//!   `expirations` equal the removals reported with those causes, `loads` = loader runs;
//! - with one shard, LRU and no expiry, every size eviction takes the least recently used
//!   entry (the cache is then an exact LRU).

#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patinox_memory::cache::{EvictionPolicy, ManualClock, ShardedCache};
use patinox_memory::monitor::RemovalCause;

#[derive(Debug, Arbitrary)]
enum Op {
    Insert(u8),
    InsertWithTtl(u8, u8),
    Get(u8),
    Peek(u8),
    Contains(u8),
    Remove(u8),
    GetOrInsertWith(u8),
    Advance(u8),
    Retain(u8),
    InvalidateAll,
    SetMaxSize(u8),
    RunPendingCleanup,
}

#[derive(Debug, Arbitrary)]
struct Settings {
    max_size: u8,
    shards_log2: u8,
    tiny_lfu: bool,
    default_ttl_ms: Option<u8>,
    max_weight: Option<u8>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    settings: Settings,
    ops: Vec<Op>,
}

const KEYS: u8 = 32;
/// A key never inserted, looked up to exercise misses on every shard.
const ABSENT: u8 = 200;
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: u64,
    expires_ns: u64,
}

type Log = Arc<Mutex<Vec<(u8, u64, RemovalCause)>>>;

fn weight_of(value: u64) -> u32 {
    (value % 4) as u32 + 1
}

/// Whether `retain` keeps `key` for the fuzzed `mask`.
fn keeps(mask: u8, key: u8) -> bool {
    (key ^ mask) % 3 != 0
}

struct Checker {
    cache: ShardedCache<u8, u64>,
    clock: ManualClock,
    log: Log,
    model: HashMap<u8, Entry>,
    /// Keys from the most to the least recently used (tracked for the exact-LRU check).
    recency: Vec<u8>,
    exact_lru: bool,
    /// The entry the last store replaced in the model, which the listener may still report
    /// (as `Replaced`, or `Expired` if it had expired).
    displaced: Option<(u8, Entry)>,
    max_size: usize,
    max_weight: Option<u64>,
    default_ttl: Option<Duration>,
    next_value: u64,
    lookups: u64,
    hits: u64,
    loads: u64,
    replaced: u64,
    removed: u64,
    evicted: u64,
    expired: u64,
}

impl Checker {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(NEVER)
    }

    fn live(&self, key: u8) -> Option<u64> {
        let now = self.now_ns();
        self.model
            .get(&key)
            .filter(|e| e.expires_ns > now)
            .map(|e| e.value)
    }

    fn touch(&mut self, key: u8) {
        self.recency.retain(|k| *k != key);
        self.recency.insert(0, key);
    }

    fn value(&mut self) -> u64 {
        self.next_value += 1;
        self.next_value
    }

    fn expiry(&self, ttl: Option<Duration>) -> u64 {
        match ttl.or(self.default_ttl) {
            Some(ttl) => self.now_ns().saturating_add(ttl.as_nanos() as u64),
            None => NEVER,
        }
    }

    /// Records a store in the model (the cache has just done it).
    fn stored(&mut self, key: u8, value: u64, expires_ns: u64) {
        self.displaced = self
            .model
            .insert(key, Entry { value, expires_ns })
            .map(|old| (key, old));
        self.touch(key);
    }

    /// Applies the removals the listener reported during `op`, checking each is allowed.
    fn removals(&mut self, op: &Op, may_evict: bool, allowed: impl Fn(u8, RemovalCause) -> bool) {
        let reported: Vec<_> = std::mem::take(&mut *self.log.lock().unwrap());
        let now = self.now_ns();
        let displaced = self.displaced.take();
        for (key, value, cause) in reported {
            assert!(
                allowed(key, cause),
                "{op:?} reported {cause:?} of key {key}"
            );
            if let Some((k, old)) = displaced.filter(|(k, old)| *k == key && old.value == value) {
                match cause {
                    RemovalCause::Replaced => self.replaced += 1,
                    RemovalCause::Expired => {
                        assert!(
                            old.expires_ns <= now,
                            "{op:?}: replaced key {k} expired early"
                        );
                        self.expired += 1;
                    }
                    other => panic!("{op:?}: the replaced value of key {k} reported as {other:?}"),
                }
                continue;
            }
            match cause {
                RemovalCause::Replaced => {
                    panic!("{op:?}: Replaced of key {key} that no store displaced")
                }
                RemovalCause::Removed => self.removed += 1,
                RemovalCause::Expired => self.expired += 1,
                RemovalCause::Size => {
                    assert!(may_evict, "{op:?} evicted key {key}");
                    self.evicted += 1;
                }
                other => panic!("{op:?}: unknown removal cause {other:?}"),
            }
            let entry = self.model.get(&key).copied();
            let entry = entry.unwrap_or_else(|| panic!("{op:?}: {cause:?} of absent key {key}"));
            assert_eq!(
                entry.value, value,
                "{op:?}: {cause:?} of key {key} with a stale value"
            );
            if cause == RemovalCause::Expired {
                assert!(entry.expires_ns <= now, "{op:?}: key {key} expired early");
            }
            if cause == RemovalCause::Size && self.exact_lru {
                // The victim is the least recent entry other than one just stored.
                let victim = self
                    .recency
                    .iter()
                    .rev()
                    .find(|k| self.model.contains_key(k));
                assert_eq!(
                    victim,
                    Some(&key),
                    "{op:?}: not the least recent entry evicted"
                );
            }
            self.model.remove(&key);
            self.recency.retain(|k| *k != key);
        }
    }

    fn check_state(&self, op: &Op) {
        for key in (0..KEYS).chain([ABSENT]) {
            assert_eq!(
                self.cache.peek(&key),
                self.live(key),
                "after {op:?}: peek({key})"
            );
        }
        assert!(
            self.log.lock().unwrap().is_empty(),
            "peek removed something"
        );
        assert_eq!(self.cache.len(), self.model.len(), "after {op:?}: len");
        assert!(
            self.cache.len() <= self.max_size,
            "after {op:?}: over max_size"
        );
        let weight: u64 = self
            .model
            .values()
            .map(|e| u64::from(weight_of(e.value)))
            .sum();
        assert_eq!(
            self.cache.weight(),
            if self.max_weight.is_some() {
                weight
            } else {
                self.model.len() as u64
            }
        );
        if let Some(max) = self.max_weight {
            assert!(weight <= max, "after {op:?}: over max_weight");
        }
        let s = self.cache.stats();
        assert_eq!(s.hits + s.misses, self.lookups, "after {op:?}: lookups");
        assert_eq!(s.hits, self.hits, "after {op:?}: hits");
        assert_eq!(s.loads, self.loads, "after {op:?}: loads");
        assert_eq!(s.evictions, self.evicted, "after {op:?}: evictions");
        assert_eq!(s.expirations, self.expired, "after {op:?}: expirations");
        assert_eq!(s.entries, self.model.len(), "after {op:?}: entries");
        assert_eq!(
            s.inserts,
            s.entries as u64 + s.evictions + self.replaced + self.removed + s.expirations,
            "after {op:?}: inserts do not add up"
        );
    }

    fn run(&mut self, op: Op) {
        let now = self.now_ns();
        let before = self.model.clone();
        let expired_at_start =
            |m: &HashMap<u8, Entry>, k: u8| m.get(&k).is_some_and(|e| e.expires_ns <= now);
        match op {
            Op::Insert(k) | Op::InsertWithTtl(k, _) => {
                let key = k % KEYS;
                let value = self.value();
                let ttl = match op {
                    Op::InsertWithTtl(_, ms) => Some(Duration::from_millis(u64::from(ms) + 1)),
                    _ => None,
                };
                let expires = self.expiry(ttl);
                match ttl {
                    Some(ttl) => self.cache.insert_with_ttl(key, value, ttl),
                    None => self.cache.insert(key, value),
                }
                self.stored(key, value, expires);
                self.removals(&op, true, |k, cause| match cause {
                    RemovalCause::Replaced => k == key && before.contains_key(&k),
                    RemovalCause::Expired => expired_at_start(&before, k),
                    RemovalCause::Size => true,
                    _ => false,
                });
            }
            Op::Get(k) => {
                let key = if k >= 250 { ABSENT } else { k % KEYS };
                let expected = self.live(key);
                let got = self.cache.get(&key);
                assert_eq!(got, expected, "get({key})");
                self.lookups += 1;
                if got.is_some() {
                    self.hits += 1;
                    self.touch(key);
                }
                self.removals(&op, false, |k, cause| {
                    k == key && cause == RemovalCause::Expired && expired_at_start(&before, k)
                });
            }
            Op::Peek(k) => {
                let key = k % KEYS;
                assert_eq!(self.cache.peek(&key), self.live(key), "peek({key})");
                self.removals(&op, false, |_, _| false);
            }
            Op::Contains(k) => {
                let key = k % KEYS;
                assert_eq!(
                    self.cache.contains_key(&key),
                    self.live(key).is_some(),
                    "contains_key({key})"
                );
                self.removals(&op, false, |k, cause| {
                    k == key && cause == RemovalCause::Expired && expired_at_start(&before, k)
                });
            }
            Op::Remove(k) => {
                let key = k % KEYS;
                let expected = self.live(key);
                assert_eq!(self.cache.remove(&key), expected, "remove({key})");
                let was_live = expected.is_some();
                self.removals(&op, false, |k, cause| match cause {
                    RemovalCause::Removed => k == key && was_live,
                    RemovalCause::Expired => k == key && expired_at_start(&before, k),
                    _ => false,
                });
                assert!(self.live(key).is_none(), "remove({key}) left the key");
            }
            Op::GetOrInsertWith(k) => {
                let key = k % KEYS;
                let expected = self.live(key);
                let fresh = self.value();
                let mut ran = false;
                let got = self.cache.get_or_insert_with(key, || {
                    ran = true;
                    fresh
                });
                self.lookups += 1;
                match expected {
                    Some(v) => {
                        assert_eq!(got, v, "get_or_insert_with({key}) on a live entry");
                        assert!(!ran, "loader ran for a live entry");
                        self.hits += 1;
                        self.touch(key);
                    }
                    None => {
                        assert_eq!(got, fresh, "get_or_insert_with({key}) loaded");
                        assert!(ran, "loader did not run for a missing entry");
                        self.loads += 1;
                        let expires = self.expiry(None);
                        self.stored(key, fresh, expires);
                    }
                }
                self.removals(&op, expected.is_none(), |k, cause| match cause {
                    RemovalCause::Expired => expired_at_start(&before, k),
                    RemovalCause::Size => expected.is_none(),
                    _ => false,
                });
            }
            Op::Advance(ms) => {
                self.clock.advance(Duration::from_millis(u64::from(ms)));
                self.removals(&op, false, |_, _| false);
            }
            Op::Retain(mask) => {
                self.cache.retain(|k, _| keeps(mask, *k));
                self.removals(&op, false, |k, cause| match cause {
                    RemovalCause::Removed => !keeps(mask, k),
                    RemovalCause::Expired => expired_at_start(&before, k),
                    _ => false,
                });
                assert!(
                    self.model.keys().all(|k| keeps(mask, *k)),
                    "retain kept a rejected key"
                );
            }
            Op::InvalidateAll => {
                self.cache.invalidate_all();
                self.removals(&op, false, |k, cause| match cause {
                    RemovalCause::Removed => true,
                    RemovalCause::Expired => expired_at_start(&before, k),
                    _ => false,
                });
                assert!(self.model.is_empty(), "invalidate_all left entries");
            }
            Op::SetMaxSize(n) => {
                let n = usize::from(n % 40);
                self.cache.set_max_size(n);
                self.max_size = n;
                self.removals(&op, true, |_, cause| cause == RemovalCause::Size);
                assert!(
                    self.cache.max_size() == n,
                    "max_size() after set_max_size({n})"
                );
            }
            Op::RunPendingCleanup => {
                self.cache.run_pending_cleanup();
                self.removals(&op, false, |k, cause| {
                    cause == RemovalCause::Expired && expired_at_start(&before, k)
                });
                let now = self.now_ns();
                assert!(
                    self.model.values().all(|e| e.expires_ns > now),
                    "cleanup left an expired entry"
                );
            }
        }
        self.check_state(&op);
    }
}

fuzz_target!(|input: Input| {
    let s = input.settings;
    let max_size = usize::from(s.max_size % 40);
    let shards = 1usize << (s.shards_log2 % 3);
    let default_ttl = s
        .default_ttl_ms
        .map(|ms| Duration::from_millis(u64::from(ms) + 1));
    let max_weight = s.max_weight.map(|w| u64::from(w % 64) + 1);
    let clock = ManualClock::new();
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let mut builder = ShardedCache::builder()
        .max_size(max_size)
        .shards(shards)
        .eviction_policy(if s.tiny_lfu {
            EvictionPolicy::TinyLfu
        } else {
            EvictionPolicy::Lru
        })
        .clock(clock.clone())
        .eviction_listener(move |k: u8, v: u64, cause| sink.lock().unwrap().push((k, v, cause)));
    if let Some(ttl) = default_ttl {
        builder = builder.default_ttl(ttl);
    }
    if let Some(w) = max_weight {
        builder = builder
            .max_weight(w)
            .weigher(|_k: &u8, v: &u64| weight_of(*v));
    }
    let cache = builder.build().expect("valid settings");
    let uses_ttl = default_ttl.is_some()
        || input
            .ops
            .iter()
            .any(|op| matches!(op, Op::InsertWithTtl(..)));
    let exact_lru = cache.shards() == 1 && !s.tiny_lfu && !uses_ttl && max_weight.is_none();
    let mut checker = Checker {
        cache,
        clock,
        log,
        model: HashMap::new(),
        recency: Vec::new(),
        exact_lru,
        displaced: None,
        max_size,
        max_weight,
        default_ttl,
        next_value: 0,
        lookups: 0,
        hits: 0,
        loads: 0,
        replaced: 0,
        removed: 0,
        evicted: 0,
        expired: 0,
    };
    for op in input.ops.into_iter().take(400) {
        checker.run(op);
    }
});
