//! Shared helpers for the integration tests: where the real servers are, and what to do when
//! one does not answer.
//!
//! Tests read `DATABASE_URL` and `REDIS_URL` (defaults: PostgreSQL at
//! `postgres://postgres@127.0.0.1:5432/test`, Redis at `redis://127.0.0.1:6379`). When
//! `PATINOX_REQUIRE_SERVICES=1` (as in CI) a server that does not answer fails the test;
//! otherwise the test prints why it skipped and returns.

pub mod pg;
pub mod resp;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// PostgreSQL connection string for the tests.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Redis connection string for the tests.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether a missing server must fail the test run (`PATINOX_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    matches!(
        std::env::var("PATINOX_REQUIRE_SERVICES").as_deref(),
        Ok("1" | "true" | "yes")
    )
}

/// `host:port` of a URL like `scheme://user@host:port/db`.
pub fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    Some(host_port.to_owned())
}

/// Checks that the server behind `url` accepts TCP connections within two seconds.
///
/// Returns `true` when it does. When it does not: panics if services are required, else prints
/// the reason the calling test skips and returns `false`.
pub fn server_available(what: &str, url: &str) -> bool {
    let reachable = host_port(url)
        .and_then(|hp| hp.to_socket_addrs().ok())
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    if reachable {
        return true;
    }
    assert!(
        !services_required(),
        "{what} at {url} does not answer, and PATINOX_REQUIRE_SERVICES=1 requires it"
    );
    eprintln!(
        "skipping: {what} at {url} does not answer (set PATINOX_REQUIRE_SERVICES=1 to fail instead)"
    );
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_is_parsed_from_urls() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/test").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            host_port("redis://127.0.0.1:6379").as_deref(),
            Some("127.0.0.1:6379")
        );
        assert_eq!(
            host_port("redis://:pw@localhost:6380/0").as_deref(),
            Some("localhost:6380")
        );
        assert_eq!(host_port("not a url"), None);
    }
}
