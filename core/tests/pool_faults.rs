//! The pool's fault matrix: every combination of success, error, slow, hang and panic in
//! `connect`, `is_valid` and `has_broken` (125 combinations), each under eight threads with
//! random timeouts, on pools with and without background maintenance.
//!
//! Invariants checked for every combination:
//! - capacity: never more than `max_connections` connections alive at once;
//! - bounded wait: every get returns by its own timeout plus a margin (the bounded hang of a
//!   manager call already running at the deadline, plus scheduling on a loaded machine);
//! - no leak: afterwards nothing is in use, waiting or being created, the pool's count
//!   matches the connections alive, and dropping the pool closes every one of them;
//! - recovery: once the faults stop, every get succeeds again.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Counts, Fault, FaultManager, Plan, quiet_config, quietly};
use patinox_memory::pool::{Pool, PoolConfig};

const MAX: usize = 3;
const THREADS: usize = 8;
const GETS: usize = 15;
const HANG: Duration = Duration::from_millis(15);

/// A small deterministic generator, so a failing combination can be replayed from its seed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a run of the matrix did, for the report printed at the end.
#[derive(Debug, Default)]
struct Totals {
    faults: AtomicU64,
    served: AtomicU64,
    errors: AtomicU64,
}

fn plans(slow: Duration, every: [usize; 4]) -> [Plan; 5] {
    [
        Plan::OK,
        Plan::every(Fault::Fail, every[0]),
        Plan::every(Fault::Slow(slow), every[1]),
        Plan::every(Fault::Hang(HANG), every[2]),
        Plan::every(Fault::Panic, every[3]),
    ]
}

/// CPU time the hypervisor gave to other guests, summed over this machine's CPUs (the `steal`
/// column of `/proc/stat`, in USER_HZ ticks of 10 ms); zero where it cannot be read, which
/// leaves the deadline check at its plain margin.
fn stolen() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let ticks = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|l| l.split_whitespace().nth(8))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks.saturating_mul(10))
}

