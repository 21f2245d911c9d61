//! The pool against a real PostgreSQL: sixteen threads on four connections, the pool's
//! backends terminated mid-run, and nothing left behind after shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patinox_memory::monitor::CloseReason;
use patinox_memory::pool::Pool;
use patinox_memory_tests::pg::{PgManager, backends};
use patinox_memory_tests::{database_url, server_available};
use postgres::{Client, NoTls};

fn unique_application_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("patinox_pool_{}_{nanos}", std::process::id())
}

fn terminate(admin: &mut Client, app: &str) -> usize {
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .expect("terminate backends")
        .len()
}

#[test]
fn pool_recovers_from_terminated_backends_and_leaves_nothing_behind() {
    let url = database_url();
    if !server_available("PostgreSQL", &url) {
        return;
    }
    let app = unique_application_name();
    let mut admin = Client::connect(&url, NoTls).expect("admin connection");
    let pool = Pool::builder(PgManager::new(&url, &app))
        .max_connections(4)
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("pool");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed_queries = Arc::new(AtomicUsize::new(0));
    let failed_gets = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|t| {
            let pool = pool.clone();
            let (stop, ok, failed_queries, failed_gets, max_seen) = (
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&failed_queries),
                Arc::clone(&failed_gets),
                Arc::clone(&max_seen),
            );
            thread::spawn(move || {
                let mut i: i32 = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let mut conn = match pool.get() {
                        Ok(c) => c,
                        Err(e) => {
                            eprintln!("get failed: {e}");
                            failed_gets.fetch_add(1, Ordering::SeqCst);
                            continue;
                        }
                    };
                    max_seen.fetch_max(pool.state().connections, Ordering::SeqCst);
                    match conn.query_one("SELECT $1::int + $2::int", &[&i, &t]) {
                        Ok(row) => {
                            let v: i32 = row.get(0);
                            assert_eq!(v, i + t, "wrong answer");
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => {
                            failed_queries.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();

    // Let the pool fill up, then kill its backends twice while the threads keep going.
    let wait_for = |cond: &mut dyn FnMut() -> bool| {
        let end = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < end, "condition not reached in 5 s");
            thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for(&mut || ok.load(Ordering::SeqCst) >= 200);
    let mut terminated = 0;
    for _ in 0..2 {
        terminated += terminate(&mut admin, &app);
        let after = ok.load(Ordering::SeqCst);
        wait_for(&mut || ok.load(Ordering::SeqCst) >= after + 200);
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker panicked");
    }

    let failed = failed_queries.load(Ordering::SeqCst);
    eprintln!(
        "{} queries, {failed} failed, {terminated} backends terminated, stats {:?}",
        ok.load(Ordering::SeqCst),
        pool.stats()
    );
    assert!(terminated >= 1, "no backend was terminated");
    assert_eq!(failed_gets.load(Ordering::SeqCst), 0, "gets must not fail");
    // Each terminated backend can fail at most the one query running on it; idle ones are
    // replaced by test_on_check_out within the same get.
    assert!(
        failed <= terminated,
        "{failed} failed queries for {terminated} terminated backends"
    );
    assert!(max_seen.load(Ordering::SeqCst) <= 4);
    let stats = pool.stats();
    assert!(
        stats.created > 4,
        "terminated connections were replaced: {stats:?}"
    );
    assert!(
        stats.closed(CloseReason::Invalid) + stats.closed(CloseReason::Broken) >= 1,
        "{stats:?}"
    );

    pool.shutdown(Duration::from_secs(5))
        .expect("shutdown drains");
    // A closed client's backend exits a moment after the socket closes.
    wait_for(&mut || backends(&mut admin, &app) == 0);
}
