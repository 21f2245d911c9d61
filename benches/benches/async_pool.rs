//! Criterion benches of the tokio adapter's pool against deadpool and bb8, all over a trivial
//! in-memory manager.
//!
//! ```text
//! cargo bench -p patinox-memory-benches --bench async_pool -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{Criterion, criterion_main};
use patinox_memory_benches::compare::async_pool::{
    Which, current_thread, multi_thread, shared_by_64_tasks, warm_get_drop,
};

fn warm(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_pool/get+drop warm, current-thread");
    let rt = current_thread();
    for which in Which::ALL {
        group.bench_function(which.name(), |b| {
            b.iter_custom(|iters| warm_get_drop(&rt, which, iters))
        });
    }
    group.finish();
}

fn shared(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_pool/64 tasks share 4 conns, 2 workers");
    let rt = multi_thread(2);
    for which in Which::ALL {
        group.bench_function(which.name(), |b| {
            b.iter_custom(|iters| shared_by_64_tasks(&rt, which, iters))
        });
    }
    group.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    warm(&mut c);
    shared(&mut c);
    c.final_summary();
}

criterion_main!(benches);
