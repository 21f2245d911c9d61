//! The async-std pool and async cleanup: fairness, cancel safety, timeouts, thread use while
//! waiting, and guards inside and outside the runtime.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use patinox_memory::resource::ResourceRegistry;
use patinox_memory_async_std::pool::Pool;
use patinox_memory_async_std::resource::{AsyncResourceGuard, cleanup_all};

mod common;
use common::{Fake, poll_once, pool, until};

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
