//! [`CacheStats`]: counters of a cache since it was created.

/// Counters of a [`ShardedCache`](super::ShardedCache) since it was created.
///
/// `hits + misses` is the number of lookups (`get`, and the first lookup of
/// `get_or_insert_with`); each shard's counters are read under its lock, so they are mutually
/// consistent per shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing (or only an expired entry).
    pub misses: u64,
    /// Stores (`insert`, `insert_with_ttl`, loads), including replacements and entries too heavy
    /// to be kept: `inserts = entries + evictions + replacements + removals + expirations`.
    pub inserts: u64,
    /// Entries evicted to respect the size or weight bound (including entries too heavy to be
    /// stored at all).
    pub evictions: u64,
    /// Entries removed because their time to live ran out.
    pub expirations: u64,
    /// Loader runs of `get_or_insert_with` / `try_get_or_insert_with`.
    pub loads: u64,
    /// Loader runs that failed or panicked.
    pub load_failures: u64,
    /// Eviction listener (and weigher) calls that panicked; the panic was caught.
    pub callback_panics: u64,
    /// Entries held when the statistics were taken.
    pub entries: usize,
    /// Total weight held when the statistics were taken (entries weigh 1 without a weigher).
    pub weight: u64,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0 before the first lookup.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}
