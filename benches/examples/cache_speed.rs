//! A quick A/B of the caches' speed: the `compare cache` workload (Zipf(1.0) over 1M keys,
//! capacity 100k, get then insert on a miss, 1M operations per round) with the caches
//! interleaved round by round, so a noisy machine affects them alike. Prints the median ns per
//! operation and the ratio to quick_cache, for 1 and 2 threads.
//!
//! `cargo run --release -p patinox-memory-benches --example cache_speed -- [ROUNDS] [moka]`

use patinox_memory::cache::EvictionPolicy;
use patinox_memory_benches::compare::cache::{
    BenchCache, KEYS, lru_mutex, moka, patinox, quick_cache, run_threads, zipf_keys,
};
use patinox_memory_benches::measure::median;

/// Runs keys over threads through one cache; returns the elapsed nanoseconds.
type Runner<'a> = Box<dyn Fn(&[u64], usize) -> f64 + 'a>;

fn runner<C: BenchCache>(cache: &C) -> Runner<'_> {
    Box::new(move |keys, threads| run_threads(cache, keys, threads).0)
}

fn main() {
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
