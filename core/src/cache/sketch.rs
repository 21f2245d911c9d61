//! A count-min sketch of 4-bit counters with periodic aging, used by TinyLFU to estimate how
//! often a key was requested recently.
//!
//! Each 64-bit word holds 16 counters; a key picks one 64-byte block of eight words, and in it
//! one word and one counter per "row" (four rows, two words each), so a lookup touches one
//! cache line. The estimate is the
//! minimum of the four counters, which saturate at 15. Increments are conservative (only the
//! counters at the current minimum grow), which keeps collisions from inflating estimates.
//!
//! Aging: after `5 × max(capacity, 1024)` increments that changed a counter, every counter is
//! halved, so old popularity fades and the sketch follows a changing workload. The floor of
//! 1024 keeps the memory of small caches longer than one pass over a looping workload, so a
//! loop larger than the cache does not turn the admission filter into plain recency.

/// Frequency estimator for TinyLFU admission.
#[derive(Debug)]
pub(crate) struct FrequencySketch {
    /// Blocks of eight words, each aligned to a 64-byte cache line.
    table: Box<[Block]>,
    /// `blocks - 1` (a power of two minus one).
    mask: u64,
    additions: u64,
    sample_size: u64,
    /// How many times the counters were halved (or the sketch renewed or cleared), counted
    /// modulo [`AGES`]: an estimate kept from before an aging is recognised as stale by it.
    ages: u8,
    /// Set when `ages` came round to 0 again: an estimate kept from a full cycle ago would
    /// look current, so the owner must forget its kept estimates ([`Self::take_wrapped`]).
    wrapped: bool,
}

/// The values `ages` takes: 0 to 254. [`STALE_AGE`] is never one of them.
const AGES: u8 = 255;

/// An age the sketch never has: an estimate marked with it is never taken as current.
pub(crate) const STALE_AGE: u8 = u8::MAX;

/// Eight words of counters on one cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Block([u64; 8]);

const SEEDS: [u64; 2] = [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F];

/// Words of the sketch are at most this many (2^22 words = 32 MiB), whatever the capacity.
const MAX_WORDS: usize = 1 << 22;
/// Words of the sketch are at least this many (8 KiB): with all four counters of a key in one
/// block, a tiny table would have too few blocks and collide too often.
const MIN_WORDS: usize = 1024;
/// Aging period, in multiples of the capacity: 5 (Caffeine uses 10) follows the shared traces
/// phase changes better; tuned on all traces and the built-in workload together.
const AGING_FACTOR: u64 = 5;
/// Aging period floor, in entries (see the module docs).
const SAMPLE_FLOOR: usize = 1024;

#[inline]
fn mix(hash: u64, seed: u64) -> u64 {
    let h = (hash ^ seed).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 32)
}

