//! Integration tests of the mapped files: bounds, empty files, growth and shrink, persistence,
//! locking within the process and against a second process, and monitor events.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use patinox_memory::mmap::{Advice, MapOptions, MappedFile, MappedFileMut, MmapError};
use patinox_memory::monitor::Metrics;

/// A fresh directory per test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "patinox-mmap-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn assert_out_of_bounds<T: std::fmt::Debug>(
    r: Result<T, MmapError>,
    offset: u64,
    len: u64,
    file_len: u64,
) {
    match r {
        Err(MmapError::OutOfBounds {
            offset: o,
            len: l,
            file_len: f,
        }) => assert_eq!((o, l, f), (offset, len, file_len)),
        other => panic!("expected OutOfBounds({offset}, {len}, {file_len}), got {other:?}"),
    }
}

#[test]
fn reads_past_the_end_are_errors_even_at_u64_max() {
    let dir = TempDir::new("bounds");
    let path = dir.file("f");
    fs::write(&path, [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
    let file = MappedFile::open(&path).unwrap();
    assert_eq!(file.len(), 10);
    assert_eq!(
        file.read_at(0, 10).unwrap(),
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(file.read_at(10, 0).unwrap(), &[] as &[u8]);
    assert_out_of_bounds(file.read_at(8, 3), 8, 3, 10);
    assert_out_of_bounds(file.read_at(11, 0), 11, 0, 10);
    assert_out_of_bounds(file.read_at(u64::MAX, 1), u64::MAX, 1, 10);
    assert_out_of_bounds(
        file.read_at(u64::MAX, usize::MAX),
        u64::MAX,
        usize::MAX as u64,
        10,
    );
    assert_out_of_bounds(file.read_u16_le(9), 9, 2, 10);
    assert_out_of_bounds(file.read_u32_le(u64::MAX - 1), u64::MAX - 1, 4, 10);
    assert_out_of_bounds(file.read_u64_le(u64::MAX), u64::MAX, 8, 10);
    assert_eq!(file.read_u16_le(0).unwrap(), 0x0201);
    assert_eq!(file.read_u32_le(1).unwrap(), 0x0504_0302);
    assert_eq!(file.read_u64_le(2).unwrap(), 0x0a09_0807_0605_0403);
}

#[test]
fn writes_past_the_end_are_errors_and_change_nothing() {
    let dir = TempDir::new("wbounds");
    let mut file = MappedFileMut::create(dir.file("f"), 4).unwrap();
    assert_out_of_bounds(file.write_at(2, b"abc"), 2, 3, 4);
    assert_out_of_bounds(file.write_at(u64::MAX, b"a"), u64::MAX, 1, 4);
    assert_out_of_bounds(file.write_u64_le(0, 1), 0, 8, 4);
    assert_eq!(file.as_slice(), &[0, 0, 0, 0]);
    file.write_u16_le(2, 0xBEEF).unwrap();
    assert_eq!(file.read_u16_le(2).unwrap(), 0xBEEF);
}

#[test]
fn empty_files_open_and_read_as_empty() {
    let dir = TempDir::new("empty");
    let path = dir.file("empty");
    fs::write(&path, b"").unwrap();
    let file = MappedFile::open(&path).unwrap();
    assert!(file.is_empty());
    assert_eq!(file.as_slice(), &[] as &[u8]);
    assert_eq!(file.read_at(0, 0).unwrap(), &[] as &[u8]);
    assert_out_of_bounds(file.read_at(0, 1), 0, 1, 0);
    file.advise(Advice::Sequential).unwrap();
    drop(file);

    let mut created = MappedFileMut::create(dir.file("zero"), 0).unwrap();
    assert!(created.is_empty());
    created.write_at(0, b"").unwrap();
    assert_out_of_bounds(created.write_at(0, b"x"), 0, 1, 0);
    created.flush().unwrap();
    created.flush_async().unwrap();
    created.grow(3).unwrap();
    created.write_at(0, b"abc").unwrap();
    assert_eq!(created.read_at(0, 3).unwrap(), b"abc");
}

#[test]
fn missing_file_error_names_path_and_converts() {
    let dir = TempDir::new("missing");
    let path = dir.file("nope");
    let err = MappedFile::open(&path).unwrap_err();
    assert_eq!(err.path(), Some(path.as_path()));
    assert_eq!(err.operation(), Some("open"));
    match patinox_memory::Error::from(err) {
        patinox_memory::Error::Io {
            operation,
            path: Some(p),
            source,
        } => {
            assert_eq!(operation, "open");
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Opening for writing does not create the file either.
    assert!(MappedFileMut::open(&path).is_err());
    assert!(!path.exists());
}

#[test]
fn written_data_survives_flush_and_reopen() {
    let dir = TempDir::new("persist");
    let path = dir.file("data");
    {
        let mut file = MappedFileMut::create(&path, 4096).unwrap();
        file.write_at(100, b"persisted").unwrap();
        file.write_u64_le(4088, u64::MAX - 1).unwrap();
        file.flush().unwrap();
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), 4096);
    let file = MappedFile::open(&path).unwrap();
    assert_eq!(file.read_at(100, 9).unwrap(), b"persisted");
    assert_eq!(file.read_u64_le(4088).unwrap(), u64::MAX - 1);
    drop(file);
    // Reopening for writing at the current length keeps the content.
    let file = MappedFileMut::open(&path).unwrap();
    assert_eq!(file.len(), 4096);
    assert_eq!(file.read_at(100, 9).unwrap(), b"persisted");
}

#[test]
fn refresh_maps_growth_and_reports_shrink() {
    let dir = TempDir::new("refresh");
    let path = dir.file("growing");
    fs::write(&path, b"0123").unwrap();
    let mut file = MappedFile::open(&path).unwrap();
    assert!(!file.refresh().unwrap(), "nothing changed yet");

    // A writer that ignores the advisory lock appends.
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"4567")
        .unwrap();
    assert_out_of_bounds(file.read_at(4, 4), 4, 4, 4);
    assert!(file.refresh().unwrap());
    assert_eq!(file.len(), 8);
    assert_eq!(file.read_at(4, 4).unwrap(), b"4567");

    // ... and truncates: refresh reports it and shrinks the mapping, so reads stay checked.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2)
        .unwrap();
    match file.refresh() {
        Err(MmapError::Shrunk {
            old_len: 8,
            new_len: 2,
            path: p,
        }) => assert_eq!(p, path),
        other => panic!("expected Shrunk, got {other:?}"),
    }
    assert_eq!(file.len(), 2);
    assert_eq!(file.read_at(0, 2).unwrap(), b"01");
    assert_out_of_bounds(file.read_at(2, 1), 2, 1, 2);

    // Truncated to nothing, then refreshed: an empty, unmapped file.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert!(matches!(
        file.refresh(),
        Err(MmapError::Shrunk { new_len: 0, .. })
    ));
    assert!(file.is_empty());
}

#[test]
fn grow_keeps_content_and_never_shrinks() {
    let dir = TempDir::new("grow");
    let mut file = MappedFileMut::create(dir.file("g"), 8).unwrap();
    file.write_at(0, b"abcdefgh").unwrap();
    file.grow(8).unwrap();
    file.grow(1 << 20).unwrap();
    assert_eq!(file.len(), 1 << 20);
    assert_eq!(file.read_at(0, 8).unwrap(), b"abcdefgh");
    assert_eq!(file.read_at(8, 8).unwrap(), &[0; 8]);
    file.write_u32_le((1 << 20) - 4, 7).unwrap();
    assert!(matches!(
        file.grow(4),
        Err(MmapError::WouldShrink { len, requested: 4, .. }) if len == 1 << 20
    ));
    assert_eq!(file.read_u32_le((1 << 20) - 4).unwrap(), 7);
}

#[test]
fn impossible_lengths_are_errors_before_the_file_changes() {
    let dir = TempDir::new("huge");
    let path = dir.file("h");
    fs::write(&path, b"keep").unwrap();
    assert!(matches!(
        MappedFileMut::create(&path, u64::MAX),
        Err(MmapError::TooLarge { len: u64::MAX, .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), b"keep");
    let mut file = MappedFileMut::open(&path).unwrap();
    assert!(matches!(
        file.grow(u64::MAX),
        Err(MmapError::TooLarge { .. })
    ));
    assert_eq!(file.read_at(0, 4).unwrap(), b"keep");
}

#[test]
fn locks_exclude_writers_from_readers_and_each_other() {
    let dir = TempDir::new("locks");
    let path = dir.file("locked");
    let writer = MappedFileMut::create(&path, 64).unwrap();
    assert!(matches!(
        MappedFile::open(&path),
        Err(MmapError::Locked {
            exclusive: false,
            ..
        })
    ));
    assert!(matches!(
        MappedFileMut::create(&path, 0),
        Err(MmapError::Locked {
            exclusive: true,
            ..
        })
    ));
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        64,
        "a refused create truncated"
    );
    drop(writer);

    let r1 = MappedFile::open(&path).unwrap();
    let r2 = MappedFile::open(&path).unwrap();
    assert!(matches!(
        MappedFileMut::create(&path, 1),
        Err(MmapError::Locked {
            exclusive: true,
            ..
        })
    ));
    assert_eq!(r1.len(), 64);
    drop((r1, r2));
    assert!(MappedFileMut::open(&path).is_ok());
}

#[test]
fn lock_timeout_waits_for_the_holder_to_let_go() {
    let dir = TempDir::new("lockwait");
    let path = dir.file("f");
    let writer = MappedFileMut::create(&path, 8).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(writer);
    });
    let reader = MapOptions::new()
        .lock_timeout(Duration::from_secs(10))
        .open(&path)
        .unwrap();
    assert_eq!(reader.len(), 8);
    releaser.join().unwrap();
    // A short timeout against a holder that stays gives up.
    let err = MapOptions::new()
        .lock_timeout(Duration::from_millis(20))
        .create(&path, 8)
        .unwrap_err();
    assert!(matches!(err, MmapError::Locked { .. }), "{err:?}");
}

