//! The crate-wide [`Error`], its classification, and [`ConfigError`].
//!
//! Each component has its own small error type (for example the pool's `PoolError` or the
//! mapped files' `MmapError`); every one of them converts into [`Error`] with `?` or `.into()`,
//! so a service can hold one error type for the whole library and still ask the question that
//! matters when something fails: [`Error::is_retryable`].

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// A boxed error from a user-supplied component (a connection manager, a loader, a cleanup).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Whether a failure is worth trying again.
///
/// Transient failures (a timeout, a refused or reset connection, a server that is restarting)
/// are [`ErrorClass::Retryable`]; failures that will happen again on the next attempt (a bad
/// configuration, a wrong password, a closed pool, a read past the end of a file) are
/// [`ErrorClass::Permanent`].
///
/// # Examples
///
/// ```
/// use patinox_memory::error::{ErrorClass, classify_io};
/// use std::io;
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert_eq!(classify_io(&refused), ErrorClass::Retryable);
/// let denied = io::Error::from(io::ErrorKind::PermissionDenied);
/// assert_eq!(classify_io(&denied), ErrorClass::Permanent);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Trying again may succeed.
    Retryable,
    /// Trying again will fail the same way.
    Permanent,
}

impl ErrorClass {
    /// `true` for [`ErrorClass::Retryable`].
    pub fn is_retryable(self) -> bool {
        self == ErrorClass::Retryable
    }
}

/// Classifies an I/O error by its kind.
///
/// Network hiccups, timeouts and interruptions are retryable; everything else (missing files,
/// permissions, invalid input, unsupported operations) is permanent.
pub fn classify_io(err: &io::Error) -> ErrorClass {
    use io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe
        | TimedOut | Interrupted | WouldBlock | UnexpectedEof | AddrInUse | AddrNotAvailable
        | NetworkUnreachable | HostUnreachable | NetworkDown | ResourceBusy => {
            ErrorClass::Retryable
        }
        _ => ErrorClass::Permanent,
    }
}

/// An invalid configuration value: which field, and what is wrong with it.
///
/// Returned by every builder's `build()` and by configuration validation; never a panic.
///
/// # Examples
///
/// ```
/// use patinox_memory::ConfigError;
///
/// let err = ConfigError::new("max_connections", "must be at least 1, got 0");
/// assert_eq!(err.field(), "max_connections");
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: `max_connections` must be at least 1, got 0"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    problem: String,
}

impl ConfigError {
    /// A configuration error for `field`, with a sentence fragment saying what is wrong.
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }

    /// The name of the offending field, as spelled in the builder and the config struct.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong with the field's value.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: `{}` {}",
            self.field, self.problem
        )
    }
}

impl StdError for ConfigError {}

/// The crate-wide error. Every component's error converts into it.
///
/// # Examples
///
/// ```
/// use patinox_memory::{ConfigError, Error};
/// use std::time::Duration;
///
/// let timeout = Error::Timeout { operation: "pool get", waited: Duration::from_secs(1), last_error: None };
/// assert!(timeout.is_retryable());
///
/// let config: Error = ConfigError::new("max_size", "must be at least 1").into();
/// assert!(!config.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An operation waited as long as it was allowed to.
    #[error("{operation} timed out after {waited:?}{}", fmt_last_error(last_error))]
    Timeout {
        /// What timed out, such as `"pool get"`.
        operation: &'static str,
        /// How long it waited.
        waited: Duration,
        /// The last underlying failure seen while waiting (for example a connect error), so a
        /// wrong password shows up as itself and not as a bare timeout.
        last_error: Option<BoxError>,
    },

    /// The component was closed or is shutting down.
    #[error("{what} is closed")]
    Closed {
        /// What was closed, such as `"pool"` or `"resource registry"`.
        what: &'static str,
    },

    /// A user-supplied component (connection manager, loader) failed.
    #[error("{operation} failed: {source}")]
    Backend {
        /// What was being done, such as `"connect"`.
        operation: &'static str,
        /// Whether the failure is worth retrying, as classified by its producer.
        class: ErrorClass,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// An I/O operation failed.
    #[error("{operation} {}: {source}", path.as_ref().map_or_else(|| "(no path)".to_owned(), |p| p.display().to_string()))]
    Io {
        /// What was being done, such as `"open"` or `"flush"`.
        operation: &'static str,
        /// The file involved, if any.
        path: Option<PathBuf>,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// An access outside the bounds of a region (a mapped file, a buffer).
    #[error("access of {len} bytes at offset {offset} is out of bounds for length {bound}")]
    OutOfBounds {
        /// Requested start offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// The length that was available.
        bound: u64,
    },

    /// A user callback panicked; the structure it ran for is intact.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// Which callback, such as `"cache loader"`.
        what: &'static str,
        /// The panic payload, if it was a string.
        message: String,
    },
}

