//! Unit tests that look inside the pool: the background thread's lifetime.

use super::*;
use std::time::Instant;

#[derive(Debug)]
struct Unit;

impl ManageConnection for Unit {
    type Connection = ();
    type Error = std::io::Error;
    fn connect(&self) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> {
        Ok(())
    }
}

/// The maintenance thread owns the only other reference to the stop signal; once the
/// signal's strong count is back to what the handle holds, the thread is gone.
fn thread_exits(stop: &crate::sync::Weak<Stop>) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while stop.strong_count() > 0 {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn background_thread_exits_when_the_last_handle_drops() {
    let pool = Pool::builder(Unit).min_connections(1).build().unwrap();
    let stop = StdArc::downgrade(&pool.handle.stop);
    assert_eq!(stop.strong_count(), 2, "handle and thread");
    let clone = pool.clone();
    drop(pool);
    assert_eq!(stop.strong_count(), 2, "a clone keeps it running");
    let guard = clone.get().unwrap();
    drop(clone);
    // The guard keeps the shared state alive, but not the thread.
    assert!(thread_exits(&stop));
    drop(guard);
}

#[test]
fn background_thread_exits_when_the_pool_is_closed() {
    let pool = Pool::builder(Unit)
        .idle_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    let stop = StdArc::downgrade(&pool.handle.stop);
    assert_eq!(stop.strong_count(), 2);
    pool.close();
    let end = Instant::now() + Duration::from_secs(5);
    while stop.strong_count() > 1 {
        assert!(Instant::now() < end, "thread still running");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn no_background_thread_when_nothing_needs_one() {
    let pool = Pool::builder(Unit)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap();
    assert_eq!(StdArc::strong_count(&pool.handle.stop), 1);
}

/// Regression (found by the `config_builders` fuzz target): a lifetime, idle timeout or
/// health-check interval beyond what an `Instant` can represent means "never", not an
/// overflow panic when a connection is created, reaped or checked.
#[test]
fn durations_beyond_instant_range_mean_never() {
    let pool = Pool::builder(Unit)
        .max_lifetime(Some(Duration::MAX))
        .idle_timeout(Some(Duration::MAX))
        .health_check_interval(Some(Duration::MAX))
        .connection_timeout(Duration::MAX)
        .build()
        .unwrap();
    drop(pool.get().unwrap());
    let engine = &pool.handle.shared.engine;
    let later = Instant::now() + Duration::from_secs(3600 * 24 * 365);
    assert_eq!(engine.reap(later), 0, "never idle or old enough to close");
    assert!(engine.take_for_health_check(later).is_empty());
    assert_eq!(pool.state().idle_connections, 1);
}

/// An engine with no maintenance running (so its coarse clock stays where the last connect
/// left it) and connections living 30 ms.
fn engine_without_maintenance() -> StdArc<engine::Engine<(), std::io::Error>> {
    let config = PoolConfig {
        max_connections: 1,
        max_lifetime: Some(Duration::from_millis(30)),
        ..PoolConfig::default()
    };
    engine::Engine::new(
        config,
        StdArc::new(crate::monitor::NoopMonitor),
        Box::new(NoopCustomizer),
    )
}

fn connect(engine: &StdArc<engine::Engine<(), std::io::Error>>) -> engine::Live<()> {
    match engine.acquire_blocking(Duration::from_secs(1)).0 {
        Ok(engine::Acquired::Create(permit)) => {
            engine.connected(permit, (), Duration::ZERO).unwrap()
        }
        other => panic!("expected a permit, got {other:?}"),
    }
}

/// The coarse clock lags when maintenance runs late (here: never); a connection near or
/// past its end of life is judged by the real clock, on return and at check-out alike.
#[test]
fn lifetimes_end_on_time_when_maintenance_runs_late() {
    let engine = engine_without_maintenance();
    let held = connect(&engine);
    std::thread::sleep(Duration::from_millis(40));
    engine.check_in(held, |_| false);
    assert_eq!(
        engine.stats().closed(CloseReason::MaxLifetime),
        1,
        "on return"
    );
    assert_eq!(engine.state().idle_connections, 0);

    let idle = connect(&engine);
    engine.check_in(idle, |_| false);
    assert_eq!(engine.state().idle_connections, 1);
    std::thread::sleep(Duration::from_millis(40));
    assert!(
        engine.try_acquire().is_none(),
        "an expired idle connection was handed out"
    );
    assert_eq!(
        engine.stats().closed(CloseReason::MaxLifetime),
        2,
        "at check-out"
    );
}

#[test]
fn a_pool_has_one_deadline_keeper_which_ends_when_the_pool_closes() {
    use std::task::Waker;

    use super::engine::{Engine, KeeperStep};

    let config = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let engine = Engine::<u32, std::io::Error>::new(
        config,
        std::sync::Arc::new(crate::monitor::NoopMonitor),
        Box::new(NoopCustomizer),
    );
    let keeper = engine.deadline_keeper().expect("the first keeper");
    assert!(engine.deadline_keeper().is_none(), "one per pool");
    // Nobody waits: nothing to do until a waiter joins (its join wakes the waker).
    assert_eq!(
        keeper.sweep(Instant::now(), Waker::noop()),
        KeeperStep::Idle
    );
    engine.close();
    assert_eq!(
        keeper.sweep(Instant::now(), Waker::noop()),
        KeeperStep::Done
    );
    drop(keeper);
    assert!(
        engine.deadline_keeper().is_none(),
        "no keeper for a closed pool"
    );
}
