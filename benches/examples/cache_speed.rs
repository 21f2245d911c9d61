//! A quick A/B of the caches' speed: the `compare cache` workload (Zipf(1.0) over 1M keys,
//! capacity 100k, get then insert on a miss, 1M operations per round) with the caches
//! interleaved round by round, so a noisy machine affects them alike. Prints the median ns per
//! operation and the ratio to quick_cache, for 1 and 2 threads.
//!
//! `cargo run --release -p patinox-memory-benches --example cache_speed -- [ROUNDS] [moka]`
//!
//! `cache_speed profile NAME [THREADS] [REPEATS]` (NAME: tinylfu, lru, mutex, quick_cache,
//! moka, or lru_cache: the single-threaded `LruCache`, always one thread) warms and runs one cache only, the timed part inside `measured`, for
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*measured*` or `perf`.

use patinox_memory::cache::{EvictionPolicy, LruCache};
use patinox_memory_benches::compare::cache::{
    BenchCache, CAPACITY, KEYS, lru_mutex, moka, patinox, quick_cache, run_threads, zipf_keys,
};
use patinox_memory_benches::measure::median;

/// Runs keys over threads through one cache; returns the elapsed nanoseconds.
type Runner<'a> = Box<dyn Fn(&[u64], usize) -> f64 + 'a>;

fn runner<C: BenchCache>(cache: &C) -> Runner<'_> {
    Box::new(move |keys, threads| run_threads(cache, keys, threads).0)
}

/// The timed part of `profile`, a function of its own so a profiler can select it.
#[inline(never)]
fn measured<C: BenchCache>(cache: &C, keys: &[u64], threads: usize) -> (f64, u64) {
    if threads > 1 {
        return run_threads(cache, keys, threads);
    }
    // On this thread, so a profiler toggled on this function sees the work.
    let start = std::time::Instant::now();
    let hits = keys.iter().filter(|&&k| cache.get_or_insert(k)).count() as u64;
    (start.elapsed().as_nanos() as f64, hits)
}

fn profile_one<C: BenchCache>(cache: &C, threads: usize, repeats: usize) {
    let warm = zipf_keys(KEYS, 1.0, KEYS, 1);
    let keys = zipf_keys(KEYS, 1.0, 1_000_000, 2);
    let _ = run_threads(cache, &warm, 1);
    for _ in 0..repeats.max(1) {
        let (ns, hits) = measured(cache, &keys, threads);
        println!(
            "{:.1} ns/op, hit ratio {:.2} %",
            ns / keys.len() as f64,
            hits as f64 * 100.0 / keys.len() as f64
        );
    }
}

/// `LruCache` is single-threaded: one loop on this thread, like `measured` with one thread.
#[inline(never)]
fn measured_lru_cache(cache: &mut LruCache<u64, u64>, keys: &[u64]) -> (f64, u64) {
    let start = std::time::Instant::now();
    let mut hits = 0;
    for &k in keys {
        if cache.get(&k).is_some() {
            hits += 1;
        } else {
            cache.put(k, k);
        }
    }
    (start.elapsed().as_nanos() as f64, hits)
}

fn profile_lru_cache(repeats: usize) {
    let warm = zipf_keys(KEYS, 1.0, KEYS, 1);
    let keys = zipf_keys(KEYS, 1.0, 1_000_000, 2);
    let mut cache = LruCache::new(CAPACITY);
    let _ = measured_lru_cache(&mut cache, &warm);
    for _ in 0..repeats.max(1) {
        let (ns, hits) = measured_lru_cache(&mut cache, &keys);
        println!(
            "{:.1} ns/op, hit ratio {:.2} %",
            ns / keys.len() as f64,
            hits as f64 * 100.0 / keys.len() as f64
        );
    }
}

fn profile(name: &str, threads: usize, repeats: usize) {
    match name {
        "lru_cache" => profile_lru_cache(repeats),
        "tinylfu" => profile_one(&patinox(EvictionPolicy::TinyLfu), threads, repeats),
        "lru" => profile_one(&patinox(EvictionPolicy::Lru), threads, repeats),
        "mutex" => profile_one(&lru_mutex(), threads, repeats),
        "quick_cache" => profile_one(&quick_cache(), threads, repeats),
        "moka" => profile_one(&moka(), threads, repeats),
        other => {
            eprintln!("unknown cache {other}: tinylfu, lru, mutex, quick_cache, moka or lru_cache")
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("profile") {
        let name = std::env::args().nth(2).unwrap_or_default();
        let threads = std::env::args()
            .nth(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let repeats = std::env::args()
            .nth(4)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        profile(&name, threads, repeats);
        return;
    }
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let with_moka = std::env::args().nth(2).is_some_and(|a| a == "moka");
    let warm = zipf_keys(KEYS, 1.0, KEYS, 1);
    let keys = zipf_keys(KEYS, 1.0, 1_000_000, 2);
    for threads in [1usize, 2] {
        let tiny = patinox(EvictionPolicy::TinyLfu);
        let lru = patinox(EvictionPolicy::Lru);
        let locked = lru_mutex();
        let mk = moka();
        let qc = quick_cache();
        let mut caches: Vec<(&str, Runner<'_>)> = vec![
            ("patinox TinyLfu", runner(&tiny)),
            ("patinox Lru", runner(&lru)),
            ("lru + Mutex", runner(&locked)),
            ("quick_cache", runner(&qc)),
        ];
        if with_moka {
            caches.push(("moka", runner(&mk)));
        }
        let mut samples = vec![Vec::new(); caches.len()];
        for (_, run) in &caches {
            let _ = run(&warm, 1);
        }
        for _ in 0..rounds {
            for (i, (_, run)) in caches.iter().enumerate() {
                samples[i].push(run(&keys, threads) / keys.len() as f64);
            }
        }
        let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
        let qc_ns = medians[3];
        let line: Vec<String> = caches
            .iter()
            .zip(&medians)
            .map(|((name, _), ns)| format!("{name} {ns:.1} ns ({:.2}x)", ns / qc_ns))
            .collect();
        println!("{threads} thread(s): {}", line.join(", "));
    }
}
