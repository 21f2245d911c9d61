//! Memory-mapped files with bounds-checked access and advisory locking, over `memmap2`.
//!
//! [`MappedFile`] maps a file read-only under a shared advisory lock; [`MappedFileMut`] creates
//! or opens a file, maps it read-write under an exclusive lock, and can flush (now, in the
//! background, or asynchronously) and grow. Every access is checked against the mapped length
//! and returns [`MmapError::OutOfBounds`] instead of panicking; offsets near `u64::MAX` cannot
//! overflow. Zero-length files open fine and read as empty.
//!
//! # Safety
//!
//! The API is safe Rust, but a mapping shares memory with the file, and the operating system
//! lets other processes change the file underneath. What this module guarantees and what it
//! cannot:
//!
//! - **Cooperating processes** (those that use this module, or take `flock` locks on the file)
//!   cannot truncate or write a file while a [`MappedFile`] holds its shared lock, nor map it
//!   while a [`MappedFileMut`] holds the exclusive one. Opening fails with
//!   [`MmapError::Locked`] instead (or waits up to [`MapOptions::lock_timeout`]).
//! - **Processes that ignore the advisory lock** can still truncate the file. Touching a mapped
//!   page that is now past the end of the file raises `SIGBUS`, which kills the process; no
//!   safe Rust check can catch it. [`MappedFile::refresh`] notices a shrink and shrinks the
//!   mapping (returning [`MmapError::Shrunk`]), but a truncation between two `refresh` calls
//!   is not detected before the next access.
//! - Such processes can also write the file while it is mapped: a [`MappedFile`] reader then
//!   sees the bytes change under a `&[u8]` it holds, and a multi-byte read may be *torn* (half
//!   old, half new). Typed reads copy the bytes out, so they never see a value change twice,
//!   but they can see a torn value.
//! - Advisory locks are per open file: a second handle opened by the *same* process conflicts
//!   with the first like another process would (that is how the tests simulate one).
//! - On network file systems `flock` may be emulated or absent; the guarantees above then rely
//!   on the file system.
//!
//! The `unsafe` calls themselves (creating the mappings) live in one private module, each with
//! the invariant it relies on.
//!
//! # Examples
//!
//! ```
//! use patinox_memory::mmap::{MappedFile, MappedFileMut};
//!
//! let dir = std::env::temp_dir().join(format!("patinox-doc-mmap-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("data.bin");
//!
//! let mut writer = MappedFileMut::create(&path, 16)?;
//! writer.write_at(0, b"hello")?;
//! writer.write_u32_le(8, 0xDEAD_BEEF)?;
//! writer.flush()?;
//! drop(writer); // releases the exclusive lock
//!
//! let reader = MappedFile::open(&path)?;
//! assert_eq!(reader.read_at(0, 5)?, b"hello");
//! assert_eq!(reader.read_u32_le(8)?, 0xDEAD_BEEF);
//! assert!(reader.read_at(12, 8).is_err()); // past the end: an error, not a panic
//! # drop(reader);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
/// The bounds-checked read accessors shared by [`MappedFile`] and [`MappedFileMut`], for an
/// `impl` block whose type has `fn as_slice(&self) -> &[u8]`.
macro_rules! read_methods {
    () => {
        /// The `len` bytes at `offset`.
        ///
        /// # Errors
        ///
        /// [`MmapError::OutOfBounds`] if any of them lies past the end (overflow included).
        pub fn read_at(&self, offset: u64, len: usize) -> Result<&[u8], MmapError> {
            slice_at(self.as_slice(), offset, len)
        }

        /// The little-endian `u16` at `offset`.
        ///
        /// # Errors
        ///
        /// [`MmapError::OutOfBounds`] as [`read_at`](Self::read_at).
        pub fn read_u16_le(&self, offset: u64) -> Result<u16, MmapError> {
            array_at(self.as_slice(), offset).map(u16::from_le_bytes)
        }

        /// The little-endian `u32` at `offset`.
        ///
        /// # Errors
        ///
        /// [`MmapError::OutOfBounds`] as [`read_at`](Self::read_at).
        pub fn read_u32_le(&self, offset: u64) -> Result<u32, MmapError> {
            array_at(self.as_slice(), offset).map(u32::from_le_bytes)
        }

        /// The little-endian `u64` at `offset`.
        ///
        /// # Errors
        ///
        /// [`MmapError::OutOfBounds`] as [`read_at`](Self::read_at).
        pub fn read_u64_le(&self, offset: u64) -> Result<u64, MmapError> {
            array_at(self.as_slice(), offset).map(u64::from_le_bytes)
        }
    };
}

mod file;
mod file_mut;
mod managed;
mod raw;

pub use error::MmapError;
pub use file::MappedFile;
pub use file_mut::MappedFileMut;
pub use managed::ManagedMapping;

use std::fmt;
use std::fs::{File, TryLockError};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::monitor::{Event, MmapEvent, Monitor, NoopMonitor};
use crate::sync::StdArc;