fn fmt_last_error(last: &Option<BoxError>) -> String {
    match last {
        Some(e) => format!(" (last error: {e})"),
        None => String::new(),
    }
}

impl Error {
    /// Whether the same operation may succeed if tried again.
    ///
    /// Timeouts are retryable; configuration errors, closed components, out-of-bounds accesses
    /// and panicking callbacks are not; backend and I/O errors follow their classification.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }

    /// The [`ErrorClass`] of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Timeout { .. } => ErrorClass::Retryable,
            Error::Backend { class, .. } => *class,
            Error::Io { source, .. } => classify_io(source),
            Error::Config(_)
            | Error::Closed { .. }
            | Error::OutOfBounds { .. }
            | Error::Panicked { .. } => ErrorClass::Permanent,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io {
            operation: "i/o",
            path: None,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_retryable() {
        let e = Error::Timeout {
            operation: "pool get",
            waited: Duration::from_millis(5),
            last_error: None,
        };
        assert!(e.is_retryable());
    }

    #[test]
    fn config_closed_bounds_and_panics_are_permanent() {
        let cases = [
            Error::Config(ConfigError::new("shards", "must be a power of two, got 3")),
            Error::Closed { what: "pool" },
            Error::OutOfBounds {
                offset: 10,
                len: 5,
                bound: 12,
            },
            Error::Panicked {
                what: "cache loader",
                message: "boom".into(),
            },
        ];
        for e in cases {
            assert!(!e.is_retryable(), "{e} should be permanent");
        }
    }

    #[test]
    fn backend_errors_follow_their_class() {
        let auth = Error::Backend {
            operation: "connect",
            class: ErrorClass::Permanent,
            source: "password authentication failed".into(),
        };
        assert!(!auth.is_retryable());
        let refused = Error::Backend {
            operation: "connect",
            class: ErrorClass::Retryable,
            source: Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)),
        };
        assert!(refused.is_retryable());
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        let refused: Error = io::Error::from(io::ErrorKind::ConnectionRefused).into();
        assert!(refused.is_retryable());
        let missing: Error = io::Error::from(io::ErrorKind::NotFound).into();
        assert!(!missing.is_retryable());
        assert_eq!(
            classify_io(&io::Error::from(io::ErrorKind::TimedOut)),
            ErrorClass::Retryable
        );
        assert_eq!(
            classify_io(&io::Error::from(io::ErrorKind::InvalidInput)),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn config_error_names_field_and_problem() {
        let e = ConfigError::new(
            "min_connections",
            "must not exceed max_connections (5), got 8",
        );
        assert_eq!(e.field(), "min_connections");
        assert_eq!(e.problem(), "must not exceed max_connections (5), got 8");
        assert_eq!(
            e.to_string(),
            "invalid configuration: `min_connections` must not exceed max_connections (5), got 8"
        );
        let wrapped: Error = e.clone().into();
        assert_eq!(wrapped.to_string(), e.to_string());
    }

    #[test]
    fn timeout_message_carries_last_error() {
        let e = Error::Timeout {
            operation: "pool get",
            waited: Duration::from_millis(250),
            last_error: Some("password authentication failed for user \"app\"".into()),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("pool get timed out after 250ms"), "{msg}");
        assert!(msg.contains("password authentication failed"), "{msg}");
    }

    #[test]
    fn io_error_message_names_path() {
        let e = Error::Io {
            operation: "open",
            path: Some(PathBuf::from("/data/file.bin")),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("open /data/file.bin: "), "{msg}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
