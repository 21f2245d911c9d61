//! Caches under a Zipf(1.0) workload: `ShardedCache` (LRU and TinyLFU) against `lru` behind a
//! mutex, `moka` and `quick_cache`, with one and two threads.
//!
//! Every operation is "get, and insert on a miss" of a key drawn from Zipf(1.0) over 1 000 000
//! keys, on a cache of 100 000 entries warmed by one pass over the keys first. Keys are drawn
//! before timing (see [`zipf_keys`](crate::workload::zipf_keys)); each thread walks its own part of the key stream.

use std::num::NonZeroUsize;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use patinox_memory::cache::{EvictionPolicy, ShardedCache};

use crate::measure::{Effort, Row, TurnOrder, median};
pub use crate::workload::zipf_keys;

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "cache";

/// Distinct keys of the Zipf distribution.
pub const KEYS: usize = 1_000_000;
/// Cache capacity in entries.
pub const CAPACITY: usize = 100_000;

/// A cache as the benchmark uses it: shared between threads.
pub trait BenchCache: Sync {
    /// Gets `key`, inserting it on a miss; true on a hit.
    fn get_or_insert(&self, key: u64) -> bool;
}

impl BenchCache for ShardedCache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

impl BenchCache for Mutex<lru::LruCache<u64, u64>> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        let mut c = self.lock().unwrap_or_else(|e| e.into_inner());
        if c.get(&key).is_some() {
            true
        } else {
            c.put(key, key);
            false
        }
    }
}

impl BenchCache for moka::sync::Cache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

impl BenchCache for quick_cache::sync::Cache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

/// Our cache with `policy` and default settings otherwise.
pub fn patinox(policy: EvictionPolicy) -> ShardedCache<u64, u64> {
    ShardedCache::builder()
        .max_size(CAPACITY)
        .eviction_policy(policy)
        .build()
        .unwrap_or_else(|e| unreachable!("valid bench config rejected: {e}"))
}

/// `lru` behind a mutex.
pub fn lru_mutex() -> Mutex<lru::LruCache<u64, u64>> {
    Mutex::new(lru::LruCache::new(
        NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
    ))
}

/// `moka::sync::Cache`.
pub fn moka() -> moka::sync::Cache<u64, u64> {
    moka::sync::Cache::new(CAPACITY as u64)
}

/// `quick_cache::sync::Cache`.
pub fn quick_cache() -> quick_cache::sync::Cache<u64, u64> {
    quick_cache::sync::Cache::new(CAPACITY)
}

/// Runs `keys` split over `threads` threads through `cache`; returns (elapsed ns, hits).
pub fn run_threads<C: BenchCache>(cache: &C, keys: &[u64], threads: usize) -> (f64, u64) {
    let threads = threads.max(1);
    let chunk = keys.len() / threads;
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let part = &keys[t * chunk..(t + 1) * chunk];
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    part.iter().filter(|&&k| cache.get_or_insert(k)).count() as u64
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let hits = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .sum::<u64>();
        (start.elapsed().as_nanos() as f64, hits)
    })
}

/// One cache under test, warmed: its library name and a runner over keys ([`run_threads`]
/// on it).
pub struct Contender<'a> {
    /// The library's name in reports.
    pub library: &'static str,
    run: Box<RunFn<'a>>,
}

/// Runs keys over a number of threads through one cache; returns (elapsed ns, hits).
type RunFn<'a> = dyn Fn(&[u64], usize) -> (f64, u64) + 'a;

impl std::fmt::Debug for Contender<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contender")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

impl Contender<'_> {
    /// Runs `keys` over `threads` threads through this cache; returns (elapsed ns, hits).
    pub fn run(&self, keys: &[u64], threads: usize) -> (f64, u64) {
        (self.run)(keys, threads)
    }
}

/// A cache, warmed by one pass over `warm`, as a [`Contender`].
pub fn contender<'a, C: BenchCache + 'a>(
    library: &'static str,
    cache: C,
    warm: &[u64],
) -> Contender<'a> {
    let _ = run_threads(&cache, warm, 1);
    Contender {
        library,
        run: Box::new(move |keys, threads| run_threads(&cache, keys, threads)),
    }
}

