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

// Pins set by the climber retune (restart threshold 0.5, step decay 0.96, samples of
// 1.5 × capacity, protected share 75 %; see core/src/cache/policy/tinylfu.rs). It raised the
// default-sharding average over the 15 points from 39.36 to 39.43 and the one-shard average from
// 39.19 to 39.44 (arc-P3 +0.8 and +1.3 at 38 127 and 152 508), and lowered these pins
// (old -> new, percent):
// - default sharding: arc-OLTP @ 37376 71.41 -> 70.80; arc-P3 @ 7625 3.66 -> 3.44;
//   lirs-loop @ 64 6.13 -> 5.84 (both), @ 202 19.38 -> 18.77; lirs-multi2 @ 64 24.54 -> 24.51;
//   lirs-sprite @ 353 66.42 -> 66.35, @ 1415 89.17 -> 88.34;
// - one shard: arc-OLTP @ 1868 45.91 -> 45.54; lirs-loop @ 64 6.13 -> 5.84 (both),
//   @ 202 19.38 -> 18.77; lirs-multi2 @ 64 24.54 -> 24.51; lirs-sprite @ 353 66.42 -> 66.35.
// (The lirs-loop and arc-P3 @ 7625 pins were 0.1 to 0.2 above what the previous code reached.)

#[test]
fn arc_oltp_hit_ratios_hold() {
    check(
        "arc-OLTP.lis.zst",
        // Earlier: lowered (46.66, 61.84 / 46.30, 62.52) by the hill-climbing and aging retune
        // that raised the average over all points; see its commit.
        [46.38, 61.24, 70.80],
        [45.54, 62.13, 70.46],
    );
}

#[test]
fn arc_p3_hit_ratios_hold() {
    // Earlier: one shard @ 7625 lowered from 3.79 by the retune that raised the average.
    check("arc-P3.lis.zst", [3.44, 20.42, 50.80], [3.77, 20.61, 50.66]);
}

#[test]
fn lirs_loop_hit_ratios_hold() {
    check(
        "lirs-loop.trace.gz",
        [5.84, 5.84, 18.77],
        [5.84, 5.84, 18.77],
    );
}

#[test]
fn lirs_multi2_hit_ratios_hold() {
    check(
        "lirs-multi2.trace.gz",
        [24.51, 44.57, 59.78],
        // 1 shard @ 1136 lowered from 58.65: deferred promotion costs this point 1.07 while
        // raising the average over all points (see the commit that set it).
        [24.51, 44.57, 57.85],
    );
}

#[test]
fn lirs_sprite_hit_ratios_hold() {
    check(
        "lirs-sprite.trace.gz",
        [24.32, 66.35, 88.34],
        // Earlier: one shard @ 1415 lowered from 91.42 by the retune that raised the average.
        [24.32, 66.35, 90.44],
    );
}
