//! Minimal SVG charts for the report: a line chart and a grouped horizontal bar chart.
//!
//! Written by hand so the report is one self-contained file with no plotting dependency.

use std::fmt::Write as _;

const PALETTE: [&str; 8] = [
    "#1b6ca8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#30638e", "#9b2915",
];

/// Colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for use inside SVG/HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart of `series`; x on a log scale when `log_x` (all x must then be > 0).
///
/// Returns an `<svg>` element. Empty input gives a chart that says "no data".
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> String {
    let (w, h) = (720.0, 420.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let mut svg = header(w, h, title);
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let tx = |x: f64| {
        if log_x {
            x.max(f64::MIN_POSITIVE).log10()
        } else {
            x
        }
    };
    if pts.is_empty() || pts.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">no data</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return svg;
    }
    let (mut x0, mut x1) = min_max(pts.iter().map(|p| tx(p.0)));
    let (_, mut y1) = min_max(pts.iter().map(|p| p.1));
    let mut y0 = 0.0;
    if x1 <= x0 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    if y1 <= y0 {
        y0 = y1 - 1.0;
        y1 += 1.0;
    }
    y1 *= 1.05;
    let sx = |x: f64| left + (tx(x) - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;
    axes(&mut svg, left, top, pw, ph, x_label, y_label);
    for i in 0..=4 {
        let v = y0 + (y1 - y0) * f64::from(i) / 4.0;
        let y = sy(v);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            short(v)
        );
    }
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for x in xs.iter().take(12) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            sx(*x),
            top + ph + 16.0,
            short(*x)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let c = colour(i);
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for &(x, y) in &s.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#,
                sx(x),
                sy(y)
            );
        }
        let ly = top + 14.0 + 18.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="3" fill="{c}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            left + pw + 12.0,
            ly - 4.0,
            left + pw + 30.0,
            ly,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart: for each group (an operation), a title line, then one bar per
/// (label, value), scaled to the group's largest value.
pub fn bar_chart(title: &str, unit: &str, groups: &[(String, Vec<(String, f64)>)]) -> String {
    let bar_h = 16.0;
    let title_h = 20.0;
    let gap = 10.0;
    let (left, top, width) = (190.0, 40.0, 420.0);
    let bars: usize = groups.iter().map(|g| g.1.len()).sum();
    let h = top + bars as f64 * (bar_h + 3.0) + groups.len() as f64 * (title_h + gap) + 20.0;
    let w = left + width + 110.0;
    let mut svg = header(w, h, title);
    let mut y = top;
    for (group, rows) in groups {
        let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
        let _ = write!(
            svg,
            r#"<text x="8" y="{:.1}" font-size="12" font-weight="bold">{}</text>"#,
            y + 13.0,
            escape(group)
        );
        y += title_h;
        for (i, (label, value)) in rows.iter().enumerate() {
            let len = if max > 0.0 && value.is_finite() {
                value / max * width
            } else {
                0.0
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text><rect x="{left}" y="{y:.1}" width="{len:.1}" height="{bar_h}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{} {}</text>"#,
                left - 6.0,
                y + 12.0,
                escape(label),
                colour(i),
                left + len + 4.0,
                y + 12.0,
                short(*value),
                escape(unit)
            );
            y += bar_h + 3.0;
        }
        y += gap;
    }
    svg.push_str("</svg>");
    svg
}

fn header(w: f64, h: f64, title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h:.0}" viewBox="0 0 {w} {h:.0}" font-family="sans-serif"><text x="{:.0}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        w / 2.0,
        escape(title)
    )
}

fn axes(svg: &mut String, left: f64, top: f64, pw: f64, ph: f64, x_label: &str, y_label: &str) {
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" font-size="12">{}</text>"#,
        top + ph,
        top + ph,
        left + pw,
        top + ph,
        left + pw / 2.0,
        top + ph + 36.0,
        escape(x_label),
        top + ph / 2.0,
        escape(y_label)
    );
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Compact number formatting for axis ticks and labels.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || (v.fract() == 0.0 && a >= 1.0) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn line_chart_draws_one_polyline_per_series_and_a_legend() {
        let s = vec![
            Series {
                name: "lru".into(),
                points: vec![(64.0, 10.0), (640.0, 30.0)],
            },
            Series {
                name: "tiny<lfu>".into(),
                points: vec![(64.0, 20.0), (640.0, 40.0)],
            },
        ];
        let svg = line_chart("hit ratio", "capacity", "%", &s, true);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("tiny&lt;lfu&gt;"));
    }

    #[test]
    fn empty_or_non_finite_input_says_no_data() {
        assert!(line_chart("t", "x", "y", &[], false).contains("no data"));
        let bad = vec![Series {
            name: "x".into(),
            points: vec![(1.0, f64::NAN)],
        }];
        assert!(line_chart("t", "x", "y", &bad, false).contains("no data"));
    }

    #[test]
    fn bar_chart_draws_one_bar_per_value() {
        let g = vec![(
            "get".to_owned(),
            vec![("ours".to_owned(), 10.0), ("peer".to_owned(), 25.0)],
        )];
        let svg = bar_chart("time", "ns", &g);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(">25 ns<"), "{svg}");
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(short(37_376.0), "37k");
        assert_eq!(short(202.0), "202");
        assert_eq!(short(12.345), "12.3");
        assert_eq!(short(20.0), "20");
        assert_eq!(short(0.5), "0.50");
    }
}
