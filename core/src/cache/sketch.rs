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
}

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
        }
    }

    /// Word index and bit shift of `hash`'s counter in each of the four rows. All four words
    /// lie in one 64-byte block of eight words (one cache line): the block comes from one mix
    /// of the hash, and each row picks one of its own two words in the block and one of the 16
    /// counters in that word from another mix. One cache miss per lookup instead of four.
    #[inline]
    fn slots(&self, hash: u64) -> (usize, [(usize, u32); 4]) {
        let h = mix(hash, SEEDS[0]);
        let g = mix(hash, SEEDS[1]);
        let block = (h & self.mask) as usize;
        let mut out = [(0, 0); 4];
        for (row, slot) in out.iter_mut().enumerate() {
            let bits = g >> (5 * row as u32);
            let word = 2 * row + (bits & 1) as usize;
            let counter = ((bits >> 1) & 0xF) as u32;
            *slot = (word, counter * 4);
        }
        (block, out)
    }

    /// Estimated recent frequency of `hash` (0..=15).
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        let (block, slots) = self.slots(hash);
        let words = &self.table[block].0;
        slots
            .iter()
            .map(|&(word, shift)| ((words[word] >> shift) & 0xF) as u32)
            .min()
            .unwrap_or(0)
    }

    /// Records one occurrence of `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        let (block, slots) = self.slots(hash);
        let words = &mut self.table[block].0;
        let min = slots
            .iter()
            .map(|&(w, s)| (words[w] >> s) & 0xF)
            .min()
            .unwrap_or(0);
        if min == 15 {
            // Saturated: nothing changes, so it does not count towards aging either (a hot key
            // alone must not age everyone else's counters).
            return;
        }
        for (w, s) in slots {
            if (words[w] >> s) & 0xF == min {
                words[w] += 1 << s;
            }
        }
        self.additions += 1;
        if self.additions >= self.sample_size {
            self.age();
        }
    }

    /// Halves every counter.
    fn age(&mut self) {
        for w in self.table.iter_mut().flat_map(|b| b.0.iter_mut()) {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.table.fill(Block::default());
        self.additions = 0;
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
