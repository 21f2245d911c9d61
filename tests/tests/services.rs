//! The real servers the integration tests use answer real queries.

use patinox_memory_tests::{database_url, redis_url, server_available};

#[test]
fn postgres_answers_a_query() {
    let url = database_url();
    if !server_available("PostgreSQL", &url) {
        return;
    }
    let mut client =
        postgres::Client::connect(&url, postgres::NoTls).expect("connect to PostgreSQL");
    let row = client.query_one("SELECT 40 + 2", &[]).expect("query");
    let v: i32 = row.get(0);
    assert_eq!(v, 42);
}

#[test]
fn redis_answers_set_and_get() {
    let url = redis_url();
    if !server_available("Redis", &url) {
        return;
    }
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client.get_connection().expect("connect to Redis");
    let key = format!("patinox:services-test:{}", std::process::id());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("ok")
        .arg("EX")
        .arg(60)
        .query(&mut conn)
        .expect("SET");
    let v: String = redis::cmd("GET").arg(&key).query(&mut conn).expect("GET");
    assert_eq!(v, "ok");
    let _: i64 = redis::cmd("DEL").arg(&key).query(&mut conn).expect("DEL");
}
