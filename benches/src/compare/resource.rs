//! Cost of a cleanup guard and of tracking a resource: `ResourceGuard` against `scopeguard`
//! and a hand-written `Drop` type; `ResourceRegistry` register+drop against a hand-rolled
//! `Mutex<HashMap>` tracker.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use patinox_memory::resource::{ResourceGuard, ResourceRegistry};

use crate::measure::{Effort, Row, median_ns};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "resource";

static CLEANED: AtomicU64 = AtomicU64::new(0);

fn cleanup(v: u64) {
    CLEANED.fetch_add(black_box(v) & 1, Ordering::Relaxed);
}

/// The baseline: a type whose `Drop` is the cleanup.
struct PlainDrop(u64);

impl Drop for PlainDrop {
    fn drop(&mut self) {
        cleanup(self.0);
    }
}

/// The simplest tracker one would write by hand: a locked map of id to type name.
#[derive(Default)]
struct HandTracker {
    next: AtomicU64,
    live: Mutex<HashMap<u64, &'static str>>,
}

struct HandTracked<'a> {
    id: u64,
    value: u64,
    tracker: &'a HandTracker,
}

impl HandTracker {
    fn register(&self, value: u64) -> HandTracked<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut live) = self.live.lock() {
            live.insert(id, std::any::type_name::<u64>());
        }
        HandTracked {
            id,
            value,
            tracker: self,
        }
    }
}

impl Drop for HandTracked<'_> {
    fn drop(&mut self) {
        cleanup(self.value);
        if let Ok(mut live) = self.tracker.live.lock() {
            live.remove(&self.id);
        }
    }
}

/// Measures guard create+drop and register+drop, one thread.
pub fn run(effort: Effort) -> Vec<Row> {
    let iters = effort.scale(500_000);
    let rounds = effort.rounds();
    let row = |operation: &str, library, ns| Row {
        component: NAME,
        operation: operation.to_owned(),
        library,
        ns_per_op: ns,
        note: String::new(),
    };
    let registry = ResourceRegistry::new();
    let hand = HandTracker::default();
    vec![
        row(
            "guard create+drop",
            "patinox",
            median_ns(rounds, iters, |i| {
                drop(ResourceGuard::new(black_box(i), cleanup))
            }),
        ),
        row(
            "guard create+drop",
            "scopeguard",
            median_ns(rounds, iters, |i| {
                drop(scopeguard::guard(black_box(i), cleanup))
            }),
        ),
        row(
            "guard create+drop",
            "plain Drop",
            median_ns(rounds, iters, |i| drop(PlainDrop(black_box(i)))),
        ),
        row(
            "tracked register+drop",
            "patinox",
            median_ns(rounds, iters, |i| {
                drop(registry.register_with_cleanup(black_box(i), cleanup))
            }),
        ),
        row(
            "tracked register+drop",
            "Mutex<HashMap>",
            median_ns(rounds, iters, |i| drop(hand.register(black_box(i)))),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_compare_rows_lead_with_patinox() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 5);
        for group in ["guard create+drop", "tracked register+drop"] {
            let first = rows.iter().find(|r| r.operation == group).unwrap();
            assert_eq!(first.library, "patinox");
        }
        assert!(
            rows.iter()
                .all(|r| r.ns_per_op > 0.0 && r.component == NAME)
        );
    }
}
