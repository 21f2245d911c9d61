//! The tokio pool against a real PostgreSQL through `tokio-postgres`: 64 tasks on four
//! connections, the pool's backends terminated mid-run, and nothing left behind after
//! shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patinox_memory::ErrorClass;
use patinox_memory_tests::{database_url, server_available};
use patinox_memory_tokio::pool::{ManageConnection, Pool};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// Opens `tokio-postgres` clients tagged with an `application_name`; each client's
/// connection future runs as its own task.
struct AsyncPg {
    config: tokio_postgres::Config,
}

impl ManageConnection for AsyncPg {
    type Connection = Client;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server closes the connection.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn is_valid(&self, conn: &mut Client) -> Result<(), tokio_postgres::Error> {
        conn.simple_query("SELECT 1").await.map(|_| ())
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }

    fn classify(&self, err: &tokio_postgres::Error) -> ErrorClass {
        match err.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_CATALOG_NAME => {
                ErrorClass::Permanent
            }
            _ => ErrorClass::Retryable,
        }
    }
}

async fn admin(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn backends(admin: &Client, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("count backends")
        .get(0)
}

async fn terminate(admin: &Client, app: &str) -> usize {
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("terminate backends")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_pool_recovers_from_terminated_backends_and_leaves_nothing_behind() {
    let url = database_url();
    if !server_available("PostgreSQL", &url) {
        return;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let app = format!("patinox_tokio_pool_{}_{nanos}", std::process::id());
    let mut config: tokio_postgres::Config = url.parse().expect("DATABASE_URL parses");
    config
        .application_name(&app)
        .connect_timeout(Duration::from_secs(2));
    let admin = admin(&url).await;
    let pool = Pool::builder(AsyncPg { config })
        .max_connections(4)
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("pool");

    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let run_until = Instant::now() + Duration::from_millis(1500);
    let tasks: Vec<_> = (0..64)
        .map(|t: i32| {
            let pool = pool.clone();
            let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
            tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < run_until {
                    i += 1;
                    let conn = pool.get().await.expect("get");
                    match conn
                        .query_one("SELECT $1::INT4 + 1", &[&(t * 1000 + i)])
                        .await
                    {
                        Ok(row) => {
                            assert_eq!(row.get::<_, i32>(0), t * 1000 + i + 1);
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        // The backend was terminated under us; has_broken catches it on return.
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(backends(&admin, &app).await <= 4);
    let killed = terminate(&admin, &app).await;
    assert!(killed >= 1, "the pool had backends to terminate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok_after_kill = ok.load(Ordering::SeqCst);
    for t in tasks {
        t.await.expect("task");
    }
    assert!(
        ok.load(Ordering::SeqCst) > ok_after_kill,
        "queries succeed again after the kill"
    );
    let stats = pool.stats();
    assert!(
        stats.created > 4,
        "terminated connections were replaced: {stats:?}"
    );
    assert_eq!(pool.state().waiting, 0);
    pool.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
    // The server sees the backends go shortly after the clients are dropped.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = backends(&admin, &app).await;
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} pool backends still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
