//! Integration tests of the connection pool with a fault-injection manager: connect,
//! `is_valid` and `has_broken` can each succeed, fail, be slow, hang (bounded) or panic.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::ErrorClass;
use patinox_memory::monitor::{CloseReason, Metrics, Monitor};
use patinox_memory::pool::{
    CustomizeConnection, ManageConnection, Pool, PoolConfig, PoolError, PooledConnection,
};

/// What a manager call does on the calls it applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Works.
    Ok,
    /// Fails (for connect: with a retryable error).
    Fail,
    /// Fails with an error the manager classifies as permanent (connect only).
    FailPermanent,
    /// Works after a delay.
    Slow(Duration),
    /// Hangs for a while (bounded), then fails.
    Hang(Duration),
    /// Panics.
    Panic,
}

/// A fault applied to every `every`-th call (1: every call).
#[derive(Debug, Clone, Copy)]
struct Plan {
    fault: Fault,
    every: usize,
}

impl Plan {
    const OK: Plan = Plan {
        fault: Fault::Ok,
        every: 1,
    };
    fn every(fault: Fault, every: usize) -> Plan {
        Plan { fault, every }
    }
}

#[derive(Debug)]
struct TestError(String, ErrorClass);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestError {}

/// Counts shared between a manager, its connections and the test.
#[derive(Debug, Default)]
struct Counts {
    alive: AtomicUsize,
    max_alive: AtomicUsize,
    opened: AtomicUsize,
    connect_calls: AtomicUsize,
    valid_calls: AtomicUsize,
    broken_calls: AtomicUsize,
}

#[derive(Debug)]
struct Conn {
    id: usize,
    counts: Arc<Counts>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.counts.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct FaultManager {
    counts: Arc<Counts>,
    connect: Mutex<Plan>,
    is_valid: Mutex<Plan>,
    has_broken: Mutex<Plan>,
    /// Connection ids that fail `is_valid`.
    invalid_ids: Mutex<HashSet<usize>>,
}

impl FaultManager {
    fn new(counts: &Arc<Counts>) -> Self {
        Self {
            counts: Arc::clone(counts),
            connect: Mutex::new(Plan::OK),
            is_valid: Mutex::new(Plan::OK),
            has_broken: Mutex::new(Plan::OK),
            invalid_ids: Mutex::new(HashSet::new()),
        }
    }

    fn with(counts: &Arc<Counts>, connect: Plan, is_valid: Plan, has_broken: Plan) -> Self {
        let m = Self::new(counts);
        *m.connect.lock().unwrap() = connect;
        *m.is_valid.lock().unwrap() = is_valid;
        *m.has_broken.lock().unwrap() = has_broken;
        m
    }

    fn set_connect(&self, plan: Plan) {
        *self.connect.lock().unwrap() = plan;
    }

    fn set_is_valid(&self, plan: Plan) {
        *self.is_valid.lock().unwrap() = plan;
    }

    /// The fault for call number `n` (counting from 1) of `plan`.
    fn fault(plan: &Mutex<Plan>, n: usize) -> Fault {
        let p = *plan.lock().unwrap();
        if n.is_multiple_of(p.every.max(1)) {
            p.fault
        } else {
            Fault::Ok
        }
    }
}

impl ManageConnection for FaultManager {
    type Connection = Conn;
    type Error = TestError;

    fn connect(&self) -> Result<Conn, TestError> {
        let n = self.counts.connect_calls.fetch_add(1, Ordering::SeqCst) + 1;
        match Self::fault(&self.connect, n) {
            Fault::Ok => {}
            Fault::Slow(d) => thread::sleep(d),
            Fault::Fail => {
                return Err(TestError(
                    "connection refused".into(),
                    ErrorClass::Retryable,
                ));
            }
            Fault::FailPermanent => {
                return Err(TestError(
                    "password authentication failed".into(),
                    ErrorClass::Permanent,
                ));
            }
            Fault::Hang(d) => {
                thread::sleep(d);
                return Err(TestError("connect hung".into(), ErrorClass::Retryable));
            }
            Fault::Panic => panic!("connect panicked (injected)"),
        }
        let alive = self.counts.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.counts.max_alive.fetch_max(alive, Ordering::SeqCst);
        let id = self.counts.opened.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Conn {
            id,
            counts: Arc::clone(&self.counts),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), TestError> {
        let n = self.counts.valid_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.invalid_ids.lock().unwrap().contains(&conn.id) {
            return Err(TestError("invalid".into(), ErrorClass::Retryable));
        }
        match Self::fault(&self.is_valid, n) {
            Fault::Ok => Ok(()),
            Fault::Slow(d) => {
                thread::sleep(d);
                Ok(())
            }
            Fault::Hang(d) => {
                thread::sleep(d);
                Err(TestError("is_valid hung".into(), ErrorClass::Retryable))
            }
            Fault::Fail | Fault::FailPermanent => {
                Err(TestError("invalid".into(), ErrorClass::Retryable))
            }
            Fault::Panic => panic!("is_valid panicked (injected)"),
        }
    }

    fn has_broken(&self, _conn: &mut Conn) -> bool {
        let n = self.counts.broken_calls.fetch_add(1, Ordering::SeqCst) + 1;
        match Self::fault(&self.has_broken, n) {
            Fault::Ok | Fault::Slow(_) | Fault::Hang(_) => false,
            Fault::Fail | Fault::FailPermanent => true,
            Fault::Panic => panic!("has_broken panicked (injected)"),
        }
    }

    fn classify(&self, err: &TestError) -> ErrorClass {
        err.1
    }
}

/// Polls `cond` every millisecond for up to `limit`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn quiet_config(max: usize) -> PoolConfig {
    PoolConfig {
        max_connections: max,
        connection_timeout: Duration::from_secs(5),
        idle_timeout: None,
        max_lifetime: None,
        ..PoolConfig::default()
    }
}

/// Waits until `n` gets wait in line (bounded: 5 s).
fn until_waiting<M: ManageConnection>(pool: &Pool<M>, n: usize) {
    assert!(
        eventually(Duration::from_secs(5), || pool.state().waiting == n),
        "expected {n} waiters, state {:?}",
        pool.state()
    );
}

fn quietly<R>(f: impl FnOnce() -> R) -> R {
    // Injected panics are expected; keep the test output readable.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.to_string();
            if !msg.contains("(injected)") {
                default(info);
            }
        }));
    });
    f()
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

