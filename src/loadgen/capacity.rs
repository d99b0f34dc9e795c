//! The capacity benchmark's logic: run the load test at growing concurrency
//! steps and stop at the first step that breaks the service target (p99
//! engine-added turn latency above the limit, or any lost/late bot frame).
//! `benches/capacity.rs` is the thin `main` around it.

use std::fmt::Write as _;

use serde::Serialize;

use super::{run_with, LoadtestConfig, LoadtestError, Progress, Report};

/// Default concurrency steps.
pub const DEFAULT_STEPS: [usize; 6] = [100, 250, 500, 1000, 2000, 4000];

/// The engine under test.
pub trait Target {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    fn base_url(&self) -> String;
    /// Process to sample; None when it runs inside this process.
    fn pid(&self) -> Option<u32>;
}

/// An engine already listening somewhere (a `switchboard serve` child).
#[derive(Debug, Clone)]
pub struct UrlTarget {
    pub url: String,
    pub pid: Option<u32>,
}

impl Target for UrlTarget {
    fn base_url(&self) -> String {
        self.url.clone()
    }
    fn pid(&self) -> Option<u32> {
        self.pid
    }
}

/// What one step measured and whether it held the target.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub concurrency: usize,
    pub max_active: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected: u64,
    pub turns: usize,
    pub turn_p99_ms: f32,
    pub engine_added_p50_ms: f32,
    pub engine_added_p99_ms: f32,
    pub barge_in_p99_ms: f32,
    pub late_bot_frames: u64,
    pub caller_late_frames: u64,
    pub cpu_mean_pct: f32,
    pub rss_start_kb: u64,
    pub rss_max_kb: u64,
    /// Mean CPU of the target divided by the peak number of live calls.
    pub cpu_per_call_pct: f32,
    /// RSS growth of the target divided by the peak number of live calls.
    pub rss_per_call_kb: f32,
    pub passed: bool,
    pub verdict: String,
}

/// Parses `CAPACITY_STEPS` (`"100,250,500"`); falls back to the defaults.
pub fn parse_steps(text: Option<&str>) -> Vec<usize> {
    let parsed: Vec<usize> = text
        .unwrap_or("")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    if parsed.is_empty() {
        DEFAULT_STEPS.to_vec()
    } else {
        parsed
    }
}

/// Judges one step's report against the service target.
pub fn judge(concurrency: usize, report: &Report, max_p99_ms: f32) -> StepResult {
    let (cpu, rss0, rss1) = report.target_proc.as_ref().map_or((0.0, 0, 0), |p| {
        (p.cpu_mean_pct, p.rss_start_kb, p.rss_max_kb)
    });
    let peak = report.max_active.max(1) as f32;
    let mut failures = Vec::new();
    if report.engine_added.count == 0 {
        failures.push("no turn completed".to_owned());
    } else if report.engine_added.p99 > max_p99_ms {
        failures.push(format!(
            "engine-added p99 {:.1} ms > {max_p99_ms} ms",
            report.engine_added.p99
        ));
    }
    if report.late_bot_frames > 0 {
        failures.push(format!(
            "{} bot frames lost or late",
            report.late_bot_frames
        ));
    }
    let c = &report.calls;
    if c.failed + c.rejected > 0 {
        failures.push(format!(
            "{} failed, {} rejected calls",
            c.failed, c.rejected
        ));
    }
    StepResult {
        concurrency,
        max_active: report.max_active,
        completed: c.completed,
        failed: c.failed,
        rejected: c.rejected,
        turns: report.turn_latency.count,
        turn_p99_ms: report.turn_latency.p99,
        engine_added_p50_ms: report.engine_added.p50,
        engine_added_p99_ms: report.engine_added.p99,
        barge_in_p99_ms: report.barge_in.p99,
        late_bot_frames: report.late_bot_frames,
        caller_late_frames: report.caller_late_frames,
        cpu_mean_pct: cpu,
        rss_start_kb: rss0,
        rss_max_kb: rss1,
        cpu_per_call_pct: cpu / peak,
        rss_per_call_kb: rss1.saturating_sub(rss0) as f32 / peak,
        passed: failures.is_empty(),
        verdict: if failures.is_empty() {
            "ok".to_owned()
        } else {
            failures.join("; ")
        },
    }
}

/// Runs the steps in order until one fails; returns every step run.
pub async fn run_steps(
    target: &dyn Target,
    base: &LoadtestConfig,
    plan: &super::script::Plan,
    fixtures: &super::fixtures::Fixtures,
    steps: &[usize],
    max_p99_ms: f32,
    progress: impl Fn(&Progress),
) -> Result<Vec<StepResult>, LoadtestError> {
    let mut results = Vec::new();
    for &n in steps {
        let mut cfg = base.clone();
        cfg.calls = n as u64;
        cfg.concurrency = n;
        cfg.target_pid = target.pid();
        cfg.target_in_process = target.pid().is_none();
        let report = run_with(
            cfg,
            target.base_url(),
            plan.clone(),
            fixtures.clone(),
            &progress,
        )
        .await?;
        let step = judge(n, &report, max_p99_ms);
        let passed = step.passed;
        results.push(step);
        if !passed {
            break;
        }
    }
    Ok(results)
}

/// The Markdown written to `benches/RESULTS-capacity.md`.
pub fn results_markdown(results: &[StepResult], command: &str, notes: &str) -> String {
    let mut md = String::from("# Capacity benchmark\n\n");
    // Writing into a String cannot fail.
    let _ = writeln!(md, "Command: `{command}`\n\n{notes}\n");
    let best = results
        .iter()
        .filter(|r| r.passed)
        .max_by_key(|r| r.max_active);
    match best {
        Some(b) => {
            let _ = writeln!(
                md,
                "**Max sustained calls: {}** (step {}), CPU per call {:.3}% of a core, RSS per call {:.0} kB.\n",
                b.max_active, b.concurrency, b.cpu_per_call_pct, b.rss_per_call_kb
            );
        }
        None => md.push_str("**No step held the target.**\n\n"),
    }
    md.push_str("| step | peak live | done | failed | rejected | turns | turn p99 | engine-added p50 | engine-added p99 | barge-in p99 | lost/late bot frames | caller late frames | CPU % | RSS start→max MB | CPU %/call | RSS kB/call | verdict |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {:.0} | {:.0}→{:.0} | {:.3} | {:.0} | {} |",
            r.concurrency, r.max_active, r.completed, r.failed, r.rejected, r.turns,
            r.turn_p99_ms, r.engine_added_p50_ms, r.engine_added_p99_ms, r.barge_in_p99_ms,
            r.late_bot_frames, r.caller_late_frames, r.cpu_mean_pct,
            r.rss_start_kb as f32 / 1024.0, r.rss_max_kb as f32 / 1024.0,
            r.cpu_per_call_pct, r.rss_per_call_kb, r.verdict
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_or_fall_back() {
        assert_eq!(parse_steps(Some("10, 20,x,0")), vec![10, 20]);
        assert_eq!(parse_steps(None), DEFAULT_STEPS.to_vec());
        assert_eq!(parse_steps(Some("")), DEFAULT_STEPS.to_vec());
    }
}
