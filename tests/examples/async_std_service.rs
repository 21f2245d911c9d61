//! The service's shape on async-std: a Redis pool from the async-std adapter (through the
//! small RESP client in this crate), a near cache with a time to live and async single-flight
//! loads in front of it, all registered in one `ResourceRegistry`, and a clean shutdown with a
//! deadline on Ctrl-C.
//!
//! ```text
//! cargo run -p patinox-memory-tests --example async_std_service            # until Ctrl-C
//! cargo run -p patinox-memory-tests --example async_std_service -- --once  # one round, then exit
//! ```
//!
//! Reads `REDIS_URL` (default `redis://127.0.0.1:6379`). async-std is discontinued upstream;
//! the adapter is kept working for services still on it.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use patinox_memory::cache::{EvictionPolicy, ShardedCache};
use patinox_memory::resource::ResourceRegistry;
use patinox_memory_async_std::pool::Pool;
use patinox_memory_tests::resp::{RedisManager, Reply};
use patinox_memory_tests::{host_port, redis_url};

const KEYS: u64 = 2_000;
const TASKS: u64 = 32;

#[async_std::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let url = redis_url();
    let addr = host_port(&url).ok_or("REDIS_URL has no host:port")?;

    let registry = ResourceRegistry::new();
    let pool = Pool::builder(RedisManager::new(addr, "patinox-async-std-service"))
        .max_connections(4)
        .connection_timeout(Duration::from_secs(3))
        .build()?;
    registry.register_component(pool.clone())?;
    let near: ShardedCache<u64, String> = ShardedCache::builder()
        .max_size(500)
        .default_ttl(Duration::from_secs(2))
        .eviction_policy(EvictionPolicy::TinyLfu)
        .build()?;
    registry.register_component(near.clone())?;

    // The origin data, in Redis.
    let prefix = format!("patinox:async-std-service:{}", std::process::id());
    {
        let mut conn = pool.get().await?;
        for k in 0..KEYS {
            let (key, value) = (format!("{prefix}:{k}"), format!("value-{k}"));
            conn.command(&[b"SET", key.as_bytes(), value.as_bytes(), b"EX", b"300"])
                .await?;
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    }
    println!(
        "serving with {TASKS} tasks{}",
        if once {
            " for one round"
        } else {
            "; Ctrl-C to stop"
        }
    );
    let (served, origin_reads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (pool, near, stop, served, origin_reads, prefix) = (
            pool.clone(),
            near.clone(),
            stop.clone(),
            served.clone(),
            origin_reads.clone(),
            prefix.clone(),
        );
        tasks.push(async_std::task::spawn(async move {
            let mut x = 0x2545_F491_4F6C_DD1Du64.wrapping_mul(t + 1);
            let rounds = if once { 200 } else { u64::MAX };
            for _ in 0..rounds {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                let key = (u * u * u * KEYS as f64) as u64;
                let value = near
                    .try_get_or_insert_with_async(key, || async {
                        origin_reads.fetch_add(1, Ordering::Relaxed);
                        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                        let redis_key = format!("{prefix}:{key}");
                        match conn.command(&[b"GET", redis_key.as_bytes()]).await {
                            Ok(Reply::Bulk(Some(bytes))) => {
                                String::from_utf8(bytes).map_err(|e| e.to_string())
                            }
                            other => Err(format!("GET {redis_key}: {other:?}")),
                        }
                    })
                    .await?;
                if value != format!("value-{key}") {
                    return Err(format!("key {key} read {value:?}"));
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await?;
    }

    let n = served.load(Ordering::Relaxed);
    println!(
        "served {n} requests; near-cache hit rate {:.1} %; {} Redis GETs ({:.1} % of requests)",
        near.stats().hit_rate() * 100.0,
        origin_reads.load(Ordering::Relaxed),
        origin_reads.load(Ordering::Relaxed) as f64 * 100.0 / n.max(1) as f64,
    );
    {
        let mut conn = pool.get().await?;
        for k in 0..KEYS {
            conn.command(&[b"DEL", format!("{prefix}:{k}").as_bytes()])
                .await?;
        }
    }
    let started = Instant::now();
    let report =
        patinox_memory_async_std::resource::cleanup_all(&registry, Duration::from_secs(5)).await;
    for c in &report.components {
        let outcome = c
            .result
            .as_ref()
            .map_or_else(|e| e.to_string(), |()| "ok".to_owned());
        println!("  shut down {:<24} {outcome}", c.name);
    }
    println!("clean shutdown in {:?}", started.elapsed());
    if report.components.iter().any(|c| c.result.is_err()) {
        return Err("a component failed to shut down".into());
    }
    Ok(())
}
