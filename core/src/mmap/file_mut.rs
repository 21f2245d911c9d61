//! [`MappedFileMut`]: a read-write mapping under an exclusive advisory lock, with flushing and
//! growth.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use memmap2::MmapMut;

use super::{
    Advice, MapOptions, MmapError, Reporter, array_at, check_range, lock_file, map_len, map_opt,
    raw, slice_at,
};
use crate::monitor::{Event, MmapEvent, Monitor};
use crate::sync::{Condvar, Mutex, StdArc, Weak, thread};
use crate::util::catch_panic;

/// A file mapped read-write, with bounds-checked access, flushing and growth.
///
/// Creating or opening takes an exclusive advisory lock on the file (released on drop), so no
/// cooperating reader or writer maps it meanwhile. Writes land in the page cache at once and
/// reach the disk on [`flush`](MappedFileMut::flush), [`flush_async`](MappedFileMut::flush_async),
/// a [background flusher](MappedFileMut::start_background_flush), or whenever the kernel writes
/// dirty pages back.
///
/// # Safety
///
/// As for [`MappedFile`](super::MappedFile): a process that ignores the advisory lock and
/// truncates the file makes the next access to a page past the new end raise `SIGBUS`. See the
/// [module documentation](super#safety).
///
/// # Examples
///
/// ```
/// use patinox_memory::mmap::MappedFileMut;
///
/// let dir = std::env::temp_dir().join(format!("patinox-doc-mut-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut log = MappedFileMut::create(dir.join("log.bin"), 8)?;
/// log.write_u64_le(0, 42)?;
/// log.grow(16)?;
/// log.write_at(8, b"appended")?;
/// log.flush()?;
/// assert_eq!(log.read_u64_le(0)?, 42);
/// assert_eq!(log.read_at(8, 8)?, b"appended");
/// assert!(log.write_at(15, b"xx").is_err());
/// # drop(log);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MappedFileMut {
    /// `None` when the length is zero.
    map: Option<MmapMut>,
    len: u64,
    /// Holds the exclusive lock.
    file: File,
    /// Pre-fault the page tables when (re)mapping ([`MapOptions::populate`]).
    populate: bool,
    reporter: Reporter,
    /// Dropped (stopped and joined) before `file` so the lock is released with the handle.
    flusher: Option<Flusher>,
}

impl MappedFileMut {
    /// Creates `path` if needed, sets its length to `len` and maps it read-write, under an
    /// exclusive advisory lock taken *before* the length changes (so a locked file is never
    /// truncated). Existing content up to `len` is kept; new bytes are zero.
    ///
    /// # Errors
    ///
    /// [`MmapError::Locked`] if another handle or process holds a lock on the file;
    /// [`MmapError::Io`] if it cannot be opened, resized or mapped; [`MmapError::TooLarge`].
    pub fn create(path: impl AsRef<Path>, len: u64) -> Result<Self, MmapError> {
        Self::open_with(path.as_ref(), Some(len), &MapOptions::new())
    }

