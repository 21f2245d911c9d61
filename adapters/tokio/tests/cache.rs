//! Async single-flight cache loads and the expiry task on tokio.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use patinox_memory_tokio::cache::{ShardedCache, spawn_expiry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_loads_of_one_key_run_one_loader() {
    let cache: Arc<ShardedCache<u32, u64>> = Arc::new(ShardedCache::new(100));
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_insert_with_async(7, || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        49
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 49);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().loads, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_loader_lets_the_next_waiter_load() {
    let cache: Arc<ShardedCache<&str, u32>> = Arc::new(ShardedCache::new(10));
    let mut first = Box::pin(cache.get_or_insert_with_async("k", std::future::pending));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(&mut cx).is_pending(), "its loader runs");
    let c = cache.clone();
    let second = tokio::spawn(async move { c.get_or_insert_with_async("k", || async { 2 }).await });
    tokio::task::yield_now().await; // `second` is now waiting for `first`'s load
    assert!(!second.is_finished());
    drop(first);
    let got = tokio::time::timeout(Duration::from_secs(1), second)
        .await
        .expect("the waiter takes over the load")
        .unwrap();
    assert_eq!(got, 2);
    assert_eq!(cache.get(&"k"), Some(2));
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_waiter_leaves_the_line() {
    let cache: Arc<ShardedCache<&str, u32>> = Arc::new(ShardedCache::new(10));
    let c = cache.clone();
    let loader = tokio::spawn(async move {
        c.get_or_insert_with_async("k", || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            1
        })
        .await
    });
    tokio::task::yield_now().await;
    // A waiter that gives up after 1 ms.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(1),
        cache.get_or_insert_with_async("k", || async { 99 }),
    )
    .await;
    assert!(gave_up.is_err());
    assert_eq!(loader.await.unwrap(), 1);
    assert_eq!(cache.get(&"k"), Some(1));
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_async_load_caches_nothing() {
    let cache: ShardedCache<&str, u32> = ShardedCache::new(10);
    let err = cache
        .try_get_or_insert_with_async("k", || async { Err::<u32, _>("backend down") })
        .await;
    assert_eq!(err, Err("backend down"));
    assert_eq!(cache.get(&"k"), None);
    assert_eq!(
        cache
            .try_get_or_insert_with_async("k", || async { Ok::<_, &str>(5) })
            .await,
        Ok(5)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_expiry_task_removes_expired_entries_and_ends_with_the_cache() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(
        ShardedCache::builder()
            .max_size(100)
            .default_ttl(Duration::from_millis(10))
            .build()
            .unwrap(),
    );
    for i in 0..10 {
        cache.insert(i, i);
    }
    assert!(spawn_expiry(&cache, Duration::from_millis(5)));
    let start = Instant::now();
    while cache.stats().expirations < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "entries never expired"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(cache.len(), 0);
    let weak = Arc::downgrade(&cache);
    drop(cache);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(weak.upgrade().is_none(), "the task keeps no strong link");
}

#[test]
fn spawn_expiry_outside_a_runtime_reports_it() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(ShardedCache::new(10));
    assert!(!spawn_expiry(&cache, Duration::from_millis(5)));
}

#[tokio::test(flavor = "current_thread")]
async fn shared_data_waits_for_a_writer_without_blocking_the_executor() {
    use patinox_memory::share::SharedMutableData;
    use patinox_memory_tokio::share::{modify, read, write, write_timeout};

    let data = SharedMutableData::new(0u32);
    let guard = write(&data).await;
    // Held by this task: another task's read must wait, and this one-thread runtime must
    // keep running (the writer below releases it on a timer).
    let d = data.clone();
    let reader = tokio::spawn(async move { *read(&d).await });
    tokio::task::yield_now().await;
    assert!(
        write_timeout(&data, Duration::from_millis(5))
            .await
            .is_none()
    );
    assert!(!reader.is_finished());
    drop(guard);
    modify(&data, |v| *v += 1).await;
    let seen = tokio::time::timeout(Duration::from_secs(1), reader)
        .await
        .unwrap()
        .unwrap();
    // The reader was in line before `modify`: it is served first (FIFO), and sees 0.
    assert_eq!(seen, 0);
    assert_eq!(*read(&data).await, 1);
}

/// A task and a blocked thread wait in one line: whoever came first is served first (with a
/// retrying task, the thread parked on the lock would win the release).
#[tokio::test(flavor = "current_thread")]
async fn shared_data_serves_tasks_and_threads_in_one_fifo_line() {
    use patinox_memory::share::SharedMutableData;
    use patinox_memory_tokio::share::write;

    let data = SharedMutableData::new(Vec::<&str>::new());
    let held = data.write();
    let d = data.clone();
    let task = tokio::spawn(async move { write(&d).await.push("task") });
    tokio::task::yield_now().await; // the task joins the line
    let d = data.clone();
    let (joined_tx, joined_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        joined_tx.send(()).unwrap();
        d.write().push("thread");
    });
    joined_rx.recv().unwrap();
    // Give the thread time to queue behind the task (if it is late, it queues later: the
    // order is the same).
    std::thread::sleep(Duration::from_millis(50));
    drop(held);
    task.await.unwrap();
    thread.join().unwrap();
    assert_eq!(*data.read(), ["task", "thread"]);
}
