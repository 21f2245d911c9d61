//! The async-std pool and async cleanup: fairness, cancel safety, timeouts, thread use while
//! waiting, and guards inside and outside the runtime.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use patinox_memory::resource::ResourceRegistry;
use patinox_memory_async_std::pool::{ManageConnection, Pool};
use patinox_memory_async_std::resource::{AsyncResourceGuard, cleanup_all};

#[derive(Default)]
struct Fake {
    connects: AtomicUsize,
    hang_connect: AtomicBool,
}

impl ManageConnection for Fake {
    type Connection = usize;
    type Error = io::Error;

    async fn connect(&self) -> Result<usize, io::Error> {
        if self.hang_connect.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn is_valid(&self, _conn: &mut usize) -> Result<(), io::Error> {
        Ok(())
    }
}

fn pool(max: usize) -> Pool<Fake> {
    Pool::builder(Fake::default())
        .max_connections(max)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

async fn until(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "condition never held"
        );
        async_std::task::sleep(Duration::from_millis(1)).await;
    }
}

#[async_std::test]
async fn ten_thousand_gets_with_random_timeouts_leave_nothing_behind_and_hold_no_threads() {
    let pool = pool(4);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.unwrap());
    }
    // Start the executor's threads before counting.
    async_std::task::spawn(async {}).await;
    let threads_before = os_threads();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let timeout = Duration::from_millis(1 + seed % 40);
            let p = pool.clone();
            async_std::task::spawn(async move {
                match p.get_timeout(timeout).await {
                    Ok(conn) => {
                        async_std::task::yield_now().await;
                        drop(conn);
                        true
                    }
                    Err(e) => {
                        assert!(e.is_timeout(), "{e}");
                        false
                    }
                }
            })
        })
        .collect();
    until(|| pool.state().waiting > 1_000).await;
    let threads_waiting = os_threads();
    drop(held);
    let mut served = 0;
    for t in tasks {
        served += usize::from(t.await);
    }
    assert!(served > 0);
    let state = pool.state();
    assert_eq!(
        (state.in_use, state.waiting, state.creating),
        (0, 0, 0),
        "{state:?}"
    );
    assert!(
        threads_waiting <= threads_before + 1,
        "threads grew from {threads_before} to {threads_waiting} while tasks waited"
    );
    assert!(pool.try_get().is_some());
    assert!(pool.get_timeout(Duration::from_millis(500)).await.is_ok());
    assert!(pool.stats().timeouts > 0);
}

#[async_std::test]
async fn waiting_tasks_are_served_in_arrival_order() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let p = pool.clone();
        let order = order.clone();
        tasks.push(async_std::task::spawn(async move {
            let conn = p.get().await.unwrap();
            order.lock().unwrap().push(i);
            drop(conn);
        }));
        until(|| pool.state().waiting == i + 1).await;
    }
    drop(held);
    for t in tasks {
        t.await;
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
}

#[async_std::test]
async fn a_connection_handed_to_a_dropped_get_goes_to_the_next_waiter() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    let mut first = Box::pin(pool.get());
    assert!(poll_once(&mut first).is_pending());
    let p = pool.clone();
    let second = async_std::task::spawn(async move { *p.get().await.unwrap() });
    until(|| pool.state().waiting == 2).await;
    drop(held);
    drop(first);
    let got = async_std::future::timeout(Duration::from_secs(1), second)
        .await
        .expect("the second waiter must get the connection");
    assert_eq!(got, 0);
    assert_eq!(pool.state().in_use, 0);
}

#[async_std::test]
async fn a_connect_cut_off_by_the_deadline_frees_its_slot() {
    let pool = pool(1);
    pool.manager().hang_connect.store(true, Ordering::SeqCst);
    let err = pool
        .get_timeout(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let state = pool.state();
    assert_eq!((state.connections, state.creating), (0, 0));
    pool.manager().hang_connect.store(false, Ordering::SeqCst);
    assert!(pool.get().await.is_ok());
}

#[async_std::test]
async fn maintenance_keeps_min_connections_and_shutdown_drains() {
    let pool = Pool::builder(Fake::default())
        .min_connections(2)
        .build()
        .unwrap();
    until(|| pool.state().idle_connections == 2).await;
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let shutdown = async_std::task::spawn(async move { p.shutdown(Duration::from_secs(2)).await });
    async_std::task::sleep(Duration::from_millis(5)).await;
    drop(held);
    shutdown.await.unwrap();
    assert_eq!(pool.state().connections, 0);
}

#[async_std::test]
async fn a_guard_dropped_in_the_runtime_cleans_up_on_it() {
    let (tx, rx) = mpsc::channel();
    drop(AsyncResourceGuard::new(3u32, move |v| async move {
        async_std::task::sleep(Duration::from_millis(1)).await;
        tx.send(v).unwrap();
    }));
    let got =
        async_std::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5))).await;
    assert_eq!(got.unwrap(), 3);
}

#[test]
fn a_guard_dropped_outside_any_task_still_cleans_up() {
    let (tx, rx) = mpsc::channel();
    drop(AsyncResourceGuard::new(4u32, move |v| async move {
        tx.send(v).unwrap();
    }));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 4);
}

#[async_std::test]
async fn cleanup_all_waits_without_blocking_the_executor() {
    let registry = ResourceRegistry::new();
    let held = registry.register(1u8);
    let releaser = async_std::task::spawn(async move {
        async_std::task::sleep(Duration::from_millis(30)).await;
        drop(held);
    });
    let report = cleanup_all(&registry, Duration::from_secs(2)).await;
    assert!(report.is_clean(), "{report}");
    releaser.await;
}

/// Compile-time check: the futures can move across threads.
#[allow(dead_code)]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let pool = pool(1);
    send(&pool.get());
    send(&pool.shutdown(Duration::from_secs(1)));
}
