//! The HTML report: one self-contained file with inline SVG plots drawn
//! here (latency histograms, CDFs, concurrency, CPU and RSS over time) and
//! the summary table. No scripts, no network resources.

use std::fmt::Write as _;

use super::metrics::{cdf_of_sorted, Histogram};
use super::report::Report;

const WIDTH: f32 = 560.0;
const HEIGHT: f32 = 260.0;
const LEFT: f32 = 60.0;
const BOTTOM: f32 = 40.0;
const TOP: f32 = 30.0;
const RIGHT: f32 = 20.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];

/// Renders the whole report page.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard load test</title><style>");
    h.push_str("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}svg{margin:8px;background:#fafafa;border:1px solid #eee}pre{background:#f4f4f4;padding:1em}");
    h.push_str("</style></head><body>");
    let _ = write!(h, "<h1>Load test: {}</h1>", esc(&r.plan));
    let _ = write!(h, "<pre>{}</pre>", esc(&r.table()));
    summary_table(&mut h, r);
    h.push_str("<h2>Latency distributions</h2><div>");
    let raw = &r.raw;
    for (title, data) in [
        ("Turn latency (ms)", &raw.turn),
        ("Engine-added turn latency (ms)", &raw.engine_added),
        ("Barge-in to clear (ms)", &raw.barge_in),
        ("Greeting latency (ms)", &raw.greeting),
    ] {
        if !data.is_empty() {
            h.push_str(&histogram_svg(title, &Histogram::of_sorted(data, 40)));
        }
    }
    h.push_str("</div><h2>CDFs</h2><div>");
    let cdfs: Vec<(&str, Vec<(f32, f32)>)> = [
        ("turn", &raw.turn),
        ("engine-added", &raw.engine_added),
        ("barge-in", &raw.barge_in),
    ]
    .into_iter()
    .filter(|(_, d)| !d.is_empty())
    .map(|(n, d)| (n, cdf_of_sorted(d, 200)))
    .collect();
    if !cdfs.is_empty() {
        h.push_str(&line_svg("CDF of latencies", "ms", "fraction", &cdfs));
    }
    h.push_str("</div><h2>Over time</h2><div>");
    let active: Vec<(f32, f32)> = r.concurrency.iter().map(|&(t, n)| (t, n as f32)).collect();
    h.push_str(&line_svg(
        "Active calls",
        "s",
        "calls",
        &[("active", active)],
    ));
    let mut cpu = Vec::new();
    let mut rss = Vec::new();
    for (name, p) in [
        ("target", r.target_proc.as_ref()),
        ("loadgen", Some(&r.loadgen_proc)),
    ] {
        if let Some(p) = p {
            cpu.push((name, p.samples.iter().map(|s| (s.t_s, s.cpu_pct)).collect()));
            let mb = p.samples.iter().map(|s| (s.t_s, s.rss_kb as f32 / 1024.0));
            rss.push((name, mb.collect()));
        }
    }
    h.push_str(&line_svg("CPU (% of one core)", "s", "%", &cpu));
    h.push_str(&line_svg("RSS (MiB)", "s", "MiB", &rss));
    h.push_str("</div></body></html>\n");
    h
}

fn summary_table(h: &mut String, r: &Report) {
    h.push_str("<table><tr><th>metric (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>");
    for (name, s) in r.summaries() {
        let _ = write!(
            h,
            "<tr><td>{name}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            s.count, s.p50, s.p90, s.p99, s.max
        );
    }
    h.push_str("</table>");
}

/// Maps data coordinates onto the plot area.
struct Frame {
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
}

impl Frame {
    fn px(&self, x: f32) -> f32 {
        LEFT + (x - self.x0) / (self.x1 - self.x0).max(f32::EPSILON) * (WIDTH - LEFT - RIGHT)
    }
    fn py(&self, y: f32) -> f32 {
        HEIGHT
            - BOTTOM
            - (y - self.y0) / (self.y1 - self.y0).max(f32::EPSILON) * (HEIGHT - TOP - BOTTOM)
    }

    /// Title, axes and five ticks on each axis.
    fn axes(&self, title: &str, x_label: &str, y_label: &str) -> String {
        let mut s = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="11"><text x="{}" y="18" font-size="13" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            esc(title)
        );
        let (bx, by) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{bx}" x2="{by}" y2="{bx}" stroke="#444"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bx}" stroke="#444"/>"##
        );
        for i in 0..=4 {
            let f = i as f32 / 4.0;
            let (xv, yv) = (
                self.x0 + f * (self.x1 - self.x0),
                self.y0 + f * (self.y1 - self.y0),
            );
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                self.px(xv),
                bx + 14.0,
                num(xv),
                LEFT - 4.0,
                self.py(yv) + 4.0,
                num(yv)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            HEIGHT - 6.0,
            esc(x_label),
            HEIGHT / 2.0,
            HEIGHT / 2.0,
            esc(y_label)
        );
        s
    }
}

/// A bar chart of a histogram.
pub fn histogram_svg(title: &str, hist: &Histogram) -> String {
    let max = hist.counts.iter().copied().max().unwrap_or(1).max(1) as f32;
    let frame = Frame {
        x0: hist.lo,
        x1: hist.lo + hist.width * hist.counts.len() as f32,
        y0: 0.0,
        y1: max,
    };
    let mut s = frame.axes(title, "ms", "count");
    for (i, &c) in hist.counts.iter().enumerate() {
        let x = hist.lo + hist.width * i as f32;
        let (l, r) = (frame.px(x), frame.px(x + hist.width));
        let top = frame.py(c as f32);
        let _ = write!(
            s,
            r#"<rect x="{l:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
            (r - l - 1.0).max(0.5),
            frame.py(0.0) - top,
            COLORS[0]
        );
    }
    s.push_str("</svg>");
    s
}

/// A line chart of one or more named series, with a legend.
pub fn line_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f32, f32)>)],
) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f32::MAX, f32::MIN, 0.0f32);
    for &(x, y) in points {
        (x0, x1, y1) = (x0.min(x), x1.max(x), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    let frame = Frame {
        x0: x0.min(0.0),
        x1: x1.max(x0 + 1.0),
        y0: 0.0,
        y1: if y1 > 0.0 { y1 * 1.05 } else { 1.0 },
    };
    let mut s = frame.axes(title, x_label, y_label);
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", frame.px(x), frame.py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/><text x="{:.1}" y="{:.1}" fill="{color}">{}</text>"#,
            path.join(" "),
            WIDTH - RIGHT - 90.0,
            TOP + 14.0 * (i as f32 + 1.0),
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

fn num(v: f32) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_svg_has_one_bar_per_bin() {
        let h = Histogram::of_sorted(&[1.0, 2.0, 2.5, 9.0], 8);
        let svg = histogram_svg("t <x>", &h);
        assert_eq!(svg.matches("<rect").count(), 8);
        assert!(svg.contains("t &lt;x&gt;"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn line_svg_survives_empty_and_flat_series() {
        let svg = line_svg("empty", "s", "n", &[("a", vec![])]);
        assert!(svg.contains("<polyline"));
        let flat = line_svg("flat", "s", "n", &[("a", vec![(0.0, 0.0), (0.0, 0.0)])]);
        assert!(!flat.contains("NaN"));
    }
}