/// The stress matrix: every combination of connect, is_valid and has_broken faults, with
/// eight threads on a pool of three. Checks that no more than `max_connections` connections
/// are ever alive, that every get returns by its deadline plus a margin (the bounded hang of
/// a connect already running at the deadline, plus scheduling), and that nothing leaks.
#[test]
fn fault_matrix_keeps_every_invariant() {
    const MAX: usize = 3;
    const THREADS: usize = 8;
    const GETS: usize = 15;
    let timeout = Duration::from_millis(40);
    let hang = Duration::from_millis(15);
    let margin = hang + Duration::from_millis(250);
    let connects = [
        Plan::OK,
        Plan::every(Fault::Fail, 3),
        Plan::every(Fault::Slow(Duration::from_millis(2)), 2),
        Plan::every(Fault::Hang(hang), 4),
        Plan::every(Fault::Panic, 5),
    ];
    let valids = [
        Plan::OK,
        Plan::every(Fault::Fail, 4),
        Plan::every(Fault::Slow(Duration::from_millis(1)), 3),
        Plan::every(Fault::Hang(hang), 6),
        Plan::every(Fault::Panic, 7),
    ];
    let brokens = [
        Plan::OK,
        Plan::every(Fault::Fail, 5),
        Plan::every(Fault::Panic, 9),
    ];
    quietly(|| {
        for connect in connects {
            for valid in valids {
                for broken in brokens {
                    let counts = Arc::new(Counts::default());
                    let pool = Pool::new(
                        FaultManager::with(&counts, connect, valid, broken),
                        PoolConfig {
                            test_on_check_out: true,
                            connection_timeout: timeout,
                            max_lifetime: Some(Duration::from_millis(25)),
                            ..quiet_config(MAX)
                        },
                    )
                    .unwrap();
                    let late = Arc::new(AtomicBool::new(false));
                    let handles: Vec<_> = (0..THREADS)
                        .map(|t| {
                            let (pool, late) = (pool.clone(), Arc::clone(&late));
                            thread::spawn(move || {
                                let mut ok = 0;
                                for i in 0..GETS {
                                    let start = Instant::now();
                                    let got = pool.get();
                                    if start.elapsed() > timeout + margin {
                                        late.store(true, Ordering::SeqCst);
                                    }
                                    if let Ok(conn) = got {
                                        ok += 1;
                                        if (t + i) % 3 == 0 {
                                            thread::sleep(Duration::from_micros(300));
                                        }
                                        drop(conn);
                                    }
                                }
                                ok
                            })
                        })
                        .collect();
                    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
                    let what =
                        format!("connect {connect:?}, is_valid {valid:?}, has_broken {broken:?}");
                    assert!(
                        counts.max_alive.load(Ordering::SeqCst) <= MAX,
                        "more than {MAX} alive with {what}"
                    );
                    assert!(
                        !late.load(Ordering::SeqCst),
                        "a get overran its deadline with {what}"
                    );
                    assert!(ok > 0, "no get succeeded with {what}");
                    let state = pool.state();
                    assert_eq!(
                        (state.in_use, state.waiting, state.creating),
                        (0, 0, 0),
                        "{what}"
                    );
                    assert_eq!(
                        state.connections,
                        counts.alive.load(Ordering::SeqCst),
                        "pool and manager disagree with {what}"
                    );
                    drop(pool);
                    assert_eq!(counts.alive.load(Ordering::SeqCst), 0, "leak with {what}");
                }
            }
        }
    });
}
