//! Soak test: a mixed load over every component for a bounded time, sampling resident memory
//! (`VmRSS` in `/proc/self/status`) and open file descriptors (`/proc/self/fd`) as it runs, and
//! failing if either keeps growing.
//!
//! The load, from several threads at once: the pool (an in-memory manager whose connections
//! own a 4 KiB buffer, churned by a short max lifetime), a `ShardedCache` with a time to live
//! and background cleanup, a `ShardedMap`, a `Snapshot` read and replaced, mapped files
//! created, written, reopened, read and deleted, `ResourceGuard`s, and a `ResourceRegistry`
//! with resources registered and dropped.
//!
//! Runs for `PATINOX_SOAK_SECS` seconds (default 10). Linux only (it reads `/proc`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::cache::ShardedCache;
use patinox_memory::mmap::{MappedFile, MappedFileMut};
use patinox_memory::pool::{ManageConnection, Pool};
use patinox_memory::resource::{ResourceGuard, ResourceRegistry};
use patinox_memory::share::{ShardedMap, Snapshot};

fn soak_duration() -> Duration {
    let secs = std::env::var("PATINOX_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(10);
    Duration::from_secs(secs.max(3))
}

/// Resident memory in KiB, from `/proc/self/status`.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Open file descriptors of this process.
fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// Whether `samples` (taken at a steady rate, warm-up already dropped) keep growing: the
/// mean of the last third exceeds the mean of the first third by more than `tolerance`.
///
/// Comparing thirds rather than first and last samples smooths out the allocator's and the
/// caches' sawtooth (entries expire and are cleaned in batches; freed memory returns to the OS
/// in chunks), while a leak, which adds the same amount per operation, grows the mean steadily.
fn grows(samples: &[u64], tolerance: u64) -> bool {
    let third = samples.len() / 3;
    if third == 0 {
        return false;
    }
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len() as u64;
    let (first, last) = (
        mean(&samples[..third]),
        mean(&samples[samples.len() - third..]),
    );
    last > first + tolerance
}

#[test]
fn growth_check_flags_a_steady_rise_but_not_noise() {
    let flat: Vec<u64> = (0..60).map(|i| 50_000 + (i * 7919) % 3_000).collect();
    assert!(!grows(&flat, 4_096));
    let leaking: Vec<u64> = (0..60).map(|i| 50_000 + i * 400).collect();
    assert!(grows(&leaking, 4_096));
    let fds_flat: Vec<u64> = (0..60).map(|i| 10 + i % 3).collect();
    assert!(!grows(&fds_flat, 4));
    let fds_leaking: Vec<u64> = (0..60).map(|i| 10 + i / 4).collect();
    assert!(grows(&fds_leaking, 4));
}

/// Connections are buffers: one leaked per churned connection would show in resident memory.
#[derive(Debug, Default)]
struct BufferManager {
    alive: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Buffer {
    data: Vec<u8>,
    alive: Arc<AtomicUsize>,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ManageConnection for BufferManager {
    type Connection = Buffer;
    type Error = std::io::Error;

    fn connect(&self) -> Result<Buffer, std::io::Error> {
        self.alive.fetch_add(1, Ordering::SeqCst);
        Ok(Buffer {
            data: vec![7; 4096],
            alive: Arc::clone(&self.alive),
        })
    }

    fn is_valid(&self, conn: &mut Buffer) -> Result<(), std::io::Error> {
        if conn.data[0] == 7 {
            Ok(())
        } else {
            Err(std::io::Error::other("corrupt buffer"))
        }
    }
}

/// Everything the workers share.
struct Components {
    pool: Pool<BufferManager>,
    cache: ShardedCache<u64, Arc<Vec<u8>>>,
    map: ShardedMap<u64, Vec<u8>>,
    snapshot: Snapshot<Vec<u64>>,
    registry: ResourceRegistry,
    /// Guard and registry cleanups run (two per round).
    cleanups: Arc<AtomicU64>,
    registered: AtomicU64,
    ops: AtomicU64,
    dir: std::path::PathBuf,
}

/// One round of mixed work; `n` varies keys and sizes.
fn round(c: &Components, worker: usize, n: u64) {
    // Pool: a get, a write into the connection's buffer, a return.
    let mut conn = c.pool.get().expect("pool get");
    conn.data[1] = n as u8;
    drop(conn);

    // Cache: inserts with the default TTL, some with their own, lookups and removals.
    let key = n % 20_000;
    c.cache.insert(key, Arc::new(vec![n as u8; 256]));
    if n.is_multiple_of(7) {
        c.cache
            .insert_with_ttl(key + 1, Arc::new(vec![1; 64]), Duration::from_millis(5));
    }
    let _ = c.cache.get(&(key / 2));
    let _ = c
        .cache
        .get_or_insert_with(key % 500, || Arc::new(vec![2; 128]));
    if n.is_multiple_of(5) {
        let _ = c.cache.remove(&(key / 3));
    }

    // Map: a bounded key space, so its size reaches a steady state.
    c.map.insert(n % 5_000, vec![3; 64]);
    let _ = c.map.get_cloned(&(n % 4_999));
    if n.is_multiple_of(3) {
        let _ = c.map.remove(&((n + 17) % 5_000));
    }

    // Snapshot: reads every round, a replacement now and then.
    let sum: u64 = c.snapshot.load().iter().sum();
    assert!(sum > 0);
    if n.is_multiple_of(50) {
        c.snapshot.store((1..=64).map(|i| i + n % 10).collect());
    }

    // Resources: a guard and a registered resource, each cleaned up exactly once.
    let done = Arc::clone(&c.cleanups);
    let guard = ResourceGuard::new(vec![4u8; 128], move |v| {
        drop(v);
        done.fetch_add(1, Ordering::Relaxed);
    });
    drop(guard);
    let done = Arc::clone(&c.cleanups);
    let handle = c.registry.register_with_cleanup(vec![5u8; 256], move |v| {
        drop(v);
        done.fetch_add(1, Ordering::Relaxed);
    });
    c.registered.fetch_add(1, Ordering::Relaxed);
    drop(handle);

    // Mapped files: every 20th round creates, writes, flushes, reopens, reads and deletes one.
    if n.is_multiple_of(20) {
        let path = c.dir.join(format!("w{worker}-{}", n % 4));
        {
            let mut file = MappedFileMut::create(&path, 8192).expect("create mapped file");
            file.write_u64_le(4096, n).expect("write");
            file.flush().expect("flush");
        }
        let file = MappedFile::open(&path).expect("open mapped file");
        assert_eq!(file.read_u64_le(4096).expect("read"), n);
        drop(file);
        std::fs::remove_file(&path).expect("remove mapped file");
    }
    c.ops.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn mixed_load_over_every_component_neither_leaks_memory_nor_descriptors() {
    if resident_kib().is_none() || open_fds().is_none() {
        eprintln!("skipping: /proc/self is not readable here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("patinox-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let manager = BufferManager::default();
    let alive = Arc::clone(&manager.alive);
    let components = Arc::new(Components {
        pool: Pool::builder(manager)
            .max_connections(4)
            .max_lifetime(Some(Duration::from_millis(20)))
            .idle_timeout(Some(Duration::from_millis(10)))
            .build()
            .expect("pool"),
        cache: ShardedCache::builder()
            .max_size(10_000)
            .default_ttl(Duration::from_millis(200))
            .cleanup_interval(Duration::from_millis(50))
            .build()
            .expect("cache"),
        map: ShardedMap::new(),
        snapshot: Snapshot::new((1..=64).collect()),
        registry: ResourceRegistry::new(),
        cleanups: Arc::new(AtomicU64::new(0)),
        registered: AtomicU64::new(0),
        ops: AtomicU64::new(0),
        dir: dir.clone(),
    });

    let total = soak_duration();
    // Warm-up: caches, maps and allocator arenas fill to their steady state; samples taken
    // meanwhile are not compared.
    let warm_up = total / 4;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (c, stop) = (Arc::clone(&components), Arc::clone(&stop));
            thread::spawn(move || {
                let mut n = w as u64;
                while !stop.load(Ordering::Relaxed) {
                    round(&c, w, n);
                    n += 4;
                }
            })
        })
        .collect();

    let start = Instant::now();
    let (mut rss, mut fds) = (Vec::new(), Vec::new());
    while start.elapsed() < total {
        thread::sleep(Duration::from_millis(100));
        if start.elapsed() >= warm_up {
            rss.push(resident_kib().expect("VmRSS"));
            fds.push(open_fds().expect("fd count"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let ops = components.ops.load(Ordering::Relaxed);
    println!(
        "soak: {:.0}s, {ops} rounds (each a pool get, cache, map and snapshot operations, a guard \
         and a registration; a mapped file every 20th), resident {} -> {} KiB after warm-up, \
         descriptors {} -> {}",
        total.as_secs_f64(),
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0),
        fds.first().copied().unwrap_or(0),
        fds.last().copied().unwrap_or(0),
    );
    assert!(ops > 0, "no work done");

    // Memory: 8 MiB of slack. The steady-state working set (10 000 cache entries of ~300
    // bytes, 5 000 map entries, four pool buffers) is about 5 MiB; the tolerance covers the
    // allocator keeping freed pages per thread arena and the cache's expiry sawtooth. A leak
    // of one cache value, map entry, registration or connection buffer per round (tens of
    // thousands of rounds per second) grows far beyond it within seconds.
    assert!(
        !grows(&rss, 8 * 1024),
        "resident memory keeps growing: {rss:?} KiB"
    );
    // Descriptors: each worker holds at most two open at a sampling moment (a mapped file and
    // its reopened reader), so 8 of slack; a leaked descriptor per file round (hundreds per
    // second) exceeds it at once.
    assert!(!grows(&fds, 8), "open descriptors keep growing: {fds:?}");

    // Nothing left behind by the components themselves either.
    let c = &components;
    assert_eq!(c.registry.active_count(), 0, "registered resources left");
    assert_eq!(
        c.cleanups.load(Ordering::Relaxed),
        2 * ops,
        "every guard and registration cleaned up exactly once"
    );
    let state = c.pool.state();
    assert_eq!((state.in_use, state.waiting), (0, 0));
    assert_eq!(state.connections, alive.load(Ordering::SeqCst));
    assert!(c.cache.len() <= 10_000);
    assert!(c.map.len() <= 5_000);
    drop(components);
    assert_eq!(
        alive.load(Ordering::SeqCst),
        0,
        "pool connections left open"
    );
    let leftover = std::fs::read_dir(&dir).map_or(0, |d| d.count());
    assert_eq!(leftover, 0, "mapped files left in {}", dir.display());
    std::fs::remove_dir_all(&dir).ok();
}
