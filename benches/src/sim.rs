//! Hit-ratio simulation: replay a key trace through a cache, `get` then `insert` on a miss,
//! the convention every published hit ratio uses.
//!
//! [`SimCache`] is the small interface a simulated cache implements; [`Library`] lists the
//! caches compared (ours and the peers) and builds one at a given capacity; [`replay`] runs a
//! trace through one cache; [`simulate`] runs a trace through several libraries at several
//! capacities.
//!
//! # Examples
//!
//! ```
//! use patinox_memory_benches::sim::{self, Library};
//!
//! let keys: Vec<u64> = (0..10_000).map(|i| (i * 7919) % 500).collect();
//! let caps = sim::default_capacities(sim::unique_keys(&keys));
//! assert_eq!(caps, [64, 64, 100]);
//! for result in sim::simulate(&keys, &caps, &[Library::PatinoxTinyLfu, Library::Lru]) {
//!     println!("{} @ {}: {:.2} %", result.library.name(), result.capacity, result.hit_ratio() * 100.0);
//! }
//! ```

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::num::NonZeroUsize;

use patinox_memory::cache::{CacheConfig, EvictionPolicy, LruCache, ShardedCache};

/// A cache as the simulator sees it: `u64` keys, no values.
pub trait SimCache {
    /// Looks `key` up; true on a hit.
    fn get(&mut self, key: u64) -> bool;
    /// Stores `key` (called after a miss).
    fn insert(&mut self, key: u64);
}

/// A fixed, fast hasher for `u64` keys (the splitmix64 finalizer), so that simulations of our
/// caches are repeatable run to run (the default hasher is randomly seeded).
#[derive(Debug, Clone, Copy, Default)]
pub struct SimHasher(u64);

impl Hasher for SimHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }
}

/// Builds [`SimHasher`]s.
pub type SimHashBuilder = BuildHasherDefault<SimHasher>;

impl<S: BuildHasher> SimCache for LruCache<u64, (), S> {
    fn get(&mut self, key: u64) -> bool {
        LruCache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64) {
        self.put(key, ());
    }
}

impl<S: BuildHasher> SimCache for ShardedCache<u64, (), S> {
    fn get(&mut self, key: u64) -> bool {
        ShardedCache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64) {
        ShardedCache::insert(self, key, ());
    }
}

impl SimCache for lru::LruCache<u64, ()> {
    fn get(&mut self, key: u64) -> bool {
        lru::LruCache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64) {
        self.put(key, ());
    }
}

impl SimCache for moka::sync::Cache<u64, ()> {
    fn get(&mut self, key: u64) -> bool {
        moka::sync::Cache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64) {
        moka::sync::Cache::insert(self, key, ());
    }
}

impl SimCache for quick_cache::sync::Cache<u64, ()> {
    fn get(&mut self, key: u64) -> bool {
        quick_cache::sync::Cache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64) {
        quick_cache::sync::Cache::insert(self, key, ());
    }
}

/// The CPU count whose automatic shard count [`Library::PatinoxTinyLfu`] uses. Hit ratios
/// depend on the shard count, which depends on the CPU count; the pinned ratios in
/// `tests/hit_ratio.rs` were set for 2 CPUs.
pub const SIM_CPUS: usize = 2;

/// The caches the simulator compares. Ours first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Library {
    /// `patinox_memory::cache::LruCache`.
    PatinoxLru,
    /// `ShardedCache` with one shard and the LRU policy (exact LRU).
    PatinoxShardedLru,
    /// `ShardedCache` with the TinyLFU policy and the automatic shard count of a machine with
    /// [`SIM_CPUS`] CPUs (fixed, so the figures are the same on every machine).
    PatinoxTinyLfu,
    /// `ShardedCache` with the TinyLFU policy and one shard.
    PatinoxTinyLfuOneShard,
    /// The `lru` crate.
    Lru,
    /// `moka::sync::Cache`.
    Moka,
    /// `quick_cache::sync::Cache`.
    QuickCache,
}

