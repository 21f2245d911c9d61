//! [`CacheConfig`], [`EvictionPolicy`] and their validation.

use std::time::Duration;

use crate::config::EnvOverrides;
use crate::error::ConfigError;

/// Loading a configuration validates it: an invalid one fails to deserialize with the same
/// message [`CacheConfig::validate`] gives, naming the field.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for CacheConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = CacheConfig::deserialize(deserializer)?;
        config.validate().map_err(serde::de::Error::custom)?;
        Ok(config)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for CacheConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CacheConfig::serialize(self, serializer)
    }
}

/// Which entry a full cache gives up.
///
/// In configuration files it is written `lru` or `tiny_lfu` (also accepted: `tinylfu`,
/// `tiny-lfu`); environment variables accept the same names in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum EvictionPolicy {
    /// Least recently used. With one shard the cache is an exact LRU.
    #[default]
    Lru,
    /// W-TinyLFU: a small LRU window, a segmented main space, and a frequency sketch that
    /// decides admission, with the window size tuned online by hill climbing. Resists scans and
    /// keeps frequently used entries; usually a higher hit ratio than LRU.
    #[cfg_attr(feature = "serde", serde(alias = "tinylfu", alias = "tiny-lfu"))]
    TinyLfu,
}

impl std::str::FromStr for EvictionPolicy {
    type Err = ConfigError;

    /// Parses `lru` or `tiny_lfu` (also `tinylfu`, `tiny-lfu`), in any case.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "lru" => Ok(EvictionPolicy::Lru),
            "tiny_lfu" | "tinylfu" => Ok(EvictionPolicy::TinyLfu),
            _ => Err(ConfigError::new(
                "eviction_policy",
                format!("must be `lru` or `tiny_lfu`, got {s:?}"),
            )),
        }
    }
}

/// The most shards a cache may have.
pub const MAX_SHARDS: usize = 1 << 16;

/// Settings of a [`ShardedCache`](super::ShardedCache); see also its
/// [builder](super::ShardedCache::builder).
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::{CacheConfig, EvictionPolicy, ShardedCache};
/// use std::time::Duration;
///
/// let config = CacheConfig {
///     max_size: 1_000,
///     default_ttl: Some(Duration::from_secs(60)),
///     eviction_policy: EvictionPolicy::TinyLfu,
///     ..CacheConfig::default()
/// };
/// let cache: ShardedCache<u32, String> = ShardedCache::with_config(config)?;
/// # Ok::<(), patinox_memory::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(remote = "Self", deny_unknown_fields, default)
)]
pub struct CacheConfig {
    /// Most entries held at once (0: the cache stores nothing). Default 10 000.
    pub max_size: usize,
    /// Most total weight held at once, as measured by the builder's weigher (entries weigh 1
    /// without one). `None` (default): only `max_size` bounds the cache.
    pub max_weight: Option<u64>,
    /// Time to live of entries inserted without their own. `None` (default): no expiry.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config::serde_duration::option")
    )]
    pub default_ttl: Option<Duration>,
    /// If set, a background thread removes expired entries at this interval (it stops when the
    /// cache is dropped). `None` (default): expired entries are removed when touched.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config::serde_duration::option")
    )]
    pub cleanup_interval: Option<Duration>,
    /// Eviction policy; default [`EvictionPolicy::Lru`].
    pub eviction_policy: EvictionPolicy,
    /// Number of shards (independent locks): a power of two up to [`MAX_SHARDS`], or 0
    /// (default) to choose from the number of CPUs and `max_size` (see
    /// [`effective_shards_for_cpus`](Self::effective_shards_for_cpus)). Never more than
    /// `max_size`.
    pub shards: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_size: 10_000,
            max_weight: None,
            default_ttl: None,
            cleanup_interval: None,
            eviction_policy: EvictionPolicy::Lru,
            shards: 0,
        }
    }
}