#[test]
fn events_reach_the_monitor() {
    let dir = TempDir::new("events");
    let path = dir.file("f");
    let metrics = Arc::new(Metrics::new());
    let options = MapOptions::new().monitor(metrics.clone());
    {
        let mut file = options.create(&path, 16).unwrap();
        file.flush().unwrap();
        file.grow(32).unwrap();
    }
    {
        let mut file = options.open(&path).unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        assert!(file.refresh().unwrap());
    }
    let snap = metrics.snapshot().mmap;
    assert_eq!(snap.mapped, 2);
    assert_eq!(snap.remapped, 2);
    assert_eq!(snap.flushes, 1);
    assert_eq!(snap.unmapped, 2);
}

#[test]
fn background_flusher_runs_and_stops_with_its_owner() {
    let dir = TempDir::new("flusher");
    let path = dir.file("f");
    let metrics = Arc::new(Metrics::new());
    let mut file = MapOptions::new()
        .monitor(metrics.clone())
        .create(&path, 4096)
        .unwrap();
    file.start_background_flush(Duration::from_millis(5))
        .unwrap();
    file.write_at(0, b"flushed in the background").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while metrics.snapshot().mmap.flushes == 0 {
        assert!(std::time::Instant::now() < deadline, "flusher never ran");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(file.take_background_flush_error().is_none());
    drop(file);
    // The flusher's handle shared the exclusive lock: it must be gone with the owner.
    let reopened = MappedFileMut::open(&path).unwrap();
    assert_eq!(reopened.read_at(0, 7).unwrap(), b"flushed");
    let after = metrics.snapshot().mmap.flushes;
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        metrics.snapshot().mmap.flushes,
        after,
        "flusher outlived its owner"
    );
}

