//! Integration tests of the connection pool with a fault-injection manager: connect,
//! `is_valid` and `has_broken` can each succeed, fail, be slow, hang (bounded) or panic.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Conn, Counts, Fault, FaultManager, Plan, TestError, eventually, quiet_config, quietly,
};
use patinox_memory::monitor::{CloseReason, Metrics, Monitor};
use patinox_memory::pool::{
    CustomizeConnection, ManageConnection, Pool, PoolConfig, PoolError, PooledConnection,
};

/// Waits until `n` gets wait in line (bounded: 5 s).
fn until_waiting<M: ManageConnection>(pool: &Pool<M>, n: usize) {
    assert!(
        eventually(Duration::from_secs(5), || pool.state().waiting == n),
        "expected {n} waiters, state {:?}",
        pool.state()
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Pool<FaultManager>>();
    send_sync::<PoolError<TestError>>();
    send_sync::<PoolConfig>();
    send::<PooledConnection<FaultManager>>();
}

#[test]
fn connections_are_reused_and_counted() {
    let counts = Arc::new(Counts::default());
    let metrics = Arc::new(Metrics::new());
    let pool = Pool::builder(FaultManager::new(&counts))
        .config(quiet_config(2))
        .monitor(metrics.clone() as Arc<dyn Monitor>)
        .build()
        .unwrap();
    for _ in 0..5 {
        let c = pool.get().unwrap();
        assert_eq!(c.id, 1);
    }
    let stats = pool.stats();
    assert_eq!((stats.gets, stats.created, stats.gets_waited), (5, 1, 0));
    let state = pool.state();
    assert_eq!(
        (state.connections, state.idle_connections, state.in_use),
        (1, 1, 0)
    );
    let snap = metrics.snapshot();
    assert_eq!(snap.pool.acquired, 5);
    assert_eq!(snap.pool.created, 1);
}

#[test]
fn waiter_served_in_arrival_order() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(1)).unwrap();
    let held = pool.get().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..6 {
        let (p, order) = (pool.clone(), Arc::clone(&order));
        handles.push(thread::spawn(move || {
            let conn = p.get().unwrap();
            order.lock().unwrap().push(i);
            drop(conn);
        }));
        until_waiting(&pool, i + 1);
    }
    drop(held);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..6).collect::<Vec<_>>());
    assert_eq!(pool.stats().gets_waited, 6);
    assert_eq!(pool.stats().wait_time.count, 6);
}

#[test]
fn try_get_never_waits_and_never_cuts_in_line() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(1)).unwrap();
    assert!(pool.try_get().is_none(), "no idle connection yet");
    drop(pool.get().unwrap());
    let held = pool.try_get().expect("an idle connection");
    assert!(pool.try_get().is_none());
    let p2 = pool.clone();
    let waiter = thread::spawn(move || p2.get().map(|c| c.id));
    until_waiting(&pool, 1);
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
}

#[test]
fn get_times_out_with_how_long_it_waited() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(1)).unwrap();
    let _held = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get_timeout(Duration::from_millis(30)).unwrap_err();
    let took = start.elapsed();
    match err {
        PoolError::Timeout { waited, .. } => {
            assert!(waited >= Duration::from_millis(30), "{waited:?}");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(took >= Duration::from_millis(30));
    assert_eq!(pool.stats().timeouts, 1);
    assert_eq!(pool.state().waiting, 0);
}

#[test]
fn timeout_carries_the_last_connect_error() {
    let counts = Arc::new(Counts::default());
    let m = FaultManager::new(&counts);
    m.set_connect(Plan::every(Fault::Fail, 1));
    let pool = Pool::new(m, quiet_config(2)).unwrap();
    let err = pool.get_timeout(Duration::from_millis(30)).unwrap_err();
    let PoolError::Timeout { last_error, .. } = &err else {
        panic!("expected a timeout, got {err}");
    };
    assert_eq!(last_error.as_ref().unwrap().0, "connection refused");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(counts.connect_calls.load(Ordering::SeqCst) >= 2, "retried");
    let crate_err: patinox_memory::Error = err.into();
    assert!(crate_err.is_retryable());
}

#[test]
fn permanent_connect_error_fails_waiting_gets_at_once() {
    let counts = Arc::new(Counts::default());
    let m = FaultManager::new(&counts);
    // The first connect takes 100 ms, then fails permanently; meanwhile two gets wait.
    m.set_connect(Plan::every(Fault::Hang(Duration::from_millis(100)), 1));
    let pool = Pool::new(m, quiet_config(1)).unwrap();
    let first = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(|_| ()))
    };
    assert!(eventually(Duration::from_secs(5), || {
        pool.state().creating == 1
    }));
    pool.manager()
        .set_connect(Plan::every(Fault::FailPermanent, 1));
    let start = Instant::now();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get_timeout(Duration::from_secs(10)).map(|_| ()))
        })
        .collect();
    until_waiting(&pool, 2);
    // The hanging connect ends with a retryable error; its retry fails permanently.
    let first = first.join().unwrap().unwrap_err();
    assert!(
        matches!(first, PoolError::Backend(ref e) if e.0.contains("password")),
        "{first}"
    );
    for w in waiters {
        let err = w.join().unwrap().unwrap_err();
        assert!(
            matches!(err, PoolError::Rejected { ref message } if message.contains("password")),
            "{err}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waiters failed at once"
    );
    assert_eq!(pool.state().connections, 0);
}

