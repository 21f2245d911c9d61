//! [`PoolError`], what a failed get reports.

use crate::sync::StdArc as Arc;
use std::time::Duration;

use crate::error::{Error, ErrorClass};

/// Why a [`Pool::get`](super::Pool::get) failed.
///
/// Converts into the crate-wide [`Error`] with `?`.
///
/// # Examples
///
/// ```
/// use patinox_memory::pool::PoolError;
/// use std::time::Duration;
///
/// let err: PoolError<std::io::Error> = PoolError::Timeout {
///     waited: Duration::from_millis(250),
///     last_error: None,
/// };
/// let crate_err: patinox_memory::Error = err.into();
/// assert!(crate_err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError<E: std::error::Error + 'static> {
    /// No connection became available before the deadline.
    #[error("pool get timed out after {waited:?}{}", fmt_last(last_error.as_deref()))]
    Timeout {
        /// How long the get waited.
        waited: Duration,
        /// The last connect error seen while waiting (by this get, another one or the
        /// background thread), so a refused connection shows up as itself.
        last_error: Option<Arc<E>>,
    },
    /// The pool was closed (by `close`, `shutdown`, or dropping its last handle).
    #[error("pool is closed")]
    Closed,
    /// This get's own `connect` failed with an error the manager classified as permanent.
    #[error("connect failed: {0}")]
    Backend(#[source] E),
    /// While this get waited, another get's `connect` failed with a permanent error; waiting
    /// longer would not help. Carries that error's message.
    #[error("connect failed for a get ahead of this one: {message}")]
    Rejected {
        /// The permanent error's message.
        message: String,
    },
    /// `connect` (or the `on_acquire` hook) panicked; the panic was caught.
    #[error("connect panicked: {message}")]
    Panicked {
        /// The panic message, if it was a string.
        message: String,
    },
}

fn fmt_last<E: std::fmt::Display>(last: Option<&E>) -> String {
    match last {
        Some(e) => format!(" (last connect error: {e})"),
        None => String::new(),
    }
}

impl<E: std::error::Error + 'static> PoolError<E> {
    /// `true` for [`PoolError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, PoolError::Timeout { .. })
    }

    /// `true` for [`PoolError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, PoolError::Closed)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<PoolError<E>> for Error {
    fn from(err: PoolError<E>) -> Self {
        match err {
            PoolError::Timeout { waited, last_error } => Error::Timeout {
                operation: "pool get",
                waited,
                last_error: last_error.map(|e| Box::new(e) as crate::BoxError),
            },
            PoolError::Closed => Error::Closed { what: "pool" },
            PoolError::Backend(source) => Error::Backend {
                operation: "connect",
                class: ErrorClass::Permanent,
                source: Box::new(source),
            },
            PoolError::Rejected { message } => Error::Backend {
                operation: "connect",
                class: ErrorClass::Permanent,
                source: message.into(),
            },
            PoolError::Panicked { message } => Error::Panicked {
                what: "connect",
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn timeout_carries_the_last_connect_error() {
        let err: PoolError<io::Error> = PoolError::Timeout {
            waited: Duration::from_millis(30),
            last_error: Some(Arc::new(io::Error::other("password authentication failed"))),
        };
        let msg = err.to_string();
        assert!(
            msg.contains("30ms") && msg.contains("password authentication"),
            "{msg}"
        );
        let crate_err: Error = err.into();
        assert!(crate_err.is_retryable());
        assert!(crate_err.to_string().contains("password authentication"));
    }

    #[test]
    fn closed_backend_and_panics_are_permanent() {
        let cases: Vec<PoolError<io::Error>> = vec![
            PoolError::Closed,
            PoolError::Backend(io::Error::other("no such database")),
            PoolError::Rejected {
                message: "no such database".into(),
            },
            PoolError::Panicked {
                message: "boom".into(),
            },
        ];
        for e in cases {
            let text = e.to_string();
            let crate_err: Error = e.into();
            assert!(!crate_err.is_retryable(), "{text}");
        }
    }
}
