//! The pool against r2d2, both over a trivial in-memory manager: get+drop on a warm pool, and
//! eight threads sharing two connections (throughput and per-thread fairness).

use std::hint::black_box;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::pool::{ManageConnection, Pool, PoolConfig};

use crate::measure::{Effort, Row, median, median_ns};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "pool";

/// A connection manager that only counts: what is measured is the pool.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemManager;

impl ManageConnection for MemManager {
    type Connection = u64;
    type Error = io::Error;
    fn connect(&self) -> Result<u64, io::Error> {
        Ok(0)
    }
    fn is_valid(&self, _conn: &mut u64) -> Result<(), io::Error> {
        Ok(())
    }
}

impl r2d2::ManageConnection for MemManager {
    type Connection = u64;
    type Error = io::Error;
    fn connect(&self) -> Result<u64, io::Error> {
        Ok(0)
    }
    fn is_valid(&self, _conn: &mut u64) -> Result<(), io::Error> {
        Ok(())
    }
    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

/// A patinox pool of `max` connections with the same settings as [`r2d2_pool`]: no
/// check-out test, idle timeout or lifetime.
///
/// # Panics
///
/// Never with these constant settings.
pub fn patinox_pool(max: usize) -> Pool<MemManager> {
    Pool::new(
        MemManager,
        PoolConfig {
            max_connections: max,
            connection_timeout: Duration::from_secs(30),
            idle_timeout: None,
            max_lifetime: None,
            test_on_check_out: false,
            ..PoolConfig::default()
        },
    )
    .expect("valid pool config")
}

/// An r2d2 pool of `max` connections, opened at build, with the same settings as
/// [`patinox_pool`].
///
/// # Panics
///
/// If r2d2 fails to open its in-memory connections (it cannot).
pub fn r2d2_pool(max: u32) -> r2d2::Pool<MemManager> {
    r2d2::Pool::builder()
        .max_size(max)
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(Duration::from_secs(30))
        .build(MemManager)
        .expect("r2d2 pool")
}

/// How long a thread holds a connection in the contended runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A single write: the connection is given back at once.
    Zero,
    /// The thread works on the connection for this many microseconds, on a CPU (a spin on
    /// the clock), like code computing with the connection in hand.
    Busy(u64),
    /// The thread sleeps this many microseconds with the connection (like waiting for a
    /// query's answer: it holds the connection but not a CPU). The OS rounds short sleeps up
    /// (timer slack), so the real hold is longer.
    Sleep(u64),
}

/// The contended cases `compare pool` measures, with their row labels.
pub const HOLDS: [(Hold, &str); 5] = [
    (Hold::Zero, "8 threads share 2 conns, held ~0"),
    (Hold::Busy(1), "8 threads share 2 conns, held 1us (busy)"),
    (Hold::Busy(5), "8 threads share 2 conns, held 5us (busy)"),
    (Hold::Busy(20), "8 threads share 2 conns, held 20us (busy)"),
    (
        Hold::Sleep(20),
        "8 threads share 2 conns, held 20us (sleep)",
    ),
];

/// Simulated use of a connection for `hold`.
pub fn use_connection(conn: &mut u64, hold: Hold) {
    *conn = black_box(conn.wrapping_add(1));
    match hold {
        Hold::Zero => {}
        Hold::Busy(micros) => {
            let end = Instant::now() + Duration::from_micros(micros);
            while Instant::now() < end {
                std::hint::spin_loop();
            }
        }
        Hold::Sleep(micros) => thread::sleep(Duration::from_micros(micros)),
    }
}

/// Per-thread operation counts of one contended run.
#[derive(Debug, Clone)]
pub struct Contended {
    /// Nanoseconds per operation over all threads.
    pub ns_per_op: f64,
    /// Operations completed by each thread.
    pub per_thread: Vec<u64>,
}

