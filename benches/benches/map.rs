//! Criterion: `ShardedMap` against dashmap and `RwLock<HashMap>` on a read-heavy workload
//! (98 % get, 1 % insert, 1 % remove) and a mixed one (60 % get, 20 % insert, 20 % remove), with
//! one and two threads.
//!
//! `cargo bench -p patinox-memory-benches --bench map -- --warm-up-time 1 --measurement-time 3`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::collections::HashMap;
use std::hash::RandomState;
use std::hint::black_box;
use std::sync::RwLock;

use criterion::{Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use patinox_memory::share::ShardedMap;
use patinox_memory_benches::compare::map::{KEYS, Step, workload};
use patinox_memory_benches::compare::share::parallel_elapsed;

fn read_heavy(c: &mut Criterion) {
    workload_group(c, "map read-heavy 98/1/1", &workload(1 << 16, 10, 10, 7));
}

fn mixed(c: &mut Criterion) {
    workload_group(c, "map mixed 60/20/20", &workload(1 << 16, 200, 200, 11));
}

fn workload_group(c: &mut Criterion, name: &str, steps: &[Step]) {
    let len = steps.len() as u64;
    let step = |t: usize, i: u64| steps[((i + t as u64 * len / 2) % len) as usize];

    let ours: ShardedMap<u64, u64> = ShardedMap::new();
    let dash: DashMap<u64, u64> = DashMap::with_hasher(RandomState::new());
    let locked: RwLock<HashMap<u64, u64>> = RwLock::new(HashMap::new());
    for k in (0..KEYS).step_by(2) {
        ours.insert(k, k);
        dash.insert(k, k);
        locked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, k);
    }

    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("{name}, {threads} thread(s)"));
        group.bench_function("patinox ShardedMap", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|t, i| match step(t, i) {
                    Step::Get(k) => {
                        black_box(ours.get_cloned(&k));
                    }
                    Step::Insert(k) => {
                        ours.insert(k, i);
                    }
                    Step::Remove(k) => {
                        ours.remove(&k);
                    }
                })
            })
        });
        group.bench_function("dashmap", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|t, i| match step(t, i) {
                    Step::Get(k) => {
                        black_box(dash.get(&k).map(|r| *r));
                    }
                    Step::Insert(k) => {
                        dash.insert(k, i);
                    }
                    Step::Remove(k) => {
                        dash.remove(&k);
                    }
                })
            })
        });
        group.bench_function("RwLock<HashMap>", |b| {
            b.iter_custom(|iters| {
                parallel_elapsed(threads, iters, &|t, i| match step(t, i) {
                    Step::Get(k) => {
                        black_box(
                            locked
                                .read()
                                .unwrap_or_else(|e| e.into_inner())
                                .get(&k)
                                .copied(),
                        );
                    }
                    Step::Insert(k) => {
                        locked
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(k, i);
                    }
                    Step::Remove(k) => {
                        locked.write().unwrap_or_else(|e| e.into_inner()).remove(&k);
                    }
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, read_heavy, mixed);
criterion_main!(benches);
