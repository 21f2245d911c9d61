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
