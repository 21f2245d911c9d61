//! A near cache: a `ShardedCache` with a time to live in front of Redis, reached through the
//! blocking pool, with single-flight loads so a popular key missing from the cache costs one
//! Redis round trip however many threads ask for it at once.
//!
//! ```text
//! cargo run -p patinox-memory --example near_cache            # until Ctrl-C, a line a second
//! cargo run -p patinox-memory --example near_cache -- --once  # 20,000 requests, then exit
//! ```
//!
//! Reads `REDIS_URL` (default `redis://127.0.0.1:6379`).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::cache::{EvictionPolicy, ShardedCache};
use patinox_memory::pool::{ManageConnection, Pool};
use redis::ConnectionLike;

const KEYS: u64 = 2_000;
const THREADS: u64 = 4;
const ONCE_REQUESTS: u64 = 20_000;

/// Opens Redis connections for the pool.
struct Redis {
    client: redis::Client,
}

impl ManageConnection for Redis {
    type Connection = redis::Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<redis::Connection, redis::RedisError> {
        let mut conn = self
            .client
            .get_connection_with_timeout(Duration::from_secs(2))?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("patinox-near-cache")
            .query::<()>(&mut conn)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<String>(conn).map(|_| ())
    }

    fn has_broken(&self, conn: &mut redis::Connection) -> bool {
        !conn.is_open()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let pool = Pool::builder(Redis {
        client: redis::Client::open(url.as_str())?,
    })
    .max_connections(4)
    .connection_timeout(Duration::from_secs(3))
    .build()?;
    let near: ShardedCache<u64, String> = ShardedCache::builder()
        .max_size(500)
        .default_ttl(Duration::from_secs(2))
        .eviction_policy(EvictionPolicy::TinyLfu)
        .build()?;

    // The origin data, in Redis.
    let prefix = format!("patinox:near-cache:{}", std::process::id());
    {
        let mut conn = pool.get()?;
        let mut pipe = redis::pipe();
        for k in 0..KEYS {
            pipe.cmd("SET")
                .arg(format!("{prefix}:{k}"))
                .arg(format!("value-{k}"))
                .arg("EX")
                .arg(300)
                .ignore();
        }
        pipe.query::<()>(&mut *conn)?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    }
    let requests = Arc::new(AtomicU64::new(0));
    let redis_gets = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, near, stop, requests, redis_gets, prefix) = (
                pool.clone(),
                near.clone(),
                stop.clone(),
                requests.clone(),
                redis_gets.clone(),
                prefix.clone(),
            );
            thread::spawn(move || -> Result<(), String> {
                let mut x = 0x2545_F491_4F6C_DD1Du64.wrapping_mul(t + 1);
                for _ in 0.. {
                    if stop.load(Ordering::Relaxed)
                        || (once && requests.load(Ordering::Relaxed) >= ONCE_REQUESTS)
                    {
                        break;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Skewed towards low keys: a cube of a uniform number.
                    let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                    let key = (u * u * u * KEYS as f64) as u64;
                    let value =
                        near.try_get_or_insert_with(key, || -> Result<String, String> {
                            redis_gets.fetch_add(1, Ordering::Relaxed);
                            let mut conn = pool.get().map_err(|e| e.to_string())?;
                            redis::cmd("GET")
                                .arg(format!("{prefix}:{key}"))
                                .query::<String>(&mut *conn)
                                .map_err(|e| e.to_string())
                        })?;
                    if value != format!("value-{key}") {
                        return Err(format!("key {key} read {value:?}"));
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();

    let mut last = Instant::now();
    while workers.iter().any(|w| !w.is_finished()) {
        thread::sleep(Duration::from_millis(50));
        if !once && last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            println!(
                "{} requests, hit rate {:.1} %",
                requests.load(Ordering::Relaxed),
                near.stats().hit_rate() * 100.0
            );
        }
    }
    for w in workers {
        w.join().map_err(|_| "a worker panicked")??;
    }

    let stats = near.stats();
    let n = requests.load(Ordering::Relaxed);
    println!(
        "{n} requests in {:.2?}: near-cache hit rate {:.1} %, {} Redis GETs ({:.1} % of requests), {} single-flight loads",
        started.elapsed(),
        stats.hit_rate() * 100.0,
        redis_gets.load(Ordering::Relaxed),
        redis_gets.load(Ordering::Relaxed) as f64 * 100.0 / n.max(1) as f64,
        stats.loads,
    );

    // Remove the origin data and close the pool.
    {
        let mut conn = pool.get()?;
        let keys: Vec<String> = (0..KEYS).map(|k| format!("{prefix}:{k}")).collect();
        redis::cmd("DEL").arg(keys).query::<()>(&mut *conn)?;
    }
    pool.shutdown(Duration::from_secs(2))?;
    Ok(())
}
