//! `patinox-bench`: shows what patinox-memory does and how it stands against the libraries
//! people use today, in numbers and pictures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use patinox_memory_benches::compare;
use patinox_memory_benches::measure::{Effort, Row};
use patinox_memory_benches::report::{self, Report};

/// Compare patinox-memory with the libraries people use today.
///
/// With no command, runs the tour: every built component side by side with its peers in this
/// process (about two minutes on a 2-core machine), then writes an HTML report with charts.
#[derive(Debug, Parser)]
#[command(name = "patinox-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print the results as JSON on standard output instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Folder for the report (default: target/patinox-report/).
    #[arg(long, global = true, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run with tiny sizes (seconds, not minutes): for checking the program itself.
    #[arg(long, global = true, hide = true)]
    smoke: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The tour: every component against its peers, a table, and a report (the default).
    Tour,
    /// The full comparison of one component, with more iterations than the tour.
    Compare {
        /// Which component (run `patinox-bench compare --help` to list them).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(compare::ALL.iter().map(|c| c.0)))]
        component: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quick = if cli.smoke {
        Effort::Smoke
    } else {
        Effort::Quick
    };
    let full = if cli.smoke {
        Effort::Smoke
    } else {
        Effort::Full
    };
    let mut report = Report {
        machine: report::machine_description(),
        ..Report::default()
    };
    match &cli.command {
        None | Some(Command::Tour) => {
            for &(name, run) in compare::ALL {
                report.rows.extend(with_progress(&cli, name, || run(quick)));
            }
        }
        Some(Command::Compare { component }) => match compare::find(component) {
            Some((name, run)) => report.rows.extend(with_progress(&cli, name, || run(full))),
            None => {
                eprintln!("patinox-bench: unknown component `{component}`");
                return ExitCode::from(2);
            }
        },
    }
    finish(&cli, &report)
}

/// Runs `f` behind a spinner on standard error (hidden for `--json` or when not a terminal).
fn with_progress(cli: &Cli, name: &str, f: impl FnOnce() -> Vec<Row>) -> Vec<Row> {
    let bar = if cli.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("measuring {name} against its peers"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let rows = f();
    bar.finish_and_clear();
    rows
}

fn finish(cli: &Cli, report: &Report) -> ExitCode {
    if cli.json {
        println!("{}", report.to_json());
    } else {
        println!(
            "Machine: {}\nMedians per operation; ratio is to the first library of each operation (patinox).\n",
            report.machine
        );
        print_table(&report.rows);
    }
    let dir = cli.out.clone().unwrap_or_else(report::default_dir);
    match report.write(&dir) {
        Ok(path) => {
            if !cli.json {
                println!("\nReport: {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "patinox-bench: cannot write the report to {}: {e}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<9} {:<36} {:<18} {:>11} {:>7}  note",
        "component", "operation", "library", "ns/op", "ratio"
    );
    for (r, ratio) in rows.iter().zip(report::ratios(rows)) {
        println!(
            "{:<9} {:<36} {:<18} {:>11.2} {:>7.2}  {}",
            r.component, r.operation, r.library, r.ns_per_op, ratio, r.note
        );
    }
}