impl Library {
    /// Every library, ours first.
    pub const ALL: [Library; 7] = [
        Library::PatinoxLru,
        Library::PatinoxShardedLru,
        Library::PatinoxTinyLfu,
        Library::PatinoxTinyLfuOneShard,
        Library::Lru,
        Library::Moka,
        Library::QuickCache,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Library::PatinoxLru => "patinox LruCache",
            Library::PatinoxShardedLru => "patinox Lru (1 shard)",
            Library::PatinoxTinyLfu => "patinox TinyLfu",
            Library::PatinoxTinyLfuOneShard => "patinox TinyLfu (1 shard)",
            Library::Lru => "lru",
            Library::Moka => "moka",
            Library::QuickCache => "quick_cache",
        }
    }

    /// The short identifier [`Library::from_str`](std::str::FromStr) accepts (for command
    /// lines): `patinox-lru`, `patinox-sharded-lru`, `patinox-tinylfu`, `patinox-tinylfu-1`,
    /// `lru`, `moka`, `quick_cache`.
    pub fn id(self) -> &'static str {
        match self {
            Library::PatinoxLru => "patinox-lru",
            Library::PatinoxShardedLru => "patinox-sharded-lru",
            Library::PatinoxTinyLfu => "patinox-tinylfu",
            Library::PatinoxTinyLfuOneShard => "patinox-tinylfu-1",
            Library::Lru => "lru",
            Library::Moka => "moka",
            Library::QuickCache => "quick_cache",
        }
    }

    /// A new, empty cache of this library holding `capacity` entries (at least 1).
    pub fn build(self, capacity: usize) -> Box<dyn SimCache> {
        let capacity = capacity.max(1);
        match self {
            Library::PatinoxLru => Box::new(LruCache::<u64, (), _>::with_hasher(
                capacity,
                SimHashBuilder::default(),
            )),
            Library::PatinoxShardedLru => Box::new(sharded(capacity, EvictionPolicy::Lru, 1)),
            Library::PatinoxTinyLfu => {
                let shards = CacheConfig {
                    max_size: capacity,
                    ..CacheConfig::default()
                }
                .effective_shards_for_cpus(SIM_CPUS);
                Box::new(sharded(capacity, EvictionPolicy::TinyLfu, shards))
            }
            Library::PatinoxTinyLfuOneShard => {
                Box::new(sharded(capacity, EvictionPolicy::TinyLfu, 1))
            }
            Library::Lru => Box::new(lru::LruCache::<u64, ()>::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            Library::Moka => Box::new(moka::sync::Cache::<u64, ()>::new(capacity as u64)),
            Library::QuickCache => Box::new(quick_cache::sync::Cache::<u64, ()>::new(capacity)),
        }
    }
}

impl std::str::FromStr for Library {
    type Err = String;

    /// Parses an [`id`](Library::id) (case-insensitive; `quick-cache` also accepted).
    fn from_str(s: &str) -> Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Library::ALL
            .into_iter()
            .find(|l| l.id().replace('-', "_") == wanted)
            .ok_or_else(|| {
                let known: Vec<_> = Library::ALL.iter().map(|l| l.id()).collect();
                format!(
                    "unknown cache library {s:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

fn sharded(
    capacity: usize,
    policy: EvictionPolicy,
    shards: usize,
) -> ShardedCache<u64, (), SimHashBuilder> {
    ShardedCache::builder()
        .hasher(SimHashBuilder::default())
        .max_size(capacity)
        .eviction_policy(policy)
        .shards(shards)
        .build()
        .unwrap_or_else(|e| unreachable!("a valid simulator config was rejected: {e}"))
}

/// Hits and requests of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Lookups that hit.
    pub hits: u64,
    /// Lookups in all.
    pub requests: u64,
}

impl Outcome {
    /// `hits / requests` (0 for an empty trace).
    pub fn hit_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.hits as f64 / self.requests as f64
        }
    }
}

/// Replays `keys` through `cache`: `get`, and `insert` on a miss.
pub fn replay(cache: &mut dyn SimCache, keys: impl IntoIterator<Item = u64>) -> Outcome {
    let mut out = Outcome::default();
    for key in keys {
        out.requests += 1;
        if cache.get(key) {
            out.hits += 1;
        } else {
            cache.insert(key);
        }
    }
    out
}

/// Number of distinct keys in `keys`.
pub fn unique_keys(keys: &[u64]) -> usize {
    keys.iter().collect::<HashSet<_>>().len()
}

/// The standard capacities for a trace of `unique` distinct keys: unique/100, unique/20 and
/// unique/5, each at least 64.
pub fn default_capacities(unique: usize) -> [usize; 3] {
    [unique / 100, unique / 20, unique / 5].map(|c| c.max(64))
}

/// One (library, capacity) point of a simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimResult {
    /// Which cache.
    pub library: Library,
    /// Its capacity in entries.
    pub capacity: usize,
    /// What the replay counted.
    pub outcome: Outcome,
}

impl SimResult {
    /// Hit ratio in 0..=1.
    pub fn hit_ratio(&self) -> f64 {
        self.outcome.hit_ratio()
    }
}

