//! Mapped files: random reads through `MappedFile` against `pread` (`FileExt::read_exact_at`)
//! on a file that is fully in the page cache: 4 KiB copied into a buffer (the strict
//! comparison: both deliver the same bytes to the same place), 4 KiB consumed in place (summed),
//! and a single `u64`.
//!
//! The file lives under `target/patinox-bench/` and is reused between runs. Its size follows the
//! effort: 4 MiB for `Smoke`, 256 MiB for `Quick` (the tour), 1 GiB for `Full`. Before timing,
//! [`prepare`] puts the file in the page cache the way a service that maps a large data file
//! would: the file is first dropped from the cache (so its state does not depend on how this
//! program wrote it), then mapped with [`Advice::HugePage`] and read in through the mapping,
//! then read once more with `pread`. Both paths then read the same cached pages: the numbers
//! compare the access paths, not the disk. (On Linux 6.x with ext4 the mapping is then backed by
//! 2 MiB page-table entries; `pread` copies through the kernel's own mapping of memory, which
//! already uses large pages.)

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use patinox_memory::mmap::{Advice, MappedFile};

use crate::measure::{Effort, Row, median_ns};

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "mmap";

/// Bytes per read.
pub const READ: usize = 4096;

/// File size for an effort.
pub fn file_size(effort: Effort) -> u64 {
    match effort {
        Effort::Smoke => 4 << 20,
        Effort::Quick => 256 << 20,
        Effort::Full => 1 << 30,
    }
}

/// The benchmark file of `size` bytes under the target directory, created on first use.
///
/// # Errors
///
/// Any I/O error creating or writing it.
pub fn bench_file(size: u64) -> io::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let dir = target.join("patinox-bench");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("mmap-{}MiB.bin", size >> 20));
    if fs::metadata(&path)
        .map(|m| m.len() == size)
        .unwrap_or(false)
    {
        return Ok(path);
    }
    let tmp = path.with_extension("partial");
    let mut out = BufWriter::new(File::create(&tmp)?);
    let mut chunk = vec![0u8; 1 << 20];
    for (n, start) in (0..size).step_by(chunk.len()).enumerate() {
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = (i as u64 ^ start ^ n as u64).wrapping_mul(31) as u8;
        }
        out.write_all(&chunk)?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `count` page-aligned offsets of 4 KiB reads spread over `size` bytes.
pub fn offsets(size: u64, count: usize) -> Vec<u64> {
    let pages = (size / READ as u64).max(1);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % pages) * READ as u64
        })
        .collect()
}

/// Wrapping sum of the little-endian `u64` words of `bytes` (vectorizes well).
fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
        .fold(0u64, u64::wrapping_add)
}

/// Measures random reads on the effort's file. Returns no rows (and prints why) if the file
/// cannot be prepared.
pub fn run(effort: Effort) -> Vec<Row> {
    let size = file_size(effort);
    match measure(effort, size) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("mmap comparison skipped: {e}");
            Vec::new()
        }
    }
}

/// Opens `path` both ways with the whole file in the page cache and every page of the mapping
/// touched (see the module documentation for how): returns the plain file and the mapping.
///
/// # Errors
///
/// Any I/O error opening, mapping or reading the file.
pub fn prepare(path: &Path) -> io::Result<(File, MappedFile)> {
    let plain = File::open(path)?;
    let size = plain.metadata()?.len();
    drop_from_page_cache(&plain);
    let mapped = MappedFile::open(path).map_err(io::Error::other)?;
    mapped.advise(Advice::HugePage).map_err(io::Error::other)?;
    let mut touched = 0u64;
    for page in (0..size).step_by(READ) {
        touched = touched.wrapping_add(u64::from(
            mapped.read_at(page, 1).map_err(io::Error::other)?[0],
        ));
    }
    black_box(touched);
    mapped.advise(Advice::Random).map_err(io::Error::other)?;
    let mut buf = vec![0u8; 1 << 20];
    for start in (0..size).step_by(buf.len()) {
        let n = buf.len().min((size - start) as usize);
        plain.read_exact_at(&mut buf[..n], start)?;
    }
    Ok((plain, mapped))
}

/// Asks the kernel to drop `file`'s clean pages from the page cache (best effort: a hint).
fn drop_from_page_cache(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `posix_fadvise` only reads its integer arguments; the descriptor is open for
        // the duration of the call because `file` is borrowed.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            eprintln!("posix_fadvise(DONTNEED) failed ({rc}); the page cache is left as it is");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

fn measure(effort: Effort, size: u64) -> io::Result<Vec<Row>> {
    let path = bench_file(size)?;
    let (plain, mapped) = prepare(&path)?;

    let offsets = offsets(size, 1 << 16);
    let iters = effort.scale(200_000);
    let rounds = effort.rounds();
    let at = |i: u64| offsets[(i % offsets.len() as u64) as usize];
    let mut page = vec![0u8; READ];
    let label = format!("{} MiB file", size >> 20);
    let row = |operation: &str, library, ns| Row {
        component: NAME,
        operation: format!("{operation}, {label}"),
        library,
        ns_per_op: ns,
        note: String::new(),
    };

    let copy_ours = median_ns(rounds, iters, |i| {
        if let Ok(bytes) = mapped.read_at(at(i), READ) {
            page.copy_from_slice(bytes);
        }
        black_box(&page);
    });
    let copy_pread = median_ns(rounds, iters, |i| {
        let _ = plain.read_exact_at(&mut page, at(i));
        black_box(&page);
    });
    let sum_ours = median_ns(rounds, iters, |i| {
        black_box(mapped.read_at(at(i), READ).map(checksum).unwrap_or(0));
    });
    let sum_pread = median_ns(rounds, iters, |i| {
        let _ = plain.read_exact_at(&mut page, at(i));
        black_box(checksum(&page));
    });
    // A small record somewhere in the 4 KiB block: 8 bytes at a varying, aligned place.
    let record = |i: u64| at(i) + (i * 8) % READ as u64;
    let mut word = [0u8; 8];
    let u64_ours = median_ns(rounds, iters, |i| {
        black_box(mapped.read_u64_le(record(i)).unwrap_or(0));
    });
    let u64_pread = median_ns(rounds, iters, |i| {
        let _ = plain.read_exact_at(&mut word, record(i));
        black_box(u64::from_le_bytes(word));
    });
    Ok(vec![
        row(
            "random 4 KiB read into a buffer",
            "patinox MappedFile",
            copy_ours,
        ),
        row("random 4 KiB read into a buffer", "pread", copy_pread),
        row(
            "random 4 KiB block, sum of its words",
            "patinox MappedFile",
            sum_ours,
        ),
        row("random 4 KiB block, sum of its words", "pread", sum_pread),
        row("random u64 read", "patinox MappedFile", u64_ours),
        row("random u64 read", "pread", u64_pread),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_aligned_and_inside() {
        let size = 1 << 20;
        assert!(
            offsets(size, 1000)
                .iter()
                .all(|&o| o % READ as u64 == 0 && o + READ as u64 <= size)
        );
    }

    #[test]
    fn mmap_comparison_produces_rows_ours_first() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 6);
        assert!(rows.chunks(2).all(|g| g[0].library == "patinox MappedFile"));
        assert!(rows.iter().all(|r| r.ns_per_op > 0.0));
    }
}
