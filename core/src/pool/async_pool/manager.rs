//! [`AsyncManageConnection`]: what the async pool needs from a database driver.

use std::future::Future;

use crate::ErrorClass;

/// Opens and checks connections for an [`AsyncPool`](super::AsyncPool).
///
/// Implement it with `async fn`: the methods are declared as returning `impl Future + Send`,
/// so the pool's futures stay `Send` and can move between worker threads. The pool calls them
/// with no lock held and catches a panic in any of them: a panicking `connect` fails that get,
/// a panicking `is_valid` or `has_broken` counts as a bad connection.
///
/// A `connect` or `is_valid` still running when its get's deadline passes (or when the get's
/// future is dropped) is dropped at once: unlike the blocking pool, the async pool can
/// interrupt them. The slot is given back to the pool.
///
/// The adapters export it as `pool::ManageConnection`; in the example, `adapter` stands for
/// either adapter crate.
#[doc = crate::async_example!(r#"
use adapter::pool::ManageConnection;
use std::io;

struct Numbers;

impl ManageConnection for Numbers {
    type Connection = u32;
    type Error = io::Error;
    async fn connect(&self) -> Result<u32, io::Error> {
        Ok(42)
    }
    async fn is_valid(&self, conn: &mut u32) -> Result<(), io::Error> {
        if *conn == 42 { Ok(()) } else { Err(io::ErrorKind::InvalidData.into()) }
    }
}
assert_eq!(Numbers.connect().await?, 42);
"#)]
pub trait AsyncManageConnection: Send + Sync + 'static {
    /// The connection type.
    type Connection: Send + 'static;
    /// The error `connect` and `is_valid` return.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection.
    ///
    /// # Errors
    ///
    /// Whatever the driver reports; the pool asks [`AsyncManageConnection::classify`] whether to
    /// keep trying.
    ///
    /// # Cancel safety
    ///
    /// The pool drops this future when the get's deadline passes or the get is cancelled;
    /// implementations must not leave shared state half-updated at an await point.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Checks that a connection still works (for example with `SELECT 1`). Run on check-out
    /// when `test_on_check_out` is set, and in the background every
    /// `health_check_interval`.
    ///
    /// # Errors
    ///
    /// An error means the connection is closed and replaced.
    ///
    /// # Cancel safety
    ///
    /// If this future is dropped before it finishes (a cancelled get), the connection is
    /// closed, since its state is unknown.
    fn is_valid(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A cheap check, run each time a connection is returned, that it has not visibly broken
    /// (a closed socket, a failed transaction). Must not do I/O. Defaults to `false`.
    fn has_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }

    /// Whether a `connect` error is worth retrying. A [`ErrorClass::Permanent`] error (a wrong
    /// password, an unknown database) fails the get at once, and the gets waiting behind it
    /// too, instead of retrying until their deadline. Defaults to retryable.
    fn classify(&self, _err: &Self::Error) -> ErrorClass {
        ErrorClass::Retryable
    }
}
