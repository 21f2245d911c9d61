//! A quick A/B of the async pools: the two `compare async_pool` workloads with the pools
//! interleaved round by round, so a noisy machine affects them alike. Prints the median ns per
//! operation (wall time, and the process's CPU time: steadier when the VM's host takes CPUs
//! away, see `measure::process_cpu_time`) and the ratios to deadpool. With `ONLY` one pool
//! runs one workload (for a profiler: `valgrind --tool=callgrind`, `perf record`).
//!
//! `cargo run --release -p patinox-memory-benches --example async_pool_speed -- [ROUNDS] [warm|shared] [patinox|deadpool|bb8]`

use patinox_memory_benches::compare::async_pool::{
    Which, current_thread, multi_thread, shared_by_64_tasks, warm_get_drop,
};
use patinox_memory_benches::measure::{median, process_cpu_time};

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
            |which| per_op(iters, || warm_get_drop(&rt, which, iters)),
        );
    }
    if workload.as_deref().is_none_or(|w| w == "shared") {
        let rt = multi_thread(2);
        let iters = 100_000;
        report(
            "64 tasks share 4 conns, 2 workers",
            &pools,
            rounds,
            |which| per_op(iters, || shared_by_64_tasks(&rt, which, iters)),
        );
    }
}

/// Wall and CPU nanoseconds per operation of `run`, which does `iters` operations and
/// returns its wall time.
fn per_op(iters: u64, run: impl FnOnce() -> std::time::Duration) -> (f64, f64) {
    let cpu = process_cpu_time();
    let wall = run();
    let cpu = process_cpu_time().saturating_sub(cpu);
    let n = iters.max(1) as f64;
    (wall.as_nanos() as f64 / n, cpu.as_nanos() as f64 / n)
}

/// Runs each pool once per round, interleaved, and prints the medians.
fn report(name: &str, pools: &[Which], rounds: usize, mut run: impl FnMut(Which) -> (f64, f64)) {
    let mut wall = vec![Vec::with_capacity(rounds); pools.len()];
    let mut cpu = vec![Vec::with_capacity(rounds); pools.len()];
    for _ in 0..rounds {
        for (i, &which) in pools.iter().enumerate() {
            let (w, c) = run(which);
            wall[i].push(w);
            cpu[i].push(c);
        }
    }
    let wall: Vec<f64> = wall.iter_mut().map(|s| median(s)).collect();
    let cpu: Vec<f64> = cpu.iter_mut().map(|s| median(s)).collect();
    let deadpool = pools.iter().position(|&w| w == Which::Deadpool);
    println!("{name}");
    for (i, which) in pools.iter().enumerate() {
        let (w, c) = (wall[i], cpu[i]);
        match deadpool {
            Some(d) => println!(
                "  {:<9} {w:>9.1} ns/op  {:.2}x deadpool   cpu {c:>9.1} ns/op  {:.2}x deadpool",
                which.name(),
                w / wall[d],
                c / cpu[d]
            ),
            None => println!("  {:<9} {w:>9.1} ns/op   cpu {c:>9.1} ns/op", which.name()),
        }
    }
}
