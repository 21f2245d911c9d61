//! Criterion benches of `patinox_memory::resource`: a guard against `scopeguard` and a plain
//! `Drop` type, and registry register+drop.

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use patinox_memory::resource::{ResourceGuard, ResourceRegistry};

struct PlainDrop(u64);

impl Drop for PlainDrop {
    fn drop(&mut self) {
        black_box(self.0);
    }
}

fn guards(c: &mut Criterion) {
    let mut g = c.benchmark_group("guard create+drop");
    g.bench_function("patinox", |b| {
        b.iter(|| {
            drop(ResourceGuard::new(black_box(1u64), |v| {
                black_box(v);
            }))
        })
    });
    g.bench_function("scopeguard", |b| {
        b.iter(|| {
            drop(scopeguard::guard(black_box(1u64), |v| {
                black_box(v);
            }))
        })
    });
    g.bench_function("plain Drop", |b| b.iter(|| drop(PlainDrop(black_box(1)))));
    g.finish();
}

fn registry(c: &mut Criterion) {
    let registry = ResourceRegistry::new();
    let mut g = c.benchmark_group("tracked register+drop");
    g.bench_function("patinox register", |b| {
        b.iter(|| drop(registry.register(black_box(1u64))))
    });
    g.bench_function("patinox register_with_cleanup", |b| {
        b.iter(|| {
            drop(registry.register_with_cleanup(black_box(1u64), |v| {
                black_box(v);
            }))
        })
    });
    g.finish();
}

criterion_group!(benches, guards, registry);
criterion_main!(benches);
