//! The tokio adapter's pool against deadpool and bb8, all over a trivial in-memory manager:
//! get+drop on a warm pool on a current-thread runtime, and 64 tasks sharing 4 connections on
//! a 2-worker runtime.
//!
//! Beside them runs a floor that is not a pool: tokio's own fair `Semaphore` with as many
//! permits as the pools have connections, acquired and released the same way. It hands out
//! no object, keeps no statistics and has no health checks or deadlines, so no FIFO pool on
//! tokio is likely to go below it; it shows how much of each pool's time is the pool.

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use patinox_memory_tokio::pool::{ManageConnection, Pool};

use crate::measure::{Effort, Row, TurnOrder, median};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "async_pool";

/// A connection manager that only counts, for all three pools: what is measured is the pool.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemManager;

impl ManageConnection for MemManager {
    type Connection = u64;
    type Error = io::Error;
    async fn connect(&self) -> Result<u64, io::Error> {
        Ok(0)
    }
    async fn is_valid(&self, _conn: &mut u64) -> Result<(), io::Error> {
        Ok(())
    }
}

impl deadpool::managed::Manager for MemManager {
    type Type = u64;
    type Error = io::Error;
    async fn create(&self) -> Result<u64, io::Error> {
        Ok(0)
    }
    async fn recycle(
        &self,
        _conn: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<io::Error> {
        Ok(())
    }
}

impl bb8::ManageConnection for MemManager {
    type Connection = u64;
    type Error = io::Error;
    async fn connect(&self) -> Result<u64, io::Error> {
        Ok(0)
    }
    async fn is_valid(&self, _conn: &mut u64) -> Result<(), io::Error> {
        Ok(())
    }
    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

/// Our tokio pool of `max` connections: no check-out test, idle timeout or lifetime.
///
/// # Panics
///
/// Never with these constant settings.
pub fn patinox_pool(max: usize) -> Pool<MemManager> {
    Pool::builder(MemManager)
        .max_connections(max)
        .connection_timeout(Duration::from_secs(30))
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .expect("valid pool config")
}

/// A deadpool managed pool of `max` objects (it has no idle timeout or lifetime by default).
///
/// By default deadpool puts no time limit on a get, so a waiting get needs no timer; ours
/// and bb8's wait at most 30 s. [`deadpool_pool_with_timeout`] is the same pool doing the
/// same work as ours.
///
/// # Panics
///
/// Never with these constant settings.
pub fn deadpool_pool(max: usize) -> deadpool::managed::Pool<MemManager> {
    deadpool::managed::Pool::builder(MemManager)
        .max_size(max)
        .build()
        .expect("deadpool pool")
}

/// [`deadpool_pool`] with a 30 s limit on the wait for an object (on tokio's timer), like
/// ours and bb8's.
///
/// # Panics
///
/// Never with these constant settings.
pub fn deadpool_pool_with_timeout(max: usize) -> deadpool::managed::Pool<MemManager> {
    deadpool::managed::Pool::builder(MemManager)
        .max_size(max)
        .wait_timeout(Some(Duration::from_secs(30)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("deadpool pool")
}

/// A bb8 pool of `max` connections with the same settings as ours (no check-out test, idle
/// timeout or lifetime). Must be called inside a tokio runtime.
pub fn bb8_pool(max: u32) -> bb8::Pool<MemManager> {
    bb8::Pool::builder()
        .max_size(max)
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(Duration::from_secs(30))
        .build_unchecked(MemManager)
}

/// A current-thread runtime.
///
/// # Panics
///
/// If the OS refuses the runtime's resources.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A multi-thread runtime with `workers` workers.
///
/// # Panics
///
/// If the OS refuses the runtime's threads.
pub fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Which pool a measurement drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// patinox-memory-tokio.
    Patinox,
    /// deadpool's managed pool (no time limit on a get: its default).
    Deadpool,
    /// deadpool's managed pool with a 30 s wait timeout, the same limit as ours and bb8's.
    DeadpoolTimeout,
    /// bb8.
    Bb8,
    /// Not a pool: tokio's fair `Semaphore` alone (see the module docs).
    SemaphoreFloor,
}

impl Which {
    /// Ours first, then the peers, then the floor.
    pub const ALL: [Which; 5] = [
        Which::Patinox,
        Which::Deadpool,
        Which::DeadpoolTimeout,
        Which::Bb8,
        Which::SemaphoreFloor,
    ];

    /// The library's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Which::Patinox => "patinox",
            Which::Deadpool => "deadpool",
            Which::DeadpoolTimeout => "deadpool+timeout",
            Which::Bb8 => "bb8",
            Which::SemaphoreFloor => "semaphore-floor",
        }
    }
}

/// One of the three pools, cloned into tasks.
#[derive(Clone)]
enum AnyPool {
    Patinox(Pool<MemManager>),
    Deadpool(deadpool::managed::Pool<MemManager>),
    Bb8(bb8::Pool<MemManager>),
    Floor(std::sync::Arc<tokio::sync::Semaphore>),
}

impl AnyPool {
    /// A pool of `max`; call inside the runtime (bb8 needs it).
    fn new(which: Which, max: usize) -> Self {
        match which {
            Which::Patinox => AnyPool::Patinox(patinox_pool(max)),
            Which::Deadpool => AnyPool::Deadpool(deadpool_pool(max)),
            Which::DeadpoolTimeout => AnyPool::Deadpool(deadpool_pool_with_timeout(max)),
            Which::Bb8 => AnyPool::Bb8(bb8_pool(u32::try_from(max).unwrap_or(u32::MAX))),
            Which::SemaphoreFloor => {
                AnyPool::Floor(std::sync::Arc::new(tokio::sync::Semaphore::new(max)))
            }
        }
    }

