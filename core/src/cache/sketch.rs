//! A count-min sketch of 4-bit counters with periodic aging, used by TinyLFU to estimate how
//! often a key was requested recently.
//!
//! Each 64-bit word holds 16 counters; a key picks four words (one per "row") and one counter in
//! each row's quarter of the word, so a lookup touches at most four words. The estimate is the
//! minimum of the four counters (counters saturate at 15). Increments are conservative: only the
//! counters at the current minimum grow, which keeps collisions from inflating estimates. After
//! `10 × capacity` increments every counter is halved, so old popularity fades and the sketch
//! follows a changing workload.
//!
//! A doorkeeper (a one-bit-per-slot Bloom filter) absorbs the first occurrence of each key:
//! one-hit wonders of a scan set a doorkeeper bit instead of a counter, and the doorkeeper is
//! cleared at each aging step.

/// Frequency estimator for TinyLFU admission.
#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Box<[u64]>,
    mask: u64,
    doorkeeper: Box<[u64]>,
    door_mask: u64,
    additions: u64,
    sample_size: u64,
}

const SEEDS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

/// Words of the sketch are at most this many (2^22 words = 32 MiB), whatever the capacity.
const MAX_WORDS: usize = 1 << 22;

#[inline]
fn mix(hash: u64, seed: u64) -> u64 {
    let h = (hash ^ seed).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 32)
}

impl FrequencySketch {
    /// A sketch for a cache of `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        let words = capacity.clamp(16, MAX_WORDS).next_power_of_two();
        let door_words = (words / 4).max(1);
        Self {
            table: vec![0; words].into_boxed_slice(),
            mask: words as u64 - 1,
            doorkeeper: vec![0; door_words].into_boxed_slice(),
            door_mask: (door_words as u64 * 64) - 1,
            additions: 0,
            sample_size: (capacity.max(16) as u64).saturating_mul(10),
        }
    }

    #[inline]
    fn slot(&self, hash: u64, row: usize) -> (usize, u32) {
        let h = mix(hash, SEEDS[row]);
        let word = (h & self.mask) as usize;
        // Row `row` uses counters 4*row .. 4*row+3 of the word.
        let counter = (row as u32) * 4 + ((h >> 40) & 3) as u32;
        (word, counter * 4)
    }

    #[inline]
    fn door_bits(&self, hash: u64) -> [u64; 2] {
        let h = mix(hash, 0x5851_F42D_4C95_7F2D);
        [h & self.door_mask, (h >> 32) & self.door_mask]
    }

    fn door_contains(&self, hash: u64) -> bool {
        self.door_bits(hash)
            .iter()
            .all(|&b| self.doorkeeper[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }

    /// Estimated recent frequency of `hash` (0..=16).
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        let mut min = 15;
        for row in 0..4 {
            let (word, shift) = self.slot(hash, row);
            min = min.min(((self.table[word] >> shift) & 0xF) as u32);
        }
        min + u32::from(self.door_contains(hash))
    }

    /// Records one occurrence of `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        let bits = self.door_bits(hash);
        let mut first = false;
        for b in bits {
            let (w, m) = ((b / 64) as usize, 1u64 << (b % 64));
            if self.doorkeeper[w] & m == 0 {
                first = true;
                self.doorkeeper[w] |= m;
            }
        }
        if !first {
            let slots = [
                self.slot(hash, 0),
                self.slot(hash, 1),
                self.slot(hash, 2),
                self.slot(hash, 3),
            ];
            let min = slots
                .iter()
                .map(|&(w, s)| (self.table[w] >> s) & 0xF)
                .min()
                .unwrap_or(0);
            if min < 15 {
                for (w, s) in slots {
                    if (self.table[w] >> s) & 0xF == min {
                        self.table[w] += 1 << s;
                    }
                }
            }
        }
        self.additions += 1;
        if self.additions >= self.sample_size {
            self.age();
        }
    }

    /// Halves every counter and clears the doorkeeper.
    fn age(&mut self) {
        for w in self.table.iter_mut() {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.doorkeeper.fill(0);
        self.additions /= 2;
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.table.fill(0);
        self.doorkeeper.fill(0);
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
        assert!(s.frequency(42) >= 10);
        assert_eq!(
            s.frequency(7),
            1,
            "first occurrence lives in the doorkeeper"
        );
        assert_eq!(s.frequency(99_999), 0);
    }

    #[test]
    fn counters_saturate_and_age_by_halving() {
        let mut s = FrequencySketch::new(16);
        for _ in 0..40 {
            s.increment(1);
        }
        assert_eq!(s.frequency(1), 16, "15 in the counters + 1 doorkeeper");
        // 160 additions trigger aging; fill with other keys.
        for k in 1000..1200u64 {
            s.increment(k.wrapping_mul(0x9E37_79B9));
        }
        assert!(
            s.frequency(1) <= 8,
            "aging halved the counter: {}",
            s.frequency(1)
        );
    }
}
