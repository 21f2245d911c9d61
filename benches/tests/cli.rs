//! `patinox-bench` end to end, with tiny sizes.

use std::path::PathBuf;
use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_patinox-bench"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patinox-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn tour_prints_json_and_writes_the_report() {
    let dir = temp_dir("tour");
    let out = bench()
        .args(["--smoke", "--json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["ns_per_op"].as_f64().is_some_and(|ns| ns > 0.0))
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("<svg"));
    assert!(dir.join("report.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_prints_a_table_and_the_report_path() {
    let dir = temp_dir("compare");
    let out = bench()
        .args(["compare", "monitor", "--smoke", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ratio"), "{stdout}");
    assert!(
        stdout.contains(&format!("Report: {}", dir.join("index.html").display())),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_component_is_a_usage_error() {
    let out = bench().args(["compare", "no-such-thing"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-thing"));
}

#[test]
fn unwritable_report_folder_is_a_clear_error() {
    let out = bench()
        .args(["--smoke", "--out", "/proc/patinox-cannot-write-here"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the report"));
}

fn write_trace(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("patinox-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn simulate_replays_a_trace_and_charts_every_library() {
    // 300 distinct keys, each requested four times: capacities default to 64 (unique/100 etc.).
    let text: String = (0..1200).map(|i| format!("{}\n", (i * 7) % 300)).collect();
    let trace = write_trace("ok.trace", &format!("* a LIRS header line\n\n{text}"));
    let dir = temp_dir("simulate");
    let out = bench()
        .arg("simulate")
        .arg("--trace")
        .arg(&trace)
        .args(["--json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let curves = v["hit_ratios"].as_array().unwrap();
    assert_eq!(curves.len(), 7, "every library");
    for c in curves {
        let points = c["points"].as_array().unwrap();
        assert_eq!(
            points.len(),
            1,
            "unique/100, /20 and /5 all round up to 64: {c}"
        );
        assert_eq!(points[0][0], 64);
        let ratio = points[0][1].as_f64().unwrap();
        assert!(
            (0.0..=75.0).contains(&ratio),
            "at most 3 of 4 requests can hit: {ratio}"
        );
    }
    assert!(
        std::fs::read_to_string(dir.join("hit-ratio-1.svg"))
            .unwrap()
            .contains("<polyline")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&trace).unwrap();
}

#[test]
fn simulate_takes_capacities_libraries_and_format() {
    let trace = write_trace("arc.txt", "0 4 0 1\n2 4 0 2\n0 2 0 3\n");
    let out = bench()
        .arg("simulate")
        .arg("--trace")
        .arg(&trace)
        .args([
            "--format",
            "arc",
            "--capacity",
            "2",
            "--capacity",
            "8",
            "--library",
            "lru",
            "--library",
            "patinox-tinylfu",
            "--json",
            "--out",
        ])
        .arg(temp_dir("simulate-args"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let curves = v["hit_ratios"].as_array().unwrap();
    let names: Vec<&str> = curves
        .iter()
        .map(|c| c["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lru", "patinox TinyLfu"]);
    // Keys 0 1 2 3 | 2 3 4 5 | 0 1: with room for 8, the second 2 and 3 and the last 0 and 1 hit.
    let lru_at_8 = &curves[0]["points"][1];
    assert_eq!(lru_at_8[0], 8);
    assert!(
        (lru_at_8[1].as_f64().unwrap() - 40.0).abs() < 1e-9,
        "{lru_at_8}"
    );
    std::fs::remove_file(&trace).unwrap();
}

#[test]
fn simulate_names_the_malformed_line() {
    let trace = write_trace("bad.trace", "1\n2\nthree\n4\n");
    let out = bench()
        .arg("simulate")
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":3: expected one unsigned integer key"),
        "{stderr}"
    );
    assert!(stderr.contains("three"), "{stderr}");
    std::fs::remove_file(&trace).unwrap();
}

#[test]
fn simulate_reports_a_missing_file_and_bad_arguments() {
    let out = bench()
        .args(["simulate", "--trace", "/no/such/trace.lis"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read trace /no/such/trace.lis"));
    let out = bench()
        .args(["simulate", "--trace", "x.lis", "--capacity", "0"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a zero capacity is a usage error"
    );
    let out = bench()
        .args(["simulate", "--trace", "x.lis", "--library", "memcached"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown cache library"));
}
