//! `patinox-bench`: shows what patinox-memory does and how it stands against the libraries
//! people use today.
//!
//! Run with no arguments for the tour. Components are added to the tour as they land; the
//! README's feature table says which exist.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use patinox_memory::monitor::{CacheEvent, Event, Histogram, Metrics, Monitor, NoopMonitor};

const HELP: &str = "\
patinox-bench: compare patinox-memory with its peers

USAGE:
    patinox-bench            run the tour: every built component against its peers
    patinox-bench --help     show this help

The tour measures each component side by side with its peer libraries in one process and
prints per-operation medians and ratios.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("tour") => {
            tour();
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("patinox-bench: unknown command `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

/// Median nanoseconds per operation of `op` over `rounds` rounds of `iters` calls.
fn median_ns(rounds: usize, iters: u64, mut op: impl FnMut(u64)) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for i in 0..iters {
                op(i);
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn tour() {
    println!("patinox-bench tour (medians of 11 rounds; lower is better)\n");
    println!("{:<44} {:>12} {:>8}", "operation", "ns/op", "ratio");
    let noop: Arc<dyn Monitor> = Arc::new(NoopMonitor);
    let metrics: Arc<dyn Monitor> = Arc::new(Metrics::new());
    let hist = Histogram::new();
    let base = median_ns(11, 2_000_000, |_| {
        noop.on_event(black_box(&Event::Cache(CacheEvent::Hit)))
    });
    let counted = median_ns(11, 2_000_000, |_| {
        metrics.on_event(black_box(&Event::Cache(CacheEvent::Hit)))
    });
    let recorded = median_ns(11, 2_000_000, |i| {
        hist.record(black_box(Duration::from_nanos(i)))
    });
    println!(
        "{:<44} {:>12.2} {:>8}",
        "monitor: NoopMonitor event", base, "1.00"
    );
    println!(
        "{:<44} {:>12.2} {:>8.2}",
        "monitor: Metrics event (counter)",
        counted,
        counted / base.max(0.01)
    );
    println!(
        "{:<44} {:>12.2} {:>8}",
        "monitor: Histogram::record", recorded, "-"
    );
    println!(
        "\nThe pool, caches, shared data, mapped files and resource registry join the tour as they land."
    );
}