/// Access-pattern hints for the kernel (`madvise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// Pages will be read in order: read ahead aggressively.
    Sequential,
    /// Pages will be read in no particular order: do not read ahead.
    Random,
    /// The pages will be needed soon: start reading them in now.
    WillNeed,
    /// Back the mapping with huge pages where the kernel can (`MADV_HUGEPAGE`, Linux only;
    /// accepted and ignored elsewhere). Pages the mapping reads in from then on come in 2 MiB
    /// blocks where the file system supports it, and one page-table entry then covers 2 MiB:
    /// random reads over a large file miss the TLB far less. Worth it for large files read at
    /// random; pages already cached in small blocks stay as they are.
    HugePage,
}

impl Advice {
    /// The `memmap2` advice, or `None` where this platform has no such hint.
    #[cfg(unix)]
    fn to_memmap(self) -> Option<memmap2::Advice> {
        match self {
            Advice::Sequential => Some(memmap2::Advice::Sequential),
            Advice::Random => Some(memmap2::Advice::Random),
            Advice::WillNeed => Some(memmap2::Advice::WillNeed),
            #[cfg(target_os = "linux")]
            Advice::HugePage => Some(memmap2::Advice::HugePage),
            #[cfg(not(target_os = "linux"))]
            Advice::HugePage => None,
        }
    }
}

/// How to open a mapped file: the monitor to report to and how long to wait for the lock.
///
/// # Examples
///
/// ```
/// use patinox_memory::mmap::MapOptions;
/// use patinox_memory::monitor::Metrics;
/// use std::{sync::Arc, time::Duration};
///
/// let metrics = Arc::new(Metrics::new());
/// let dir = std::env::temp_dir().join(format!("patinox-doc-opts-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = MapOptions::new()
///     .monitor(metrics.clone())
///     .lock_timeout(Duration::from_millis(100))
///     .create(dir.join("f"), 4096)?;
/// assert_eq!(file.len(), 4096);
/// # drop(file);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MapOptions {
    monitor: StdArc<dyn Monitor>,
    lock_timeout: Duration,
    populate: bool,
}

impl MapOptions {
    /// Defaults: no monitor, fail at once if the lock is taken, map lazily.
    pub fn new() -> Self {
        Self {
            monitor: StdArc::new(NoopMonitor),
            lock_timeout: Duration::ZERO,
            populate: false,
        }
    }

    /// Pre-faults the whole mapping when it is created (and again after `refresh` or `grow`
    /// remaps): the file is read into the page cache and every page table entry is set up
    /// front, so the first read of each page does not take a page fault. Opening then costs
    /// time proportional to the file's length. Default `false`. Linux only (`MAP_POPULATE`);
    /// ignored elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::mmap::MapOptions;
    ///
    /// let dir = std::env::temp_dir().join(format!("patinox-doc-populate-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("table.bin");
    /// std::fs::write(&path, vec![1u8; 64 * 1024])?;
    ///
    /// let file = MapOptions::new().populate(true).open(&path)?;
    /// assert_eq!(file.read_at(4096, 2)?, [1, 1]);
    /// # drop(file);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn populate(mut self, populate: bool) -> Self {
        self.populate = populate;
        self
    }

    /// Reports [`MmapEvent`]s (mapped, remapped, flushed, unmapped) to `monitor`.
    pub fn monitor(mut self, monitor: StdArc<dyn Monitor>) -> Self {
        self.monitor = monitor;
        self
    }

    /// How long to wait for a conflicting lock to be released before failing with
    /// [`MmapError::Locked`]. Default zero: a single attempt. `Duration::MAX` waits without
    /// bound (polling), for callers that know the holder will finish.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Opens `path` read-only; see [`MappedFile::open`].
    ///
    /// # Errors
    ///
    /// As [`MappedFile::open`].
    pub fn open(&self, path: impl AsRef<Path>) -> Result<MappedFile, MmapError> {
        MappedFile::open_with(path.as_ref(), self)
    }

    /// Creates or opens `path` read-write with length `len`; see [`MappedFileMut::create`].
    ///
    /// # Errors
    ///
    /// As [`MappedFileMut::create`].
    pub fn create(&self, path: impl AsRef<Path>, len: u64) -> Result<MappedFileMut, MmapError> {
        MappedFileMut::open_with(path.as_ref(), Some(len), self)
    }

    /// Opens an existing `path` read-write at its current length; see
    /// [`MappedFileMut::open`].
    ///
    /// # Errors
    ///
    /// As [`MappedFileMut::open`].
    pub fn open_mut(&self, path: impl AsRef<Path>) -> Result<MappedFileMut, MmapError> {
        MappedFileMut::open_with(path.as_ref(), None, self)
    }
}

impl Default for MapOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MapOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapOptions")
            .field("lock_timeout", &self.lock_timeout)
            .field("populate", &self.populate)
            .finish_non_exhaustive()
    }
}

