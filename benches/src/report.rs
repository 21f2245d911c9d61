//! The report `patinox-bench` writes: a self-contained HTML page with inline SVG charts, and
//! the same data as JSON.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::measure::Row;
use crate::svg::{self, Series};

/// Hit ratio of one policy at several capacities, on one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRatioCurve {
    /// Workload or trace name.
    pub workload: String,
    /// Policy or library, such as `"patinox TinyLfu"` or `"moka"`.
    pub policy: String,
    /// `(capacity in entries, hit ratio in percent)`, by increasing capacity.
    pub points: Vec<(usize, f64)>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Where the figures came from (CPU, cores, date).
    pub machine: String,
    /// Per-operation timings.
    pub rows: Vec<Row>,
    /// Hit-ratio simulations.
    pub hit_ratios: Vec<HitRatioCurve>,
}

/// One line describing this machine: CPU model, core count, OS.
pub fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The default report folder: `target/patinox-report/` of this workspace (or of
/// `CARGO_TARGET_DIR` when set).
pub fn default_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("patinox-report")
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as one HTML page with inline SVG charts.
    pub fn to_html(&self) -> String {
        let mut html = String::from(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>patinox-bench report</title>\
             <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}\
             table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
             td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}</style></head><body>",
        );
        let _ = write!(
            html,
            "<h1>patinox-bench report</h1><p>Machine: {}. Times are medians per operation; \
             ratios are to the first library of each operation (patinox).</p>",
            svg::escape(&self.machine)
        );
        for w in self.workloads() {
            html.push_str(&self.hit_ratio_chart(w));
            html.push_str("<table><tr><th>policy</th><th>capacity</th><th>hit ratio %</th></tr>");
            for c in self.hit_ratios.iter().filter(|c| c.workload == w) {
                for (cap, r) in &c.points {
                    let _ = write!(
                        html,
                        "<tr><td>{}</td><td>{cap}</td><td>{r:.2}</td></tr>",
                        svg::escape(&c.policy)
                    );
                }
            }
            html.push_str("</table>");
        }
        if let Some(chart) = self.timing_chart() {
            html.push_str(&chart);
            html.push_str(
                "<table><tr><th>component</th><th>operation</th><th>library</th><th>ns/op</th><th>ratio</th><th>note</th></tr>",
            );
            for (r, ratio) in self.rows.iter().zip(ratios(&self.rows)) {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{ratio:.2}</td><td>{}</td></tr>",
                    svg::escape(r.component),
                    svg::escape(&r.operation),
                    svg::escape(r.library),
                    r.ns_per_op,
                    svg::escape(&r.note)
                );
            }
            html.push_str("</table>");
        }
        html.push_str("</body></html>\n");
        html
    }

    /// The workloads simulated, in order.
    fn workloads(&self) -> Vec<&str> {
        let mut workloads: Vec<&str> = self
            .hit_ratios
            .iter()
            .map(|c| c.workload.as_str())
            .collect();
        workloads.dedup();
        workloads
    }

    /// The hit ratio against capacity of every policy on workload `w`.
    fn hit_ratio_chart(&self, w: &str) -> String {
        let series: Vec<Series> = self
            .hit_ratios
            .iter()
            .filter(|c| c.workload == w)
            .map(|c| Series {
                name: c.policy.clone(),
                points: c.points.iter().map(|&(cap, r)| (cap as f64, r)).collect(),
            })
            .collect();
        svg::line_chart(
            &format!("Hit ratio on {w}"),
            "capacity (entries, log scale)",
            "hit ratio (%)",
            &series,
            true,
        )
    }

    /// Time per operation of every library, grouped by operation; `None` without timings.
    fn timing_chart(&self) -> Option<String> {
        let groups = self.timing_groups();
        (!groups.is_empty())
            .then(|| svg::bar_chart("Time per operation (lower is better)", "ns", &groups))
    }

    /// The report's charts as standalone SVG files: `(file name, contents)`, one
    /// `hit-ratio-N.svg` per simulated workload and `time-per-op.svg`.
    pub fn charts(&self) -> Vec<(String, String)> {
        let mut charts: Vec<(String, String)> = self
            .workloads()
            .into_iter()
            .enumerate()
            .map(|(i, w)| (format!("hit-ratio-{}.svg", i + 1), self.hit_ratio_chart(w)))
            .collect();
        if let Some(chart) = self.timing_chart() {
            charts.push(("time-per-op.svg".to_owned(), chart));
        }
        charts
    }

    fn timing_groups(&self) -> Vec<(String, Vec<(String, f64)>)> {
        let mut groups: Vec<(String, Vec<(String, f64)>)> = Vec::new();
        for r in &self.rows {
            let key = format!("{}: {}", r.component, r.operation);
            match groups.last_mut() {
                Some((k, v)) if *k == key => v.push((r.library.to_owned(), r.ns_per_op)),
                _ => groups.push((key, vec![(r.library.to_owned(), r.ns_per_op)])),
            }
        }
        groups
    }

    /// Writes `index.html`, `report.json` and each chart as an SVG file (see
    /// [`charts`](Self::charts)) into `dir` (created if needed); returns the path of the HTML
    /// page.
    ///
    /// # Errors
    ///
    /// Any I/O error creating the folder or writing the files.
    pub fn write(&self, dir: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let html = dir.join("index.html");
        std::fs::write(&html, self.to_html())?;
        std::fs::write(dir.join("report.json"), self.to_json())?;
        for (name, chart) in self.charts() {
            std::fs::write(dir.join(name), chart)?;
        }
        Ok(html)
    }
}

