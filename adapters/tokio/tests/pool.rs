//! The tokio pool: cancel safety, fairness, timeouts, upkeep, and thread use while waiting.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use patinox_memory::monitor::CloseReason;
use patinox_memory_tokio::pool::{ManageConnection, Pool, PoolError};

/// A manager whose connects can be made to hang or fail, and whose connections can be
/// made invalid.
#[derive(Default)]
struct Fake {
    connects: AtomicUsize,
    hang_connect: AtomicBool,
    fail_connect: AtomicBool,
    hang_valid: AtomicBool,
    invalid: AtomicBool,
    panic_connect: AtomicBool,
    dropped: Arc<AtomicBool>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl ManageConnection for Fake {
    type Connection = usize;
    type Error = io::Error;

    async fn connect(&self) -> Result<usize, io::Error> {
        if self.panic_connect.load(Ordering::SeqCst) {
            panic!("connect exploded");
        }
        if self.hang_connect.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail_connect.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        }
        tokio::task::yield_now().await;
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn is_valid(&self, _conn: &mut usize) -> Result<(), io::Error> {
        if self.hang_valid.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.invalid.load(Ordering::SeqCst) {
            return Err(io::Error::other("invalid"));
        }
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

fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// The name given to the threads of the runtime whose thread count a test watches.
const WATCHED: &str = "pool-10k-test";

/// Live threads of this process named [`WATCHED`] (workers and blocking-pool threads of that
/// one runtime), so tests running in parallel in this binary cannot change the count.
fn watched_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == WATCHED)
        .count()
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

/// Yields until `cond` holds (at most ~2 s).
async fn until(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn ten_thousand_gets_with_random_timeouts_leave_nothing_behind_and_hold_no_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(WATCHED)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = pool(4);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pool.get().await.unwrap());
        }
        // Each worker names itself as it starts: wait (bounded) until both have.
        let deadline = Instant::now() + Duration::from_secs(5);
        while watched_threads() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let threads_before = watched_threads();
        assert_eq!(threads_before, 2, "the two workers are counted");
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut tasks = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let timeout = Duration::from_millis(1 + seed % 40);
            let p = pool.clone();
            tasks.push(tokio::spawn(async move {
                match p.get_timeout(timeout).await {
                    Ok(conn) => {
                        tokio::task::yield_now().await;
                        drop(conn);
                        true
                    }
                    Err(e) => {
                        assert!(e.is_timeout(), "{e}");
                        false
                    }
                }
            }));
        }
        // All of them queue behind the four held connections, on two worker threads.
        until(|| pool.state().waiting > 1_000).await;
        let threads_waiting = watched_threads();
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Let the line move for a while, then take the connections away again.
        drop(held);
        let mut served = 0;
        for t in tasks {
            served += usize::from(t.await.unwrap());
        }
        assert!(served > 0, "some gets must have been served");
        let state = pool.state();
        assert_eq!(state.in_use, 0, "{state:?}");
        assert_eq!(state.waiting, 0, "{state:?}");
        assert_eq!(state.creating, 0, "{state:?}");
        assert!(state.connections <= 4);
        assert!(
            threads_waiting <= threads_before + 1,
            "threads grew from {threads_before} to {threads_waiting} while tasks waited"
        );
        // Serves again at once.
        assert!(pool.try_get().is_some());
        let conn = tokio::time::timeout(Duration::from_millis(500), pool.get())
            .await
            .expect("the pool must serve at once")
            .unwrap();
        drop(conn);
        let stats = pool.stats();
        assert!(stats.timeouts > 0);
        assert_eq!(stats.gets, 10_000 + 4 + 2);
    });
}

#[tokio::test(flavor = "current_thread")]
async fn waiting_tasks_are_served_in_arrival_order() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let p = pool.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let conn = p.get().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::task::yield_now().await;
            drop(conn);
        }));
        // Make sure task i is in line before task i + 1 starts.
        until(|| pool.state().waiting == i + 1).await;
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    assert_eq!(pool.stats().gets_waited, 20);
}