impl FrequencySketch {
    /// A sketch for a cache of `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        let words = capacity.clamp(MIN_WORDS, MAX_WORDS).next_power_of_two();
        let blocks = words / 8;
        Self {
            table: vec![Block::default(); blocks].into_boxed_slice(),
            mask: blocks as u64 - 1,
            additions: 0,
            sample_size: (capacity.max(SAMPLE_FLOOR) as u64).saturating_mul(AGING_FACTOR),
            ages: 0,
            wrapped: false,
        }
    }

    /// The index of the block holding the counters of `hash`.
    #[inline(always)]
    fn block(&self, hash: u64) -> usize {
        (mix(hash, SEEDS[0]) & self.mask) as usize
    }

    /// The block of `hash` and, for each of the four rows, the word index in the block and
    /// the bit shift of the counter in that word. All four words lie in one 64-byte block of
    /// eight words (one cache line): the block comes from one mix of the hash, and each row
    /// picks one of its own two words in the block (row `r` owns words `2r` and `2r + 1`) and
    /// one of the 16 counters in that word from five bits of another mix. One cache miss per
    /// lookup instead of four, and since no two rows share a word, the four counters are
    /// independent (an increment is four unconditional read-modify-writes).
    #[inline(always)]
    fn slots(&self, hash: u64) -> (usize, [usize; 4], [u32; 4]) {
        let g = mix(hash, SEEDS[1]);
        let block = self.block(hash);
        let row = |r: u32| {
            let bits = g >> (5 * r);
            (
                2 * r as usize + (bits & 1) as usize,
                ((bits >> 1) & 0xF) as u32 * 4,
            )
        };
        let (w0, s0) = row(0);
        let (w1, s1) = row(1);
        let (w2, s2) = row(2);
        let (w3, s3) = row(3);
        (block, [w0, w1, w2, w3], [s0, s1, s2, s3])
    }

    /// The four counters of `hash` in `words` (see [`slots`](Self::slots)).
    #[inline(always)]
    fn counters(words: &[u64; 8], w: [usize; 4], s: [u32; 4]) -> [u64; 4] {
        [
            (words[w[0] & 7] >> s[0]) & 0xF,
            (words[w[1] & 7] >> s[1]) & 0xF,
            (words[w[2] & 7] >> s[2]) & 0xF,
            (words[w[3] & 7] >> s[3]) & 0xF,
        ]
    }

    /// Asks the CPU to start loading the counters of `hash` (a hint: nothing is read).
    #[inline(always)]
    pub(crate) fn prefetch(&self, hash: u64) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let at = self
                .table
                .as_ptr()
                .wrapping_add(self.block(hash))
                .cast::<i8>();
            // SAFETY: SSE is part of every x86_64 target, and a prefetch reads nothing: it
            // never faults and has no effect on memory, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at) };
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let _ = hash;
    }

    /// Estimated recent frequency of `hash` (0..=15).
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        let (block, w, s) = self.slots(hash);
        let c = Self::counters(&self.table[block].0, w, s);
        c[0].min(c[1]).min(c[2].min(c[3])) as u32
    }

    /// How many times the counters were halved so far, modulo 255 (so never [`STALE_AGE`]).
    #[inline]
    pub(crate) fn ages(&self) -> u8 {
        self.ages
    }

    /// Whether [`ages`](Self::ages) came round to where it was a full cycle ago since the
    /// last call: every estimate kept with an age must then be forgotten (or marked
    /// [`STALE_AGE`]), or one kept 255 agings ago would look current.
    #[inline]
    pub(crate) fn take_wrapped(&mut self) -> bool {
        std::mem::take(&mut self.wrapped)
    }

    /// Moves `ages` on by one, noting a wrap.
    fn next_age(&mut self) {
        self.ages = (self.ages + 1) % AGES;
        self.wrapped |= self.ages == 0;
    }

    /// Records one occurrence of `hash`; returns its estimate afterwards (what
    /// [`frequency`](Self::frequency) would say now).
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) -> u8 {
        let (block, w, s) = self.slots(hash);
        let words = &mut self.table[block].0;
        let c = Self::counters(words, w, s);
        let min = c[0].min(c[1]).min(c[2].min(c[3]));
        if min == 15 {
            // Saturated: nothing changes, so it does not count towards aging either (a hot key
            // alone must not age everyone else's counters).
            return 15;
        }
        // Conservative update: only the counters at the minimum grow (none of them is 15).
        // Each row has its own word, so the four updates never touch the same word.
        for r in 0..4 {
            words[w[r] & 7] += u64::from(c[r] == min) << s[r];
        }
        self.additions += 1;
        let estimate = min as u8 + 1;
        if self.additions >= self.sample_size {
            self.age();
            // Every counter of `hash` is at least `estimate` and was halved.
            return estimate / 2;
        }
        estimate
    }

    /// Halves every counter.
    #[cold]
    #[inline(never)]
    fn age(&mut self) {
        for w in self.table.iter_mut().flat_map(|b| b.0.iter_mut()) {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
        self.next_age();
    }

    /// A fresh sketch for `capacity` entries in place of this one; estimates kept from this
    /// one are recognised as stale by [`ages`](Self::ages).
    pub(crate) fn renew(&mut self, capacity: usize) {
        let (ages, wrapped) = (self.ages, self.wrapped);
        *self = Self::new(capacity);
        (self.ages, self.wrapped) = (ages, wrapped);
        self.next_age();
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.table.fill(Block::default());
        self.additions = 0;
        self.next_age();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_keys_estimate_higher_than_rare_ones() {
        let mut s = FrequencySketch::new(1024);
        for _ in 0..10 {
            s.increment(42);
        }
        s.increment(7);
        assert_eq!(s.frequency(42), 10);
        assert_eq!(s.frequency(7), 1);
        assert_eq!(s.frequency(99_999), 0);
    }

    /// `increment` returns what `frequency` says right after it, including when it saturates
    /// and when it triggers an aging; aging and renewing move `ages` on.
    /// `ages` takes 255 values and never [`STALE_AGE`]; coming round to 0 is reported once.
    #[test]
    fn ages_go_round_255_values_and_report_each_wrap_once() {
        let mut s = FrequencySketch::new(16);
        for round in 0..2 {
            for i in 1..255 {
                s.clear();
                assert_eq!(s.ages(), i);
                assert!(!s.take_wrapped(), "round {round}, age {i}");
            }
            s.renew(16);
            assert_eq!(s.ages(), 0);
            assert!(s.take_wrapped());
            assert!(!s.take_wrapped());
        }
        assert_ne!(s.ages(), STALE_AGE);
    }

    #[test]
    fn increment_returns_the_new_estimate() {
        let mut s = FrequencySketch::new(16);
        for i in 1..=20u32 {
            let estimate = s.increment(42);
            assert_eq!(u32::from(estimate), s.frequency(42), "increment {i}");
            assert_eq!(u32::from(estimate), i.min(15));
        }
        assert_eq!(s.ages(), 0);
        // Aging comes after `sample_size` counted increments; count others until it does.
        let mut k = 1u64;
        loop {
            k += 1;
            let estimate = s.increment(k);
            assert_eq!(u32::from(estimate), s.frequency(k), "key {k}");
            if s.ages() == 1 {
                break;
            }
        }
        assert!(s.frequency(42) <= 7);
        s.renew(16);
        assert_eq!((s.ages(), s.frequency(42)), (2, 0));
    }

    /// The unrolled sketch against a plain model of the layout in the docs: same counters,
    /// same estimates, after many increments with collisions (a small table).
    #[test]
    fn matches_a_plain_model_of_the_layout() {
        let mut s = FrequencySketch::new(64);
        let blocks = s.table.len();
        let mut model = vec![[0u8; 8 * 16]; blocks];
        let place = |hash: u64| {
            let block = (mix(hash, SEEDS[0]) & (blocks as u64 - 1)) as usize;
            let g = mix(hash, SEEDS[1]);
            let cells: Vec<usize> = (0..4)
                .map(|r| {
                    let bits = g >> (5 * r);
                    let word = 2 * r as usize + (bits & 1) as usize;
                    word * 16 + ((bits >> 1) & 0xF) as usize
                })
                .collect();
            (block, cells)
        };
        let mut additions = 0u64;
        let mut aged = 0;
        for i in 0..30_000u64 {
            let hash = (i % 3000).wrapping_mul(0x2545_F491_4F6C_DD1D);
            let (block, cells) = place(hash);
            let min = cells.iter().map(|&c| model[block][c]).min().unwrap();
            if min < 15 {
                for &c in &cells {
                    if model[block][c] == min {
                        model[block][c] += 1;
                    }
                }
                additions += 1;
                if additions >= s.sample_size {
                    aged += 1;
                    for b in model.iter_mut() {
                        b.iter_mut().for_each(|c| *c /= 2);
                    }
                    additions /= 2;
                }
            }
            s.increment(hash);
            let now = cells.iter().map(|&c| model[block][c]).min().unwrap();
            assert_eq!(s.frequency(hash), u32::from(now), "after increment {i}");
        }
        assert_eq!(s.additions, additions);
        assert!(aged > 0, "the run must cover aging");
        for (b, block) in s.table.iter().enumerate() {
            for (cell, &want) in model[b].iter().enumerate() {
                let got = (block.0[cell / 16] >> (4 * (cell % 16))) & 0xF;
                assert_eq!(got, u64::from(want), "block {b} cell {cell}");
            }
        }
        for i in 0..1000u64 {
            let hash = i.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let (block, cells) = place(hash);
            let min = cells.iter().map(|&c| model[block][c]).min().unwrap();
            assert_eq!(s.frequency(hash), u32::from(min));
        }
    }

    #[test]
    fn counters_saturate_and_age_by_halving() {
        let mut s = FrequencySketch::new(4096);
        for _ in 0..40 {
            s.increment(1);
        }
        assert_eq!(s.frequency(1), 15);
        // 20 480 counting increments (5 × 4096) trigger aging.
        for k in 1000..42_000u64 {
            s.increment(k.wrapping_mul(0x9E37_79B9));
        }
        assert!(
            s.frequency(1) <= 7,
            "aging halved the counter: {}",
            s.frequency(1)
        );
    }
}
