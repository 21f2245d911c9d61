//! Criterion: random 4 KiB reads through `MappedFile` against `pread`, file in the page cache.
//!
//! Uses a 64 MiB file under `target/patinox-bench/` to keep criterion's runs short; the
//! `patinox-bench compare mmap` module runs the 256 MiB (tour) and 1 GiB (full) sizes.
//!
//! `cargo bench -p patinox-memory-benches --bench mmap -- --warm-up-time 1 --measurement-time 3`

#![allow(
    missing_docs,
    reason = "criterion_group! generates undocumented functions"
)]

use std::hint::black_box;
use std::os::unix::fs::FileExt;

use criterion::{Criterion, criterion_group, criterion_main};
use patinox_memory_benches::compare::mmap::{READ, bench_file, offsets, prepare};

const SIZE: u64 = 64 << 20;

fn random_reads(c: &mut Criterion) {
    let path = bench_file(SIZE).expect("benchmark file");
    // The page cache and the mapping's page tables warmed as the comparison module does it.
    let (plain, mapped) = prepare(&path).expect("prepare");
    let mut page = vec![0u8; READ];
    let offsets = offsets(SIZE, 1 << 16);
    let mut n = 0usize;
    let mut next = move || {
        n = (n + 1) & (offsets.len() - 1);
        offsets[n]
    };

    let mut group = c.benchmark_group("random 4 KiB read into a buffer, 64 MiB file");
    group.bench_function("patinox MappedFile", |b| {
        b.iter(|| {
            let bytes = mapped.read_at(next(), READ).expect("in bounds");
            page.copy_from_slice(bytes);
            black_box(&page);
        })
    });
    group.bench_function("pread", |b| {
        b.iter(|| {
            plain.read_exact_at(&mut page, next()).expect("pread");
            black_box(&page);
        })
    });
    group.finish();
}

criterion_group!(benches, random_reads);
criterion_main!(benches);