/// Ratio of each row to the first row of its (component, operation) group.
pub fn ratios(rows: &[Row]) -> Vec<f64> {
    let mut base = (None::<(&str, &str)>, 0.0);
    rows.iter()
        .map(|r| {
            if base.0 != Some((r.component, r.operation.as_str())) {
                base = (Some((r.component, r.operation.as_str())), r.ns_per_op);
            }
            if base.1 > 0.0 {
                r.ns_per_op / base.1
            } else {
                f64::NAN
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(op: &str, lib: &'static str, ns: f64) -> Row {
        Row {
            component: "cache",
            operation: op.into(),
            library: lib,
            ns_per_op: ns,
            note: String::new(),
        }
    }

    fn sample() -> Report {
        Report {
            machine: "test machine".into(),
            rows: vec![
                row("get", "patinox", 10.0),
                row("get", "moka", 30.0),
                row("insert", "patinox", 5.0),
            ],
            hit_ratios: vec![HitRatioCurve {
                workload: "zipf+scan".into(),
                policy: "patinox TinyLfu".into(),
                points: vec![(100, 20.0), (1000, 45.5)],
            }],
        }
    }

    #[test]
    fn ratios_restart_at_each_operation() {
        assert_eq!(ratios(&sample().rows), vec![1.0, 3.0, 1.0]);
    }

    #[test]
    fn html_has_both_charts_and_all_rows() {
        let html = sample().to_html();
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("Hit ratio on zipf+scan"));
        assert!(html.contains("<td>moka</td><td>30.00</td><td>3.00</td>"));
        assert!(html.contains("<td>1000</td><td>45.50</td>"));
    }

    #[test]
    fn json_round_trips_the_figures() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["rows"][1]["library"], "moka");
        assert_eq!(v["hit_ratios"][0]["points"][1][1], 45.5);
    }

    #[test]
    fn write_creates_html_and_json_files() {
        let dir = std::env::temp_dir().join(format!("patinox-report-test-{}", std::process::id()));
        let path = sample().write(&dir).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
        assert!(dir.join("report.json").exists());
        let line = std::fs::read_to_string(dir.join("hit-ratio-1.svg")).unwrap();
        assert!(line.starts_with("<svg") && line.contains("Hit ratio on zipf+scan"));
        assert!(
            std::fs::read_to_string(dir.join("time-per-op.svg"))
                .unwrap()
                .contains("moka")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
