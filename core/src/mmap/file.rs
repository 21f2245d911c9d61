//! [`MappedFile`]: a read-only mapping under a shared advisory lock.

use std::fmt;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::{Advice, MapOptions, MmapError, Reporter, array_at, lock_file, map_opt, raw, slice_at};
use crate::monitor::MmapEvent;

/// A file mapped read-only, with bounds-checked access.
///
/// Opening takes a shared advisory lock on the file (released when the `MappedFile` is
/// dropped), so cooperating writers, including [`MappedFileMut`](super::MappedFileMut), cannot
/// truncate or rewrite it meanwhile. A file that grows is picked up by
/// [`refresh`](MappedFile::refresh).
///
/// # Safety
///
/// Safe to use, with one caveat that no library can remove: a process that **ignores** the
/// advisory lock can truncate the file, and touching a mapped page past the new end kills this
/// process with `SIGBUS`; it can also write the file, and reads may then see changing or torn
/// data. See the [module documentation](super#safety) for the details.
///
/// # Examples
///
/// ```
/// use patinox_memory::mmap::MappedFile;
///
/// let dir = std::env::temp_dir().join(format!("patinox-doc-file-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("table.bin");
/// std::fs::write(&path, [7u8, 0, 1, 0])?;
///
/// let file = MappedFile::open(&path)?;
/// assert_eq!(file.len(), 4);
/// assert_eq!(file.read_u16_le(0)?, 7);
/// assert_eq!(file.read_u16_le(2)?, 1);
/// assert!(file.read_u16_le(3).is_err());
/// # drop(file);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MappedFile {
    /// `None` when the file is empty: a zero-length mapping is not possible.
    map: Option<Mmap>,
    len: u64,
    /// Holds the shared lock; kept open for the mapping's whole life.
    file: File,
    /// Pre-fault the page tables when (re)mapping ([`MapOptions::populate`]).
    populate: bool,
    reporter: Reporter,
}

impl MappedFile {
    /// Opens and maps `path` read-only, taking a shared advisory lock (failing at once if a
    /// writer holds the exclusive one; use [`MapOptions::lock_timeout`] to wait).
    ///
    /// # Errors
    ///
    /// [`MmapError::Io`] if the file cannot be opened or mapped, [`MmapError::Locked`] if a
    /// writer holds the lock, [`MmapError::TooLarge`] if it does not fit in memory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MmapError> {
        Self::open_with(path.as_ref(), &MapOptions::new())
    }

    /// Options for opening with a monitor or a lock timeout.
    pub fn options() -> MapOptions {
        MapOptions::new()
    }

    pub(super) fn open_with(path: &Path, options: &MapOptions) -> Result<Self, MmapError> {
        let file = File::open(path).map_err(|e| MmapError::io("open", path, e))?;
        lock_file(&file, path, false, options.lock_timeout)?;
        let len = file
            .metadata()
            .map_err(|e| MmapError::io("stat", path, e))?
            .len();
        let map = map_opt(path, len, |n| raw::map_read(&file, n, options.populate))?;
        let reporter = Reporter {
            path: path.to_owned(),
            monitor: options.monitor.clone(),
        };
        reporter.mapped(len);
        Ok(Self {
            map,
            len,
            file,
            populate: options.populate,
            reporter,
        })
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the mapped length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.reporter.path
    }

    /// All mapped bytes (empty for an empty file).
    pub fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    read_methods!();

    /// Tells the kernel how the mapping will be read. A no-op for an empty file, and on
    /// platforms without `madvise`.
    ///
    /// # Errors
    ///
    /// [`MmapError::Io`] if `madvise` fails.
    pub fn advise(&self, advice: Advice) -> Result<(), MmapError> {
        // `madvise` exists on Unix only; elsewhere the hint is accepted and ignored.
        #[cfg(unix)]
        if let (Some(map), Some(advice)) = (&self.map, advice.to_memmap()) {
            map.advise(advice)
                .map_err(|e| MmapError::io("advise", self.path(), e))?;
        }
        #[cfg(not(unix))]
        let _ = advice;
        Ok(())
    }

    /// Re-reads the file's length and remaps if it changed. Returns whether it remapped.
    ///
    /// Growth (by a writer that ignores or has dropped the lock, or by this process through
    /// another handle) becomes readable. A shrink is an error, but the mapping is shrunk to the
    /// new length first, so later reads are checked against it instead of touching pages past
    /// the end.
    ///
    /// # Errors
    ///
    /// [`MmapError::Shrunk`] if the file got shorter (the mapping now has the new length);
    /// [`MmapError::Io`] if the length cannot be read or the file cannot be remapped.
    pub fn refresh(&mut self) -> Result<bool, MmapError> {
        let path = self.reporter.path.clone();
        let new_len = self
            .file
            .metadata()
            .map_err(|e| MmapError::io("stat", &path, e))?
            .len();
        let old_len = self.len;
        if new_len == old_len {
            return Ok(false);
        }
        // Unmap before mapping again when shrinking, so no page past the end stays reachable.
        if new_len < old_len {
            self.map = None;
            self.len = 0;
        }
        self.map = map_opt(&path, new_len, |n| {
            raw::map_read(&self.file, n, self.populate)
        })?;
        self.len = new_len;
        self.reporter.remapped(old_len, new_len);
        if new_len < old_len {
            return Err(MmapError::Shrunk {
                path,
                old_len,
                new_len,
            });
        }
        Ok(true)
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        self.map = None;
        self.reporter.emit(MmapEvent::Unmapped {
            path: &self.reporter.path,
        });
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.reporter.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}
