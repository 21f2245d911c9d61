//! The snapshot cell: `Snapshot::load` against arc-swap's `ArcSwap::load` and a
//! `RwLock<Arc<T>>` read, with 1 and 2 threads loading while nobody writes. And the locked
//! value: `SharedMutableData` (fair, one line for threads and tasks) against `parking_lot`'s
//! and `std`'s `RwLock` (reads, contended writes) and tokio's `RwLock` (64 tasks writing).

use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Barrier, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use patinox_memory::share::Snapshot;

use crate::measure::{Effort, Row, median};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "share";

/// The read-mostly value the cells hold: a small configuration.
#[derive(Debug, Clone)]
struct Config {
    limit: u64,
    name: String,
}

/// Wall time for `threads` threads to run `iters` calls of `op` each, started together
/// (the slowest thread's time). `op` receives the thread's number and the call's index.
pub fn parallel_elapsed<F>(threads: usize, iters: u64, op: &F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        op(t, i);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

/// Median over `rounds` of nanoseconds per call of `op` on each of `threads` threads running
/// `iters` calls at once (see [`parallel_elapsed`]).
pub fn threaded_ns<F>(threads: usize, rounds: usize, iters: u64, op: F) -> f64
where
    F: Fn(usize, u64) + Sync,
{
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| parallel_elapsed(threads, iters, &op).as_nanos() as f64 / iters.max(1) as f64)
        .collect();
    median(&mut samples)
}

/// Measures loads of each cell with 1 and 2 threads.
pub fn run(effort: Effort) -> Vec<Row> {
    let iters = effort.scale(2_000_000);
    let rounds = effort.rounds();
    let value = Config {
        limit: 7,
        name: "service".into(),
    };
    let ours = Snapshot::new(value.clone());
    let swap = ArcSwap::from_pointee(value.clone());
    let locked = RwLock::new(Arc::new(value));
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let operation = format!(
            "load, {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        );
        let row = |library, ns| Row {
            component: NAME,
            operation: operation.clone(),
            library,
            ns_per_op: ns,
            note: String::new(),
        };
        rows.push(row(
            "patinox Snapshot",
            threaded_ns(threads, rounds, iters, |_, _| {
                let c = ours.load();
                black_box((c.limit, c.name.len()));
            }),
        ));
        rows.push(row(
            "arc-swap",
            threaded_ns(threads, rounds, iters, |_, _| {
                let c = swap.load();
                black_box((c.limit, c.name.len()));
            }),
        ));
        rows.push(row(
            "RwLock<Arc<T>>",
            threaded_ns(threads, rounds, iters, |_, _| {
                let c = locked.read().unwrap_or_else(|e| e.into_inner());
                black_box((c.limit, c.name.len()));
            }),
        ));
    }
    // Readers while a writer replaces the value every few microseconds.
    let operation = "load, 1 reader + 1 storing thread".to_owned();
    let mixed = |load: &(dyn Fn() + Sync), store: &(dyn Fn(u64) + Sync)| {
        threaded_ns(2, rounds, iters, |t, i| {
            if t == 0 {
                load();
            } else if i % 64 == 0 {
                store(i);
            } else {
                std::hint::spin_loop();
            }
        })
    };
    let name = black_box(String::from("service"));
    rows.push(Row {
        component: NAME,
        operation: operation.clone(),
        library: "patinox Snapshot",
        ns_per_op: mixed(
            &|| {
                black_box(ours.load().limit);
            },
            &|i| {
                ours.store(Config {
                    limit: i,
                    name: name.clone(),
                })
            },
        ),
        note: String::new(),
    });
    rows.push(Row {
        component: NAME,
        operation: operation.clone(),
        library: "arc-swap",
        ns_per_op: mixed(
            &|| {
                black_box(swap.load().limit);
            },
            &|i| {
                swap.store(Arc::new(Config {
                    limit: i,
                    name: name.clone(),
                }))
            },
        ),
        note: String::new(),
    });
    rows.push(Row {
        component: NAME,
        operation,
        library: "RwLock<Arc<T>>",
        ns_per_op: mixed(
            &|| {
                black_box(locked.read().unwrap_or_else(|e| e.into_inner()).limit);
            },
            &|i| {
                *locked.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Config {
                    limit: i,
                    name: name.clone(),
                })
            },
        ),
        note: String::new(),
    });
    rows.extend(locked_value(iters, rounds));
    rows
}

