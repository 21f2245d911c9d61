//! The only unsafe code of the mapped files: creating the mappings.
//!
//! `memmap2` marks mapping a file `unsafe` because the returned slice is only valid while no
//! one truncates or (for read-only mappings) modifies the file. The callers in this module's
//! parent uphold what they can (see the `# Safety` section of [`MappedFile`](super::MappedFile)):
//! they hold the file's advisory lock for the mapping's whole life, they map exactly the length
//! they just read or set, and they re-check the length on `refresh`.

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapMut, MmapOptions};

/// Options for `len` bytes, pre-faulted when `populate` is set (`MAP_POPULATE` on Linux;
/// ignored elsewhere).
fn options(len: usize, populate: bool) -> MmapOptions {
    let mut options = MmapOptions::new();
    options.len(len);
    if populate {
        options.populate();
    }
    options
}

/// Maps the first `len` bytes of `file` read-only and shared. `len` must be non-zero.
pub(super) fn map_read(file: &File, len: usize, populate: bool) -> io::Result<Mmap> {
    // SAFETY: the caller holds a shared advisory lock on `file` for the mapping's life, so
    // cooperating processes cannot truncate or write it; `len` is the file's current length.
    // Pre-faulting reads the same pages earlier and changes nothing about their validity.
    unsafe { options(len, populate).map(file) }
}

/// Maps the first `len` bytes of `file` read-write and shared. `len` must be non-zero.
pub(super) fn map_write(file: &File, len: usize, populate: bool) -> io::Result<MmapMut> {
    // SAFETY: the caller holds an exclusive advisory lock on `file` for the mapping's life and
    // has just set the file's length to at least `len`; writes go through `&mut` borrows only.
    unsafe { options(len, populate).map_mut(file) }
}
