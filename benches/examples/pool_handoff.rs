//! A probe of the contended pool case (8 threads sharing 2 connections), for hand-off work.
//!
//! The libraries run interleaved round by round, so a noisy machine affects them alike. Per
//! round and library it prints the time per operation, the spread of operations per thread
//! (max/min), how long a get waited (99th percentile and maximum over all gets), and, from
//! each worker thread's own `/proc/thread-self` counters, the CPU time per operation, the
//! time spent runnable but waiting for a CPU per operation, and context switches per
//! operation (voluntary + involuntary). Then the medians of the rounds.
//!
//! ```text
//! cargo run --release -p patinox-memory-benches --example pool_handoff -- [HOLD] [MS] [ROUNDS] [LIBS] [CONNS]
//! ```
//!
//! - HOLD: `0` (default), `b1`, `b5`, `b20` (busy 1, 5, 20 us), `s20` (sleep 20 us);
//! - MS per round (default 300), ROUNDS (default 5), CONNS connections (default 2);
//! - LIBS: `both` (default: patinox, r2d2), `patinox`, `r2d2`, `ring`, `ryield`, or `all`
//!   (ring, patinox, r2d2). `ring` is no pool at all but the floor of any FIFO pool whose
//!   waiters park; `ryield` the same with waiters that yield instead (see [`Ring`]).

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory_benches::compare::pool::{Hold, patinox_pool, r2d2_pool, use_connection};
use patinox_memory_benches::measure::median;

const THREADS: usize = 8;

/// The calling thread's counters: on-CPU ns, runqueue-wait ns, context switches.
fn thread_counters() -> [u64; 3] {
    let sched = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = sched
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    let (cpu, wait) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    let status = fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    let switches = status
        .lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    [cpu, wait, switches]
}

/// The floor of a FIFO pool whose waiters park: no pool at all. The threads pass batons (one
/// per connection) round a ring with `thread::park`/`unpark`, so each thread gets one in
/// turn, the order of a FIFO line, with one wake-up and one park per operation at most and
/// no lock or bookkeeping.
///
/// With `yielding` the waiting threads never park: they call `thread::yield_now` until their
/// baton comes (no wake-ups, but every thread stays runnable).
struct Ring {
    slots: Vec<RingSlot>,
    yielding: bool,
}

struct RingSlot {
    batons: AtomicU32,
    thread: OnceLock<thread::Thread>,
}

impl Ring {
    fn new(batons: usize, yielding: bool) -> Self {
        let every = THREADS / batons.clamp(1, THREADS);
        let slots = (0..THREADS)
            .map(|i| RingSlot {
                batons: AtomicU32::new(u32::from(i % every == 0)),
                thread: OnceLock::new(),
            })
            .collect();
        Self { slots, yielding }
    }

    /// Thread `i` waits for a baton, holds it for `hold`, passes it on; returns how long it
    /// waited.
    fn op(&self, i: usize, hold: Hold, stop: &AtomicBool) -> Duration {
        let me = &self.slots[i];
        let _ = me.thread.set(thread::current());
        let start = Instant::now();
        loop {
            let n = me.batons.load(Ordering::SeqCst);
            if n > 0
                && me
                    .batons
                    .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return Duration::ZERO;
            }
            if self.yielding {
                thread::yield_now();
            } else {
                // Timed like a pool's wait; short enough to notice `stop` once the batons
                // went to threads that already left.
                thread::park_timeout(Duration::from_millis(5));
            }
        }
        let waited = start.elapsed();
        let mut conn = 0u64;
        use_connection(&mut conn, hold);
        let next = &self.slots[(i + 1) % THREADS];
        next.batons.fetch_add(1, Ordering::SeqCst);
        if !self.yielding
            && let Some(t) = next.thread.get()
        {
            t.unpark();
        }
        waited
    }
}

/// One operation of thread `index` (get, use for the hold, give back); returns how long the
/// get waited. `stop` ends the run.
type Op = Arc<dyn Fn(usize, Hold, &AtomicBool) -> Duration + Send + Sync>;

/// Makes a fresh [`Op`] for each round.
type MakeOp = Box<dyn Fn() -> Op>;

struct Round {
    ns_per_op: f64,
    spread: f64,
    wait_p99_us: f64,
    wait_max_us: f64,
    cpu_per_op: f64,
    runq_per_op: f64,
    switches_per_op: f64,
}

