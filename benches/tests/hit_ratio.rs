//! Hit ratios on the real traces in the shared folder, pinned so that regressions fail.
//!
//! Traces come from `PATINOX_TRACES`, else `<workspace>/../shared/traces`. Without them each
//! test prints why it skipped, unless `PATINOX_REQUIRE_SERVICES=1` (CI), where it fails.
//!
//! For every trace, at capacities unique/100, unique/20 and unique/5 (at least 64):
//! - `LruCache` and the one-shard LRU `ShardedCache` hit exactly as often as the `lru` crate;
//! - TinyLFU (default sharding, and one shard) reaches at least the pinned ratio minus
//!   [`TOLERANCE`] points. Our caches use a fixed-seed hasher in the simulator, so their results
//!   repeat exactly; the tolerance only absorbs deliberate small policy changes.
//!
//! The peers' ratios (moka, quick_cache) beside ours come from the main program:
//! `cargo run --release -p patinox-memory-benches --bin patinox-bench -- simulate --trace FILE`.

use std::path::PathBuf;

use patinox_memory_benches::sim::{self, Library};
use patinox_memory_benches::trace;

/// How many percentage points below its pin a ratio may fall.
const TOLERANCE: f64 = 0.3;

fn traces_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PATINOX_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces"));
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "trace folder {} not found (set PATINOX_TRACES)",
        dir.display()
    );
    if std::env::var("PATINOX_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("skipping hit-ratio test: {msg}");
    None
}

/// Replays `name` and checks the LRU equalities and the TinyLFU pins (percent, per capacity).
fn check(name: &str, tiny_auto: [f64; 3], tiny_one: [f64; 3]) {
    let Some(dir) = traces_dir() else { return };
    let keys = trace::load(dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
    let caps = sim::default_capacities(sim::unique_keys(&keys));
    let libs = [
        Library::Lru,
        Library::PatinoxLru,
        Library::PatinoxShardedLru,
        Library::PatinoxTinyLfu,
        Library::PatinoxTinyLfuOneShard,
    ];
    let results = sim::simulate(&keys, &caps, &libs);
    let mut failures = Vec::new();
    for (i, &cap) in caps.iter().enumerate() {
        let at = |lib| {
            results
                .iter()
                .find(|r| r.capacity == cap && r.library == lib)
                .map(|r| r.outcome)
                .unwrap_or_else(|| panic!("no result for {lib:?} at {cap}"))
        };
        let reference = at(Library::Lru);
        for lib in [Library::PatinoxLru, Library::PatinoxShardedLru] {
            if at(lib) != reference {
                failures.push(format!(
                    "{name} @ {cap}: {} {:?} differs from lru {reference:?}",
                    lib.name(),
                    at(lib)
                ));
            }
        }
        for (lib, pin) in [
            (Library::PatinoxTinyLfu, tiny_auto[i]),
            (Library::PatinoxTinyLfuOneShard, tiny_one[i]),
        ] {
            let got = at(lib).hit_ratio() * 100.0;
            println!(
                "{name} @ {cap}: {} {got:.2} % (pinned {pin:.2})",
                lib.name()
            );
            if got < pin - TOLERANCE {
                failures.push(format!(
                    "{name} @ {cap}: {} hit ratio {got:.2} % fell below its pin {pin:.2} %",
                    lib.name()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn arc_oltp_hit_ratios_hold() {
    check(
        "arc-OLTP.lis.zst",
        [46.34, 61.73, 71.35],
        [46.30, 62.52, 69.44],
    );
}

#[test]
fn arc_p3_hit_ratios_hold() {
    check("arc-P3.lis.zst", [3.50, 19.78, 48.35], [3.41, 18.10, 48.51]);
}

#[test]
fn lirs_loop_hit_ratios_hold() {
    check(
        "lirs-loop.trace.gz",
        [6.13, 6.13, 17.41],
        [6.13, 6.13, 17.41],
    );
}

#[test]
fn lirs_multi2_hit_ratios_hold() {
    check(
        "lirs-multi2.trace.gz",
        [22.97, 40.03, 58.77],
        [22.97, 40.03, 58.65],
    );
}

#[test]
fn lirs_sprite_hit_ratios_hold() {
    check(
        "lirs-sprite.trace.gz",
        [21.13, 64.93, 88.34],
        [21.13, 64.93, 90.69],
    );
}
