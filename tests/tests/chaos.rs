//! Chaos against the real servers: many threads run requests through the core pool against
//! PostgreSQL and Redis while a chaos thread terminates the pool's PostgreSQL backends
//! (`pg_terminate_backend`) and kills its Redis clients (`CLIENT KILL ID`) at random moments.
//!
//! Checked: every failed request is explained by a kill (failures never exceed the connections
//! killed: a killed connection fails at most the one request using it, then `has_broken` or the
//! check-out test discards it); the pools recover (every request succeeds after the last
//! kill); nothing leaks (after shutdown, `pg_stat_activity` and `CLIENT LIST` show none of the
//! pool's connections). The error rate is printed.
//!
//! Two runs: one with blocking threads on the core pool (`postgres` and `redis` crates), one
//! with tasks on the async adapters (tokio tasks on PostgreSQL through `tokio-postgres`,
//! async-std tasks on Redis through the tests' RESP client). Each runs for
//! `PATINOX_CHAOS_SECS` seconds (default 3).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patinox_memory::pool::{ManageConnection, Pool};
use patinox_memory_tests::pg::PgManager;
use patinox_memory_tests::resp::{Reply, RespConnection};
use patinox_memory_tests::{database_url, host_port, redis_url, server_available};
use postgres::{Client, NoTls};
use redis::ConnectionLike;

const WORKERS: usize = 8;
const POOL_SIZE: usize = 4;
/// How long after the last kill a request may still fail because of it.
const GRACE: Duration = Duration::from_secs(1);

fn chaos_duration() -> Duration {
    let secs = std::env::var("PATINOX_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(3);
    Duration::from_secs(secs.max(1))
}

/// A name unique to this run, so the chaos thread and the leak check see only our connections.
fn unique_name(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("patinox_chaos_{what}_{}_{nanos}", std::process::id())
}

/// A small xorshift generator for the chaos timing.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A blocking Redis manager over the `redis` crate; every connection carries `name`
/// (`CLIENT SETNAME`), so the chaos thread can find and kill exactly the pool's clients.
#[derive(Debug)]
struct RedisManager {
    client: redis::Client,
    name: String,
}

impl ManageConnection for RedisManager {
    type Connection = redis::Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<redis::Connection, redis::RedisError> {
        let mut conn = self
            .client
            .get_connection_with_timeout(Duration::from_secs(2))?;
        conn.set_read_timeout(Some(Duration::from_secs(2)))?;
        conn.set_write_timeout(Some(Duration::from_secs(2)))?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.name)
            .query::<()>(&mut conn)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<String>(conn).map(drop)
    }

    fn has_broken(&self, conn: &mut redis::Connection) -> bool {
        !conn.is_open()
    }
}

/// Counters of one pool's load.
#[derive(Debug, Default)]
struct Load {
    served: AtomicU64,
    failed: AtomicU64,
    /// Connections the chaos thread killed.
    killed: AtomicU64,
    kill_rounds: AtomicU64,
    /// When the latest failed request started.
    last_failure_start: Mutex<Option<Instant>>,
}

impl Load {
    fn record(&self, ok: bool, started: Instant) {
        if ok {
            self.served.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut last = self.last_failure_start.lock().unwrap();
            *last = Some(last.map_or(started, |l| l.max(started)));
        }
    }

    fn report(&self, what: &str, secs: f64) -> String {
        let served = self.served.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let total = (served + failed).max(1);
        format!(
            "{what}: {} requests in {secs:.1}s, {failed} failed ({:.3}%), {} connections killed in {} rounds",
            served + failed,
            100.0 * failed as f64 / total as f64,
            self.killed.load(Ordering::Relaxed),
            self.kill_rounds.load(Ordering::Relaxed),
        )
    }
}

/// Runs `request` from `WORKERS` threads until `stop`, counting results in `load`.
fn workers<M: ManageConnection>(
    pool: &Pool<M>,
    stop: &Arc<AtomicBool>,
    load: &Arc<Load>,
    request: fn(&mut M::Connection, u64) -> bool,
) -> Vec<thread::JoinHandle<()>> {
    (0..WORKERS)
        .map(|w| {
            let (pool, stop, load) = (pool.clone(), Arc::clone(stop), Arc::clone(load));
            thread::spawn(move || {
                let mut n = w as u64 * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let ok = match pool.get() {
                        Ok(mut conn) => request(&mut conn, n),
                        Err(_) => false,
                    };
                    load.record(ok, started);
                }
            })
        })
        .collect()
}

