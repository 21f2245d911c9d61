//! What the pool needs from a database driver: [`ManageConnection`], and the optional
//! [`CustomizeConnection`] hooks.

use crate::error::ErrorClass;

/// Opens and checks connections for a [`Pool`](super::Pool).
///
/// The pool calls these methods with no lock held, from the thread doing the `get` (or from
/// the pool's maintenance thread), and catches a panic in any of them: a panicking `connect`
/// fails that get, a panicking `is_valid` or `has_broken` counts as a bad connection.
///
/// # Examples
///
/// ```
/// use patinox_memory::pool::ManageConnection;
/// use std::io;
///
/// struct Numbers;
///
/// impl ManageConnection for Numbers {
///     type Connection = u32;
///     type Error = io::Error;
///     fn connect(&self) -> Result<u32, io::Error> {
///         Ok(42)
///     }
///     fn is_valid(&self, conn: &mut u32) -> Result<(), io::Error> {
///         if *conn == 42 { Ok(()) } else { Err(io::ErrorKind::InvalidData.into()) }
///     }
/// }
/// # let _ = Numbers.connect();
/// ```
pub trait ManageConnection: Send + Sync + 'static {
    /// The connection type.
    type Connection: Send + 'static;
    /// The error `connect` and `is_valid` return.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection.
    ///
    /// # Errors
    ///
    /// Whatever the driver reports; the pool asks [`ManageConnection::classify`] whether to
    /// keep trying.
    fn connect(&self) -> Result<Self::Connection, Self::Error>;

    /// Checks that a connection still works (for example with `SELECT 1`). Run on check-out
    /// when `test_on_check_out` is set, and in the background every
    /// `health_check_interval`.
    ///
    /// # Errors
    ///
    /// An error means the connection is closed and replaced.
    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error>;

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

/// Hooks run when a connection is opened and before it is closed, like r2d2's customizer.
///
/// Both run with no lock held; a panic in either is caught (a panicking `on_acquire` fails the
/// connect, a panicking `on_release` is ignored and the connection is dropped anyway).
///
/// # Examples
///
/// ```
/// use patinox_memory::pool::CustomizeConnection;
///
/// #[derive(Debug)]
/// struct SetTimezone;
///
/// impl CustomizeConnection<Vec<String>, std::io::Error> for SetTimezone {
///     fn on_acquire(&self, conn: &mut Vec<String>) -> Result<(), std::io::Error> {
///         conn.push("SET TIME ZONE 'UTC'".into());
///         Ok(())
///     }
/// }
/// ```
pub trait CustomizeConnection<C, E>: Send + Sync + std::fmt::Debug + 'static {
    /// Called once on each new connection, before anyone uses it.
    ///
    /// # Errors
    ///
    /// An error is treated like a failed `connect` (classified by the manager).
    fn on_acquire(&self, _conn: &mut C) -> Result<(), E> {
        Ok(())
    }

    /// Called with a connection the pool is about to close; dropping it closes it.
    fn on_release(&self, _conn: C) {}
}

/// The default hooks: do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopCustomizer;

impl<C, E> CustomizeConnection<C, E> for NoopCustomizer {}
