//! [`ManagedMapping`]: a mapped file a [`ResourceRegistry`] can unmap at shutdown.
//!
//! A mapping cannot be released while a slice borrowed from it is alive, so the registry
//! cannot unmap a `MappedFile` that the service still holds. The service therefore hands the
//! file to a `ManagedMapping`, reads it through closures, and registers the mapping as a
//! component; `cleanup_all` then waits (up to its deadline) for readers to finish, flushes a
//! writable mapping, and drops it, which unmaps the file and releases its lock.
//!
//! [`ResourceRegistry`]: crate::resource::ResourceRegistry

use std::fmt;
use std::time::Instant;

use super::{MappedFile, MappedFileMut};
use crate::Error;
use crate::resource::ManagedComponent;
use crate::share::SharedMutableData;

/// A mapped file shared through closures, which a registry unmaps at shutdown.
///
/// # Examples
///
/// ```
/// use patinox_memory::mmap::{ManagedMapping, MappedFileMut};
/// use patinox_memory::resource::ResourceRegistry;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let path = std::env::temp_dir().join(format!("managed-doc-{}.bin", std::process::id()));
/// let file = MappedFileMut::create(&path, 16).unwrap();
/// let mapping = Arc::new(ManagedMapping::new(file));
/// let registry = ResourceRegistry::new();
/// registry.register_component(mapping.clone()).unwrap();
///
/// mapping.with_mut(|f| f.write_u32_le(0, 7)).unwrap().unwrap();
/// assert_eq!(mapping.with(|f| f.read_u32_le(0)).unwrap().unwrap(), 7);
///
/// let report = registry.cleanup_all(Duration::from_secs(1));
/// assert!(report.components[0].result.is_ok());
/// assert!(mapping.with(|f| f.len()).is_none()); // flushed and unmapped
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct ManagedMapping<F> {
    file: SharedMutableData<Option<F>>,
}

impl<F> ManagedMapping<F> {
    /// Takes ownership of a mapped file.
    pub fn new(file: F) -> Self {
        Self {
            file: SharedMutableData::new(Some(file)),
        }
    }

    /// Runs `f` on the file, or returns `None` once it has been unmapped.
    ///
    /// Readers share the lock; a shutdown waits for them (up to its deadline).
    pub fn with<R>(&self, f: impl FnOnce(&F) -> R) -> Option<R> {
        self.file.read().as_ref().map(f)
    }

    /// Runs `f` with exclusive access to the file, or returns `None` once it has been unmapped.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut F) -> R) -> Option<R> {
        self.file.modify(|file| file.as_mut().map(f))
    }

    /// `true` once the file has been unmapped.
    pub fn is_unmapped(&self) -> bool {
        self.file.read().is_none()
    }

    /// Takes the file out (waiting for readers until `deadline`); `Ok(None)` if already taken.
    fn take_by(&self, deadline: Instant) -> Result<Option<F>, Error> {
        let started = Instant::now();
        match self
            .file
            .write_for(deadline.saturating_duration_since(started))
        {
            Some(mut guard) => Ok(guard.take()),
            None => Err(Error::Timeout {
                operation: "unmap (waiting for readers)",
                waited: started.elapsed(),
                last_error: None,
            }),
        }
    }
}

impl<F> fmt::Debug for ManagedMapping<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedMapping")
            .field("unmapped", &self.is_unmapped())
            .finish()
    }
}

/// Shutdown waits for readers, then unmaps the file and releases its shared lock.
impl ManagedComponent for ManagedMapping<MappedFile> {
    fn name(&self) -> &str {
        "mapped file"
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        drop(self.take_by(deadline)?);
        Ok(())
    }
}

/// Shutdown waits for readers and writers, stops the background flusher, flushes, then
/// unmaps the file and releases its exclusive lock. A failed flush is reported, and the file
/// is unmapped all the same.
impl ManagedComponent for ManagedMapping<MappedFileMut> {
    fn name(&self) -> &str {
        "mapped file (writable)"
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        let Some(mut file) = self.take_by(deadline)? else {
            return Ok(());
        };
        file.stop_background_flush();
        let flushed = file.flush();
        drop(file);
        flushed.map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmap::MmapError;
    use std::time::Duration;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("patinox-managed-{name}-{}", std::process::id()))
    }

    #[test]
    fn shutdown_unmaps_and_releases_the_lock() {
        let path = temp("lock");
        std::fs::write(&path, [1u8, 2, 3, 4]).unwrap();
        let mapping = ManagedMapping::new(MappedFile::open(&path).unwrap());
        assert_eq!(
            mapping
                .with(|f| f.read_at(0, 2).map(<[u8]>::to_vec))
                .unwrap()
                .unwrap(),
            [1, 2]
        );
        // The shared lock keeps a writer out while mapped...
        assert!(matches!(
            MappedFileMut::open(&path),
            Err(MmapError::Locked { .. })
        ));
        mapping
            .shutdown(Instant::now() + Duration::from_secs(1))
            .unwrap();
        assert!(mapping.is_unmapped());
        assert!(mapping.with(|f| f.len()).is_none());
        // ...and is released by the shutdown.
        drop(MappedFileMut::open(&path).unwrap());
        mapping.shutdown(Instant::now()).unwrap(); // a second shutdown is a no-op
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn shutdown_times_out_while_a_reader_holds_the_file() {
        let path = temp("busy");
        std::fs::write(&path, [0u8; 8]).unwrap();
        let mapping = std::sync::Arc::new(ManagedMapping::new(MappedFile::open(&path).unwrap()));
        let (entered, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let reader = {
            let mapping = mapping.clone();
            let entered = entered.0;
            let release = release.1;
            std::thread::spawn(move || {
                mapping.with(|_| {
                    entered.send(()).unwrap();
                    release.recv().unwrap();
                })
            })
        };
        entered.1.recv().unwrap();
        let err = mapping
            .shutdown(Instant::now() + Duration::from_millis(30))
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(!mapping.is_unmapped());
        release.0.send(()).unwrap();
        reader.join().unwrap();
        mapping
            .shutdown(Instant::now() + Duration::from_secs(1))
            .unwrap();
        assert!(mapping.is_unmapped());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn writable_shutdown_flushes_before_unmapping() {
        let path = temp("flush");
        let mapping = ManagedMapping::new(MappedFileMut::create(&path, 8).unwrap());
        mapping
            .with_mut(|f| f.write_u64_le(0, 0xDEAD_BEEF))
            .unwrap()
            .unwrap();
        mapping
            .shutdown(Instant::now() + Duration::from_secs(1))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            u64::from_le_bytes(bytes[..8].try_into().unwrap()),
            0xDEAD_BEEF
        );
        std::fs::remove_file(&path).unwrap();
    }
}
