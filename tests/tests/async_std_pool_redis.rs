//! The async-std pool against a real Redis (through a small RESP client): 64 tasks on four
//! connections, the pool's connections killed mid-run with `CLIENT KILL`, and nothing left
//! behind after shutdown.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patinox_memory_async_std::pool::{ManageConnection, Pool};
use patinox_memory_tests::resp::{Reply, RespConnection};
use patinox_memory_tests::{host_port, redis_url, server_available};

/// A Redis connection and whether a command on it failed at the transport level.
struct RedisConn {
    conn: RespConnection,
    broken: bool,
}

impl RedisConn {
    async fn command(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let reply = self.conn.command(args).await;
        if let Err(e) = &reply
            && e.kind() != io::ErrorKind::Other
        {
            self.broken = true;
        }
        reply
    }
}

/// Opens connections named `name` (`CLIENT SETNAME`), so the test can find and kill exactly
/// the pool's connections.
struct RedisManager {
    addr: String,
    name: String,
}

impl ManageConnection for RedisManager {
    type Connection = RedisConn;
    type Error = io::Error;

    async fn connect(&self) -> io::Result<RedisConn> {
        let mut conn = RedisConn {
            conn: RespConnection::connect(&self.addr).await?,
            broken: false,
        };
        conn.command(&[b"CLIENT", b"SETNAME", self.name.as_bytes()])
            .await?;
        Ok(conn)
    }

    async fn is_valid(&self, conn: &mut RedisConn) -> io::Result<()> {
        match conn.command(&[b"PING"]).await? {
            Reply::Status(s) if s == "PONG" => Ok(()),
            other => Err(io::Error::other(format!("unexpected PING reply {other:?}"))),
        }
    }

    fn has_broken(&self, conn: &mut RedisConn) -> bool {
        conn.broken
    }
}

/// Ids of the connections named `name`, from `CLIENT LIST`.
async fn clients_named(admin: &mut RespConnection, name: &str) -> Vec<String> {
    let Reply::Bulk(Some(list)) = admin
        .command(&[b"CLIENT", b"LIST"])
        .await
        .expect("CLIENT LIST")
    else {
        panic!("CLIENT LIST returns a bulk string");
    };
    let needle = format!(" name={name} ");
    String::from_utf8_lossy(&list)
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect()
}

#[async_std::test]
async fn async_std_pool_recovers_from_killed_connections_and_leaves_nothing_behind() {
    let url = redis_url();
    if !server_available("Redis", &url) {
        return;
    }
    let addr = host_port(&url).expect("REDIS_URL has host:port");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("patinox_async_std_pool_{}_{nanos}", std::process::id());
    let key = format!("{name}:counter");
    let mut admin = RespConnection::connect(&addr)
        .await
        .expect("admin connection");
    let pool = Pool::builder(RedisManager {
        addr: addr.clone(),
        name: name.clone(),
    })
    .max_connections(4)
    .test_on_check_out(true)
    .connection_timeout(Duration::from_secs(5))
    .build()
    .expect("pool");

    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let run_until = Instant::now() + Duration::from_millis(1500);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let pool = pool.clone();
            let key = key.clone();
            let (ok, failed) = (Arc::clone(&ok), Arc::clone(&failed));
            async_std::task::spawn(async move {
                while Instant::now() < run_until {
                    let mut conn = pool.get().await.expect("get");
                    match conn.command(&[b"INCR", key.as_bytes()]).await {
                        Ok(Reply::Integer(_)) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(other) => panic!("INCR replied {other:?}"),
                        // Killed under us; has_broken closes it on return.
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();

    async_std::task::sleep(Duration::from_millis(400)).await;
    let ids = clients_named(&mut admin, &name).await;
    assert!(
        !ids.is_empty() && ids.len() <= 4,
        "pool connections: {ids:?}"
    );
    for id in &ids {
        // A connection may be gone already; only the first kill of each id counts.
        let _ = admin
            .command(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()])
            .await;
    }
    async_std::task::sleep(Duration::from_millis(300)).await;
    let ok_after_kill = ok.load(Ordering::SeqCst);
    for t in tasks {
        t.await;
    }
    assert!(
        ok.load(Ordering::SeqCst) > ok_after_kill,
        "commands succeed again after the kill"
    );
    let stats = pool.stats();
    assert!(
        stats.created > 4,
        "killed connections were replaced: {stats:?}"
    );
    assert_eq!(pool.state().waiting, 0);
    let Reply::Bulk(Some(count)) = admin.command(&[b"GET", key.as_bytes()]).await.expect("GET")
    else {
        panic!("the counter exists");
    };
    let count: usize = String::from_utf8_lossy(&count).parse().expect("a number");
    assert!(
        count >= ok.load(Ordering::SeqCst),
        "every successful INCR counted"
    );

    pool.shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = clients_named(&mut admin, &name).await;
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pool connections still open: {left:?}"
        );
        async_std::task::sleep(Duration::from_millis(20)).await;
    }
    let _ = admin.command(&[b"DEL", key.as_bytes()]).await;
}
