//! A lock-free log-linear latency histogram.
//!
//! Values (nanoseconds) below 16 get a bucket each; above that every power of two is split into
//! 16 equal buckets, so a reported percentile is within 1/16 (6.25 %) of the true value. 976
//! buckets cover all of `u64`.
//!
//! Recording is two relaxed atomic adds (the bucket, the sum) and, only when the maximum grows,
//! an atomic max. The counters are striped: each thread records into one of [`STRIPES`] sets of
//! counters, chosen once per thread, so threads recording at the same time (the workers of a
//! shared pool) do not pull the same cache lines back and forth; a snapshot adds the stripes
//! up. A stripe other than the first is allocated when a thread first records into it, so a
//! histogram only ever recorded from one thread holds one set of counters (7.8 KiB).

use std::fmt;
use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

const SUB_BITS: u32 = 4;
const SUB_COUNT: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB_COUNT as usize;

/// How many sets of counters a histogram stripes its records over (one under loom, whose
/// models would otherwise track eight times the atomics).
#[cfg(not(loom))]
const STRIPES: usize = 8;

/// The stripe the calling thread records into: threads take consecutive numbers when they
/// first record, so up to [`STRIPES`] threads recording at once use different stripes.
#[cfg(not(loom))]
fn stripe_of_thread() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
                s.set(i);
            }
            i
        })
        // A thread's own destructors running after its thread-locals are gone: any stripe is
        // correct, only a shared one is slower.
        .unwrap_or(0)
}

/// One set of counters. Aligned to two cache lines so that neighbouring stripes share none
/// (nor the pair the adjacent-line prefetcher fetches together).
#[repr(align(128))]
struct Counters {
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Counters {
    fn new() -> Self {
        Self {
            sum_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[inline]
    fn record_nanos(&self, nanos: u64) {
        // The count is the buckets' sum (see `snapshot`), so a record is two read-modify-writes.
        // The maximum is written only when it grows, which after warm-up is rare; a plain load
        // does not take the line exclusively.
        self.buckets[index_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
    }
}

/// Bucket index of `v`.
fn index_of(v: u64) -> usize {
    if v < SUB_COUNT {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let mantissa = (v >> (exp - SUB_BITS)) & (SUB_COUNT - 1);
    ((exp - SUB_BITS + 1) as u64 * SUB_COUNT + mantissa) as usize
}

/// Largest value that falls into bucket `i`.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB_COUNT {
        return i;
    }
    let exp = (i / SUB_COUNT) as u32 + SUB_BITS - 1;
    let mantissa = i % SUB_COUNT;
    let width = 1u64 << (exp - SUB_BITS);
    let lower = (SUB_COUNT + mantissa) << (exp - SUB_BITS);
    lower.saturating_add(width - 1)
}

/// A concurrent latency histogram with bounded relative error.
///
/// # Examples
///
/// ```
/// use patinox_memory::monitor::Histogram;
/// use std::time::Duration;
///
/// let h = Histogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// let s = h.snapshot();
/// assert_eq!(s.count, 100);
/// assert_eq!(s.max, Duration::from_millis(100));
/// let p50 = s.p50.as_secs_f64() * 1e3;
/// assert!((50.0..=50.0 * 1.0625).contains(&p50), "{p50}");
/// ```
pub struct Histogram {
    /// Stripe 0, always there.
    first: Counters,
    /// Stripes 1 and up, allocated on first use.
    #[cfg(not(loom))]
    more: [std::sync::OnceLock<Box<Counters>>; STRIPES - 1],
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            first: Counters::new(),
            #[cfg(not(loom))]
            more: std::array::from_fn(|_| std::sync::OnceLock::new()),
        }
    }

    /// Records one duration (saturating at about 584 years).
    #[inline]
    pub fn record(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.record_nanos(nanos);
    }

    /// Records one value in nanoseconds.
    #[inline]
    pub fn record_nanos(&self, nanos: u64) {
        self.counters().record_nanos(nanos);
    }

    /// The calling thread's stripe.
    #[inline]
    fn counters(&self) -> &Counters {
        #[cfg(not(loom))]
        if let Some(i) = stripe_of_thread().checked_sub(1) {
            return self.more[i].get_or_init(|| Box::new(Counters::new()));
        }
        &self.first
    }

    /// Every stripe allocated so far.
    fn stripes(&self) -> impl Iterator<Item = &Counters> {
        let more = {
            #[cfg(not(loom))]
            {
                self.more.iter().filter_map(|m| m.get().map(|b| &**b))
            }
            #[cfg(loom)]
            {
                std::iter::empty()
            }
        };
        std::iter::once(&self.first).chain(more)
    }

    /// A consistent-enough copy: concurrent records may be partly included.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = vec![0u64; BUCKETS];
        let (mut max, mut sum) = (0u64, 0u64);
        for stripe in self.stripes() {
            for (c, b) in counts.iter_mut().zip(stripe.buckets.iter()) {
                *c += b.load(Ordering::Relaxed);
            }
            max = max.max(stripe.max_nanos.load(Ordering::Relaxed));
            sum = sum.wrapping_add(stripe.sum_nanos.load(Ordering::Relaxed));
        }
        let count: u64 = counts.iter().sum();
        let pct = |q: f64| -> Duration {
            if count == 0 {
                return Duration::ZERO;
            }
            // Smallest bucket whose cumulative count reaches ceil(q * count).
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_nanos(upper_bound(i).min(max));
                }
            }
            Duration::from_nanos(max)
        };
        HistogramSnapshot {
            count,
            mean: Duration::from_nanos(sum.checked_div(count).unwrap_or(0)),
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            p999: pct(0.999),
            max: Duration::from_nanos(max),
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Histogram").field(&self.snapshot()).finish()
    }
}

