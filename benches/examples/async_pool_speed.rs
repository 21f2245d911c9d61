//! A quick A/B of the async pools: the two `compare async_pool` workloads with the pools
//! interleaved round by round, so a noisy machine affects them alike. Prints the median ns per
//! operation and the ratio to deadpool. With `ONLY` one pool runs one workload (for a
//! profiler: `valgrind --tool=callgrind`, `perf record`).
//!
//! `cargo run --release -p patinox-memory-benches --example async_pool_speed -- [ROUNDS] [warm|shared] [patinox|deadpool|bb8]`

use patinox_memory_benches::compare::async_pool::{
    Which, current_thread, multi_thread, shared_by_64_tasks, warm_get_drop,
};
use patinox_memory_benches::measure::median;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let workload = args.next();
    let only = args.next();
    let pools: Vec<Which> = Which::ALL
        .into_iter()
        .filter(|w| only.as_deref().is_none_or(|o| o == w.name()))
        .collect();
    if workload.as_deref().is_none_or(|w| w == "warm") {
        let rt = current_thread();
        let iters = 200_000;
        report(
            "get+drop, warm pool, current-thread",
            &pools,
            rounds,
            |which| warm_get_drop(&rt, which, iters).as_nanos() as f64 / iters as f64,
        );
    }
    if workload.as_deref().is_none_or(|w| w == "shared") {
        let rt = multi_thread(2);
        let iters = 100_000;
        report(
            "64 tasks share 4 conns, 2 workers",
            &pools,
            rounds,
            |which| shared_by_64_tasks(&rt, which, iters).as_nanos() as f64 / iters as f64,
        );
    }
}

/// Runs each pool once per round, interleaved, and prints the medians.
fn report(name: &str, pools: &[Which], rounds: usize, mut run: impl FnMut(Which) -> f64) {
    let mut samples = vec![Vec::with_capacity(rounds); pools.len()];
    for _ in 0..rounds {
        for (i, &which) in pools.iter().enumerate() {
            samples[i].push(run(which));
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let deadpool = pools
        .iter()
        .position(|&w| w == Which::Deadpool)
        .map(|i| medians[i]);
    println!("{name}");
    for (which, m) in pools.iter().zip(&medians) {
        match deadpool {
            Some(d) => println!(
                "  {:<9} {m:>9.1} ns/op  {:.2}x deadpool",
                which.name(),
                m / d
            ),
            None => println!("  {:<9} {m:>9.1} ns/op", which.name()),
        }
    }
}