/// One combination: load with faults, check the invariants, stop the faults, check recovery.
fn run_combination(connect: Plan, valid: Plan, broken: Plan, seed: u64, totals: &Totals) {
    let what =
        format!("connect {connect:?}, is_valid {valid:?}, has_broken {broken:?} (seed {seed})");
    let maintained = seed % 2 == 1;
    let counts = Arc::new(Counts::default());
    let config = PoolConfig {
        test_on_check_out: true,
        connection_timeout: Duration::from_millis(40),
        max_lifetime: Some(Duration::from_millis(25)),
        // Every other combination also runs the background thread (refill to one
        // connection, health checks), so its manager calls meet the faults too.
        min_connections: usize::from(maintained),
        health_check_interval: maintained.then_some(Duration::from_millis(5)),
        ..quiet_config(MAX)
    };
    let pool = Pool::new(FaultManager::with(&counts, connect, valid, broken), config).unwrap();
    let margin = HANG + Duration::from_millis(250);
    // The longest time any get took beyond its timeout, in nanoseconds.
    let overrun = Arc::new(AtomicU64::new(0));
    let stolen_before = stolen();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, overrun) = (pool.clone(), Arc::clone(&overrun));
            thread::spawn(move || {
                let mut rng = XorShift::new(seed * 31 + t as u64);
                let (mut served, mut errors) = (0u64, 0u64);
                for _ in 0..GETS {
                    let timeout = Duration::from_millis(5 + rng.below(56));
                    let start = Instant::now();
                    let got = if rng.below(8) == 0 {
                        pool.try_get().ok_or(())
                    } else {
                        pool.get_timeout(timeout).map_err(drop)
                    };
                    let over = start.elapsed().saturating_sub(timeout).as_nanos();
                    overrun.fetch_max(u64::try_from(over).unwrap_or(u64::MAX), Ordering::SeqCst);
                    match got {
                        Ok(conn) => {
                            served += 1;
                            thread::sleep(Duration::from_micros(rng.below(600)));
                            drop(conn);
                        }
                        Err(()) => errors += 1,
                    }
                }
                (served, errors)
            })
        })
        .collect();
    for h in handles {
        let (served, errors) = h.join().unwrap();
        totals.served.fetch_add(served, Ordering::Relaxed);
        totals.errors.fetch_add(errors, Ordering::Relaxed);
    }
    assert!(
        counts.max_alive.load(Ordering::SeqCst) <= MAX,
        "more than {MAX} alive with {what}"
    );
    // Time the hypervisor gave this machine's CPUs to other guests is time no code here could
    // run: a get may overrun its timeout by the margin plus what was stolen meanwhile, and no
    // more. (On a VM with 10-25 % steal, a 0.5 ms sleep was seen taking 97 ms and gets
    // overran by 300 ms with nothing wrong in the pool.)
    let stolen = stolen().saturating_sub(stolen_before);
    let overrun = Duration::from_nanos(overrun.load(Ordering::SeqCst));
    assert!(
        overrun <= margin + stolen,
        "a get overran its timeout by {overrun:?} (margin {margin:?}, CPU time stolen by the \
         hypervisor meanwhile {stolen:?}) with {what}"
    );
    // The background thread may still be mid-call: wait for it to settle.
    let settled = common::eventually(Duration::from_secs(5), || {
        let state = pool.state();
        (state.in_use, state.waiting, state.creating) == (0, 0, 0)
            && state.connections == counts.alive.load(Ordering::SeqCst)
    });
    assert!(
        settled,
        "leak with {what}: {:?}, alive {}",
        pool.state(),
        counts.alive.load(Ordering::SeqCst)
    );

    // The faults stop: the pool serves again, at once and from every thread.
    {
        let m = pool.manager();
        m.set_connect(Plan::OK);
        m.set_is_valid(Plan::OK);
        m.set_has_broken(Plan::OK);
    }
    let recovered: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || (0..5).all(|_| pool.get_timeout(Duration::from_secs(2)).is_ok()))
        })
        .collect();
    for h in recovered {
        assert!(
            h.join().unwrap(),
            "no recovery after the faults stopped with {what}"
        );
    }
    totals.served.fetch_add(20, Ordering::Relaxed);
    totals.faults.fetch_add(
        counts.faults.load(Ordering::Relaxed) as u64,
        Ordering::Relaxed,
    );
    // A health check in progress holds a connection briefly.
    assert!(
        common::eventually(Duration::from_secs(5), || pool.state().in_use == 0),
        "{what}: {:?}",
        pool.state()
    );
    drop(pool);
    // A background call still running holds the pool until it returns (bounded by HANG).
    assert!(
        common::eventually(Duration::from_secs(5), || counts
            .alive
            .load(Ordering::SeqCst)
            == 0),
        "connections left open after the pool was dropped with {what}"
    );
    assert!(counts.max_alive.load(Ordering::SeqCst) <= MAX, "{what}");
}

#[test]
fn fault_matrix_keeps_every_invariant_and_recovers() {
    let connects = plans(Duration::from_millis(2), [3, 2, 4, 5]);
    let valids = plans(Duration::from_millis(1), [4, 3, 6, 7]);
    let brokens = plans(Duration::from_millis(1), [5, 3, 6, 9]);
    let totals = Totals::default();
    let mut seed = 0;
    quietly(|| {
        for connect in connects {
            for valid in valids {
                for broken in brokens {
                    seed += 1;
                    run_combination(connect, valid, broken, seed, &totals);
                }
            }
        }
    });
    // The figures quoted in the README's reliability table (run with --nocapture).
    println!(
        "fault matrix: {seed} combinations, {} faults injected, {} gets served, {} gets failed, no leak (asserted per combination)",
        totals.faults.load(Ordering::Relaxed),
        totals.served.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
    );
    assert_eq!(seed, 125);
    assert!(
        totals.faults.load(Ordering::Relaxed) > 0,
        "no fault was injected"
    );
}