    /// get, touch the connection, `yields` times yield while holding it, drop.
    async fn use_once(&self, yields: usize) {
        match self {
            AnyPool::Patinox(p) => {
                if let Ok(mut c) = p.get().await {
                    *c = black_box(c.wrapping_add(1));
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                }
            }
            AnyPool::Deadpool(p) => {
                if let Ok(mut c) = p.get().await {
                    *c = black_box(c.wrapping_add(1));
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                }
            }
            AnyPool::Bb8(p) => {
                if let Ok(mut c) = p.get().await {
                    *c = black_box(c.wrapping_add(1));
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                }
            }
            AnyPool::Floor(s) => {
                if let Ok(permit) = s.acquire().await {
                    black_box(&permit);
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
    }
}

/// Wall time of `iters` get+drop operations on a warm pool of 4, on `rt` (one task).
pub fn warm_get_drop(rt: &tokio::runtime::Runtime, which: Which, iters: u64) -> Duration {
    rt.block_on(async {
        let pool = AnyPool::new(which, 4);
        pool.use_once(0).await;
        let start = Instant::now();
        for _ in 0..iters {
            pool.use_once(0).await;
        }
        start.elapsed()
    })
}

/// Wall time of `iters` get+yield+drop operations split over 64 tasks sharing a pool of 4, on
/// `rt`.
pub fn shared_by_64_tasks(rt: &tokio::runtime::Runtime, which: Which, iters: u64) -> Duration {
    const TASKS: u64 = 64;
    rt.block_on(async {
        let pool = AnyPool::new(which, 4);
        pool.use_once(0).await;
        let per_task = iters.div_ceil(TASKS);
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        pool.use_once(1).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        start.elapsed()
    })
}

fn ns_per_op(d: Duration, iters: u64) -> f64 {
    d.as_nanos() as f64 / iters.max(1) as f64
}

/// Runs `measure` once per pool per round, the pools taking turns in a fresh order each round
/// ([`TurnOrder`]) so that a drift of the machine (this VM's host has slow spells that double
/// every time) lands on all of them alike; returns each pool's median, in [`Which::ALL`]'s
/// order.
pub fn interleave(rounds: usize, mut measure: impl FnMut(Which) -> f64) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); Which::ALL.len()];
    let mut turns = TurnOrder::new(Which::ALL.len());
    for _ in 0..rounds.max(1) {
        for &i in turns.next_round() {
            samples[i].push(measure(Which::ALL[i]));
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

/// Measures our tokio pool, deadpool and bb8 side by side, interleaved round by round.
pub fn run(effort: Effort) -> Vec<Row> {
    let rounds = effort.rounds();
    let row = |operation: &str, which: Which, ns: f64| Row {
        component: NAME,
        operation: operation.to_owned(),
        library: which.name(),
        ns_per_op: ns,
        note: if which == Which::SemaphoreFloor {
            "not a pool: tokio's fair Semaphore alone, a floor for FIFO pools".to_owned()
        } else {
            String::new()
        },
    };
    let mut rows = Vec::new();

    let iters = effort.scale(200_000);
    let rt = current_thread();
    let medians = interleave(rounds, |which| {
        ns_per_op(warm_get_drop(&rt, which, iters), iters)
    });
    for (which, ns) in Which::ALL.into_iter().zip(medians) {
        rows.push(row(
            "get+drop, warm pool, current-thread runtime",
            which,
            ns,
        ));
    }

    let iters = effort.scale(100_000);
    let rt = multi_thread(2);
    let medians = interleave(rounds, |which| {
        ns_per_op(shared_by_64_tasks(&rt, which, iters), iters)
    });
    for (which, ns) in Which::ALL.into_iter().zip(medians) {
        rows.push(row(
            "64 tasks share 4 conns (get+yield+drop), 2 workers",
            which,
            ns,
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_run_yields_rows_ours_first() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 10);
        for group in rows.chunks(5) {
            assert_eq!(group[0].library, "patinox");
            assert_eq!(group[1].library, "deadpool");
            assert_eq!(group[2].library, "deadpool+timeout");
            assert_eq!(group[3].library, "bb8");
            assert_eq!(group[4].library, "semaphore-floor");
            assert!(group[4].note.contains("not a pool"));
            assert!(group.iter().all(|r| r.operation == group[0].operation));
            assert!(group.iter().all(|r| r.ns_per_op > 0.0));
        }
    }
}
