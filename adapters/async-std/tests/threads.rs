//! The async-std pool's waiting holds no OS thread. Alone in its own test binary (process), so
//! that no other test can change the process's thread count while it measures.

use std::time::Duration;

mod common;
use common::{os_threads, pool, until};

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