/// Short names of the caches, in report order: ours (TinyLFU, LRU), then the peers.
pub const CACHES: [&str; 5] = ["tinylfu", "lru", "mutex", "moka", "quick_cache"];

/// The cache called `name` (one of [`CACHES`]) as a warmed [`Contender`].
pub fn contender_named<'a>(name: &str, warm: &[u64]) -> Option<Contender<'a>> {
    Some(match name {
        "tinylfu" => contender("patinox TinyLfu", patinox(EvictionPolicy::TinyLfu), warm),
        "lru" => contender("patinox Lru", patinox(EvictionPolicy::Lru), warm),
        "mutex" => contender("lru + Mutex", lru_mutex(), warm),
        "moka" => contender("moka", moka(), warm),
        "quick_cache" => contender("quick_cache", quick_cache(), warm),
        _ => return None,
    })
}

/// What [`interleave`] measured for one contender.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Median over the rounds of the wall time per operation, in nanoseconds.
    pub ns_per_op: f64,
    /// Hits over operations in the last round.
    pub hit_ratio: f64,
}

/// Runs `keys` over `threads` threads through every contender, `rounds` times, the caches
/// taking turns round by round so a drift of the machine lands on all of them alike.
///
/// Each round takes the caches in a fresh order ([`TurnOrder`]). A rotation of one fixed
/// order, used before, left the cache listed after moka (quick_cache) following moka's cold
/// caches in every round, which made quick_cache look 15-25 % slower with two threads than in
/// a two-cache A/B. Returns one [`Timing`] per contender, in the order given.
pub fn interleave(
    contenders: &[Contender<'_>],
    keys: &[u64],
    threads: usize,
    rounds: usize,
) -> Vec<Timing> {
    let count = contenders.len();
    let mut samples = vec![Vec::with_capacity(rounds); count];
    let mut hit_ratios = vec![0.0; count];
    let ops = keys.len().max(1) as f64;
    let mut turns = TurnOrder::new(count);
    for _ in 0..rounds.max(1) {
        for &i in turns.next_round() {
            let (ns, hits) = contenders[i].run(keys, threads);
            samples[i].push(ns / ops);
            hit_ratios[i] = hits as f64 / ops;
        }
    }
    samples
        .iter_mut()
        .zip(hit_ratios)
        .map(|(s, hit_ratio)| Timing {
            ns_per_op: median(s),
            hit_ratio,
        })
        .collect()
}

/// The stream of `compare cache`: (warm-up keys, measured keys) for `effort`.
pub fn key_streams(effort: Effort) -> (Vec<u64>, Vec<u64>) {
    let ops = effort.scale(1_000_000) as usize;
    let (warm_len, n) = match effort {
        Effort::Smoke => (10_000, 10_000),
        _ => (KEYS, KEYS),
    };
    (
        zipf_keys(n, 1.0, warm_len, 1),
        zipf_keys(n, 1.0, ops.max(2), 2),
    )
}

/// Measures each cache with 1 and 2 threads, interleaved (see [`interleave`]). Within each
/// operation the first row is ours (TinyLFU), then ours with LRU, then the peers; each row is
/// the median of its rounds.
pub fn run(effort: Effort) -> Vec<Row> {
    let rounds = effort.rounds().max(1);
    let (warm, keys) = key_streams(effort);
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let contenders: Vec<Contender<'_>> = CACHES
            .iter()
            .filter_map(|name| contender_named(name, &warm))
            .collect();
        let timings = interleave(&contenders, &keys, threads, rounds);
        for (c, t) in contenders.iter().zip(timings) {
            rows.push(Row {
                component: NAME,
                operation: format!(
                    "zipf(1.0) get+insert on miss, {threads} thread{}",
                    if threads == 1 { "" } else { "s" }
                ),
                library: c.library,
                ns_per_op: t.ns_per_op,
                note: format!("hit ratio {:.1} %", t.hit_ratio * 100.0),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_run_reports_ours_first_for_both_thread_counts() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0].library, "patinox TinyLfu");
        assert_eq!(rows[5].library, "patinox TinyLfu");
        assert!(rows.iter().all(|r| r.ns_per_op > 0.0));
    }
}
