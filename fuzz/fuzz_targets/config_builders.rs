//! Configuration with arbitrary values: `PoolConfig`/`PoolBuilder` and `CacheConfig`/`CacheBuilder`
//! (the text side, `parse_duration` and `EnvOverrides`, is the `config_text` target).
//!
//! Nothing panics (not at build time, not in the first get or insert, not in a background
//! thread); a rejected configuration is a `ConfigError` naming one of the fields that exist;
//! an accepted one validates and works.

#![no_main]

use std::convert::Infallible;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patinox_memory::cache::{CacheConfig, EvictionPolicy, ShardedCache};
use patinox_memory::pool::{ManageConnection, Pool, PoolConfig};

/// Connects at once to a connection that is always valid.
#[derive(Debug)]
struct Instant;

impl ManageConnection for Instant {
    type Connection = ();
    type Error = Infallible;
    fn connect(&self) -> Result<(), Infallible> {
        Ok(())
    }
    fn is_valid(&self, _: &mut ()) -> Result<(), Infallible> {
        Ok(())
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Dur {
    Zero,
    Millis(u16),
    Any(u64, u32),
    Max,
}

impl Dur {
    fn get(self) -> Duration {
        match self {
            Dur::Zero => Duration::ZERO,
            Dur::Millis(ms) => Duration::from_millis(u64::from(ms)),
            Dur::Any(s, n) => Duration::new(s, n % 1_000_000_000),
            Dur::Max => Duration::MAX,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct PoolSettings {
    min: u16,
    max: u16,
    connection_timeout: Dur,
    idle_timeout: Option<Dur>,
    max_lifetime: Option<Dur>,
    health_check_interval: Option<Dur>,
    test_on_check_out: bool,
    via_builder: bool,
}

#[derive(Debug, Arbitrary)]
struct CacheSettings {
    max_size: u32,
    max_weight: Option<u64>,
    default_ttl: Option<Dur>,
    cleanup_interval: Option<Dur>,
    tiny_lfu: bool,
    shards: u32,
    via_builder: bool,
}

#[derive(Debug, Arbitrary)]
struct Input {
    pool: PoolSettings,
    cache: CacheSettings,
}

const POOL_FIELDS: [&str; 7] = [
    "min_connections",
    "max_connections",
    "connection_timeout",
    "idle_timeout",
    "max_lifetime",
    "health_check_interval",
    "test_on_check_out",
];

const CACHE_FIELDS: [&str; 6] = [
    "max_size",
    "max_weight",
    "default_ttl",
    "cleanup_interval",
    "eviction_policy",
    "shards",
];

fn pool(s: &PoolSettings) {
    let config = PoolConfig {
        min_connections: usize::from(s.min % 8),
        max_connections: usize::from(s.max % 8),
        connection_timeout: s.connection_timeout.get(),
        idle_timeout: s.idle_timeout.map(Dur::get),
        max_lifetime: s.max_lifetime.map(Dur::get),
        health_check_interval: s.health_check_interval.map(Dur::get),
        test_on_check_out: s.test_on_check_out,
    };
    let valid = config.validate();
    let built = if s.via_builder {
        Pool::builder(Instant)
            .max_connections(config.max_connections)
            .min_connections(config.min_connections)
            .connection_timeout(config.connection_timeout)
            .idle_timeout(config.idle_timeout)
            .max_lifetime(config.max_lifetime)
            .health_check_interval(config.health_check_interval)
            .test_on_check_out(config.test_on_check_out)
            .build()
    } else {
        Pool::new(Instant, config.clone())
    };
    match (built, valid) {
        (Ok(pool), Ok(())) => {
            // The deadline arithmetic of a get and of the maintenance thread must cope with
            // any accepted duration (Duration::MAX included).
            let conn = pool.get().expect("an instant manager connects");
            drop(conn);
            let _ = pool
                .get_timeout(Duration::from_millis(1))
                .expect("idle connection");
            let _ = pool.try_get();
            pool.shutdown(Duration::from_millis(100))
                .expect("nothing checked out");
        }
        (Err(e), Err(v)) => {
            assert_eq!(e.field(), v.field(), "build and validate disagree");
            assert!(
                POOL_FIELDS.contains(&e.field()),
                "unknown field {:?}",
                e.field()
            );
            assert!(!e.to_string().is_empty());
        }
        (built, valid) => panic!("build {:?} but validate {valid:?}", built.map(|_| ())),
    }
}

fn cache(s: &CacheSettings) {
    let config = CacheConfig {
        max_size: s.max_size as usize % 5_000,
        max_weight: s.max_weight,
        default_ttl: s.default_ttl.map(Dur::get),
        cleanup_interval: s.cleanup_interval.map(Dur::get),
        eviction_policy: if s.tiny_lfu {
            EvictionPolicy::TinyLfu
        } else {
            EvictionPolicy::Lru
        },
        shards: s.shards as usize % (1 << 18),
    };
    let valid = config.validate();
    let built: Result<ShardedCache<u32, u32>, _> = if s.via_builder {
        let mut b = ShardedCache::builder()
            .max_size(config.max_size)
            .shards(config.shards)
            .eviction_policy(config.eviction_policy);
        if let Some(w) = config.max_weight {
            b = b.max_weight(w);
        }
        if let Some(t) = config.default_ttl {
            b = b.default_ttl(t);
        }
        if let Some(c) = config.cleanup_interval {
            b = b.cleanup_interval(c);
        }
        b.build()
    } else {
        ShardedCache::with_config(config.clone())
    };
    match (built, valid) {
        (Ok(cache), Ok(())) => {
            assert!(cache.shards().is_power_of_two());
            assert!(cache.shards() <= config.max_size.max(1));
            assert_eq!(cache.max_size(), config.max_size);
            for k in 0..4 {
                cache.insert(k, k);
                let _ = cache.get(&k);
            }
            assert!(cache.len() <= config.max_size);
            cache.insert_with_ttl(9, 9, Duration::MAX);
            cache.run_pending_cleanup();
        }
        (Err(e), Err(v)) => {
            assert_eq!(e.field(), v.field(), "build and validate disagree");
            assert!(
                CACHE_FIELDS.contains(&e.field()),
                "unknown field {:?}",
                e.field()
            );
        }
        (built, valid) => panic!("build {:?} but validate {valid:?}", built.map(|_| ())),
    }
}

fuzz_target!(|input: Input| {
    pool(&input.pool);
    cache(&input.cache);
});
