//! The fault-injection manager shared by the pool's integration tests (`pool.rs` and
//! `pool_faults.rs`): `connect`, `is_valid` and `has_broken` can each succeed, fail, be slow,
//! hang (bounded) or panic, on every n-th call.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::ErrorClass;
use patinox_memory::pool::{ManageConnection, PoolConfig};

/// What a manager call does on the calls it applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
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
pub(crate) struct Plan {
    pub(crate) fault: Fault,
    pub(crate) every: usize,
}

impl Plan {
    pub(crate) const OK: Plan = Plan {
        fault: Fault::Ok,
        every: 1,
    };
    pub(crate) fn every(fault: Fault, every: usize) -> Plan {
        Plan { fault, every }
    }
}

#[derive(Debug)]
pub(crate) struct TestError(pub(crate) String, pub(crate) ErrorClass);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestError {}

/// Counts shared between a manager, its connections and the test.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) alive: AtomicUsize,
    pub(crate) max_alive: AtomicUsize,
    pub(crate) opened: AtomicUsize,
    pub(crate) connect_calls: AtomicUsize,
    pub(crate) valid_calls: AtomicUsize,
    pub(crate) broken_calls: AtomicUsize,
    /// Manager calls that met a fault other than `Ok`.
    pub(crate) faults: AtomicUsize,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: usize,
    pub(crate) counts: Arc<Counts>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.counts.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
pub(crate) struct FaultManager {
    pub(crate) counts: Arc<Counts>,
    pub(crate) connect: Mutex<Plan>,
    pub(crate) is_valid: Mutex<Plan>,
    pub(crate) has_broken: Mutex<Plan>,
    /// Connection ids that fail `is_valid`.
    pub(crate) invalid_ids: Mutex<HashSet<usize>>,
}

impl FaultManager {
    pub(crate) fn new(counts: &Arc<Counts>) -> Self {
        Self {
            counts: Arc::clone(counts),
            connect: Mutex::new(Plan::OK),
            is_valid: Mutex::new(Plan::OK),
            has_broken: Mutex::new(Plan::OK),
            invalid_ids: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn with(
        counts: &Arc<Counts>,
        connect: Plan,
        is_valid: Plan,
        has_broken: Plan,
    ) -> Self {
        let m = Self::new(counts);
        *m.connect.lock().unwrap() = connect;
        *m.is_valid.lock().unwrap() = is_valid;
        *m.has_broken.lock().unwrap() = has_broken;
        m
    }

    pub(crate) fn set_connect(&self, plan: Plan) {
        *self.connect.lock().unwrap() = plan;
    }

    pub(crate) fn set_is_valid(&self, plan: Plan) {
        *self.is_valid.lock().unwrap() = plan;
    }

    /// The fault for call number `n` (counting from 1) of `plan`.
    pub(crate) fn set_has_broken(&self, plan: Plan) {
        *self.has_broken.lock().unwrap() = plan;
    }

    /// The fault for call number `n` (counting from 1) of `plan`, counted if not `Ok`.
    fn fault_for(&self, plan: &Mutex<Plan>, n: usize) -> Fault {
        let fault = Self::fault(plan, n);
        if fault != Fault::Ok {
            self.counts.faults.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }

    pub(crate) fn fault(plan: &Mutex<Plan>, n: usize) -> Fault {
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
        match self.fault_for(&self.connect, n) {
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
        match self.fault_for(&self.is_valid, n) {
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
        match self.fault_for(&self.has_broken, n) {
            Fault::Ok => false,
            Fault::Slow(d) => {
                thread::sleep(d);
                false
            }
            // A hang ends by reporting the connection broken, as a stuck check would.
            Fault::Hang(d) => {
                thread::sleep(d);
                true
            }
            Fault::Fail | Fault::FailPermanent => true,
            Fault::Panic => panic!("has_broken panicked (injected)"),
        }
    }

    fn classify(&self, err: &TestError) -> ErrorClass {
        err.1
    }
}

/// Polls `cond` every millisecond for up to `limit`.
pub(crate) fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
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

pub(crate) fn quiet_config(max: usize) -> PoolConfig {
    PoolConfig {
        max_connections: max,
        connection_timeout: Duration::from_secs(5),
        idle_timeout: None,
        max_lifetime: None,
        ..PoolConfig::default()
    }
}

pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
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
