//! Async cleanup on tokio: guards dropped inside a runtime, outside any runtime and while
//! the runtime shuts down; the runtime offload; the awaitable registry shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use patinox_memory::resource::{Offload, ResourceRegistry};
use patinox_memory_tokio::resource::{
    AsyncCleanup, AsyncResourceGuard, RuntimeOffload, cleanup_all,
};

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn a_guard_dropped_in_the_runtime_cleans_up_on_the_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("guard-test-worker")
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    rt.block_on(async {
        let guard = AsyncResourceGuard::new(3u32, move |v| async move {
            tokio::time::sleep(Duration::from_millis(1)).await; // the runtime's timer works
            tx.send((v, thread_name())).unwrap();
        });
        drop(guard);
        let (v, on) = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, 3);
        assert_eq!(on, "guard-test-worker");
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_guard_dropped_on_a_current_thread_runtime_cleans_up_without_blocking_the_drop() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let guard = AsyncResourceGuard::new(vec![1u8], move |v| async move {
        tokio::task::yield_now().await;
        d.fetch_add(v.len(), Ordering::SeqCst);
    });
    drop(guard);
    assert_eq!(done.load(Ordering::SeqCst), 0, "spawned, not run inline");
    for _ in 0..100 {
        if done.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the cleanup never ran");
}

#[test]
fn a_guard_dropped_outside_any_runtime_falls_back_to_the_cleanup_thread() {
    let (tx, rx) = mpsc::channel();
    let guard = AsyncResourceGuard::new(9u32, move |v| async move {
        tx.send((v, thread_name())).unwrap();
    });
    drop(guard);
    let (v, on) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(v, 9);
    assert_eq!(on, "patinox-cleanup");
}

#[test]
fn a_guard_dropped_while_the_runtime_shuts_down_still_cleans_up() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    rt.block_on(async {
        let guard = AsyncResourceGuard::new(5u32, move |v| async move {
            tx.send(v).unwrap();
        });
        // A task that holds the guard forever: the runtime drops it at shutdown, and the
        // guard's cleanup is spawned on a runtime that is shutting down.
        tokio::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
    });
    drop(rt);
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 5);
}

#[test]
fn a_panicking_cleanup_is_contained() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        drop(AsyncResourceGuard::new(1u8, |_| async {
            panic!("cleanup failed")
        }));
        tokio::task::yield_now().await;
        let guard = AsyncResourceGuard::new(2u8, |_| async { panic!("cleanup failed") });
        let err = AsyncResourceGuard::cleanup_now(guard).await.unwrap_err();
        assert_eq!(err, "cleanup failed");
    });
    // Outside the runtime too: the fallback thread survives it.
    drop(AsyncResourceGuard::new(3u8, |_| async {
        panic!("cleanup failed")
    }));
    let (tx, rx) = mpsc::channel();
    drop(AsyncResourceGuard::new(4u8, move |v| async move {
        tx.send(v).unwrap();
    }));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 4);
}

#[test]
fn into_inner_skips_the_cleanup() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let guard = AsyncResourceGuard::new(String::from("kept"), move |_| async move {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(AsyncResourceGuard::into_inner(guard), "kept");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn the_runtime_offload_runs_jobs_on_the_blocking_pool_and_survives_shutdown() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("offload-test")
        .enable_all()
        .build()
        .unwrap();
    let offload = rt.block_on(async { RuntimeOffload::current() }).unwrap();
    assert!(RuntimeOffload::current().is_none(), "no runtime here");
    let (tx, rx) = mpsc::channel();
    let t = tx.clone();
    assert!(
        offload
            .offload(Box::new(move || t.send(thread_name()).unwrap()))
            .is_ok()
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "offload-test"
    );
    drop(rt);
    // The runtime is gone: the job still runs, on the core's cleanup thread.
    assert!(
        offload
            .offload(Box::new(move || tx.send(thread_name()).unwrap()))
            .is_ok()
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "patinox-cleanup"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn cleanup_all_waits_without_blocking_the_executor() {
    let registry = ResourceRegistry::new();
    let held = registry.register(String::from("released by another task"));
    // On a current-thread runtime this task can only run if cleanup_all does not block the
    // one thread.
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(held);
    });
    let report = registry.cleanup_all_async(Duration::from_secs(2)).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.graceful, 1);
    releaser.await.unwrap();
    let again = cleanup_all(&registry, Duration::from_millis(10)).await;
    assert!(again.is_clean());
}
