//! `patinox-bench`: shows what patinox-memory does and how it stands against the libraries
//! people use today, in numbers and pictures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use patinox_memory_benches::compare;
use patinox_memory_benches::measure::{Effort, Row};
use patinox_memory_benches::report::{self, HitRatioCurve, Report};
use patinox_memory_benches::sim::{self, Library, SimResult};
use patinox_memory_benches::trace::{self, TraceFormat};
use patinox_memory_benches::workload;

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
    /// Replay a real cache trace through every policy and the peer caches, and chart the hit
    /// ratios.
    ///
    /// Each key is looked up and inserted on a miss. ARC `.lis` (plain or zstd) and LIRS
    /// (plain or gzip) traces are read as a stream, never whole; the format is detected from
    /// the name or the first line unless `--format` is given. Without `--capacity`, the
    /// capacities are unique/100, unique/20 and unique/5 (at least 64), which costs one extra
    /// pass to count the distinct keys.
    Simulate {
        /// The trace file.
        #[arg(long, value_name = "FILE")]
        trace: PathBuf,
        /// The trace format, if it cannot be told from the file.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// A cache capacity in entries; repeat for several.
        #[arg(long = "capacity", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        capacities: Vec<u64>,
        /// Only these caches (repeatable): patinox-lru, patinox-sharded-lru, patinox-tinylfu,
        /// patinox-tinylfu-1, lru, moka, quick_cache. Default: all.
        #[arg(long = "library", value_name = "ID")]
        libraries: Vec<Library>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// ARC `.lis`: `start count ignored request_no` per line.
    Arc,
    /// LIRS: one key per line.
    Lirs,
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
            report.hit_ratios = with_progress(&cli, "hit ratios on the built-in workload", || {
                builtin_simulation(quick)
            });
        }
        Some(Command::Simulate {
            trace,
            format,
            capacities,
            libraries,
        }) => match simulate_trace(&cli, trace, *format, capacities, libraries) {
            Ok(curves) => report.hit_ratios = curves,
            Err(e) => {
                eprintln!("patinox-bench: {e}");
                return ExitCode::FAILURE;
            }
        },
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

/// The tour's hit-ratio simulation: Zipf(0.9) requests over 50,000 keys, with a scan of 5,000
/// never-seen keys every 25,000 requests, at 1 %, 2 %, 5 %, 10 % and 20 % of the keys.
fn builtin_simulation(effort: Effort) -> Vec<HitRatioCurve> {
    let (keys, requests) = match effort {
        Effort::Smoke => (2_000, 20_000),
        Effort::Quick => (50_000, 500_000),
        Effort::Full => (50_000, 2_000_000),
    };
    let stream = workload::zipf_with_scans(
        keys,
        0.9,
        requests,
        25_000.min(requests / 4),
        5_000.min(keys / 10),
        42,
    );
    let capacities: Vec<usize> = [100, 50, 20, 10, 5].iter().map(|d| keys / d).collect();
    let libraries = [
        Library::PatinoxTinyLfu,
        Library::PatinoxLru,
        Library::Lru,
        Library::Moka,
        Library::QuickCache,
    ];
    let name = format!("Zipf(0.9) over {keys} keys with scans");
    curves(&name, &sim::simulate(&stream, &capacities, &libraries))
}

/// Groups simulation results into one curve per library, by increasing capacity.
fn curves(workload: &str, results: &[SimResult]) -> Vec<HitRatioCurve> {
    let mut curves: Vec<HitRatioCurve> = Vec::new();
    for r in results {
        let point = (r.capacity, r.hit_ratio() * 100.0);
        match curves.iter_mut().find(|c| c.policy == r.library.name()) {
            Some(c) => c.points.push(point),
            None => curves.push(HitRatioCurve {
                workload: workload.to_owned(),
                policy: r.library.name().to_owned(),
                points: vec![point],
            }),
        }
    }
    for c in &mut curves {
        c.points.sort_by_key(|p| p.0);
    }
    curves
}

fn open_trace(
    path: &std::path::Path,
    format: Option<FormatArg>,
) -> Result<trace::TraceReader, trace::TraceError> {
    match format {
        Some(FormatArg::Arc) => trace::open_as(path, TraceFormat::Arc),
        Some(FormatArg::Lirs) => trace::open_as(path, TraceFormat::Lirs),
        None => trace::open(path),
    }
}

fn simulate_trace(
    cli: &Cli,
    path: &std::path::Path,
    format: Option<FormatArg>,
    capacities: &[u64],
    libraries: &[Library],
) -> Result<Vec<HitRatioCurve>, trace::TraceError> {
    let libraries: Vec<Library> = if libraries.is_empty() {
        Library::ALL.to_vec()
    } else {
        libraries.to_vec()
    };
    let bar = progress_bar(cli);
    let (total, mut capacities): (Option<u64>, Vec<usize>) = if capacities.is_empty() {
        bar.set_message("counting distinct keys");
        let (requests, unique) = sim::count_stream(open_trace(path, format)?)?;
        (Some(requests), sim::default_capacities(unique).to_vec())
    } else {
        (
            None,
            capacities
                .iter()
                .map(|&c| usize::try_from(c).unwrap_or(usize::MAX))
                .collect(),
        )
    };
    // Small traces round several default capacities up to the same minimum: simulate each once.
    capacities.sort_unstable();
    capacities.dedup();
    if let Some(total) = total {
        bar.set_length(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} requests ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    bar.set_message(format!(
        "replaying through {} caches",
        capacities.len() * libraries.len()
    ));
    let results = sim::simulate_stream(open_trace(path, format)?, &capacities, &libraries, |n| {
        bar.set_position(n)
    })?;
    bar.finish_and_clear();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(curves(&name, &results))
}

fn progress_bar(cli: &Cli) -> ProgressBar {
    let bar = if cli.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Runs `f` behind a spinner on standard error (hidden for `--json` or when not a terminal).
fn with_progress<T>(cli: &Cli, what: &str, f: impl FnOnce() -> T) -> T {
    let bar = progress_bar(cli);
    bar.set_message(format!("measuring {what}"));
    let out = f();
    bar.finish_and_clear();
    out
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
        print_hit_ratios(&report.hit_ratios);
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

fn print_hit_ratios(curves: &[HitRatioCurve]) {
    let Some(first) = curves.first() else { return };
    println!(
        "\nHit ratio (%) on {}, get then insert on a miss:",
        first.workload
    );
    print!("{:<28}", "cache \\ capacity");
    for (cap, _) in &first.points {
        print!(" {cap:>9}");
    }
    println!();
    for c in curves {
        print!("{:<28}", c.policy);
        for (_, ratio) in &c.points {
            print!(" {ratio:>9.2}");
        }
        println!();
    }
}

fn print_table(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
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
