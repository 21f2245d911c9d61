//! Key streams for benchmarks and simulations: Zipf-distributed keys, and the built-in
//! hit-ratio workload (Zipf with periodic scans) the tour simulates without any trace file.

/// The odd multiplier that scatters key indices over `u64`.
const SCRAMBLE: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of the xorshift generator (13, 7, 17) the benchmarks draw from: advances `state`
/// (which must not be zero) and returns it.
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `count` keys in `0..n` drawn from Zipf(`s`) (key `k` has weight `1 / (k + 1)^s`), from a
/// seeded xorshift generator so runs are repeatable. Key 0 is the most popular; keys are then
/// scrambled with an odd multiplier so popular keys are not adjacent integers.
pub fn zipf_keys(n: usize, s: f64, count: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n);
    let mut total = 0.0;
    for k in 0..n {
        total += 1.0 / ((k + 1) as f64).powf(s);
        cdf.push(total);
    }
    let mut x = seed | 1;
    (0..count)
        .map(|_| {
            let x = xorshift(&mut x);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64 * total;
            let k = cdf.partition_point(|&c| c < u).min(n - 1) as u64;
            k.wrapping_mul(SCRAMBLE)
        })
        .collect()
}

/// The built-in simulation workload: `count` requests drawn from Zipf(`s`) over `n` keys,
/// interrupted every `scan_every` requests by a scan of `scan_len` keys never seen before (as
/// a batch job or a full-table read would do).
///
/// A scan-resistant policy keeps its frequent keys through the scans; plain LRU loses them.
///
/// # Examples
///
/// ```
/// use patinox_memory_benches::workload::zipf_with_scans;
///
/// let keys = zipf_with_scans(1_000, 0.9, 10_000, 2_000, 500, 7);
/// assert_eq!(keys.len(), 10_000);
/// ```
pub fn zipf_with_scans(
    n: usize,
    s: f64,
    count: usize,
    scan_every: usize,
    scan_len: usize,
    seed: u64,
) -> Vec<u64> {
    let hot = zipf_keys(n.max(1), s, count, seed);
    let mut out = Vec::with_capacity(count);
    // Scan keys are indices n, n+1, ... scrambled like the Zipf keys: the multiplier is odd,
    // so scrambling is a bijection and no scan key can equal a Zipf key.
    let mut next_scan_index = n.max(1) as u64;
    let mut hot_iter = hot.into_iter();
    while out.len() < count {
        if scan_every > 0 && out.len() % scan_every == scan_every - 1 {
            for _ in 0..scan_len.min(count - out.len()) {
                out.push(next_scan_index.wrapping_mul(SCRAMBLE));
                next_scan_index += 1;
            }
        } else if let Some(k) = hot_iter.next() {
            out.push(k);
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_keys_are_skewed_towards_the_first_keys() {
        let keys = zipf_keys(1000, 1.0, 100_000, 7);
        let top = 0u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let share = keys.iter().filter(|&&k| k == top).count() as f64 / keys.len() as f64;
        // Key 0 has weight 1 / H(1000) ≈ 0.134.
        assert!((0.12..0.15).contains(&share), "share {share}");
    }

    #[test]
    fn scans_are_fresh_keys_in_runs_of_scan_len() {
        // The inverse of SCRAMBLE modulo 2^64 (Newton's iteration) recovers key indices.
        let mut inverse = SCRAMBLE;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(SCRAMBLE.wrapping_mul(inverse)));
        }
        let is_scan = |k: u64| k.wrapping_mul(inverse) >= 100;
        let keys = zipf_with_scans(100, 1.0, 1_000, 100, 10, 1);
        assert_eq!(keys.len(), 1_000);
        let scan: Vec<u64> = keys.iter().copied().filter(|&k| is_scan(k)).collect();
        // Scans start at requests 99, 199, ..., 999; the last is cut to the one request left.
        assert_eq!(scan.len(), 9 * 10 + 1);
        let distinct: std::collections::HashSet<_> = scan.iter().collect();
        assert_eq!(distinct.len(), scan.len(), "scan keys never repeat");
        assert!(keys[99..109].iter().all(|&k| is_scan(k)));
        assert!(!is_scan(keys[109]) && !is_scan(keys[98]));
    }
}