    /// Opens an existing `path` read-write at its current length, under an exclusive lock.
    ///
    /// # Errors
    ///
    /// As [`create`](Self::create); also [`MmapError::Io`] (not found) if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MmapError> {
        Self::open_with(path.as_ref(), None, &MapOptions::new())
    }

    pub(super) fn open_with(
        path: &Path,
        len: Option<u64>,
        options: &MapOptions,
    ) -> Result<Self, MmapError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(len.is_some())
            .truncate(false)
            .open(path)
            .map_err(|e| MmapError::io("open", path, e))?;
        lock_file(&file, path, true, options.lock_timeout)?;
        let len = match len {
            Some(len) => {
                map_len(path, len)?;
                file.set_len(len)
                    .map_err(|e| MmapError::io("set_len", path, e))?;
                len
            }
            None => file
                .metadata()
                .map_err(|e| MmapError::io("stat", path, e))?
                .len(),
        };
        let map = map_opt(path, len, |n| raw::map_write(&file, n, options.populate))?;
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
            flusher: None,
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

    /// All mapped bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// All mapped bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or(&mut [])
    }

    read_methods!();

    /// Copies `data` to `offset`. Nothing is written if any byte would land past the end.
    ///
    /// # Errors
    ///
    /// [`MmapError::OutOfBounds`] if `offset + data.len()` exceeds the length (overflow
    /// included).
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), MmapError> {
        let range = check_range(offset, data.len() as u64, self.len)?;
        let file_len = self.len;
        match self.as_mut_slice().get_mut(range) {
            Some(target) => {
                target.copy_from_slice(data);
                Ok(())
            }
            None => Err(MmapError::OutOfBounds {
                offset,
                len: data.len() as u64,
                file_len,
            }),
        }
    }

    /// Writes `value` little-endian at `offset`.
    ///
    /// # Errors
    ///
    /// [`MmapError::OutOfBounds`] as [`write_at`](Self::write_at).
    pub fn write_u16_le(&mut self, offset: u64, value: u16) -> Result<(), MmapError> {
        self.write_at(offset, &value.to_le_bytes())
    }

    /// Writes `value` little-endian at `offset`.
    ///
    /// # Errors
    ///
    /// [`MmapError::OutOfBounds`] as [`write_at`](Self::write_at).
    pub fn write_u32_le(&mut self, offset: u64, value: u32) -> Result<(), MmapError> {
        self.write_at(offset, &value.to_le_bytes())
    }

    /// Writes `value` little-endian at `offset`.
    ///
    /// # Errors
    ///
    /// [`MmapError::OutOfBounds`] as [`write_at`](Self::write_at).
    pub fn write_u64_le(&mut self, offset: u64, value: u64) -> Result<(), MmapError> {
        self.write_at(offset, &value.to_le_bytes())
    }

    /// Writes every modified page to the file and waits until it is done (`msync(MS_SYNC)`).
    ///
    /// # Errors
    ///
    /// [`MmapError::Io`] if the write-back fails.
    pub fn flush(&self) -> Result<(), MmapError> {
        let start = Instant::now();
        if let Some(map) = &self.map {
            map.flush()
                .map_err(|e| MmapError::io("flush", self.path(), e))?;
        }
        self.reporter.emit(MmapEvent::Flushed {
            path: &self.reporter.path,
            took: start.elapsed(),
        });
        Ok(())
    }

    /// Starts writing modified pages back and returns at once (`msync(MS_ASYNC)`).
    ///
    /// # Errors
    ///
    /// [`MmapError::Io`] if the kernel rejects the request.
    pub fn flush_async(&self) -> Result<(), MmapError> {
        if let Some(map) = &self.map {
            map.flush_async()
                .map_err(|e| MmapError::io("flush_async", self.path(), e))?;
        }
        Ok(())
    }

    /// Starts a background thread that writes modified pages to disk every `interval`
    /// (`fdatasync` on the file, which on Linux includes pages dirtied through the mapping),
    /// replacing any flusher already running. It reports [`MmapEvent::Flushed`] after each
    /// round, and stops when this handle is dropped or
    /// [`stop_background_flush`](Self::stop_background_flush) is called.
    ///
    /// # Errors
    ///
    /// [`MmapError::Io`] if the file handle cannot be duplicated or the thread not spawned.
    pub fn start_background_flush(&mut self, interval: Duration) -> Result<(), MmapError> {
        self.stop_background_flush();
        let file = self
            .file
            .try_clone()
            .map_err(|e| MmapError::io("start flusher", self.path(), e))?;
        let flusher = Flusher::start(
            file,
            Reporter {
                path: self.reporter.path.clone(),
                monitor: self.reporter.monitor.clone(),
            },
            interval,
        )
        .map_err(|e| MmapError::io("start flusher", self.path(), e))?;
        self.flusher = Some(flusher);
        Ok(())
    }

    /// Stops the background flusher, if any, waiting for a round in progress to finish.
    pub fn stop_background_flush(&mut self) {
        self.flusher = None;
    }

    /// The last error the background flusher met, if any (taken: a second call returns `None`).
    pub fn take_background_flush_error(&self) -> Option<io::Error> {
        self.flusher
            .as_ref()
            .and_then(|f| f.shared.state.lock().last_error.take())
    }

    /// Tells the kernel how the mapping will be accessed. A no-op for an empty file, and on
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

    /// Extends the file to `new_len` bytes (new bytes are zero) and remaps it. Content written
    /// so far is kept: the old and new mappings share the page cache.
    ///
    /// # Errors
    ///
    /// [`MmapError::WouldShrink`] if `new_len` is smaller than the current length;
    /// [`MmapError::Io`] if the file cannot be resized or remapped (the old mapping then stays);
    /// [`MmapError::TooLarge`].
    pub fn grow(&mut self, new_len: u64) -> Result<(), MmapError> {
        let old_len = self.len;
        if new_len < old_len {
            return Err(MmapError::WouldShrink {
                path: self.reporter.path.clone(),
                len: old_len,
                requested: new_len,
            });
        }
        if new_len == old_len {
            return Ok(());
        }
        let path = self.reporter.path.clone();
        map_len(&path, new_len)?;
        self.file
            .set_len(new_len)
            .map_err(|e| MmapError::io("set_len", &path, e))?;
        self.map = map_opt(&path, new_len, |n| {
            raw::map_write(&self.file, n, self.populate)
        })?;
        self.len = new_len;
        self.reporter.remapped(old_len, new_len);
        Ok(())
    }
}

