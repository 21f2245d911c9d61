//! Timing helpers: per-operation medians over repeated rounds, and result rows.

use std::time::{Duration, Instant};

use crate::workload::xorshift;

/// How long a comparison may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Tiny sizes: for tests of the program itself.
    Smoke,
    /// The tour: a few seconds per component.
    Quick,
    /// `compare COMPONENT`: more rounds and iterations.
    Full,
}

impl Effort {
    /// Scales an iteration count: `Smoke` 1/1000, `Quick` 1x, `Full` 5x (at least 1).
    pub fn scale(self, iters: u64) -> u64 {
        match self {
            Effort::Smoke => (iters / 1000).max(1),
            Effort::Quick => iters.max(1),
            Effort::Full => iters.saturating_mul(5).max(1),
        }
    }

    /// Number of timed rounds whose median is reported.
    pub fn rounds(self) -> usize {
        match self {
            Effort::Smoke => 3,
            Effort::Quick => 11,
            Effort::Full => 31,
        }
    }
}

/// The order in which contenders take their turns, a fresh pseudo-random permutation each
/// round (fixed seed, so runs repeat), for harnesses that run their contenders round by round.
///
/// Over the rounds each contender follows each other one about equally often. Whoever runs
/// right after a contender with a large footprint starts with cold CPU caches and TLB, and a
/// fixed order (or a rotation of one, which changes who starts a round but not who follows
/// whom) charges that to the same contender every round.
#[derive(Debug, Clone)]
pub struct TurnOrder {
    order: Vec<usize>,
    state: u64,
}

impl TurnOrder {
    /// Turns for `count` contenders, indexed `0..count`.
    pub fn new(count: usize) -> Self {
        Self {
            order: (0..count).collect(),
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// The order for the next round.
    pub fn next_round(&mut self) -> &[usize] {
        // Fisher-Yates with a xorshift generator.
        for i in (1..self.order.len()).rev() {
            let r = xorshift(&mut self.state);
            self.order.swap(i, (r % (i as u64 + 1)) as usize);
        }
        &self.order
    }
}

/// One measured (operation, library) pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Component, such as `"pool"` or `"cache"`.
    pub component: &'static str,
    /// What was measured, such as `"get+drop, warm, 1 thread"`.
    pub operation: String,
    /// Library measured, such as `"patinox"` or `"r2d2"`.
    pub library: &'static str,
    /// Median nanoseconds per operation.
    pub ns_per_op: f64,
    /// Free-form detail (spread across threads, hit ratio...).
    pub note: String,
}

/// Median nanoseconds per call of `op` over `rounds` rounds of `iters` calls each.
///
/// `op` receives the call's index so it can vary its input without a separate generator.
pub fn median_ns(rounds: usize, iters: u64, mut op: impl FnMut(u64)) -> f64 {
    let iters = iters.max(1);
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for i in 0..iters {
                op(i);
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    median(&mut samples)
}

/// Median of `samples` (sorted in place); 0 for an empty slice.
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// CPU time this process has used so far, all threads together (`CLOCK_PROCESS_CPUTIME_ID`).
///
/// On a virtual machine whose host takes the CPU away at times, wall time swings with it;
/// with paravirtual steal accounting (as on the project's VMs) the time a vCPU was taken
/// away is steal, not this process's CPU time, so CPU time per operation is the steadier
/// measure of the work an operation costs (it does not count time spent waiting parked).
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration; the clock id is a
    // constant every Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn median_ns_calls_op_rounds_times_iters() {
        let mut calls = 0u64;
        let ns = median_ns(3, 10, |_| calls += 1);
        assert_eq!(calls, 30);
        assert!(ns >= 0.0);
    }

    /// Every round is a permutation, and over many rounds every contender follows every
    /// other one (a fixed order or a rotation would leave most pairs at zero).
    #[test]
    fn turn_orders_are_permutations_and_every_pair_follows() {
        let count = 5;
        let mut turns = TurnOrder::new(count);
        let mut follows = vec![[0u32; 5]; count];
        for _ in 0..200 {
            let round = turns.next_round().to_vec();
            let mut sorted = round.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..count).collect::<Vec<_>>());
            for w in round.windows(2) {
                follows[w[1]][w[0]] += 1;
            }
        }
        for (a, row) in follows.iter().enumerate() {
            for (b, &n) in row.iter().enumerate() {
                if a != b {
                    assert!(n >= 10, "{a} followed {b} only {n} times in 200 rounds");
                }
            }
        }
    }

    #[test]
    fn effort_scales_iterations() {
        assert_eq!(Effort::Smoke.scale(10), 1);
        assert_eq!(Effort::Quick.scale(10), 10);
        assert_eq!(Effort::Full.scale(10), 50);
    }
}