fn pg_request(conn: &mut Client, n: u64) -> bool {
    let n = (n % 1_000_000_000) as i64;
    conn.query_one("SELECT $1::bigint + 1", &[&n])
        .is_ok_and(|row| row.get::<_, i64>(0) == n + 1)
}

fn redis_request(conn: &mut redis::Connection, n: u64) -> bool {
    // One key set per worker (n carries the worker's index), so workers never race on a key.
    let key = format!(
        "patinox:chaos:{}:{}:{}",
        std::process::id(),
        n / 1_000_000,
        n % 16
    );
    let value = n.to_string();
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .arg("EX")
        .arg(60)
        .query(conn);
    set.is_ok()
        && redis::cmd("GET")
            .arg(&key)
            .query::<Option<String>>(conn)
            .is_ok_and(|v| v.as_deref() == Some(&value))
}

fn pg_backends(admin: &mut Client, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .expect("count backends")
        .get(0)
}

fn pg_terminate(admin: &mut Client, app: &str) -> u64 {
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .expect("terminate backends")
        .iter()
        .filter(|row| row.get::<_, bool>(0))
        .count() as u64
}

/// Ids of the Redis clients named `name`.
fn redis_clients(admin: &mut redis::Connection, name: &str) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(admin)
        .expect("CLIENT LIST");
    list.lines()
        .filter(|line| line.split(' ').any(|f| f == format!("name={name}")))
        .filter_map(|line| {
            line.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect()
}

fn redis_kill(admin: &mut redis::Connection, name: &str) -> u64 {
    redis_clients(admin, name)
        .iter()
        .map(|id| {
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(id)
                .query::<u64>(admin)
                .unwrap_or(0)
        })
        .sum()
}

/// Polls `cond` every 10 ms for up to five seconds.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Kills at random moments until `duration` has passed: PostgreSQL backends named `app` or
/// Redis clients named `client_name`, counting the kills in the loads. Returns when the last
/// kill is done, with the admin connections.
fn chaos(
    duration: Duration,
    (mut pg_admin, mut redis_admin): (Client, redis::Connection),
    (app, client_name): (&str, &str),
    (pg_load, redis_load): (&Load, &Load),
) -> (Client, redis::Connection) {
    let mut rng = Rng(u64::from(std::process::id()) | 1);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        thread::sleep(Duration::from_millis(20 + rng.below(180)));
        if rng.below(2) == 0 {
            let n = pg_terminate(&mut pg_admin, app);
            pg_load.killed.fetch_add(n, Ordering::Relaxed);
            pg_load.kill_rounds.fetch_add(1, Ordering::Relaxed);
        } else {
            let n = redis_kill(&mut redis_admin, client_name);
            redis_load.killed.fetch_add(n, Ordering::Relaxed);
            redis_load.kill_rounds.fetch_add(1, Ordering::Relaxed);
        }
    }
    (pg_admin, redis_admin)
}

fn served(loads: (&Load, &Load)) -> (u64, u64) {
    (
        loads.0.served.load(Ordering::Relaxed),
        loads.1.served.load(Ordering::Relaxed),
    )
}

/// The checks after the load stopped: failures bounded by kills, none started after the grace
/// period following the last kill, requests still served after it.
fn check_recovery(
    label: &str,
    loads: (&Load, &Load),
    served_then: (u64, u64),
    last_kill_done: Instant,
    secs: f64,
) {
    println!("chaos ({label}): {}", loads.0.report("PostgreSQL", secs));
    println!("chaos ({label}): {}", loads.1.report("Redis", secs));
    for (what, load, served_then) in [
        ("PostgreSQL", loads.0, served_then.0),
        ("Redis", loads.1, served_then.1),
    ] {
        let served = load.served.load(Ordering::Relaxed);
        let failed = load.failed.load(Ordering::Relaxed);
        let killed = load.killed.load(Ordering::Relaxed);
        assert!(
            killed > 0,
            "{label} {what}: the chaos thread killed nothing"
        );
        assert!(
            failed <= killed,
            "{label} {what}: {failed} failed requests but only {killed} connections killed"
        );
        let last_failure = *load.last_failure_start.lock().unwrap();
        assert!(
            last_failure.is_none_or(|t| t <= last_kill_done + GRACE),
            "{label} {what}: a request started {:?} after the last kill failed",
            last_failure.map(|t| t.saturating_duration_since(last_kill_done))
        );
        assert!(
            served > served_then,
            "{label} {what}: nothing served after the last kill"
        );
    }
}