#[test]
fn test_on_check_out_replaces_a_failing_connection_within_the_same_get() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(
        FaultManager::new(&counts),
        PoolConfig {
            test_on_check_out: true,
            ..quiet_config(2)
        },
    )
    .unwrap();
    drop(pool.get().unwrap());
    pool.manager().invalid_ids.lock().unwrap().insert(1);
    let c = pool.get().unwrap();
    assert_eq!(c.id, 2, "the invalid connection was replaced");
    drop(c);
    assert_eq!(pool.stats().closed(CloseReason::Invalid), 1);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 1);
}

#[test]
fn broken_and_panicked_connections_are_discarded() {
    let counts = Arc::new(Counts::default());
    let m = FaultManager::with(&counts, Plan::OK, Plan::OK, Plan::every(Fault::Fail, 2));
    let pool = Pool::new(m, quiet_config(2)).unwrap();
    drop(pool.get().unwrap()); // has_broken call 1: fine
    drop(pool.get().unwrap()); // call 2: broken
    assert_eq!(pool.stats().closed(CloseReason::Broken), 1);
    assert_eq!(pool.state().connections, 0);

    let p2 = pool.clone();
    let r = quietly(|| {
        thread::spawn(move || {
            let _conn = p2.get().unwrap();
            panic!("holder panicked (injected)");
        })
        .join()
    });
    assert!(r.is_err());
    assert_eq!(pool.stats().closed(CloseReason::Panicked), 1);
    assert_eq!(pool.state().connections, 0);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
}

#[test]
fn panics_in_manager_calls_are_contained() {
    let counts = Arc::new(Counts::default());
    let m = FaultManager::with(
        &counts,
        Plan::every(Fault::Panic, 1),
        Plan::every(Fault::Panic, 1),
        Plan::every(Fault::Panic, 1),
    );
    let pool = Pool::new(
        m,
        PoolConfig {
            test_on_check_out: true,
            ..quiet_config(1)
        },
    )
    .unwrap();
    let err = quietly(|| pool.get()).unwrap_err();
    assert!(matches!(err, PoolError::Panicked { .. }), "{err}");
    assert_eq!(pool.state().connections, 0, "the slot was freed");
    pool.manager().set_connect(Plan::OK);
    // is_valid panics on check-out of a fresh connection? No: fresh ones are not tested.
    let c = quietly(|| pool.get()).unwrap();
    // has_broken panics on return: counted as broken.
    quietly(|| drop(c));
    assert_eq!(pool.stats().closed(CloseReason::Broken), 1);
    assert_eq!(pool.stats().connect_errors, 1);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
}

#[test]
fn close_fails_waiters_at_once_and_later_gets() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(1)).unwrap();
    let held = pool.get().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get_timeout(Duration::from_secs(10)).map(|_| ()))
        })
        .collect();
    until_waiting(&pool, 3);
    let start = Instant::now();
    pool.close();
    for w in waiters {
        assert!(w.join().unwrap().unwrap_err().is_closed());
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(pool.get().unwrap_err().is_closed());
    assert!(pool.try_get().is_none());
    assert_eq!(counts.alive.load(Ordering::SeqCst), 1);
    drop(held); // dropped, not returned
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
    assert_eq!(pool.stats().closed(CloseReason::PoolClosed), 1);
}

#[test]
fn shutdown_waits_for_checked_out_connections() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(2)).unwrap();
    drop(pool.get().unwrap());
    let held = pool.get().unwrap();
    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        drop(held);
    });
    pool.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
    returner.join().unwrap();

    let pool = Pool::new(FaultManager::new(&counts), quiet_config(2)).unwrap();
    let held = pool.get().unwrap();
    let err = pool.shutdown(Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    drop(held);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
}

#[test]
fn dropping_the_last_handle_closes_idle_connections() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(FaultManager::new(&counts), quiet_config(3)).unwrap();
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    drop(a);
    let clone = pool.clone();
    drop(pool);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 2, "a clone is alive");
    drop(clone);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 1, "idle one closed");
    drop(b);
    assert_eq!(counts.alive.load(Ordering::SeqCst), 0);
}

