//! The blocking service's shape on tokio: a tokio-postgres pool from the tokio adapter, a
//! cache with async single-flight loads in front of a query, a memory-mapped read-only data
//! file, all registered in one `ResourceRegistry`, and a clean shutdown with a deadline on
//! Ctrl-C.
//!
//! ```text
//! cargo run -p patinox-memory-tests --example tokio_service            # until Ctrl-C
//! cargo run -p patinox-memory-tests --example tokio_service -- --once  # one round, then exit
//! ```
//!
//! Reads `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use patinox_memory::cache::{EvictionPolicy, ShardedCache};
use patinox_memory::mmap::{ManagedMapping, MappedFile};
use patinox_memory::resource::ResourceRegistry;
use patinox_memory_tokio::pool::{ManageConnection, Pool};
use tokio_postgres::{Client, NoTls};

const ITEMS: u64 = 1_000;
const TASKS: u64 = 32;

/// Opens tokio-postgres connections; each connection's I/O runs as a task of its own.
struct Postgres {
    config: tokio_postgres::Config,
}

impl ManageConnection for Postgres {
    type Connection = Client;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn is_valid(&self, conn: &mut Client) -> Result<(), tokio_postgres::Error> {
        conn.simple_query("SELECT 1").await.map(|_| ())
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut config: tokio_postgres::Config = url.parse()?;
    config
        .application_name("patinox-tokio-service")
        .connect_timeout(Duration::from_secs(3));

    let registry = ResourceRegistry::new();
    let pool = Pool::builder(Postgres { config })
        .max_connections(4)
        .build()?;
    registry.register_component(pool.clone())?;
    let names: ShardedCache<u64, String> = ShardedCache::builder()
        .max_size(200)
        .default_ttl(Duration::from_secs(30))
        .eviction_policy(EvictionPolicy::TinyLfu)
        .build()?;
    registry.register_component(names.clone())?;
    let price_path =
        std::env::temp_dir().join(format!("patinox-tokio-prices-{}.bin", std::process::id()));
    let bytes: Vec<u8> = (0..ITEMS)
        .flat_map(|id| (100 + id * 3).to_le_bytes())
        .collect();
    std::fs::write(&price_path, bytes)?;
    let prices = Arc::new(ManagedMapping::new(MappedFile::open(&price_path)?));
    registry.register_component(prices.clone())?;

    pool.get()
        .await?
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS patinox_example_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO patinox_example_items
                 SELECT g, 'item-' || g FROM generate_series(0, 999) AS g
             ON CONFLICT (id) DO NOTHING;",
        )
        .await?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        });
    }
    println!(
        "serving with {TASKS} tasks{}",
        if once {
            " for one round"
        } else {
            "; Ctrl-C to stop"
        }
    );
    let served = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (pool, names, prices, stop, served) = (
            pool.clone(),
            names.clone(),
            prices.clone(),
            stop.clone(),
            served.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
            let rounds = if once { 40 } else { u64::MAX };
            for _ in 0..rounds {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                let id = (u * u * ITEMS as f64) as u64;
                let name = names
                    .try_get_or_insert_with_async(id, || async {
                        let conn = pool.get().await.map_err(|e| e.to_string())?;
                        let row = conn
                            .query_one(
                                "SELECT name FROM patinox_example_items WHERE id = $1",
                                &[&(id as i64)],
                            )
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<String, String>(row.get(0))
                    })
                    .await?;
                let price = prices
                    .with(|f| f.read_u64_le(id * 8))
                    .ok_or("the price file was unmapped")?
                    .map_err(|e| e.to_string())?;
                if name != format!("item-{id}") || price != 100 + id * 3 {
                    return Err(format!("item {id}: read {name:?} at {price}"));
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }

    let stats = names.stats();
    println!(
        "served {} requests; cache hit rate {:.1} %; pool: {} gets, {} connections opened",
        served.load(Ordering::Relaxed),
        stats.hit_rate() * 100.0,
        pool.stats().gets,
        pool.stats().created,
    );
    let started = Instant::now();
    let report =
        patinox_memory_tokio::resource::cleanup_all(&registry, Duration::from_secs(5)).await;
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
