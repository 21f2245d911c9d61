//! A count-min sketch of 4-bit counters with periodic aging, used by TinyLFU to estimate how
//! often a key was requested recently.
//!
//! Each 64-bit word holds 16 counters; a key picks four words (one per "row") and one counter in
//! each row's quarter of the word, so a lookup touches at most four words. The estimate is the
//! minimum of the four counters, which saturate at 15. Increments are conservative (only the
//! counters at the current minimum grow), which keeps collisions from inflating estimates.
//!
//! Aging: after `10 × max(capacity, 1024)` increments that changed a counter, every counter is
//! halved, so old popularity fades and the sketch follows a changing workload. The floor of
//! 1024 keeps the memory of small caches longer than one pass over a looping workload, so a
//! loop larger than the cache does not turn the admission filter into plain recency.

/// Frequency estimator for TinyLFU admission.
#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Box<[u64]>,
    mask: u64,
    additions: u64,
    sample_size: u64,
}

const SEEDS: [u64; 2] = [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F];

/// Words of the sketch are at most this many (2^22 words = 32 MiB), whatever the capacity.
const MAX_WORDS: usize = 1 << 22;
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
        let words = capacity.clamp(16, MAX_WORDS).next_power_of_two();
        Self {
            table: vec![0; words].into_boxed_slice(),
            mask: words as u64 - 1,
            additions: 0,
            sample_size: (capacity.max(SAMPLE_FLOOR) as u64).saturating_mul(10),
        }
    }

    /// Word index and bit shift of `hash`'s counter in each of the four rows: one mix of the
    /// hash gives a 16-bit word selector per row (re-mixed when the table is larger) and two
    /// bits choosing the counter within the row's quarter of the word.
    #[inline]
    fn slots(&self, hash: u64) -> [(usize, u32); 4] {
        let h = mix(hash, SEEDS[0]);
        let g = mix(hash, SEEDS[1]);
        let mut out = [(0, 0); 4];
        for (row, slot) in out.iter_mut().enumerate() {
            let word = (h.rotate_left(16 * row as u32) ^ g.rotate_left(7 * row as u32)) & self.mask;
            let counter = (row as u32) * 4 + ((g >> (2 * row as u32 + 40)) & 3) as u32;
            *slot = (word as usize, counter * 4);
        }
        out
    }

    /// Estimated recent frequency of `hash` (0..=15).
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        self.slots(hash)
            .iter()
            .map(|&(word, shift)| ((self.table[word] >> shift) & 0xF) as u32)
            .min()
            .unwrap_or(0)
    }

    /// Records one occurrence of `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        let slots = self.slots(hash);
        let min = slots
            .iter()
            .map(|&(w, s)| (self.table[w] >> s) & 0xF)
            .min()
            .unwrap_or(0);
        if min == 15 {
            // Saturated: nothing changes, so it does not count towards aging either (a hot key
            // alone must not age everyone else's counters).
            return;
        }
        for (w, s) in slots {
            if (self.table[w] >> s) & 0xF == min {
                self.table[w] += 1 << s;
            }
        }
        self.additions += 1;
        if self.additions >= self.sample_size {
            self.age();
        }
    }

    /// Halves every counter.
    fn age(&mut self) {
        for w in self.table.iter_mut() {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.table.fill(0);
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
        // 40 960 counting increments trigger aging.
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
