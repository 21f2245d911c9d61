//! A probe of the concurrent maps' speed on `compare map`'s workloads, one thread, static
//! dispatch, to separate what the map code costs from where its memory happens to sit.
//!
//! `cargo run --release -p patinox-memory-benches --example map_speed -- [ROUNDS]` interleaves
//! `ShardedMap` and dashmap round by round in two states: "fresh" (the maps are built and
//! filled anew each round) and "churned" (one pair of maps kept for the whole run, as
//! `compare map` does, so inserts and removes accumulate in the tables). Prints medians.
//!
//! `map_speed profile ours|dash [CHURN_ROUNDS]` fills one map, churns it with the mixed workload
//! CHURN_ROUNDS times, then runs the read-heavy workload once inside `measured`, for
//! `valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no --toggle-collect=*measured*`.

use std::hash::RandomState;
use std::hint::black_box;
use std::time::Instant;

use dashmap::DashMap;
use patinox_memory::share::ShardedMap;
use patinox_memory_benches::compare::map::{Contender, Step, fill, workload};
use patinox_memory_benches::measure::median;

fn ours() -> ShardedMap<u64, u64> {
    let map = ShardedMap::new();
    fill(&map);
    map
}

fn dash() -> DashMap<u64, u64> {
    let map = DashMap::with_hasher(RandomState::new());
    fill(&map);
    map
}

/// Runs the steps once; returns ns per step.
#[inline(never)]
fn measured(map: &impl Contender, steps: &[Step]) -> f64 {
    let start = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Get(k) => {
                black_box(map.get(k));
            }
            Step::Insert(k) => map.insert(k, i as u64),
            Step::Remove(k) => map.remove(k),
        }
    }
    start.elapsed().as_nanos() as f64 / steps.len() as f64
}

fn churn(map: &impl Contender, mixed: &[Step], rounds: usize) {
    for _ in 0..rounds {
        black_box(measured(map, mixed));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let read_heavy = workload(1 << 20, 10, 10, 7);
    let mixed = workload(1 << 20, 200, 200, 11);
    if args.first().map(String::as_str) == Some("profile") {
        let rounds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let ns = match args.get(1).map(String::as_str) {
            Some("ours") => {
                let map = ours();
                churn(&map, &mixed, rounds);
                measured(&map, &read_heavy)
            }
            Some("dash") => {
                let map = dash();
                churn(&map, &mixed, rounds);
                measured(&map, &read_heavy)
            }
            _ => {
                eprintln!("usage: map_speed profile ours|dash [CHURN_ROUNDS]");
                std::process::exit(2);
            }
        };
        println!("{ns:.2} ns/op");
        return;
    }
    let rounds: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(9);
    for (name, steps) in [("read-heavy", &read_heavy), ("mixed", &mixed)] {
        let (mut fresh_ours, mut fresh_dash) = (Vec::new(), Vec::new());
        let (mut kept_ours, mut kept_dash) = (Vec::new(), Vec::new());
        let (kept_o, kept_d) = (ours(), dash());
        for round in 0..rounds {
            // Alternate which goes first, and which is allocated first.
            if round % 2 == 0 {
                let (o, d) = (ours(), dash());
                fresh_ours.push(measured(&o, steps));
                fresh_dash.push(measured(&d, steps));
                kept_ours.push(measured(&kept_o, steps));
                kept_dash.push(measured(&kept_d, steps));
            } else {
                let (d, o) = (dash(), ours());
                fresh_dash.push(measured(&d, steps));
                fresh_ours.push(measured(&o, steps));
                kept_dash.push(measured(&kept_d, steps));
                kept_ours.push(measured(&kept_o, steps));
            }
        }
        let (fo, fd) = (median(&mut fresh_ours), median(&mut fresh_dash));
        let (ko, kd) = (median(&mut kept_ours), median(&mut kept_dash));
        println!(
            "{name:10} fresh: ours {fo:6.2} dash {fd:6.2} ratio {:.3} | churned: ours {ko:6.2} dash {kd:6.2} ratio {:.3}",
            fo / fd,
            ko / kd
        );
    }
}