#[test]
fn idle_connections_are_reaped_down_to_min() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(
        FaultManager::new(&counts),
        PoolConfig {
            min_connections: 1,
            idle_timeout: Some(Duration::from_millis(20)),
            ..quiet_config(4)
        },
    )
    .unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    drop(held);
    assert!(
        eventually(Duration::from_secs(5), || pool.state().connections == 1),
        "{:?}",
        pool.state()
    );
    // Never below min: it stays at one.
    thread::sleep(Duration::from_millis(60));
    assert_eq!(pool.state().connections, 1);
    assert_eq!(pool.stats().closed(CloseReason::IdleTimeout), 2);
}

#[test]
fn connections_expire_after_max_lifetime() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(
        FaultManager::new(&counts),
        PoolConfig {
            max_lifetime: Some(Duration::from_millis(30)),
            ..quiet_config(2)
        },
    )
    .unwrap();
    let first = pool.get().unwrap();
    let id = first.id;
    drop(first);
    assert!(eventually(Duration::from_secs(5), || {
        pool.stats().closed(CloseReason::MaxLifetime) >= 1
    }));
    let next = pool.get().unwrap();
    assert_ne!(next.id, id, "an expired connection is never handed out");
    // Held past its lifetime: closed on return rather than kept.
    thread::sleep(Duration::from_millis(40));
    drop(next);
    assert!(pool.stats().closed(CloseReason::MaxLifetime) >= 2);
    assert_eq!(pool.state().idle_connections, 0);
}

#[test]
fn min_connections_are_kept_open_and_refilled_after_failures() {
    let counts = Arc::new(Counts::default());
    let m = FaultManager::new(&counts);
    m.set_connect(Plan::every(Fault::Fail, 1));
    let pool = Pool::new(
        m,
        PoolConfig {
            min_connections: 2,
            ..quiet_config(4)
        },
    )
    .unwrap();
    assert_eq!(pool.state().connections, 0, "new never connects");
    assert!(eventually(Duration::from_secs(5), || {
        counts.connect_calls.load(Ordering::SeqCst) >= 2
    }));
    assert_eq!(pool.state().connections, 0);
    let stats = pool.stats();
    assert!(stats.connect_errors >= 2, "{stats:?}");
    assert_eq!(stats.timeouts, 0, "background attempts are not gets");
    pool.manager().set_connect(Plan::OK);
    assert!(
        eventually(Duration::from_secs(5), || pool.state().idle_connections
            == 2),
        "{:?}",
        pool.state()
    );
}

#[test]
fn health_checks_close_invalid_idle_connections() {
    let counts = Arc::new(Counts::default());
    let pool = Pool::new(
        FaultManager::new(&counts),
        PoolConfig {
            health_check_interval: Some(Duration::from_millis(10)),
            ..quiet_config(2)
        },
    )
    .unwrap();
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    drop((a, b));
    assert!(eventually(Duration::from_secs(5), || {
        counts.valid_calls.load(Ordering::SeqCst) >= 2
    }));
    assert_eq!(pool.state().idle_connections, 2, "valid ones stay");
    pool.manager().set_is_valid(Plan::every(Fault::Fail, 1));
    assert!(eventually(Duration::from_secs(5), || {
        pool.state().connections == 0
    }));
    assert_eq!(pool.stats().closed(CloseReason::Invalid), 2);
}

#[derive(Debug, Default)]
struct Hooks {
    acquired: AtomicUsize,
    released: AtomicUsize,
}

#[derive(Debug)]
struct CountingHooks(Arc<Hooks>);

impl CustomizeConnection<Conn, TestError> for CountingHooks {
    fn on_acquire(&self, _conn: &mut Conn) -> Result<(), TestError> {
        self.0.acquired.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn on_release(&self, conn: Conn) {
        self.0.released.fetch_add(1, Ordering::SeqCst);
        drop(conn);
    }
}

#[test]
fn hooks_run_on_connect_and_before_close() {
    let counts = Arc::new(Counts::default());
    let hooks = Arc::new(Hooks::default());
    let pool = Pool::builder(FaultManager::new(&counts))
        .config(quiet_config(2))
        .customizer(CountingHooks(Arc::clone(&hooks)))
        .build()
        .unwrap();
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    drop((a, b));
    assert_eq!(hooks.acquired.load(Ordering::SeqCst), 2);
    drop(pool);
    assert_eq!(hooks.released.load(Ordering::SeqCst), 2);
}

#[test]
fn builder_rejects_bad_configuration() {
    let counts = Arc::new(Counts::default());
    let err = Pool::builder(FaultManager::new(&counts))
        .max_connections(0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_connections");
    let err = Pool::builder(FaultManager::new(&counts))
        .max_connections(2)
        .min_connections(3)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "min_connections");
    let err = Pool::builder(FaultManager::new(&counts))
        .connection_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "connection_timeout");
    let err = Pool::builder(FaultManager::new(&counts))
        .idle_timeout(Some(Duration::ZERO))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "idle_timeout");
}
