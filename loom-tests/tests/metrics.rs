//! Model: concurrent recording into the built-in metrics loses no event.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use patinox_memory::monitor::{CacheEvent, Event, Metrics, Monitor, PoolEvent};
use std::time::Duration;

#[test]
fn concurrent_events_are_all_counted() {
    loom::model(|| {
        let m = Arc::new(Metrics::new());
        let m2 = m.clone();
        let t = thread::spawn(move || {
            m2.on_event(&Event::Cache(CacheEvent::Hit));
            m2.on_event(&Event::Pool(PoolEvent::Acquired {
                waited: Duration::from_micros(5),
            }));
        });
        m.on_event(&Event::Cache(CacheEvent::Hit));
        m.on_event(&Event::Pool(PoolEvent::Acquired {
            waited: Duration::from_micros(900),
        }));
        t.join().unwrap();
        let s = m.snapshot();
        assert_eq!(s.cache.hits, 2);
        assert_eq!(s.pool.acquired, 2);
        assert_eq!(s.pool_wait.count, 2);
        assert_eq!(s.pool_wait.max, Duration::from_micros(900));
    });
}
