//! `patinox-bench`: shows what patinox-memory does and how it stands against the libraries
//! people use today.
//!
//! Run with no arguments for the tour. Components are added to the tour as they land; the
//! README's feature table says which exist.

use std::process::ExitCode;

use patinox_memory_benches::compare;
use patinox_memory_benches::measure::{Effort, Row};

const HELP: &str = "\
patinox-bench: compare patinox-memory with its peers

USAGE:
    patinox-bench            run the tour: every built component against its peers
    patinox-bench --help     show this help

The tour measures each component side by side with its peer libraries in one process and
prints per-operation medians and ratios.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("tour") => {
            tour();
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("patinox-bench: unknown command `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

fn tour() {
    println!(
        "patinox-bench tour (medians of {} rounds; lower is better)\n",
        Effort::Quick.rounds()
    );
    let rows = compare::monitor::run(Effort::Quick);
    print_table(&rows);
    println!(
        "\nThe pool, caches, shared data, mapped files and resource registry join the tour as they land."
    );
}

/// Prints rows grouped by operation, each with its ratio to the first library of its group.
fn print_table(rows: &[Row]) {
    println!(
        "{:<10} {:<32} {:<16} {:>12} {:>8}",
        "component", "operation", "library", "ns/op", "ratio"
    );
    let mut base: Option<(&str, f64)> = None;
    for r in rows {
        let b = match base {
            Some((op, ns)) if op == r.operation => ns,
            _ => {
                base = Some((&r.operation, r.ns_per_op));
                r.ns_per_op
            }
        };
        let ratio = if b > 0.0 { r.ns_per_op / b } else { f64::NAN };
        println!(
            "{:<10} {:<32} {:<16} {:>12.2} {:>8.2} {}",
            r.component, r.operation, r.library, r.ns_per_op, ratio, r.note
        );
    }
}
