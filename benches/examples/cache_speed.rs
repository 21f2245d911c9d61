//! A quick A/B of the caches' speed: the `compare cache` workload (Zipf(1.0) over 1M keys,
//! capacity 100k, get then insert on a miss, 1M operations per round) with the caches
//! interleaved round by round in a shuffled order (`compare::cache::interleave`, the same
//! loop as `compare cache`), so a noisy machine affects them alike. Prints the median ns per
//! operation and the ratio to quick_cache, for 1 and 2 threads.
//!
//! `cargo run --release -p patinox-memory-benches --example cache_speed -- [ROUNDS] [moka]`
//!
//! `cache_speed processes N [ROUNDS]` runs N processes of TinyLfu against quick_cache (ROUNDS
//! rounds each, default 5) and prints each process's ratios and their median and range. On
//! some machines where memory lands decides much of the time (a 2-core Intel VM: the same
//! build took 72 ns per operation in one process and 160 ns in the next), so one process says
//! little; the median of many does.
//!
//! `cache_speed profile NAME [THREADS] [REPEATS]` (NAME: tinylfu, lru, mutex, quick_cache,
//! moka, or lru_cache: the single-threaded `LruCache`, always one thread) warms and runs one
//! cache only, the timed part inside `measured`, for
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*measured*` or `perf`.

use std::process::Command;

use patinox_memory::cache::{EvictionPolicy, LruCache};
use patinox_memory_benches::compare::cache::{
    BenchCache, CAPACITY, Contender, KEYS, contender_named, interleave, lru_mutex, moka, patinox,
    quick_cache, run_threads, zipf_keys,
};
use patinox_memory_benches::measure::median;

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

fn arg(n: usize) -> Option<String> {
    std::env::args().nth(n)
}

fn parsed(n: usize, default: usize) -> usize {
    arg(n).and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Warmed contenders by name, on the standard warm-up stream.
fn contenders<'a>(names: &[&str], warm: &[u64]) -> Vec<Contender<'a>> {
    names
        .iter()
        .map(|n| contender_named(n, warm).unwrap_or_else(|| unreachable!("known cache {n}")))
        .collect()
}

/// Per cache: its library name, median ns per operation and ratio to quick_cache.
type Line = Vec<(&'static str, f64, f64)>;

/// One process's A/B of `names` (quick_cache last): per thread count, a [`Line`].
fn ab(names: &[&str], rounds: usize) -> Vec<(usize, Line)> {
    let warm = zipf_keys(KEYS, 1.0, KEYS, 1);
    let keys = zipf_keys(KEYS, 1.0, 1_000_000, 2);
    [1usize, 2]
        .into_iter()
        .map(|threads| {
            let caches = contenders(names, &warm);
            let timings = interleave(&caches, &keys, threads, rounds);
            let qc = timings.last().map_or(1.0, |t| t.ns_per_op);
            let line = caches
                .iter()
                .zip(&timings)
                .map(|(c, t)| (c.library, t.ns_per_op, t.ns_per_op / qc))
                .collect();
            (threads, line)
        })
        .collect()
}

/// `processes N [ROUNDS]`: N child processes of `pair ROUNDS`; prints the ratios.
fn processes(n: usize, rounds: usize) {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find this program to run it again: {e}");
            return;
        }
    };
    let mut ratios = [Vec::new(), Vec::new()];
    for i in 0..n.max(1) {
        let out = match Command::new(&exe)
            .args(["pair", &rounds.to_string()])
            .output()
        {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!(
                    "process {i} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            Err(e) => {
                eprintln!("cannot start process {i}: {e}");
                return;
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            let mut fields = line.split_whitespace();
            let (Some(threads), Some(ratio)) = (fields.next(), fields.next()) else {
                continue;
            };
            if let (Ok(threads @ 1..=2), Ok(ratio)) = (threads.parse::<usize>(), ratio.parse()) {
                ratios[threads - 1].push(ratio);
            }
        }
        let lines: Vec<&str> = stdout.lines().collect();
        println!("process {}: {}", i + 1, lines.join("; "));
    }
    for (t, r) in ratios.iter_mut().enumerate() {
        r.sort_by(f64::total_cmp);
        let (lo, hi) = (
            r.first().copied().unwrap_or(0.0),
            r.last().copied().unwrap_or(0.0),
        );
        println!(
            "{} thread(s): TinyLfu / quick_cache median {:.2}x over {} processes (range {lo:.2}-{hi:.2})",
            t + 1,
            median(r),
            r.len()
        );
    }
}

fn main() {
    match arg(1).as_deref() {
        Some("profile") => {
            let name = arg(2).unwrap_or_default();
            profile(&name, parsed(3, 1), parsed(4, 1));
        }
        Some("processes") => processes(parsed(2, 9), parsed(3, 5)),
        Some("pair") => {
            // A child of `processes`: "THREADS RATIO TINYLFU_NS QUICK_CACHE_NS" per line.
            for (threads, line) in ab(&["tinylfu", "quick_cache"], parsed(2, 5)) {
                println!(
                    "{threads} {:.4} {:.1} {:.1}",
                    line[0].2, line[0].1, line[1].1
                );
            }
        }
        _ => {
            let mut names = vec!["tinylfu", "lru", "mutex"];
            if arg(2).is_some_and(|a| a == "moka") {
                names.push("moka");
            }
            names.push("quick_cache");
            for (threads, line) in ab(&names, parsed(1, 7)) {
                let line: Vec<String> = line
                    .iter()
                    .map(|(name, ns, ratio)| format!("{name} {ns:.1} ns ({ratio:.2}x)"))
                    .collect();
                println!("{threads} thread(s): {}", line.join(", "));
            }
        }
    }
}
