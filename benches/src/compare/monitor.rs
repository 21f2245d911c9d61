//! Cost of reporting an event: the no-op monitor, counting `Metrics`, and a histogram record.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use patinox_memory::monitor::{CacheEvent, Event, Histogram, Metrics, Monitor, NoopMonitor};

use crate::measure::{Effort, Row, median_ns};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "monitor";

/// Measures event delivery to each built-in monitor.
pub fn run(effort: Effort) -> Vec<Row> {
    let iters = effort.scale(1_000_000);
    let rounds = effort.rounds();
    let noop: Arc<dyn Monitor> = Arc::new(NoopMonitor);
    let metrics: Arc<dyn Monitor> = Arc::new(Metrics::new());
    let hist = Histogram::new();
    let hit = Event::Cache(CacheEvent::Hit);
    let row = |operation: &str, library, ns| Row {
        component: NAME,
        operation: operation.to_owned(),
        library,
        ns_per_op: ns,
        note: String::new(),
    };
    vec![
        row(
            "event delivery",
            "NoopMonitor",
            median_ns(rounds, iters, |_| noop.on_event(black_box(&hit))),
        ),
        row(
            "event delivery",
            "Metrics",
            median_ns(rounds, iters, |_| metrics.on_event(black_box(&hit))),
        ),
        row(
            "latency record",
            "Histogram",
            median_ns(rounds, iters, |i| {
                hist.record(black_box(Duration::from_nanos(i)))
            }),
        ),
    ]
}