/// Runs `threads` threads doing get, use for `work`, drop on a shared pool for `duration`.
pub fn contended(
    threads: usize,
    duration: Duration,
    work: Hold,
    op: impl Fn(Hold) + Send + Sync + 'static,
) -> Contended {
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let start_line = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, stop, start_line) =
                (Arc::clone(&op), Arc::clone(&stop), Arc::clone(&start_line));
            thread::spawn(move || {
                start_line.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op(work);
                    n += 1;
                }
                n
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let per_thread: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap_or(0)).collect();
    let elapsed = start.elapsed();
    let total: u64 = per_thread.iter().sum();
    Contended {
        ns_per_op: elapsed.as_nanos() as f64 / total.max(1) as f64,
        per_thread,
    }
}

/// The note of a contended row: operations per thread, min, max and their ratio.
pub fn spread_note(per_thread: &[u64]) -> String {
    let min = per_thread.iter().copied().min().unwrap_or(0);
    let max = per_thread.iter().copied().max().unwrap_or(0);
    let ratio = if min == 0 {
        "inf".to_owned()
    } else {
        format!("{:.2}", max as f64 / min as f64)
    };
    format!("ops/thread min {min} max {max} (max/min {ratio})")
}

/// Median round of `rounds` contended runs, by ns/op.
pub fn median_run(rounds: usize, mut run: impl FnMut() -> Contended) -> Contended {
    let mut runs: Vec<Contended> = (0..rounds.max(1)).map(|_| run()).collect();
    let mut ns: Vec<f64> = runs.iter().map(|r| r.ns_per_op).collect();
    let m = median(&mut ns);
    let i = runs.iter().position(|r| r.ns_per_op == m).unwrap_or(0);
    runs.swap_remove(i)
}

/// Measures the pool and r2d2 side by side.
pub fn run(effort: Effort) -> Vec<Row> {
    let iters = effort.scale(500_000);
    let rounds = effort.rounds();
    let row = |operation: &str, library, ns, note: String| Row {
        component: NAME,
        operation: operation.to_owned(),
        library,
        ns_per_op: ns,
        note,
    };
    let mut rows = Vec::new();

    let ours = patinox_pool(4);
    drop(ours.get());
    let theirs = r2d2_pool(4);
    let warm = "get+drop, warm pool, 1 thread";
    rows.push(row(
        warm,
        "patinox",
        median_ns(rounds, iters, |_| drop(black_box(ours.get()))),
        String::new(),
    ));
    rows.push(row(
        warm,
        "r2d2",
        median_ns(rounds, iters, |_| drop(black_box(theirs.get()))),
        String::new(),
    ));

    let duration = match effort {
        Effort::Smoke => Duration::from_millis(20),
        Effort::Quick => Duration::from_millis(300),
        Effort::Full => Duration::from_millis(1000),
    };
    let contended_rounds = match effort {
        Effort::Smoke => 1,
        Effort::Quick => 3,
        Effort::Full => 7,
    };
    for (work, label) in HOLDS {
        let ours = patinox_pool(2);
        let r = median_run(contended_rounds, || {
            let pool = ours.clone();
            contended(8, duration, work, move |w| {
                if let Ok(mut c) = pool.get() {
                    use_connection(&mut c, w);
                }
            })
        });
        rows.push(row(
            label,
            "patinox",
            r.ns_per_op,
            spread_note(&r.per_thread),
        ));
        let theirs = r2d2_pool(2);
        let r = median_run(contended_rounds, || {
            let pool = theirs.clone();
            contended(8, duration, work, move |w| {
                if let Ok(mut c) = pool.get() {
                    use_connection(&mut c, w);
                }
            })
        });
        rows.push(row(label, "r2d2", r.ns_per_op, spread_note(&r.per_thread)));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_run_yields_paired_rows() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 2 + 2 * HOLDS.len());
        for pair in rows.chunks(2) {
            assert_eq!(pair[0].library, "patinox");
            assert_eq!(pair[1].library, "r2d2");
            assert_eq!(pair[0].operation, pair[1].operation);
            assert!(pair.iter().all(|r| r.ns_per_op > 0.0));
        }
    }
}