#[test]
fn advice_is_accepted() {
    let dir = TempDir::new("advise");
    let path = dir.file("f");
    let file = MappedFileMut::create(&path, 1 << 16).unwrap();
    for advice in [
        Advice::Sequential,
        Advice::Random,
        Advice::WillNeed,
        Advice::HugePage,
    ] {
        file.advise(advice).unwrap();
    }
    drop(file);
    let file = MappedFile::open(&path).unwrap();
    file.advise(Advice::Random).unwrap();
    file.advise(Advice::HugePage).unwrap();
    assert_eq!(file.read_u64_le((1 << 16) - 8).unwrap(), 0);
}

/// Resident size in KiB of the mapping that starts at `start`, from `/proc/self/smaps`.
#[cfg(target_os = "linux")]
fn resident_kib(start: *const u8) -> u64 {
    let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
    let want = format!("{:x}-", start as usize);
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&want));
    assert!(lines.next().is_some(), "mapping at {start:p} not in smaps");
    let rss = lines
        .find(|l| l.starts_with("Rss:"))
        .unwrap_or_else(|| panic!("no Rss line for {start:p}"));
    rss.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn populate_maps_every_page_up_front_and_again_after_growth() {
    let dir = TempDir::new("populate");
    let path = dir.file("f");
    fs::write(&path, vec![3u8; 1 << 20]).unwrap();

    // Lazily mapped: nothing has touched it, so no page is resident in this mapping yet.
    let lazy = MappedFile::open(&path).unwrap();
    assert_eq!(resident_kib(lazy.as_slice().as_ptr()), 0);
    drop(lazy);

    let mut file = MapOptions::new().populate(true).open(&path).unwrap();
    assert_eq!(resident_kib(file.as_slice().as_ptr()), 1024);
    assert_eq!(file.read_at((1 << 20) - 2, 2).unwrap(), [3, 3]);

    let mut more = OpenOptions::new().append(true).open(&path).unwrap();
    more.write_all(&vec![4u8; 1 << 20]).unwrap();
    drop(more);
    assert!(file.refresh().unwrap());
    assert_eq!(resident_kib(file.as_slice().as_ptr()), 2048);
    assert_eq!(file.read_at((2 << 20) - 1, 1).unwrap(), [4]);
    drop(file);

    let mut writer = MapOptions::new().populate(true).open_mut(&path).unwrap();
    assert_eq!(resident_kib(writer.as_slice().as_ptr()), 2048);
    writer.grow(3 << 20).unwrap();
    assert_eq!(resident_kib(writer.as_slice().as_ptr()), 3072);
}

