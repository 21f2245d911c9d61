//! Criterion benches of the caches under Zipf(1.0) keys over 1M, capacity 100k: get, then
//! insert on a miss, with 1 and 2 threads; ours (TinyLFU and LRU) beside `lru` behind a mutex,
//! `moka` and `quick_cache`.
//!
//! ```text
//! cargo bench -p patinox-memory-benches --bench cache -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use patinox_memory::cache::EvictionPolicy;
use patinox_memory_benches::compare::cache::{
    BenchCache, KEYS, lru_mutex, moka, patinox, quick_cache, run_threads, zipf_keys,
};

/// Keys per benchmark iteration batch (the key stream is walked cyclically).
const STREAM: usize = 1 << 21;

fn bench_one<C: BenchCache>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    cache: C,
    keys: &[u64],
    threads: usize,
) {
    let _ = run_threads(&cache, keys, 1);
    let mut g = c.benchmark_group(group);
    g.bench_function(name, |b| {
        let mut offset = 0usize;
        b.iter_custom(|iters| {
            let n = (iters as usize).max(threads);
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < n {
                let len = (n - done).min(keys.len() - offset).max(threads);
                let end = (offset + len).min(keys.len());
                let (ns, _) = run_threads(&cache, &keys[offset..end], threads);
                total += Duration::from_nanos(ns as u64);
                done += end - offset;
                offset = if end >= keys.len() { 0 } else { end };
            }
            total
        });
    });
    g.finish();
}

fn caches(c: &mut Criterion) {
    let keys = zipf_keys(KEYS, 1.0, STREAM, 3);
    for threads in [1, 2] {
        let group = format!("cache zipf get+insert, {threads} thread(s)");
        bench_one(
            c,
            &group,
            "patinox TinyLfu",
            patinox(EvictionPolicy::TinyLfu),
            &keys,
            threads,
        );
        bench_one(
            c,
            &group,
            "patinox Lru",
            patinox(EvictionPolicy::Lru),
            &keys,
            threads,
        );
        bench_one(c, &group, "lru + Mutex", lru_mutex(), &keys, threads);
        bench_one(c, &group, "moka", moka(), &keys, threads);
        bench_one(c, &group, "quick_cache", quick_cache(), &keys, threads);
    }
}

criterion_group!(benches, caches);
criterion_main!(benches);