/// `SharedMutableData` beside `parking_lot::RwLock` and `std::sync::RwLock`: reads with 1 and 2
/// threads, and writes (+1) with 2 threads contending; then 64 tasks on a 2-worker runtime each
/// writing, against `tokio::sync::RwLock` (both fair, both waiting without blocking a worker).
fn locked_value(iters: u64, rounds: usize) -> Vec<Row> {
    use patinox_memory::share::SharedMutableData;

    let ours = SharedMutableData::new(0u64);
    let parking = parking_lot::RwLock::new(0u64);
    let std_lock = RwLock::new(0u64);
    let mut rows = Vec::new();
    let mut row = |operation: &str, library, ns_per_op| {
        rows.push(Row {
            component: NAME,
            operation: operation.to_owned(),
            library,
            ns_per_op,
            note: String::new(),
        });
    };
    for threads in [1, 2] {
        let operation = format!(
            "locked value: read, {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        );
        row(
            &operation,
            "patinox SharedMutableData",
            threaded_ns(threads, rounds, iters, |_, _| {
                black_box(*ours.read());
            }),
        );
        row(
            &operation,
            "parking_lot RwLock",
            threaded_ns(threads, rounds, iters, |_, _| {
                black_box(*parking.read());
            }),
        );
        row(
            &operation,
            "std RwLock",
            threaded_ns(threads, rounds, iters, |_, _| {
                black_box(*std_lock.read().unwrap_or_else(|e| e.into_inner()));
            }),
        );
    }
    let operation = "locked value: write (+1), 2 threads";
    let writes = iters / 4;
    row(
        operation,
        "patinox SharedMutableData",
        threaded_ns(2, rounds, writes, |_, _| ours.modify(|v| *v += 1)),
    );
    row(
        operation,
        "parking_lot RwLock",
        threaded_ns(2, rounds, writes, |_, _| *parking.write() += 1),
    );
    row(
        operation,
        "std RwLock",
        threaded_ns(2, rounds, writes, |_, _| {
            *std_lock.write().unwrap_or_else(|e| e.into_inner()) += 1;
        }),
    );

    let operation = "locked value: async write (+1, yield while held), 64 tasks, 2 workers";
    let rt = crate::compare::async_pool::multi_thread(2);
    let tasks_ns =
        |write: &(dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Sync)| {
            let total = (iters / 20).max(64);
            let mut samples: Vec<f64> = (0..rounds.max(1))
                .map(|_| {
                    let start = Instant::now();
                    rt.block_on(async {
                        let per_task = total / 64;
                        let tasks: Vec<_> = (0..64)
                            .map(|_| {
                                let futs: Vec<_> = (0..per_task).map(|_| write()).collect();
                                tokio::spawn(async move {
                                    for f in futs {
                                        f.await;
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            let _ = t.await;
                        }
                    });
                    start.elapsed().as_nanos() as f64 / total as f64
                })
                .collect();
            median(&mut samples)
        };
    let ours = Arc::new(SharedMutableData::new(0u64));
    row(
        operation,
        "patinox SharedMutableData",
        tasks_ns(&|| {
            let data = Arc::clone(&ours);
            Box::pin(async move {
                let mut guard = data.write_async().await;
                *guard += 1;
                tokio::task::yield_now().await;
            })
        }),
    );
    let tokio_lock = Arc::new(tokio::sync::RwLock::new(0u64));
    row(
        operation,
        "tokio RwLock",
        tasks_ns(&|| {
            let lock = Arc::clone(&tokio_lock);
            Box::pin(async move {
                let mut guard = lock.write().await;
                *guard += 1;
                tokio::task::yield_now().await;
            })
        }),
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_comparison_produces_rows_ours_first() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 9 + 11);
        assert_eq!(rows[0].library, "patinox Snapshot");
        assert!(rows.iter().all(|r| r.ns_per_op > 0.0));
    }
}