/// Summary of a [`Histogram`] at one moment.
///
/// Percentiles are upper bounds of their bucket, clamped to the maximum: never below the true
/// value and at most 6.25 % above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistogramSnapshot {
    /// Number of recorded values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Largest recorded value (exact).
    pub max: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_u64_and_bound_their_values() {
        for v in [
            0,
            1,
            15,
            16,
            17,
            31,
            32,
            1000,
            123_456_789,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let i = index_of(v);
            assert!(i < BUCKETS, "{v} -> {i}");
            assert!(upper_bound(i) >= v, "{v}: bound {}", upper_bound(i));
            if i > 0 {
                assert!(upper_bound(i - 1) < v, "{v} belongs to an earlier bucket");
            }
        }
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn small_values_are_exact() {
        let h = Histogram::new();
        for v in 0..10 {
            h.record_nanos(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 10);
        assert_eq!(s.p50, Duration::from_nanos(4));
        assert_eq!(s.p90, Duration::from_nanos(8));
        assert_eq!(s.p99, Duration::from_nanos(9));
        assert_eq!(s.max, Duration::from_nanos(9));
        assert_eq!(s.mean, Duration::from_nanos(4)); // 45 / 10, truncated
    }

    #[test]
    fn percentiles_within_relative_error_of_known_inputs() {
        let h = Histogram::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 10_000);
        assert_eq!(s.max, Duration::from_micros(10_000));
        for (got, want_us) in [(s.p50, 5_000.0), (s.p90, 9_000.0), (s.p99, 9_900.0)] {
            let got_us = got.as_nanos() as f64 / 1e3;
            assert!(
                got_us >= want_us && got_us <= want_us * 1.0625,
                "{got_us} vs {want_us}"
            );
        }
        let mean_us = s.mean.as_nanos() as f64 / 1e3;
        assert!((mean_us - 5_000.5).abs() < 0.01, "{mean_us}");
    }

    #[test]
    fn a_single_outlier_shows_in_max_and_p999_only() {
        let h = Histogram::new();
        for _ in 0..999 {
            h.record(Duration::from_micros(100));
        }
        h.record(Duration::from_secs(2));
        let s = h.snapshot();
        assert!(s.p99 < Duration::from_micros(107), "{:?}", s.p99);
        assert_eq!(s.max, Duration::from_secs(2));
        assert!(s.p999 < Duration::from_micros(107), "{:?}", s.p999);
    }

    #[test]
    fn empty_histogram_reports_zeroes() {
        assert_eq!(Histogram::new().snapshot(), HistogramSnapshot::default());
    }

    /// A histogram after `threads` threads each recorded `value(thread, i)` for `i` in
    /// `0..per_thread`, all at once.
    fn recorded_by_threads(
        threads: u64,
        per_thread: u64,
        value: fn(u64, u64) -> u64,
    ) -> HistogramSnapshot {
        let h = std::sync::Arc::new(Histogram::new());
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        h.record_nanos(value(t, i));
                    }
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
        h.snapshot()
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        assert_eq!(
            recorded_by_threads(4, 10_000, |t, i| i * 7 + t).count,
            40_000
        );
    }

    /// More threads than stripes, each recording different values: the snapshot adds every
    /// stripe's count, sum and maximum.
    #[test]
    fn records_from_many_threads_add_up_across_stripes() {
        let s = recorded_by_threads(20, 100, |t, i| t * 1000 + i);
        assert_eq!(s.count, 2000);
        assert_eq!(s.max, Duration::from_nanos(19 * 1000 + 99));
        let sum: u64 = (0..20u64)
            .flat_map(|t| (0..100u64).map(move |i| t * 1000 + i))
            .sum();
        assert_eq!(s.mean, Duration::from_nanos(sum / 2000));
        // Half the values are below 10_000 and half above: the median is in the upper part
        // of the lower half, within the buckets' 6.25 %.
        let p50 = s.p50.as_nanos() as f64;
        assert!((9099.0..=9099.0 * 1.0625).contains(&p50), "{p50}");
    }
}
