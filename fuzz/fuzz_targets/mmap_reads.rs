//! Mapped-file access at arbitrary offsets and lengths.
//!
//! Two small files are created once per process: one opened read-only (`MappedFile`), one
//! writable (`MappedFileMut`), plus an empty file. Every read or write either succeeds with
//! exactly the bytes the model (a `Vec<u8>` copy of the file) says, or fails with
//! `OutOfBounds` carrying the requested offset and length, and only when the access really
//! reaches past the end (overflow included). Nothing panics.

#![no_main]

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patinox_memory::mmap::{MappedFile, MappedFileMut, MmapError};

/// Not a multiple of the page size, so reads straddle the last partial page.
const LEN: usize = 4099;

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Offset {
    /// Near the file: the interesting boundary cases.
    Near(u16),
    /// Anything, including values that overflow when a length is added.
    Raw(u64),
}

impl Offset {
    fn get(self) -> u64 {
        match self {
            Offset::Near(n) => u64::from(n) % (LEN as u64 + 16),
            Offset::Raw(n) => n,
        }
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Length {
    Near(u16),
    Raw(usize),
}

impl Length {
    fn get(self) -> usize {
        match self {
            Length::Near(n) => usize::from(n) % (LEN + 16),
            Length::Raw(n) => n,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Read(Offset, Length),
    ReadU16(Offset),
    ReadU32(Offset),
    ReadU64(Offset),
    ReadEmpty(Offset, Length),
    Write(Offset, Vec<u8>),
    WriteU32(Offset, u32),
    ReadMut(Offset, Length),
}

struct Files {
    read_only: MappedFile,
    expected: Vec<u8>,
    empty: MappedFile,
    /// The writable file and the model of its contents.
    writable: Mutex<(MappedFileMut, Vec<u8>)>,
    _dir: PathBuf,
}

fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("patinox-fuzz-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let expected: Vec<u8> = (0..LEN).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(dir.join("data"), &expected).expect("write data file");
        std::fs::write(dir.join("empty"), b"").expect("write empty file");
        let writable = MappedFileMut::create(dir.join("rw"), LEN as u64).expect("create rw file");
        Files {
            read_only: MappedFile::open(dir.join("data")).expect("map data file"),
            expected,
            empty: MappedFile::open(dir.join("empty")).expect("map empty file"),
            writable: Mutex::new((writable, vec![0; LEN])),
            _dir: dir,
        }
    })
}

/// The model's answer: the bytes at `offset..offset + len` of `data`, if all exist.
fn model(data: &[u8], offset: u64, len: usize) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(len)?;
    data.get(start..end)
}

/// Checks `got` against the model for an access of `len` bytes at `offset`.
fn check<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: Result<T, MmapError>,
    expected: Option<T>,
    offset: u64,
    len: usize,
    file_len: usize,
) {
    match (got, expected) {
        (Ok(got), Some(expected)) => assert_eq!(got, expected, "{what} at {offset}+{len}"),
        (
            Err(MmapError::OutOfBounds {
                offset: o,
                len: l,
                file_len: f,
            }),
            None,
        ) => {
            assert_eq!(
                (o, l, f),
                (offset, len as u64, file_len as u64),
                "{what}: error fields"
            );
        }
        (got, expected) => panic!("{what} at {offset}+{len}: got {got:?}, model {expected:?}"),
    }
}

fn le<const N: usize>(bytes: Option<&[u8]>) -> Option<[u8; N]> {
    bytes.map(|b| b.try_into().expect("N bytes"))
}

fuzz_target!(|ops: Vec<Op>| {
    let f = files();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Read(o, l) => {
                let (o, l) = (o.get(), l.get());
                check(
                    "read_at",
                    f.read_only.read_at(o, l),
                    model(&f.expected, o, l),
                    o,
                    l,
                    LEN,
                );
            }
            Op::ReadU16(o) => {
                let o = o.get();
                let expected = le::<2>(model(&f.expected, o, 2)).map(u16::from_le_bytes);
                check(
                    "read_u16_le",
                    f.read_only.read_u16_le(o),
                    expected,
                    o,
                    2,
                    LEN,
                );
            }
            Op::ReadU32(o) => {
                let o = o.get();
                let expected = le::<4>(model(&f.expected, o, 4)).map(u32::from_le_bytes);
                check(
                    "read_u32_le",
                    f.read_only.read_u32_le(o),
                    expected,
                    o,
                    4,
                    LEN,
                );
            }
            Op::ReadU64(o) => {
                let o = o.get();
                let expected = le::<8>(model(&f.expected, o, 8)).map(u64::from_le_bytes);
                check(
                    "read_u64_le",
                    f.read_only.read_u64_le(o),
                    expected,
                    o,
                    8,
                    LEN,
                );
            }
            Op::ReadEmpty(o, l) => {
                let (o, l) = (o.get(), l.get());
                check(
                    "empty read_at",
                    f.empty.read_at(o, l),
                    model(&[], o, l),
                    o,
                    l,
                    0,
                );
                assert_eq!(f.empty.len(), 0);
            }
            Op::Write(o, data) => {
                let o = o.get();
                let mut guard = f.writable.lock().unwrap();
                let (file, contents) = &mut *guard;
                let fits = model(contents, o, data.len()).is_some();
                check(
                    "write_at",
                    file.write_at(o, &data),
                    fits.then_some(()),
                    o,
                    data.len(),
                    LEN,
                );
                if fits {
                    let start = o as usize;
                    contents[start..start + data.len()].copy_from_slice(&data);
                }
            }
            Op::WriteU32(o, v) => {
                let o = o.get();
                let mut guard = f.writable.lock().unwrap();
                let (file, contents) = &mut *guard;
                let fits = model(contents, o, 4).is_some();
                check(
                    "write_u32_le",
                    file.write_u32_le(o, v),
                    fits.then_some(()),
                    o,
                    4,
                    LEN,
                );
                if fits {
                    let start = o as usize;
                    contents[start..start + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            Op::ReadMut(o, l) => {
                let (o, l) = (o.get(), l.get());
                let guard = f.writable.lock().unwrap();
                let (file, contents) = &*guard;
                check(
                    "mut read_at",
                    file.read_at(o, l),
                    model(contents, o, l),
                    o,
                    l,
                    LEN,
                );
                assert_eq!(file.as_slice(), &contents[..], "writable file contents");
            }
        }
    }
});
