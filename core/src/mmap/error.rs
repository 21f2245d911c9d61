//! [`MmapError`] and its conversion into the crate [`Error`](crate::Error).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What can go wrong with a mapped file.
///
/// Every variant converts into the crate-wide [`Error`](crate::Error): `OutOfBounds` into
/// [`Error::OutOfBounds`](crate::Error::OutOfBounds), the others into
/// [`Error::Io`](crate::Error::Io) with the operation and path kept.
///
/// # Examples
///
/// ```
/// use patinox_memory::mmap::{MappedFileMut, MmapError};
///
/// let dir = std::env::temp_dir().join(format!("patinox-doc-err-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = MappedFileMut::create(dir.join("f"), 8).unwrap();
/// match file.read_at(u64::MAX, 2) {
///     Err(MmapError::OutOfBounds { offset, len, file_len }) => {
///         assert_eq!((offset, len, file_len), (u64::MAX, 2, 8));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// let crate_error: patinox_memory::Error = file.read_at(9, 0).unwrap_err().into();
/// assert!(!crate_error.is_retryable());
/// # drop(file);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MmapError {
    /// An access reached outside the file's current length.
    #[error("access of {len} bytes at offset {offset} is out of bounds for file length {file_len}")]
    OutOfBounds {
        /// Requested start offset.
        offset: u64,
        /// Requested length.
        len: u64,
        /// The file's mapped length.
        file_len: u64,
    },

    /// An I/O call failed. The error's payload names the operation and the path (see
    /// [`MmapError::path`]); its [`kind`](io::Error::kind) is the original one and its
    /// [`source`](std::error::Error::source) is the original error.
    #[error(transparent)]
    Io(io::Error),

    /// The file's advisory lock is held by another handle or process.
    #[error("{} is locked by another handle or process (wanted a {} lock)", path.display(), if *exclusive { "exclusive" } else { "shared" })]
    Locked {
        /// The file.
        path: PathBuf,
        /// Whether an exclusive (writer) lock was wanted.
        exclusive: bool,
    },

    /// The file became shorter than the mapping; the mapping was shrunk to match.
    #[error("{} shrank from {old_len} to {new_len} bytes while mapped", path.display())]
    Shrunk {
        /// The file.
        path: PathBuf,
        /// Length mapped before.
        old_len: u64,
        /// The file's length now (and the mapping's, after the call).
        new_len: u64,
    },

    /// [`grow`](super::MappedFileMut::grow) was asked for a smaller length.
    #[error("cannot grow {} from {len} to {requested} bytes: growing never shrinks", path.display())]
    WouldShrink {
        /// The file.
        path: PathBuf,
        /// Current length.
        len: u64,
        /// Requested length.
        requested: u64,
    },

    /// A length does not fit in this platform's address space.
    #[error("{} bytes of {} do not fit in the address space", len, path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The length asked for.
        len: u64,
    },
}

/// The operation and path attached to an I/O error inside [`MmapError::Io`].
#[derive(Debug)]
struct IoContext {
    operation: &'static str,
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for IoContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.operation,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for IoContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl MmapError {
    /// An I/O error of `operation` on `path`, keeping the original error as the cause.
    pub(crate) fn io(operation: &'static str, path: &Path, source: io::Error) -> Self {
        let kind = source.kind();
        MmapError::Io(io::Error::new(
            kind,
            IoContext {
                operation,
                path: path.to_owned(),
                source,
            },
        ))
    }

    /// The file involved, if the error names one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            MmapError::OutOfBounds { .. } => None,
            MmapError::Io(e) => context(e).map(|c| c.path.as_path()),
            MmapError::Locked { path, .. }
            | MmapError::Shrunk { path, .. }
            | MmapError::WouldShrink { path, .. }
            | MmapError::TooLarge { path, .. } => Some(path),
        }
    }

    /// For [`MmapError::Io`], what was being done (`"open"`, `"lock"`, `"map"`, `"flush"`...).
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            MmapError::Io(e) => context(e).map(|c| c.operation),
            _ => None,
        }
    }
}

fn context(e: &io::Error) -> Option<&IoContext> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<IoContext>())
}

impl From<MmapError> for crate::Error {
    fn from(e: MmapError) -> Self {
        let io_error = |operation, path: PathBuf, kind, message: String| crate::Error::Io {
            operation,
            path: Some(path),
            source: io::Error::new(kind, message),
        };
        match e {
            MmapError::OutOfBounds {
                offset,
                len,
                file_len,
            } => crate::Error::OutOfBounds {
                offset,
                len,
                bound: file_len,
            },
            MmapError::Io(e) => {
                if context(&e).is_some() {
                    if let Some(Ok(ctx)) = e.into_inner().map(|inner| inner.downcast::<IoContext>())
                    {
                        let ctx = *ctx;
                        return crate::Error::Io {
                            operation: ctx.operation,
                            path: Some(ctx.path),
                            source: ctx.source,
                        };
                    }
                    // Unreachable in practice: the payload was just checked to be IoContext.
                    return crate::Error::Io {
                        operation: "mmap",
                        path: None,
                        source: io::Error::other("lost i/o error context"),
                    };
                }
                crate::Error::Io {
                    operation: "mmap",
                    path: None,
                    source: e,
                }
            }
            MmapError::Locked { path, exclusive } => io_error(
                "lock",
                path,
                io::ErrorKind::WouldBlock,
                format!(
                    "{} lock held by another handle or process",
                    if exclusive {
                        "a conflicting"
                    } else {
                        "an exclusive"
                    }
                ),
            ),
            MmapError::Shrunk {
                path,
                old_len,
                new_len,
            } => io_error(
                "refresh",
                path,
                io::ErrorKind::InvalidData,
                format!("file shrank from {old_len} to {new_len} bytes while mapped"),
            ),
            MmapError::WouldShrink {
                path,
                len,
                requested,
            } => io_error(
                "grow",
                path,
                io::ErrorKind::InvalidInput,
                format!("cannot grow from {len} to {requested} bytes"),
            ),
            MmapError::TooLarge { path, len } => io_error(
                "map",
                path,
                io::ErrorKind::FileTooLarge,
                format!("{len} bytes do not fit in the address space"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmap_io_error_keeps_kind_path_and_cause() {
        let e = MmapError::io(
            "open",
            Path::new("/data/x.bin"),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert_eq!(e.path(), Some(Path::new("/data/x.bin")));
        assert_eq!(e.operation(), Some("open"));
        let MmapError::Io(inner) = &e else {
            panic!("not Io")
        };
        assert_eq!(inner.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with("open /data/x.bin: "), "{e}");
        let crate_error: crate::Error = e.into();
        match crate_error {
            crate::Error::Io {
                operation,
                path,
                source,
            } => {
                assert_eq!(operation, "open");
                assert_eq!(path.as_deref(), Some(Path::new("/data/x.bin")));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn mmap_out_of_bounds_converts_to_crate_out_of_bounds() {
        let e = MmapError::OutOfBounds {
            offset: 10,
            len: 4,
            file_len: 12,
        };
        assert!(matches!(
            crate::Error::from(e),
            crate::Error::OutOfBounds {
                offset: 10,
                len: 4,
                bound: 12
            }
        ));
    }

    #[test]
    fn mmap_locked_converts_to_retryable_io() {
        let e: crate::Error = MmapError::Locked {
            path: "/f".into(),
            exclusive: true,
        }
        .into();
        assert!(e.is_retryable());
        let e: crate::Error = MmapError::Shrunk {
            path: "/f".into(),
            old_len: 8,
            new_len: 4,
        }
        .into();
        assert!(!e.is_retryable());
    }
}