/// Every kind of get is counted once, as the blocking pool counts it: served at once (no wait
/// recorded), served after waiting in line (one wait time each), and timed out.
#[tokio::test(flavor = "current_thread")]
async fn statistics_count_immediate_waited_and_timed_out_gets() {
    let pool = pool(1);
    drop(pool.get().await.unwrap()); // opens the connection
    for _ in 0..3 {
        drop(pool.get().await.unwrap()); // an idle connection, no wait
    }
    let st = pool.stats();
    assert_eq!((st.gets, st.gets_waited, st.wait_time.count), (4, 0, 0));
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiting = tokio::spawn(async move { p.get().await.map(drop) });
    until(|| pool.state().waiting == 1).await;
    drop(held);
    waiting.await.unwrap().unwrap();
    let held = pool.get().await.unwrap();
    let err = pool
        .get_timeout(Duration::from_millis(5))
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    drop(held);
    let st = pool.stats();
    assert_eq!(
        (st.gets, st.gets_waited, st.wait_time.count, st.timeouts),
        (8, 2, 1, 1)
    );
    let state = pool.state();
    assert_eq!((state.idle_connections, state.waiting), (1, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_handed_to_a_dropped_get_goes_to_the_next_waiter() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    let mut first = Box::pin(pool.get());
    assert!(poll_once(&mut first).is_pending());
    let p = pool.clone();
    let second = tokio::spawn(async move { *p.get().await.unwrap() });
    until(|| pool.state().waiting == 2).await;
    drop(held); // handed to `first`, which will never be polled again
    drop(first);
    let got = tokio::time::timeout(Duration::from_secs(1), second)
        .await
        .expect("the second waiter must get the connection")
        .unwrap();
    assert_eq!(got, 0);
    let state = pool.state();
    assert_eq!(
        (state.in_use, state.waiting, state.idle_connections),
        (0, 0, 1)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_waiting_get_leaves_the_line() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    {
        let mut waiting = Box::pin(pool.get());
        assert!(poll_once(&mut waiting).is_pending());
        assert_eq!(pool.state().waiting, 1);
    }
    assert_eq!(pool.state().waiting, 0);
    drop(held);
    assert_eq!(pool.state().idle_connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_cut_off_by_the_deadline_frees_its_slot() {
    let pool = pool(1);
    pool.manager().hang_connect.store(true, Ordering::SeqCst);
    let err = pool
        .get_timeout(Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let state = pool.state();
    assert_eq!((state.connections, state.creating), (0, 0), "{state:?}");
    pool.manager().hang_connect.store(false, Ordering::SeqCst);
    assert!(pool.get_timeout(Duration::from_secs(1)).await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_connect_frees_its_slot_for_the_next_waiter() {
    let pool = pool(1);
    pool.manager().hang_connect.store(true, Ordering::SeqCst);
    let mut connecting = Box::pin(pool.get());
    assert!(poll_once(&mut connecting).is_pending());
    assert_eq!(pool.state().creating, 1);
    let p = pool.clone();
    let next = tokio::spawn(async move { p.get().await.map(|c| *c) });
    until(|| pool.state().waiting == 1).await;
    pool.manager().hang_connect.store(false, Ordering::SeqCst);
    drop(connecting); // the permit goes to `next`, which connects itself
    let got = tokio::time::timeout(Duration::from_secs(1), next)
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_ok());
    assert_eq!(pool.state().creating, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_check_out_test_cancelled_midway_closes_the_connection_and_frees_the_slot() {
    let pool = Pool::builder(Fake::default())
        .max_connections(1)
        .test_on_check_out(true)
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    pool.manager().hang_valid.store(true, Ordering::SeqCst);
    {
        let mut checking = Box::pin(pool.get());
        assert!(poll_once(&mut checking).is_pending());
        assert_eq!(pool.state().in_use, 1);
    }
    let state = pool.state();
    assert_eq!((state.connections, state.in_use), (0, 0), "{state:?}");
    assert_eq!(pool.stats().closed(CloseReason::Invalid), 1);
    pool.manager().hang_valid.store(false, Ordering::SeqCst);
    assert_eq!(*pool.get().await.unwrap(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_invalid_connection_is_replaced_within_the_same_get() {
    let pool = Pool::builder(Fake::default())
        .max_connections(1)
        .test_on_check_out(true)
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    pool.manager().invalid.store(true, Ordering::SeqCst);
    let conn = pool.get().await.unwrap();
    assert_eq!(*conn, 1, "a fresh connection, not the invalid one");
    assert_eq!(pool.stats().closed(CloseReason::Invalid), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connect_times_out_with_the_last_error() {
    let pool = pool(1);
    pool.manager().fail_connect.store(true, Ordering::SeqCst);
    let err = pool
        .get_timeout(Duration::from_millis(30))
        .await
        .unwrap_err();
    match err {
        PoolError::Timeout { last_error, .. } => {
            assert_eq!(last_error.unwrap().kind(), io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(pool.stats().connect_errors >= 1);
    assert_eq!(pool.state().creating, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_connect_fails_the_get_and_frees_its_slot() {
    let pool = pool(1);
    pool.manager().panic_connect.store(true, Ordering::SeqCst);
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, PoolError::Panicked { ref message } if message == "connect exploded"));
    pool.manager().panic_connect.store(false, Ordering::SeqCst);
    assert!(pool.get().await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn close_fails_waiting_gets_and_shutdown_drains() {
    let pool = pool(1);
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiting = tokio::spawn(async move { p.get().await.map(|_| ()) });
    until(|| pool.state().waiting == 1).await;
    let p = pool.clone();
    let shutdown = tokio::spawn(async move { p.shutdown(Duration::from_secs(2)).await });
    let err = waiting.await.unwrap().unwrap_err();
    assert!(err.is_closed());
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!shutdown.is_finished(), "one connection is still out");
    drop(held);
    shutdown.await.unwrap().unwrap();
    assert_eq!(pool.state().connections, 0);
    assert!(pool.get().await.unwrap_err().is_closed());
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_times_out_while_a_connection_is_held() {
    let pool = pool(1);
    let _held = pool.get().await.unwrap();
    let err = pool.shutdown(Duration::from_millis(20)).await.unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_keeps_min_connections_and_reaps_idle_ones() {
    let pool = Pool::builder(Fake::default())
        .max_connections(4)
        .min_connections(2)
        .idle_timeout(Some(Duration::from_millis(40)))
        .build()
        .unwrap();
    until(|| pool.state().idle_connections == 2).await;
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let c = pool.get().await.unwrap();
    drop((a, b, c));
    assert_eq!(pool.state().connections, 3);
    // The third goes after idle_timeout; min_connections stay.
    until(|| pool.state().connections == 2).await;
    assert_eq!(pool.stats().closed(CloseReason::IdleTimeout), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_maintenance_task_ends_when_the_pool_is_dropped() {
    let fake = Fake::default();
    let dropped = fake.dropped.clone();
    let pool = Pool::builder(fake)
        .min_connections(1)
        .max_lifetime(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    until(|| pool.state().idle_connections == 1).await;
    drop(pool);
    // The task held only a weak link: the manager goes once the task notices.
    until(|| dropped.load(Ordering::SeqCst)).await;
}

#[test]
fn connections_out_when_the_last_handle_drops_are_closed_on_return_and_free_the_pool() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let fake = Fake::default();
        let dropped = fake.dropped.clone();
        let pool = Pool::builder(fake)
            .max_connections(4)
            .min_connections(1)
            .max_lifetime(Some(Duration::from_millis(200)))
            .build()
            .unwrap();
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(pool.get().await.unwrap());
        }
        drop(pool);
        // The pool is closed but lives on while its connections are out (guards hold no
        // count on it).
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!dropped.load(Ordering::SeqCst));
        let returns: Vec<_> = conns
            .into_iter()
            .map(|conn| {
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    assert!(*conn < 4);
                    drop(conn);
                })
            })
            .collect();
        for r in returns {
            r.await.unwrap();
        }
        // The last return freed it (the maintenance task may hold it a moment longer).
        until(|| dropped.load(Ordering::SeqCst)).await;
    });
}

#[test]
fn a_pool_built_outside_the_runtime_starts_its_upkeep_on_first_get() {
    let pool = Pool::builder(Fake::default())
        .min_connections(2)
        .build()
        .unwrap();
    let rt = multi_thread(1);
    rt.block_on(async {
        drop(pool.get().await.unwrap());
        until(|| pool.state().connections == 2).await;
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_holder_discards_its_connection() {
    let pool = pool(1);
    let p = pool.clone();
    let task = tokio::spawn(async move {
        let _conn = p.get().await.unwrap();
        panic!("holder failed");
    });
    assert!(task.await.is_err());
    assert_eq!(pool.stats().closed(CloseReason::Panicked), 1);
    assert_eq!(pool.state().connections, 0);
}

#[test]
fn the_same_pool_works_on_both_flavours() {
    for rt in [
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        multi_thread(2),
    ] {
        rt.block_on(async {
            let pool = pool(4);
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let p = pool.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..20 {
                        let mut c = p.get().await.unwrap();
                        *c += 0;
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let state = pool.state();
            assert_eq!((state.in_use, state.waiting), (0, 0));
            assert!(state.connections <= 4);
            assert_eq!(pool.stats().gets, 64 * 20);
        });
    }
}

/// Holds the only connection of `pool` and runs `n` gets that all time out; returns how long
/// each waited (as the error says) and how long it took by the wall clock.
async fn timed_out_gets(pool: &Pool<Fake>, n: usize) -> Vec<(Duration, Duration)> {
    let held = pool.get().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let p = pool.clone();
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            // Bounded here, so that a get nobody ends fails the test instead of hanging it.
            let got = tokio::time::timeout(Duration::from_secs(5), p.get()).await;
            match got.expect("the get was never ended by its deadline") {
                Err(PoolError::Timeout { waited, .. }) => (waited, start.elapsed()),
                Err(e) => panic!("expected a timeout, got {e}"),
                Ok(_) => panic!("expected a timeout, got a connection"),
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    drop(held);
    out
}

/// Each get (as [`timed_out_gets`] reports it) waited at least `timeout` and ended soon after.
fn assert_on_time(gets: Vec<(Duration, Duration)>, timeout: Duration) {
    for (waited, took) in gets {
        assert!(waited >= timeout, "ended early: {waited:?}");
        assert!(
            took < timeout + Duration::from_millis(500),
            "ended late: {took:?}"
        );
    }
}

fn timeout_pool(timeout: Duration) -> Pool<Fake> {
    Pool::builder(Fake::default())
        .max_connections(1)
        .connection_timeout(timeout)
        .build()
        .unwrap()
}

/// Gets kept by the pool's deadline keeper (no timer each) end at their deadline, not
/// before and not much after, and each is counted once.
#[test]
fn the_deadline_keeper_ends_waiting_gets_on_time() {
    multi_thread(2).block_on(async {
        let timeout = Duration::from_millis(60);
        let pool = timeout_pool(timeout);
        assert_on_time(timed_out_gets(&pool, 200).await, timeout);
        let state = pool.state();
        assert_eq!(
            (state.in_use, state.waiting, state.idle_connections),
            (0, 0, 1)
        );
        assert_eq!(pool.stats().timeouts, 200);
        // The pool serves again at once.
        assert!(pool.get().await.is_ok());
    });
}

/// The keeper runs on the runtime where the pool started; a get on another runtime, while
/// that one is not driven, still ends at its deadline (it keeps a timer of its own).
#[test]
fn a_get_on_another_runtime_times_out_while_the_keepers_runtime_idles() {
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let timeout = Duration::from_millis(50);
    let pool = first.block_on(async { timeout_pool(timeout) });
    // `first` stays alive but is never driven again: its keeper task never runs.
    multi_thread(2).block_on(async {
        assert_on_time(timed_out_gets(&pool, 20).await, timeout);
        assert_eq!(pool.state().waiting, 0);
    });
    drop(first);
}

/// A keeper on a multi-thread runtime runs whether or not anything blocks on that runtime,
/// so gets on another runtime leave their deadlines to it: they still end on time.
#[test]
fn a_keeper_on_a_multi_thread_runtime_serves_gets_on_another_runtime() {
    let first = multi_thread(1);
    let timeout = Duration::from_millis(50);
    let pool = first.block_on(async { timeout_pool(timeout) });
    // Nothing blocks on `first` from here on; its worker still drives the keeper.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            assert_on_time(timed_out_gets(&pool, 20).await, timeout);
            assert_eq!(pool.state().waiting, 0);
            assert_eq!(pool.stats().timeouts, 20);
            assert!(pool.get().await.is_ok());
        });
    drop(first);
}

/// When the keeper's runtime shuts down, its task (and the keeper) is dropped: later gets, on
/// another runtime, still end on time (the first of them spawns a new keeper there).
#[test]
fn gets_time_out_after_the_keepers_runtime_shut_down() {
    let timeout = Duration::from_millis(50);
    let pool = {
        let first = multi_thread(1);
        let pool = first.block_on(async {
            let pool = timeout_pool(timeout);
            // A kept wait on the first runtime, so its keeper has run.
            assert_eq!(timed_out_gets(&pool, 3).await.len(), 3);
            pool
        });
        drop(first);
        pool
    };
    multi_thread(2).block_on(async {
        assert_on_time(timed_out_gets(&pool, 20).await, timeout);
        assert_eq!(pool.state().waiting, 0);
        assert_eq!(pool.stats().timeouts, 23);
    });
}

/// Tasks alive on the current runtime (the pool's keeper and maintenance tasks, here).
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A pool outlives the runtime it was built on (say, a `static` pool used by one test runtime
/// after another): the next get spawns the dropped deadline keeper and maintenance task again
/// on its own runtime, and both work there.
#[test]
fn background_tasks_are_spawned_again_after_their_runtime_shut_down() {
    let timeout = Duration::from_millis(50);
    let build = || {
        Pool::builder(Fake::default())
            .max_connections(1)
            .connection_timeout(timeout)
            .idle_timeout(Some(Duration::from_millis(40)))
            .build()
            .unwrap()
    };
    let pool = {
        let first = multi_thread(1);
        let pool = first.block_on(async {
            let pool = build();
            // The keeper and the maintenance task.
            assert_eq!(alive_tasks(), 2);
            pool
        });
        drop(first);
        pool
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            assert_eq!(alive_tasks(), 0);
            let held = pool.get().await.unwrap();
            assert_eq!(alive_tasks(), 2, "the first get respawns both tasks");
            drop(held);
            // The new maintenance task reaps the idle connection.
            let start = Instant::now();
            while pool.state().connections > 0 {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "the idle connection was never reaped"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // The new keeper ends waits on time, and a later get spawns nothing more.
            assert_on_time(timed_out_gets(&pool, 5).await, timeout);
            assert_eq!(alive_tasks(), 2);
        });
}

/// Compile-time check: the futures and types can move across threads.
#[allow(dead_code)]
fn futures_and_types_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    let pool = pool(1);
    send(&pool.get());
    send(&pool.get_timeout(Duration::from_secs(1)));
    send(&pool.shutdown(Duration::from_secs(1)));
    send_sync::<Pool<Fake>>();
    send_sync::<patinox_memory_tokio::pool::PooledConnection<Fake>>();
    send_sync::<patinox_memory_tokio::resource::AsyncResourceGuard<Vec<u8>>>();
    let fut = pin!(pool.get());
    send(&fut);
}
