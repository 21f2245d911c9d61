//! A blocking service with no async runtime: a PostgreSQL pool, a cache in front of a query,
//! a memory-mapped read-only data file, all registered in one `ResourceRegistry`, and a clean
//! shutdown with a deadline on Ctrl-C.
//!
//! ```text
//! cargo run -p patinox-memory --example blocking_service            # until Ctrl-C
//! cargo run -p patinox-memory --example blocking_service -- --once  # one round, then exit
//! ```
//!
//! Reads `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), and the pool and
//! cache settings from `PATINOX_POOL_*` and `PATINOX_CACHE_*` variables
//! (e.g. `PATINOX_POOL_MAX_CONNECTIONS=8`).

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::cache::{CacheConfig, EvictionPolicy, ShardedCache};
use patinox_memory::mmap::{ManagedMapping, MappedFile};
use patinox_memory::pool::{ManageConnection, Pool, PoolConfig};
use patinox_memory::resource::ResourceRegistry;
use postgres::{Client, NoTls};

const ITEMS: u64 = 1_000;
const WORKERS: usize = 4;

/// Opens PostgreSQL connections for the pool.
struct Postgres {
    config: postgres::Config,
}

impl ManageConnection for Postgres {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Client, postgres::Error> {
        self.config.connect(NoTls)
    }

    fn is_valid(&self, conn: &mut Client) -> Result<(), postgres::Error> {
        conn.simple_query("SELECT 1").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }
}

/// Writes the price table the service maps: one little-endian `u64` per item.
fn write_price_file(path: &Path) -> std::io::Result<()> {
    let bytes: Vec<u8> = (0..ITEMS)
        .flat_map(|id| (100 + id * 3).to_le_bytes())
        .collect();
    std::fs::write(path, bytes)
}

fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());

    // The service's long-lived parts, each registered for one-call shutdown.
    let registry = ResourceRegistry::new();
    let mut pg: postgres::Config = url.parse()?;
    pg.application_name("patinox-blocking-service")
        .connect_timeout(Duration::from_secs(3));
    let pool = Pool::new(
        Postgres { config: pg },
        PoolConfig::from_env("PATINOX_POOL")?,
    )?;
    registry.register_component(pool.clone())?;

    let mut cache_config = CacheConfig {
        max_size: 200,
        default_ttl: Some(Duration::from_secs(30)),
        eviction_policy: EvictionPolicy::TinyLfu,
        cleanup_interval: Some(Duration::from_secs(5)),
        ..CacheConfig::default()
    };
    cache_config.apply_env(&patinox_memory::config::EnvOverrides::from_env(
        "PATINOX_CACHE",
    ))?;
    let names: ShardedCache<u64, String> = ShardedCache::with_config(cache_config)?;
    registry.register_component(names.clone())?;

    let price_path =
        std::env::temp_dir().join(format!("patinox-prices-{}.bin", std::process::id()));
    write_price_file(&price_path)?;
    let prices = Arc::new(ManagedMapping::new(MappedFile::open(&price_path)?));
    registry.register_component(prices.clone())?;

    // The table the cache fronts.
    {
        let mut conn = pool.get()?;
        conn.batch_execute(
            "CREATE TABLE IF NOT EXISTS patinox_example_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO patinox_example_items
                 SELECT g, 'item-' || g FROM generate_series(0, 999) AS g
             ON CONFLICT (id) DO NOTHING;",
        )?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    }
    println!(
        "serving with {WORKERS} threads{}",
        if once {
            " for one round"
        } else {
            "; Ctrl-C to stop"
        }
    );

    let served = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (pool, names, prices, stop, served) = (
                pool.clone(),
                names.clone(),
                prices.clone(),
                stop.clone(),
                served.clone(),
            );
            thread::spawn(move || -> Result<(), String> {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1);
                let rounds = if once { 250 } else { u64::MAX };
                for _ in 0..rounds {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // A skewed choice of item: squaring a uniform number favours low ids.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                    let id = ((u * u) * ITEMS as f64) as u64;
                    let name = names
                        .try_get_or_insert_with(
                            id,
                            || -> Result<String, Box<dyn Error + Send + Sync>> {
                                let mut conn = pool.get()?;
                                let row = conn.query_one(
                                    "SELECT name FROM patinox_example_items WHERE id = $1",
                                    &[&(id as i64)],
                                )?;
                                Ok(row.get(0))
                            },
                        )
                        .map_err(|e| e.to_string())?;
                    let price = prices
                        .with(|f| f.read_u64_le(id * 8))
                        .ok_or("the price file was unmapped")?
                        .map_err(|e| e.to_string())?;
                    debug_assert_eq!(name, format!("item-{id}"));
                    debug_assert_eq!(price, 100 + id * 3);
                    served.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")??;
    }

    let stats = names.stats();
    let pool_stats = pool.stats();
    println!(
        "served {} requests; cache hit rate {:.1} % ({} loads from PostgreSQL); pool: {} gets, {} waited, {} connections opened",
        served.load(Ordering::Relaxed),
        stats.hit_rate() * 100.0,
        stats.misses,
        pool_stats.gets,
        pool_stats.gets_waited,
        pool_stats.created,
    );

    let started = Instant::now();
    let report = registry.cleanup_all(Duration::from_secs(5));
    for c in &report.components {
        let outcome = c
            .result
            .as_ref()
            .map_or_else(|e| e.to_string(), |()| "ok".to_owned());
        println!("  shut down {:<24} {outcome}", c.name);
    }
    println!("clean shutdown in {:?}", started.elapsed());
    std::fs::remove_file(&price_path)?;
    if report.components.iter().any(|c| c.result.is_err()) {
        return Err("a component failed to shut down".into());
    }
    Ok(())
}