/// Automatic sharding keeps at least this many entries per shard.
const MIN_ENTRIES_PER_SHARD: usize = 256;
/// Automatic sharding doubles to sixteen shards per CPU when each shard still holds at least
/// this many entries (see [`CacheConfig::effective_shards_for_cpus`]).
const MIN_ENTRIES_PER_SHARD_AT_16: usize = 2048;

impl CacheConfig {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field if `shards` is not 0 or a power of two up to
    /// [`MAX_SHARDS`], or if `max_weight`, `default_ttl` or `cleanup_interval` is zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.shards != 0 && (!self.shards.is_power_of_two() || self.shards > MAX_SHARDS) {
            return Err(ConfigError::new(
                "shards",
                format!(
                    "must be 0 (automatic) or a power of two up to {MAX_SHARDS}, got {}",
                    self.shards
                ),
            ));
        }
        if self.max_weight == Some(0) {
            return Err(ConfigError::new("max_weight", "must be at least 1, got 0"));
        }
        if self.default_ttl == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "default_ttl",
                "must be longer than zero (use None for no expiry)",
            ));
        }
        if self.cleanup_interval == Some(Duration::ZERO) {
            return Err(ConfigError::new(
                "cleanup_interval",
                "must be longer than zero (use None for no background cleanup)",
            ));
        }
        Ok(())
    }

    /// Applies overrides from environment variables named `PREFIX_FIELD`, then validates.
    ///
    /// Every field can be overridden: `max_size`, `max_weight` (a number, or `none`/`off`),
    /// `default_ttl` and `cleanup_interval` (durations such as `"90s"`, or `none`/`off`),
    /// `eviction_policy` (`lru` or `tiny_lfu`) and `shards`. The conventional prefix is
    /// `PATINOX_CACHE`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field for a value that does not parse, or for a resulting
    /// configuration that [`validate`](Self::validate) rejects.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::{CacheConfig, EvictionPolicy};
    /// use patinox_memory::config::EnvOverrides;
    /// use std::time::Duration;
    ///
    /// let env = EnvOverrides::from_pairs(
    ///     "PATINOX_CACHE",
    ///     [("PATINOX_CACHE_EVICTION_POLICY", "tiny_lfu"), ("PATINOX_CACHE_DEFAULT_TTL", "90s")],
    /// );
    /// let mut config = CacheConfig::default();
    /// config.apply_env(&env).unwrap();
    /// assert_eq!(config.eviction_policy, EvictionPolicy::TinyLfu);
    /// assert_eq!(config.default_ttl, Some(Duration::from_secs(90)));
    /// ```
    pub fn apply_env(&mut self, env: &EnvOverrides) -> Result<(), ConfigError> {
        if let Some(v) = env.parse("max_size")? {
            self.max_size = v;
        }
        if let Some(v) = env.optional("max_weight")? {
            self.max_weight = v;
        }
        if let Some(v) = env.optional_duration("default_ttl")? {
            self.default_ttl = v;
        }
        if let Some(v) = env.optional_duration("cleanup_interval")? {
            self.cleanup_interval = v;
        }
        if let Some(v) = env.raw("eviction_policy") {
            self.eviction_policy = v.parse().map_err(|e: ConfigError| {
                ConfigError::new(
                    "eviction_policy",
                    format!("from {}: {}", env.var_name("eviction_policy"), e.problem()),
                )
            })?;
        }
        if let Some(v) = env.parse("shards")? {
            self.shards = v;
        }
        self.validate()
    }

    /// The default configuration with overrides from the process environment under `prefix`
    /// (see [`apply_env`](Self::apply_env)).
    ///
    /// # Errors
    ///
    /// As [`apply_env`](Self::apply_env).
    pub fn from_env(prefix: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.apply_env(&EnvOverrides::from_env(prefix))?;
        Ok(config)
    }

    /// The number of shards a cache built from this config uses on this machine.
    pub fn effective_shards(&self) -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.effective_shards_for_cpus(cpus)
    }

    /// The number of shards a cache built from this config would use on a machine with `cpus`
    /// CPUs: `shards` if set (at most `max_size`), else sixteen per CPU if each shard then
    /// holds at least 2048 entries, else eight per CPU with at least 256 entries per shard.
    ///
    /// Hit ratios depend on the shard count, so a simulation that must give the same figures
    /// on every machine sets the shard count from this with a fixed CPU count.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::CacheConfig;
    ///
    /// let config = CacheConfig { max_size: 100_000, ..CacheConfig::default() };
    /// assert_eq!(config.effective_shards_for_cpus(2), 32);
    /// // Below 2048 entries per shard at sixteen per CPU: eight per CPU.
    /// let medium = CacheConfig { max_size: 50_000, ..CacheConfig::default() };
    /// assert_eq!(medium.effective_shards_for_cpus(2), 16);
    /// // Small caches get fewer shards: at least 256 entries each.
    /// let small = CacheConfig { max_size: 1_000, ..CacheConfig::default() };
    /// assert_eq!(small.effective_shards_for_cpus(2), 2);
    /// ```
    pub fn effective_shards_for_cpus(&self, cpus: usize) -> usize {
        let most = prev_power_of_two(self.max_size.max(1));
        if self.shards != 0 {
            return self.shards.min(most);
        }
        let cpus = cpus.max(1);
        let per_cpu = |n: usize| {
            cpus.saturating_mul(n)
                .checked_next_power_of_two()
                .unwrap_or(MAX_SHARDS)
                .min(MAX_SHARDS)
        };
        // Every operation takes its shard's lock, and under a skewed workload threads meet on
        // the hot shards: with four per CPU two threads ran slower than one (Zipf(1.0), 100k
        // entries, 2 CPUs: 8 shards 37 ns per operation, 16 shards 31 ns, one thread 31 ns),
        // and sixteen per CPU took another 11 % off two threads (A/B against quick_cache,
        // median of 9 processes: 1.07x -> 0.95x; one thread unchanged). More shards cost hit
        // ratio once each shard's policy sees too few keys: arc-OLTP at 37 376 entries lost
        // 0.5-1 point with 32 shards (1168 entries each), while at 2048 entries per shard or
        // more no trace point moved by more than 0.01 (arc-P3 at 152 508: 4765 each).
        let many = per_cpu(16);
        if self.max_size / many >= MIN_ENTRIES_PER_SHARD_AT_16 {
            return many;
        }
        let by_size = prev_power_of_two((self.max_size / MIN_ENTRIES_PER_SHARD).max(1));
        per_cpu(8).min(by_size)
    }
}

fn prev_power_of_two(n: usize) -> usize {
    if n == 0 {
        1
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// `total` split into `parts` shares that sum exactly to `total`.
pub(crate) fn split(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts.max(1) as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_shards_and_zero_durations_are_rejected() {
        let bad = CacheConfig {
            shards: 3,
            ..CacheConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "shards");
        let bad = CacheConfig {
            default_ttl: Some(Duration::ZERO),
            ..CacheConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "default_ttl");
        let bad = CacheConfig {
            cleanup_interval: Some(Duration::ZERO),
            ..CacheConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "cleanup_interval");
        assert!(CacheConfig::default().validate().is_ok());
    }

    #[test]
    fn shards_never_exceed_max_size_and_shares_sum_up() {
        let c = CacheConfig {
            max_size: 5,
            shards: 64,
            ..CacheConfig::default()
        };
        assert_eq!(c.effective_shards(), 4);
        let total: u64 = (0..4).map(|i| split(5, 4, i)).sum();
        assert_eq!(total, 5);
        let auto = CacheConfig {
            max_size: 100,
            ..CacheConfig::default()
        };
        assert_eq!(auto.effective_shards(), 1);
    }
}
