//! One `cleanup_all` shuts a whole service down: a PostgreSQL pool is drained and its
//! backends are gone, the cache's maintenance stops and its entries are released, a mapped
//! file is flushed and unmapped, and tracked resources are cleaned up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::cache::ShardedCache;
use patinox_memory::mmap::{ManagedMapping, MappedFileMut};
use patinox_memory::pool::Pool;
use patinox_memory::resource::ResourceRegistry;
use patinox_memory_tests::pg::{PgManager, backends};
use patinox_memory_tests::{database_url, server_available};
use postgres::{Client, NoTls};

#[test]
fn one_cleanup_all_shuts_down_pool_cache_mapping_and_resources() {
    let url = database_url();
    if !server_available("PostgreSQL", &url) {
        return;
    }
    let app = format!("patinox-service-shutdown-{}", std::process::id());
    let pool = Pool::builder(PgManager::new(&url, &app))
        .max_connections(3)
        .min_connections(2)
        .build()
        .expect("pool");
    let cache: ShardedCache<i32, i64> = ShardedCache::builder()
        .max_size(1000)
        .cleanup_interval(Duration::from_millis(20))
        .build()
        .expect("cache");
    let path = std::env::temp_dir().join(format!("patinox-service-{}.bin", std::process::id()));
    let mapping = Arc::new(ManagedMapping::new(
        MappedFileMut::create(&path, 64).expect("create file"),
    ));

    let registry = ResourceRegistry::new();
    registry
        .register_component(pool.clone())
        .expect("register pool");
    registry
        .register_component(cache.clone())
        .expect("register cache");
    registry
        .register_component(mapping.clone())
        .expect("register mapping");
    let cleaned = Arc::new(AtomicUsize::new(0));
    let tracked = {
        let cleaned = cleaned.clone();
        registry.register_with_cleanup(String::from("session"), move |_| {
            cleaned.fetch_add(1, Ordering::SeqCst);
        })
    };

    // The service works: queries through the pool, results cached, written to the file.
    for n in 1..=5 {
        let value = cache.get_or_insert_with(n, || {
            let mut conn = pool.get().expect("get");
            conn.query_one("SELECT $1::int8 * 10", &[&i64::from(n)])
                .expect("query")
                .get(0)
        });
        assert_eq!(value, i64::from(n) * 10);
        mapping
            .with_mut(|f| f.write_u64_le(8 * n as u64, value as u64))
            .unwrap()
            .unwrap();
    }
    assert_eq!(cache.len(), 5);
    let mut admin = Client::connect(&url, NoTls).expect("admin connection");
    assert!(backends(&mut admin, &app) >= 2);

    // A connection still held when shutdown starts is returned within the deadline.
    let held = pool.get().expect("get");
    let holder = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(held);
    });
    drop(tracked);
    let started = Instant::now();
    let report = registry.cleanup_all(Duration::from_secs(5));
    holder.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );

    assert_eq!(report.components.len(), 3);
    for c in &report.components {
        assert!(c.result.is_ok(), "{} failed: {:?}", c.name, c.result);
    }
    assert_eq!(cleaned.load(Ordering::SeqCst), 1);
    assert!(pool.is_closed());
    assert_eq!(pool.state().connections, 0);
    assert!(pool.get().is_err(), "a closed pool refuses gets");
    assert_eq!(cache.len(), 0);
    assert!(mapping.is_unmapped());
    let bytes = std::fs::read(&path).expect("read back");
    assert_eq!(
        u64::from_le_bytes(bytes[40..48].try_into().unwrap()),
        50,
        "flushed before unmap"
    );
    std::fs::remove_file(&path).unwrap();

    // PostgreSQL closes a backend shortly after its client hangs up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while backends(&mut admin, &app) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        backends(&mut admin, &app),
        0,
        "no backend of the pool is left"
    );
}