/// The byte range `offset..offset + len` if it lies within `file_len` bytes.
///
/// Pure arithmetic (no OS calls), so miri runs its tests.
fn check_range(offset: u64, len: u64, file_len: u64) -> Result<Range<usize>, MmapError> {
    let out_of_bounds = MmapError::OutOfBounds {
        offset,
        len,
        file_len,
    };
    let end = match offset.checked_add(len) {
        Some(end) if end <= file_len => end,
        _ => return Err(out_of_bounds),
    };
    match (usize::try_from(offset), usize::try_from(end)) {
        (Ok(start), Ok(end)) => Ok(start..end),
        _ => Err(out_of_bounds),
    }
}

/// `bytes[offset..offset + len]`, bounds-checked.
fn slice_at(bytes: &[u8], offset: u64, len: usize) -> Result<&[u8], MmapError> {
    let range = check_range(offset, len as u64, bytes.len() as u64)?;
    let (offset, len) = (offset, len as u64);
    let file_len = bytes.len() as u64;
    bytes.get(range).ok_or(MmapError::OutOfBounds {
        offset,
        len,
        file_len,
    })
}

/// `N` bytes at `offset`, copied out.
fn array_at<const N: usize>(bytes: &[u8], offset: u64) -> Result<[u8; N], MmapError> {
    let slice = slice_at(bytes, offset, N)?;
    <[u8; N]>::try_from(slice).map_err(|_| MmapError::OutOfBounds {
        offset,
        len: N as u64,
        file_len: bytes.len() as u64,
    })
}

/// A mapped length as `usize`, or [`MmapError::TooLarge`].
/// Maps `len` bytes with `map` (given the length as a `usize`), or nothing for an empty file:
/// a zero-length mapping is not possible.
fn map_opt<M>(
    path: &Path,
    len: u64,
    map: impl FnOnce(usize) -> std::io::Result<M>,
) -> Result<Option<M>, MmapError> {
    if len == 0 {
        return Ok(None);
    }
    let n = map_len(path, len)?;
    map(n).map(Some).map_err(|e| MmapError::io("map", path, e))
}

fn map_len(path: &Path, len: u64) -> Result<usize, MmapError> {
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| MmapError::TooLarge {
            path: path.to_owned(),
            len,
        })
}

/// Takes the advisory lock (`exclusive` or shared), polling until `timeout` passes.
fn lock_file(
    file: &File,
    path: &Path,
    exclusive: bool,
    timeout: Duration,
) -> Result<(), MmapError> {
    let deadline = Instant::now().checked_add(timeout);
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(e)) => return Err(MmapError::io("lock", path, e)),
            Err(TryLockError::WouldBlock) => {
                let now = Instant::now();
                let remaining = match deadline {
                    Some(deadline) if now >= deadline => {
                        return Err(MmapError::Locked {
                            path: path.to_owned(),
                            exclusive,
                        });
                    }
                    Some(deadline) => deadline - now,
                    None => pause,
                };
                std::thread::sleep(pause.min(remaining));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// Path and monitor of an open mapping, for events.
struct Reporter {
    path: PathBuf,
    monitor: StdArc<dyn Monitor>,
}

impl Reporter {
    fn emit(&self, event: MmapEvent<'_>) {
        self.monitor.on_event(&Event::Mmap(event));
    }

    fn mapped(&self, len: u64) {
        self.emit(MmapEvent::Mapped {
            path: &self.path,
            len,
        });
    }

    fn remapped(&self, old_len: u64, new_len: u64) {
        self.emit(MmapEvent::Remapped {
            path: &self.path,
            old_len,
            new_len,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_accepts_ranges_inside_the_file() {
        assert_eq!(check_range(0, 0, 0).ok(), Some(0..0));
        assert_eq!(check_range(0, 10, 10).ok(), Some(0..10));
        assert_eq!(check_range(10, 0, 10).ok(), Some(10..10));
        assert_eq!(check_range(3, 4, 10).ok(), Some(3..7));
    }

    #[test]
    fn bounds_rejects_ranges_past_the_end_without_overflow() {
        for (offset, len, file_len) in [
            (0, 1, 0),
            (10, 1, 10),
            (11, 0, 10),
            (u64::MAX, 1, 10),
            (u64::MAX, 0, 10),
            (1, u64::MAX, u64::MAX),
            (u64::MAX, u64::MAX, u64::MAX),
        ] {
            match check_range(offset, len, file_len) {
                Err(MmapError::OutOfBounds {
                    offset: o,
                    len: l,
                    file_len: f,
                }) => assert_eq!((o, l, f), (offset, len, file_len)),
                other => panic!("{offset}+{len} in {file_len}: {other:?}"),
            }
        }
    }

    #[test]
    fn bounds_typed_reads_are_little_endian_and_checked() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(
            array_at::<2>(&bytes, 0).map(u16::from_le_bytes).ok(),
            Some(0x0201)
        );
        assert_eq!(
            array_at::<8>(&bytes, 1).map(u64::from_le_bytes).ok(),
            Some(0x0908_0706_0504_0302)
        );
        assert!(array_at::<4>(&bytes, 6).is_err());
        assert!(array_at::<4>(&bytes, u64::MAX - 1).is_err());
        assert_eq!(slice_at(&[], 0, 0).ok(), Some(&[][..]));
        assert!(slice_at(&[], 0, 1).is_err());
    }
}