fn round(duration: Duration, hold: Hold, op: Op) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let start_line = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|index| {
            let (op, stop, start_line) =
                (Arc::clone(&op), Arc::clone(&stop), Arc::clone(&start_line));
            thread::spawn(move || {
                let mut waits: Vec<u32> = Vec::with_capacity(1 << 20);
                start_line.wait();
                let before = thread_counters();
                while !stop.load(Ordering::Relaxed) {
                    let waited = op(index, hold, &stop);
                    waits.push(u32::try_from(waited.as_nanos()).unwrap_or(u32::MAX));
                }
                let after = thread_counters();
                let delta: Vec<u64> = (0..3).map(|k| after[k] - before[k]).collect();
                (waits, delta)
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let per: Vec<(Vec<u32>, Vec<u64>)> = handles
        .into_iter()
        .map(|h| h.join().expect("worker"))
        .collect();
    let elapsed = start.elapsed().as_nanos() as f64;
    let counts: Vec<usize> = per.iter().map(|p| p.0.len()).collect();
    let ops = counts.iter().sum::<usize>().max(1) as f64;
    let min = counts.iter().copied().min().unwrap_or(0).max(1) as f64;
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let mut waits: Vec<u32> = per.iter().flat_map(|p| p.0.iter().copied()).collect();
    waits.sort_unstable();
    let at = |q: f64| {
        waits
            .get(((waits.len() as f64 - 1.0) * q) as usize)
            .map_or(0.0, |&w| f64::from(w) / 1000.0)
    };
    let sum = |k: usize| per.iter().map(|p| p.1[k]).sum::<u64>() as f64 / ops;
    Round {
        ns_per_op: elapsed / ops,
        spread: max / min,
        wait_p99_us: at(0.99),
        wait_max_us: at(1.0),
        cpu_per_op: sum(0),
        runq_per_op: sum(1),
        switches_per_op: sum(2),
    }
}

/// A fresh-per-round operation over a shared pool; `get_use` gets a connection, uses it for
/// the hold and gives it back, returning how long the get waited.
fn pool_op<P: Clone + Send + Sync + 'static>(pool: P, get_use: fn(&P, Hold) -> Duration) -> MakeOp {
    Box::new(move || {
        let pool = pool.clone();
        Arc::new(move |_, hold, _: &AtomicBool| get_use(&pool, hold)) as Op
    })
}

fn print(name: &str, r: &Round) {
    println!(
        "  {name:8} {:8.0} ns/op  spread {:5.2}  wait p99 {:7.1} us max {:8.1} us  cpu {:6.0} ns/op  runq {:6.0} ns/op  switches {:.2}/op",
        r.ns_per_op,
        r.spread,
        r.wait_p99_us,
        r.wait_max_us,
        r.cpu_per_op,
        r.runq_per_op,
        r.switches_per_op
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hold = match args.get(1).map_or("0", String::as_str) {
        "b1" => Hold::Busy(1),
        "b5" => Hold::Busy(5),
        "b20" => Hold::Busy(20),
        "s20" => Hold::Sleep(20),
        _ => Hold::Zero,
    };
    let ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let libs = args.get(4).map_or("both", String::as_str);
    let conns: u32 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(2);
    let duration = Duration::from_millis(ms);

    // Each round gets a fresh operation: a ring's batons and thread handles are per round.
    let mut sides: Vec<(&str, MakeOp)> = Vec::new();
    for (name, yielding) in [("ring", false), ("ryield", true)] {
        if libs == name || (libs == "all" && !yielding) {
            let batons = conns as usize;
            sides.push((
                name,
                Box::new(move || {
                    let ring = Ring::new(batons, yielding);
                    Arc::new(move |i, h, stop: &AtomicBool| ring.op(i, h, stop)) as Op
                }),
            ));
        }
    }
    if matches!(libs, "both" | "all" | "patinox") {
        let pool = patinox_pool(conns as usize);
        sides.push((
            "patinox",
            pool_op(pool, |p, hold| {
                let start = Instant::now();
                let got = p.get();
                let waited = start.elapsed();
                if let Ok(mut conn) = got {
                    use_connection(&mut conn, hold);
                }
                waited
            }),
        ));
    }
    if matches!(libs, "both" | "all" | "r2d2") {
        let pool = r2d2_pool(conns);
        sides.push((
            "r2d2",
            pool_op(pool, |p, hold| {
                let start = Instant::now();
                let got = p.get();
                let waited = start.elapsed();
                if let Ok(mut conn) = got {
                    use_connection(&mut conn, hold);
                }
                waited
            }),
        ));
    }
    println!("hold {hold:?}, {conns} connections, {THREADS} threads, {ms} ms x {rounds} rounds");
    let mut all: Vec<Vec<Round>> = sides.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, (name, make)) in sides.iter().enumerate() {
            let r = round(duration, hold, make());
            print(name, &r);
            all[i].push(r);
        }
    }
    println!("medians:");
    for ((name, _), rs) in sides.iter().zip(&all) {
        let m = |f: fn(&Round) -> f64| median(&mut rs.iter().map(f).collect::<Vec<_>>());
        let r = Round {
            ns_per_op: m(|r| r.ns_per_op),
            spread: m(|r| r.spread),
            wait_p99_us: m(|r| r.wait_p99_us),
            wait_max_us: m(|r| r.wait_max_us),
            cpu_per_op: m(|r| r.cpu_per_op),
            runq_per_op: m(|r| r.runq_per_op),
            switches_per_op: m(|r| r.switches_per_op),
        };
        print(name, &r);
    }
}