/// Nothing leaks: after shutdown the servers see none of the pools' connections.
fn check_no_connection_left(
    (mut pg_admin, mut redis_admin): (Client, redis::Connection),
    app: &str,
    client_name: &str,
) {
    assert!(
        eventually(|| pg_backends(&mut pg_admin, app) == 0),
        "PostgreSQL backends left after shutdown: {}",
        pg_backends(&mut pg_admin, app)
    );
    assert!(
        eventually(|| redis_clients(&mut redis_admin, client_name).is_empty()),
        "Redis clients left after shutdown: {:?}",
        redis_clients(&mut redis_admin, client_name)
    );
}

fn admins(pg_url: &str, redis_url: &str) -> (Client, redis::Connection) {
    let pg = Client::connect(pg_url, NoTls).expect("PostgreSQL admin connection");
    let redis = redis::Client::open(redis_url)
        .and_then(|c| c.get_connection())
        .expect("Redis admin connection");
    (pg, redis)
}

#[test]
fn thread_pools_recover_from_killed_connections_with_errors_bounded_by_the_kills() {
    let (pg_url, redis_url) = (database_url(), redis_url());
    if !server_available("PostgreSQL", &pg_url) || !server_available("Redis", &redis_url) {
        return;
    }
    let (app, client_name) = (unique_name("pg"), unique_name("redis"));
    // test_on_check_out: a connection killed while idle is replaced within the get that finds
    // it, so only a kill landing mid-request can fail a request.
    let pg_pool = Pool::builder(PgManager::new(&pg_url, &app))
        .max_connections(POOL_SIZE)
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("PostgreSQL pool");
    let redis_pool = Pool::builder(RedisManager {
        client: redis::Client::open(redis_url.as_str()).expect("REDIS_URL parses"),
        name: client_name.clone(),
    })
    .max_connections(POOL_SIZE)
    .test_on_check_out(true)
    .connection_timeout(Duration::from_secs(5))
    .build()
    .expect("Redis pool");

    let (pg_load, redis_load) = (Arc::new(Load::default()), Arc::new(Load::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut threads = workers(&pg_pool, &stop, &pg_load, pg_request);
    threads.extend(workers(&redis_pool, &stop, &redis_load, redis_request));
    let loads = (&*pg_load, &*redis_load);
    let admins = chaos(
        chaos_duration(),
        admins(&pg_url, &redis_url),
        (&app, &client_name),
        loads,
    );
    let last_kill_done = Instant::now();
    // A request started before the last kill ended may still fail (the server can take a
    // second or more to act on a termination under load); one started after GRACE must not.
    thread::sleep(GRACE);
    let served_then = served(loads);
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("worker");
    }
    let secs = start.elapsed().as_secs_f64();
    check_recovery("threads", loads, served_then, last_kill_done, secs);

    // Recovery, request by request: every one succeeds now.
    for n in 0..20 {
        let mut conn = pg_pool.get().expect("PostgreSQL get after the chaos");
        assert!(
            pg_request(&mut conn, n),
            "PostgreSQL request after the chaos"
        );
        let mut conn = redis_pool.get().expect("Redis get after the chaos");
        assert!(redis_request(&mut conn, n), "Redis request after the chaos");
    }
    pg_pool
        .shutdown(Duration::from_secs(5))
        .expect("PostgreSQL pool drains");
    redis_pool
        .shutdown(Duration::from_secs(5))
        .expect("Redis pool drains");
    assert_eq!(pg_pool.state().connections, 0);
    assert_eq!(redis_pool.state().connections, 0);
    check_no_connection_left(admins, &app, &client_name);
}

/// Opens `tokio-postgres` clients tagged with an `application_name`; each client's connection
/// future runs as its own task.
struct AsyncPg {
    config: tokio_postgres::Config,
}

impl patinox_memory_tokio::pool::ManageConnection for AsyncPg {
    type Connection = tokio_postgres::Client;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server closes the connection.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn is_valid(
        &self,
        conn: &mut tokio_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        conn.simple_query("SELECT 1").await.map(drop)
    }

    fn has_broken(&self, conn: &mut tokio_postgres::Client) -> bool {
        conn.is_closed()
    }
}

/// A RESP connection that remembers a transport failure.
struct RespConn {
    conn: RespConnection,
    broken: bool,
}

impl RespConn {
    async fn command(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let reply = self.conn.command(args).await;
        if reply
            .as_ref()
            .is_err_and(|e| e.kind() != std::io::ErrorKind::Other)
        {
            self.broken = true;
        }
        reply
    }
}

/// Async-std Redis connections named `name` (`CLIENT SETNAME`).
struct AsyncRedis {
    addr: String,
    name: String,
}

impl patinox_memory_async_std::pool::ManageConnection for AsyncRedis {
    type Connection = RespConn;
    type Error = std::io::Error;

    async fn connect(&self) -> std::io::Result<RespConn> {
        let mut conn = RespConn {
            conn: RespConnection::connect(&self.addr).await?,
            broken: false,
        };
        conn.command(&[b"CLIENT", b"SETNAME", self.name.as_bytes()])
            .await?;
        Ok(conn)
    }

    async fn is_valid(&self, conn: &mut RespConn) -> std::io::Result<()> {
        match conn.command(&[b"PING"]).await? {
            Reply::Status(s) if s == "PONG" => Ok(()),
            other => Err(std::io::Error::other(format!("PING answered {other:?}"))),
        }
    }

    fn has_broken(&self, conn: &mut RespConn) -> bool {
        conn.broken
    }
}

const TASKS: usize = 32;

#[test]
fn task_pools_recover_from_killed_connections_with_errors_bounded_by_the_kills() {
    let (pg_url, redis_url) = (database_url(), redis_url());
    if !server_available("PostgreSQL", &pg_url) || !server_available("Redis", &redis_url) {
        return;
    }
    let (app, client_name) = (unique_name("pg"), unique_name("redis"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _entered = runtime.enter();
    let mut config: tokio_postgres::Config = pg_url.parse().expect("DATABASE_URL parses");
    config
        .application_name(&app)
        .connect_timeout(Duration::from_secs(2));
    let pg_pool = patinox_memory_tokio::pool::Pool::builder(AsyncPg { config })
        .max_connections(POOL_SIZE)
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .expect("tokio PostgreSQL pool");
    let redis_pool = patinox_memory_async_std::pool::Pool::builder(AsyncRedis {
        addr: host_port(&redis_url).expect("REDIS_URL has host:port"),
        name: client_name.clone(),
    })
    .max_connections(POOL_SIZE)
    .test_on_check_out(true)
    .connection_timeout(Duration::from_secs(5))
    .build()
    .expect("async-std Redis pool");

    let (pg_load, redis_load) = (Arc::new(Load::default()), Arc::new(Load::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let pg_tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (pool, stop, load) = (pg_pool.clone(), Arc::clone(&stop), Arc::clone(&pg_load));
            runtime.spawn(async move {
                let mut n = t as i64 * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let ok = match pool.get().await {
                        Ok(conn) => conn
                            .query_one("SELECT $1::bigint + 1", &[&n])
                            .await
                            .is_ok_and(|row| row.get::<_, i64>(0) == n + 1),
                        Err(_) => false,
                    };
                    load.record(ok, started);
                }
            })
        })
        .collect();
    let redis_tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (pool, stop, load) = (
                redis_pool.clone(),
                Arc::clone(&stop),
                Arc::clone(&redis_load),
            );
            async_std::task::spawn(async move {
                // One key set per task, so tasks never race on a key.
                let key = format!("patinox:chaos:{}:task{t}", std::process::id());
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let value = n.to_string();
                    let started = Instant::now();
                    let ok = match pool.get().await {
                        Ok(mut conn) => {
                            let set = conn
                                .command(&[b"SET", key.as_bytes(), value.as_bytes(), b"EX", b"60"])
                                .await;
                            matches!(set, Ok(Reply::Status(_)))
                                && matches!(
                                    conn.command(&[b"GET", key.as_bytes()]).await,
                                    Ok(Reply::Bulk(Some(v))) if v == value.as_bytes()
                                )
                        }
                        Err(_) => false,
                    };
                    load.record(ok, started);
                }
            })
        })
        .collect();

    let loads = (&*pg_load, &*redis_load);
    let admins = chaos(
        chaos_duration(),
        admins(&pg_url, &redis_url),
        (&app, &client_name),
        loads,
    );
    let last_kill_done = Instant::now();
    thread::sleep(GRACE);
    let served_then = served(loads);
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for t in pg_tasks {
            t.await.expect("PostgreSQL task");
        }
    });
    async_std::task::block_on(async {
        for t in redis_tasks {
            t.await;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    check_recovery("tasks", loads, served_then, last_kill_done, secs);

    runtime
        .block_on(pg_pool.shutdown(Duration::from_secs(5)))
        .expect("tokio PostgreSQL pool drains");
    async_std::task::block_on(redis_pool.shutdown(Duration::from_secs(5)))
        .expect("async-std Redis pool drains");
    assert_eq!(pg_pool.state().connections, 0);
    assert_eq!(redis_pool.state().connections, 0);
    check_no_connection_left(admins, &app, &client_name);
}
