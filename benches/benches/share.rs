//! Criterion: loading from the snapshot cell against arc-swap and `RwLock<Arc<T>>`, with one
//! thread and with two threads loading at once.
//!
//! `cargo bench -p patinox-memory-benches --bench share -- --warm-up-time 1 --measurement-time 3`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use patinox_memory::share::Snapshot;
use patinox_memory_benches::compare::share::parallel_elapsed;

#[derive(Debug, Clone)]
struct Config {
    limit: u64,
    name: String,
}

fn loads(c: &mut Criterion) {
    let value = Config {
        limit: 7,
        name: "service".into(),
    };
    let ours = Snapshot::new(value.clone());
    let swap = ArcSwap::from_pointee(value.clone());
    let locked = RwLock::new(Arc::new(value));

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("snapshot load, {threads} thread(s)"));
        group.bench_function("patinox Snapshot", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|_, _| {
                    let c = ours.load();
                    black_box((c.limit, c.name.len()));
                })
            })
        });
        group.bench_function("arc-swap", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|_, _| {
                    let c = swap.load();
                    black_box((c.limit, c.name.len()));
                })
            })
        });
        group.bench_function("RwLock<Arc<T>>", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|_, _| {
                    let c = locked.read().unwrap_or_else(|e| e.into_inner());
                    black_box((c.limit, c.name.len()));
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, loads);
criterion_main!(benches);