/// Replays `keys` through every library at every capacity, capacity-major, libraries in the
/// order given.
pub fn simulate(keys: &[u64], capacities: &[usize], libraries: &[Library]) -> Vec<SimResult> {
    let mut results = Vec::with_capacity(capacities.len() * libraries.len());
    for &capacity in capacities {
        for &library in libraries {
            let mut cache = library.build(capacity);
            let outcome = replay(cache.as_mut(), keys.iter().copied());
            results.push(SimResult {
                library,
                capacity,
                outcome,
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_counts_hits_of_repeated_keys() {
        let mut cache = Library::PatinoxLru.build(2);
        let out = replay(cache.as_mut(), [1, 2, 1, 3, 2, 1]);
        assert_eq!(out.requests, 6);
        assert_eq!(out.hits, 1, "only the second 1 hits in an LRU of 2");
    }

    #[test]
    fn library_ids_round_trip() {
        for lib in Library::ALL {
            assert_eq!(lib.id().parse::<Library>(), Ok(lib));
        }
        assert_eq!("Quick-Cache".parse::<Library>(), Ok(Library::QuickCache));
        assert!(
            "nope"
                .parse::<Library>()
                .unwrap_err()
                .contains("expected one of")
        );
    }

    #[test]
    fn capacities_have_a_floor_of_64() {
        assert_eq!(default_capacities(186_880), [1868, 9344, 37376]);
        assert_eq!(default_capacities(1011), [64, 64, 202]);
    }
}

/// Counts the requests and distinct keys of a key stream (one pass, memory for the distinct
/// keys only).
///
/// # Errors
///
/// The first error the stream yields.
pub fn count_stream<E>(keys: impl IntoIterator<Item = Result<u64, E>>) -> Result<(u64, usize), E> {
    let mut seen = HashSet::new();
    let mut requests = 0;
    for key in keys {
        seen.insert(key?);
        requests += 1;
    }
    Ok((requests, seen.len()))
}

/// Replays a key stream through every library at every capacity in a single pass, so a trace
/// is read once and never held in memory whole. `progress` is called with the number of
/// requests replayed so far, every 65,536 requests and at the end.
///
/// Results come capacity-major, libraries in the order given, as from [`simulate`].
///
/// # Errors
///
/// The first error the stream yields (a malformed line, an I/O error).
///
/// # Examples
///
/// ```
/// use patinox_memory_benches::sim::{self, Library};
///
/// let keys = (0..5_000u64).map(|i| Ok::<u64, std::io::Error>(i % 300));
/// let results = sim::simulate_stream(keys, &[100, 400], &[Library::PatinoxTinyLfu, Library::Lru], |_| {})?;
/// assert_eq!(results.len(), 4);
/// assert!(results[3].hit_ratio() > 0.9); // 300 keys fit in 400 entries
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn simulate_stream<E>(
    keys: impl IntoIterator<Item = Result<u64, E>>,
    capacities: &[usize],
    libraries: &[Library],
    mut progress: impl FnMut(u64),
) -> Result<Vec<SimResult>, E> {
    let mut runs: Vec<(SimResult, Box<dyn SimCache>)> = capacities
        .iter()
        .flat_map(|&capacity| {
            libraries.iter().map(move |&library| {
                let result = SimResult {
                    library,
                    capacity,
                    outcome: Outcome::default(),
                };
                (result, library.build(capacity))
            })
        })
        .collect();
    let mut requests = 0u64;
    for key in keys {
        let key = key?;
        for (result, cache) in &mut runs {
            result.outcome.requests += 1;
            if cache.get(key) {
                result.outcome.hits += 1;
            } else {
                cache.insert(key);
            }
        }
        requests += 1;
        if requests.is_multiple_of(65_536) {
            progress(requests);
        }
    }
    progress(requests);
    Ok(runs.into_iter().map(|(result, _)| result).collect())
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn streaming_and_in_memory_simulations_agree() {
        let keys: Vec<u64> = (0..20_000u64).map(|i| (i * 7919 + i / 3) % 1_500).collect();
        let caps = default_capacities(unique_keys(&keys));
        let libs = [
            Library::PatinoxLru,
            Library::PatinoxTinyLfuOneShard,
            Library::Lru,
        ];
        let in_memory = simulate(&keys, &caps, &libs);
        let streamed =
            simulate_stream(keys.iter().map(|&k| Ok::<u64, ()>(k)), &caps, &libs, |_| {}).unwrap();
        assert_eq!(in_memory, streamed);
    }

    #[test]
    fn stream_errors_stop_the_replay() {
        let keys = [Ok(1u64), Err("line 2 is malformed"), Ok(3)];
        assert_eq!(
            simulate_stream(keys, &[64], &[Library::Lru], |_| {}),
            Err("line 2 is malformed")
        );
        assert_eq!(
            count_stream([Ok(1u64), Ok(1), Ok::<u64, ()>(2)]),
            Ok((3, 2))
        );
    }
}