// ---- a second process ----------------------------------------------------------------------

const CHILD_PATH: &str = "PATINOX_MMAP_CHILD_PATH";
const CHILD_EXPECT: &str = "PATINOX_MMAP_CHILD_EXPECT";
const CHILD_OK: &str = "patinox-child-ok";

/// Runs `child_process_helper` in a new process of this test binary; true if it passed.
fn run_child(path: &Path, expect: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_PATH, path)
        .env(CHILD_EXPECT, expect)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.success() && stdout.contains(CHILD_OK),
        format!("{stdout}\n{stderr}"),
    )
}

#[test]
fn second_process_cannot_lock_or_truncate_a_mapped_file() {
    let dir = TempDir::new("child");
    let path = dir.file("shared");
    fs::write(&path, vec![7u8; 8192]).unwrap();
    let reader = MappedFile::open(&path).unwrap();

    let (ok, output) = run_child(&path, "refused");
    assert!(ok, "child was not refused:\n{output}");
    assert_eq!(reader.len(), 8192);
    assert_eq!(fs::metadata(&path).unwrap().len(), 8192);
    assert_eq!(
        reader.read_u64_le(8184).unwrap(),
        u64::from_le_bytes([7; 8])
    );

    // Once the reader lets go, the same child may lock and truncate: the lock was the reason.
    drop(reader);
    let (ok, output) = run_child(&path, "allowed");
    assert!(ok, "child could not truncate an unlocked file:\n{output}");
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
}

/// Not a test on its own: the second process of
/// `second_process_cannot_lock_or_truncate_a_mapped_file`.
#[test]
#[ignore = "run as a child process by second_process_cannot_lock_or_truncate_a_mapped_file"]
fn child_process_helper() {
    let path = PathBuf::from(std::env::var_os(CHILD_PATH).expect("run by the parent test"));
    let expect = std::env::var(CHILD_EXPECT).expect("run by the parent test");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let std_lock = file.try_lock();
    // Truncating the cooperating way: through MappedFileMut, which locks before set_len.
    let ours = MappedFileMut::create(&path, 0);
    match expect.as_str() {
        "refused" => {
            assert!(
                matches!(std_lock, Err(std::fs::TryLockError::WouldBlock)),
                "std try_lock was not refused: {std_lock:?}"
            );
            assert!(
                matches!(
                    ours,
                    Err(MmapError::Locked {
                        exclusive: true,
                        ..
                    })
                ),
                "MappedFileMut::create was not refused: {ours:?}"
            );
            assert_eq!(fs::metadata(&path).unwrap().len(), 8192);
        }
        "allowed" => {
            std_lock.unwrap();
            assert!(
                ours.is_err(),
                "a second handle in one process must conflict too"
            );
            drop(file); // release the std lock so MappedFileMut can take its own
            let truncated = MappedFileMut::create(&path, 0).unwrap();
            assert!(truncated.is_empty());
        }
        other => panic!("unknown expectation {other}"),
    }
    println!("{CHILD_OK}");
}