impl Drop for MappedFileMut {
    fn drop(&mut self) {
        // Stop the flusher first: its duplicated handle shares the lock.
        self.flusher = None;
        self.map = None;
        self.reporter.emit(MmapEvent::Unmapped {
            path: &self.reporter.path,
        });
    }
}

impl fmt::Debug for MappedFileMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFileMut")
            .field("path", &self.reporter.path)
            .field("len", &self.len)
            .field("background_flush", &self.flusher.is_some())
            .finish_non_exhaustive()
    }
}

/// A background thread that `fdatasync`s the file every interval.
///
/// The thread holds only a [`Weak`] to the shared state, upgrading it for each round, and
/// exits when the state is gone or `stopped` is set; dropping the `Flusher` sets `stopped`,
/// wakes it and joins it (waiting at most for one `fdatasync` in progress), so the duplicated
/// file handle, and with it the lock, is closed before the owner's.
struct Flusher {
    shared: StdArc<FlushShared>,
    thread: Option<thread::JoinHandle<()>>,
}

struct FlushShared {
    file: File,
    reporter: Reporter,
    state: Mutex<FlushState>,
    wake: Condvar,
}

struct FlushState {
    stopped: bool,
    last_error: Option<io::Error>,
}

impl Flusher {
    fn start(file: File, reporter: Reporter, interval: Duration) -> io::Result<Self> {
        let shared = StdArc::new(FlushShared {
            file,
            reporter,
            state: Mutex::new(FlushState {
                stopped: false,
                last_error: None,
            }),
            wake: Condvar::new(),
        });
        let weak = StdArc::downgrade(&shared);
        let thread = thread::Builder::new()
            .name("patinox-mmap-flush".into())
            .spawn(move || flush_loop(&weak, interval))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }
}

fn flush_loop(shared: &Weak<FlushShared>, interval: Duration) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        {
            let mut state = shared.state.lock();
            if !state.stopped {
                // Bounded by `interval`; a stop request wakes it early.
                let _ = shared.wake.wait_for(&mut state, interval);
            }
            if state.stopped {
                return;
            }
        }
        let start = Instant::now();
        match shared.file.sync_data() {
            Ok(()) => {
                let event = Event::Mmap(MmapEvent::Flushed {
                    path: &shared.reporter.path,
                    took: start.elapsed(),
                });
                // A panicking monitor must not kill the flusher.
                let _ = catch_panic(|| shared.reporter.monitor.on_event(&event));
            }
            Err(e) => shared.state.lock().last_error = Some(e),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.state.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // The loop contains the monitor's panics, so the thread returns normally.
            let _ = thread.join();
        }
    }
}
