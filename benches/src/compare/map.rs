//! The concurrent map: `ShardedMap` against dashmap (with its default shard count, and with
//! ours) and `RwLock<HashMap>`, on a read-heavy
//! workload (98 % get, 1 % insert, 1 % remove) and a mixed one (60 % get, 20 % insert,
//! 20 % remove), with 1 and 2 threads. All of them use std's `RandomState` hasher. The maps take
//! turns round by round in a fresh order each round, and each row is the median of its rounds.
//!
//! Each map is driven through a generic function, as a user's code calls it: the compiler may
//! inline the map's methods into the loop. (Through `dyn`, every map's method would be forced
//! out of line, a cost no caller of these maps pays.)

use std::collections::HashMap;
use std::hash::RandomState;
use std::hint::black_box;
use std::sync::RwLock;

use dashmap::DashMap;
use patinox_memory::share::ShardedMap;

use super::share::threaded_ns;
use crate::measure::{Effort, Row, TurnOrder, median};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "map";

/// Distinct keys; half are present at the start.
pub const KEYS: u64 = 100_000;

/// One step of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Look a key up and read its value.
    Get(u64),
    /// Insert or overwrite a key.
    Insert(u64),
    /// Remove a key.
    Remove(u64),
}

/// A reproducible sequence of `len` steps with the given per-mille shares of inserts and
/// removes (the rest are gets), from `seed`.
pub fn workload(len: usize, insert_permille: u64, remove_permille: u64, seed: u64) -> Vec<Step> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64*: cheap, deterministic, good enough to spread keys.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let key = (r >> 20) % KEYS;
            match r % 1000 {
                p if p < insert_permille => Step::Insert(key),
                p if p < insert_permille + remove_permille => Step::Remove(key),
                _ => Step::Get(key),
            }
        })
        .collect()
}

/// The operations every contender implements.
pub trait Contender: Sync {
    /// Looks `k` up and copies its value out.
    fn get(&self, k: u64) -> Option<u64>;
    /// Inserts or overwrites `k`.
    fn insert(&self, k: u64, v: u64);
    /// Removes `k`.
    fn remove(&self, k: u64);
}

impl Contender for ShardedMap<u64, u64> {
    #[inline]
    fn get(&self, k: u64) -> Option<u64> {
        self.get_cloned(&k)
    }
    #[inline]
    fn insert(&self, k: u64, v: u64) {
        ShardedMap::insert(self, k, v);
    }
    #[inline]
    fn remove(&self, k: u64) {
        ShardedMap::remove(self, &k);
    }
}

impl Contender for DashMap<u64, u64> {
    #[inline]
    fn get(&self, k: u64) -> Option<u64> {
        DashMap::get(self, &k).map(|r| *r)
    }
    #[inline]
    fn insert(&self, k: u64, v: u64) {
        DashMap::insert(self, k, v);
    }
    #[inline]
    fn remove(&self, k: u64) {
        DashMap::remove(self, &k);
    }
}

impl Contender for RwLock<HashMap<u64, u64>> {
    #[inline]
    fn get(&self, k: u64) -> Option<u64> {
        self.read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&k)
            .copied()
    }
    #[inline]
    fn insert(&self, k: u64, v: u64) {
        self.write().unwrap_or_else(|e| e.into_inner()).insert(k, v);
    }
    #[inline]
    fn remove(&self, k: u64) {
        self.write().unwrap_or_else(|e| e.into_inner()).remove(&k);
    }
}

/// Inserts the even keys below [`KEYS`] (half the key space).
pub fn fill(map: &impl Contender) {
    for k in (0..KEYS).step_by(2) {
        map.insert(k, k);
    }
}

/// Runs `steps` against `map`; each thread starts at a different place in the sequence.
fn drive<M: Contender>(map: &M, steps: &[Step], threads: usize, rounds: usize, iters: u64) -> f64 {
    let len = steps.len() as u64;
    threaded_ns(threads, rounds, iters, |t, i| {
        let index = (i + t as u64 * len / 2) % len;
        match steps[index as usize] {
            Step::Get(k) => {
                black_box(map.get(k));
            }
            Step::Insert(k) => map.insert(k, i),
            Step::Remove(k) => map.remove(k),
        }
    })
}

/// Measures both workloads with 1 and 2 threads for each map.
pub fn run(effort: Effort) -> Vec<Row> {
    let iters = effort.scale(1_000_000);
    let rounds = effort.rounds();
    let workloads = [
        ("read-heavy 98/1/1", workload(1 << 16, 10, 10, 7)),
        ("mixed 60/20/20", workload(1 << 16, 200, 200, 11)),
    ];
    let mut rows = Vec::new();
    for (name, steps) in &workloads {
        for threads in [1, 2] {
            let operation = format!(
                "{name}, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            );
            let ours: ShardedMap<u64, u64> = ShardedMap::new();
            let dash: DashMap<u64, u64> = DashMap::with_hasher(RandomState::new());
            // dashmap again with as many shards as ours has by default, to tell the shard count
            // from the rest of the design.
            let dash_same =
                DashMap::with_hasher_and_shard_amount(RandomState::new(), ours.shards());
            let locked: RwLock<HashMap<u64, u64>> = RwLock::new(HashMap::new());
            fill(&ours);
            fill(&dash);
            fill(&dash_same);
            fill(&locked);
            let libraries = [
                "patinox ShardedMap",
                "dashmap",
                "dashmap (our shards)",
                "RwLock<HashMap>",
            ];
            // Round by round, each map in turn, so that a drift of the machine (frequency, other
            // load) lands on all of them alike instead of on whichever runs first; in a fresh
            // order each round, so no map always runs right after the same other one.
            let mut samples = vec![Vec::with_capacity(rounds); libraries.len()];
            let mut turns = TurnOrder::new(libraries.len());
            for _ in 0..rounds.max(1) {
                for &i in turns.next_round() {
                    let ns = match i {
                        0 => drive(&ours, steps, threads, 1, iters),
                        1 => drive(&dash, steps, threads, 1, iters),
                        2 => drive(&dash_same, steps, threads, 1, iters),
                        _ => drive(&locked, steps, threads, 1, iters),
                    };
                    samples[i].push(ns);
                }
            }
            for (library, mut samples) in libraries.into_iter().zip(samples) {
                rows.push(Row {
                    component: NAME,
                    operation: operation.clone(),
                    library,
                    ns_per_op: median(&mut samples),
                    note: String::new(),
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_shares_match_the_request() {
        let steps = workload(100_000, 10, 10, 3);
        let inserts = steps
            .iter()
            .filter(|s| matches!(s, Step::Insert(_)))
            .count();
        let removes = steps
            .iter()
            .filter(|s| matches!(s, Step::Remove(_)))
            .count();
        assert!((700..1300).contains(&inserts), "{inserts}");
        assert!((700..1300).contains(&removes), "{removes}");
    }

    #[test]
    fn map_comparison_produces_rows_ours_first() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 16);
        assert!(rows.chunks(4).all(|g| g[0].library == "patinox ShardedMap"));
    }
}
