//! The run report: per-run counts, latency summaries, time series, and the
//! per-call records, as a text table (stdout), `report.json` and a
//! self-contained `report.html` (see [`super::html`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use tokio::time::Instant;

use super::caller::{CallOutcome, CallRecord};
use super::metrics::{Samples, Summary};
use super::procstat::{ProcSample, ProcTarget};
use super::{LoadtestConfig, ProviderDelays, Sampler};

/// How the calls of a run ended.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CallCounts {
    pub planned: u64,
    pub started: u64,
    /// Script ran to its end.
    pub completed: u64,
    /// The engine closed the stream before the script ended.
    pub ended_by_engine: u64,
    /// Hung up because the run's duration passed.
    pub deadline: u64,
    pub failed: u64,
    pub rejected: u64,
    /// Caller tasks that panicked (a load generator bug).
    pub panicked: u64,
}

/// CPU and RSS of one process over the run.
#[derive(Debug, Clone, Serialize)]
pub struct ProcReport {
    pub target: ProcTarget,
    pub cpu_mean_pct: f32,
    pub cpu_max_pct: f32,
    pub rss_start_kb: u64,
    pub rss_max_kb: u64,
    pub samples: Vec<ProcSample>,
}

impl ProcReport {
    fn from_series(series: &super::procstat::ProcSeries, rss_start_kb: Option<u64>) -> Self {
        let s = &series.samples;
        let n = s.len().max(1) as f32;
        ProcReport {
            target: series.target,
            cpu_mean_pct: s.iter().map(|p| p.cpu_pct).sum::<f32>() / n,
            cpu_max_pct: s.iter().map(|p| p.cpu_pct).fold(0.0, f32::max),
            rss_start_kb: rss_start_kb.or(s.first().map(|p| p.rss_kb)).unwrap_or(0),
            rss_max_kb: s.iter().map(|p| p.rss_kb).max().unwrap_or(0),
            samples: s.clone(),
        }
    }
}

/// Calls and turn latency of one script of a mixed population.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptSummary {
    pub script: String,
    pub calls: u64,
    pub turn_latency: Summary,
    pub barge_in: Summary,
}

fn per_script(records: &[CallRecord]) -> Vec<ScriptSummary> {
    let mut by: BTreeMap<&str, (u64, Samples, Samples)> = BTreeMap::new();
    for r in records {
        let e = by.entry(&r.script).or_default();
        e.0 += 1;
        e.1.extend(&r.turn_ms);
        e.2.extend(&r.barge_in_ms);
    }
    by.into_iter()
        .map(|(name, (calls, mut turn, mut barge))| ScriptSummary {
            script: name.to_owned(),
            calls,
            turn_latency: turn.summary(),
            barge_in: barge.summary(),
        })
        .collect()
}

/// Sorted raw samples, kept for the HTML plots (not serialised).
#[derive(Debug, Clone, Default)]
pub struct RawSamples {
    pub turn: Vec<f32>,
    pub engine_added: Vec<f32>,
    pub greeting: Vec<f32>,
    pub barge_in: Vec<f32>,
    pub mark_held: Vec<f32>,
    pub gaps: Vec<f32>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan: String,
    pub target: String,
    pub seed: u64,
    pub concurrency_limit: usize,
    pub ramp_per_s: f64,
    pub duration_s: f32,
    pub calls: CallCounts,
    pub max_active: u64,
    pub provider_delays: ProviderDelays,
    /// Caller end of speech -> first bot audio.
    pub turn_latency: Summary,
    /// Turn latency minus the providers' configured delays.
    pub engine_added: Summary,
    pub greeting: Summary,
    /// Caller speech onset over bot audio -> `clear`.
    pub barge_in: Summary,
    pub barge_in_missed: u64,
    /// A backchannel's `clear` (the engine paused) -> bot audio again.
    pub backchannel_pause: Summary,
    /// Mark received -> echoed.
    pub mark_held: Summary,
    /// Playback underruns inside replies.
    pub bot_gaps: Summary,
    pub late_bot_frames: u64,
    pub caller_late_frames: u64,
    pub frames_sent: u64,
    pub bot_audio_s: f64,
    pub marks_echoed: u64,
    pub reply_timeouts: u64,
    pub protocol_errors: u64,
    /// Failure and rejection reasons with counts, most common first.
    pub failure_reasons: Vec<(String, u64)>,
    pub per_script: Vec<ScriptSummary>,
    /// (seconds since start, active calls).
    pub concurrency: Vec<(f32, u64)>,
    pub target_proc: Option<ProcReport>,
    pub loadgen_proc: ProcReport,
    pub call_records: Vec<CallRecord>,
    #[serde(skip)]
    pub raw: RawSamples,
}

impl Report {
    /// Folds the call records and time series of a run into a report.
    pub fn build(
        cfg: &LoadtestConfig,
        target: &str,
        plan: &str,
        mut records: Vec<CallRecord>,
        sampler: Sampler,
        run_start: Instant,
    ) -> Report {
        records.sort_by_key(|r| r.index);
        let mut counts = CallCounts {
            planned: cfg.calls,
            started: records.len() as u64 + sampler.panics.len() as u64,
            panicked: sampler.panics.len() as u64,
            ..CallCounts::default()
        };
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        for p in &sampler.panics {
            *reasons.entry(format!("panic: {p}")).or_default() += 1;
        }
        let mut s = SampleSets::default();
        for r in &records {
            count_outcome(&mut counts, &mut reasons, &r.outcome);
            s.add(r, cfg.provider_delays.total_ms());
        }
        let mut failure_reasons: Vec<_> = reasons.into_iter().collect();
        failure_reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        let sum = |f: fn(&CallRecord) -> u64| records.iter().map(f).sum::<u64>();
        Report {
            plan: plan.to_owned(),
            target: target.to_owned(),
            seed: cfg.seed,
            concurrency_limit: cfg.concurrency,
            ramp_per_s: cfg.ramp_per_s,
            duration_s: run_start.elapsed().as_secs_f32(),
            calls: counts,
            max_active: sampler.concurrency.iter().map(|c| c.1).max().unwrap_or(0),
            provider_delays: cfg.provider_delays,
            turn_latency: s.turn.summary(),
            engine_added: s.engine.summary(),
            greeting: s.greeting.summary(),
            barge_in: s.barge.summary(),
            barge_in_missed: sum(|r| u64::from(r.barge_in_missed)),
            backchannel_pause: s.backchannel.summary(),
            mark_held: s.mark.summary(),
            bot_gaps: s.gaps.summary(),
            late_bot_frames: sum(|r| u64::from(r.late_bot_frames)),
            caller_late_frames: sum(|r| u64::from(r.caller_late_frames)),
            frames_sent: sum(|r| r.frames_sent),
            bot_audio_s: sum(|r| r.bot_audio_bytes) as f64 / 8000.0,
            marks_echoed: sum(|r| u64::from(r.marks_echoed)),
            reply_timeouts: sum(|r| u64::from(r.reply_timeouts)),
            protocol_errors: sum(|r| u64::from(r.protocol_errors)),
            failure_reasons,
            per_script: per_script(&records),
            target_proc: sampler
                .target
                .as_ref()
                .map(|t| ProcReport::from_series(t, sampler.target_rss_start_kb)),
            loadgen_proc: ProcReport::from_series(&sampler.loadgen, None),
            concurrency: sampler.concurrency,
            call_records: records,
            raw: s.into_raw(),
        }
    }

    /// The final table for stdout.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let c = &self.calls;
        // Writing into a String cannot fail.
        let _ = writeln!(
            t,
            "load test {} against {} ({:.1}s, seed {})",
            self.plan, self.target, self.duration_s, self.seed
        );
        let _ = writeln!(
            t,
            "calls: planned {} started {} completed {} ended-by-engine {} deadline {} failed {} rejected {} (max active {})",
            c.planned, c.started, c.completed, c.ended_by_engine, c.deadline, c.failed, c.rejected, self.max_active
        );
        let _ = writeln!(
            t,
            "\n{:<28} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "metric (ms)", "count", "p50", "p90", "p99", "max", "mean"
        );
        for (name, s) in self.summaries() {
            let _ = writeln!(
                t,
                "{:<28} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                name, s.count, s.p50, s.p90, s.p99, s.max, s.mean
            );
        }
        let d = &self.provider_delays;
        let _ = writeln!(
            t,
            "\nengine-added = turn - (stt endpointing {} + llm first token {} + tts first byte {}) ms",
            d.stt_endpointing_ms, d.llm_first_token_ms, d.tts_first_byte_ms
        );
        let _ = writeln!(
            t,
            "late/lost bot frames {}  caller late frames {} of {}  barge-ins missed {}  reply timeouts {}  protocol errors {}",
            self.late_bot_frames, self.caller_late_frames, self.frames_sent, self.barge_in_missed,
            self.reply_timeouts, self.protocol_errors
        );
        if let Some(p) = &self.target_proc {
            proc_line(&mut t, "target", p);
        }
        proc_line(&mut t, "load generator", &self.loadgen_proc);
        if self.per_script.len() > 1 {
            for p in &self.per_script {
                let _ = writeln!(
                    t,
                    "script {:<16} calls {:>6}  turn p50 {:.0} p99 {:.0} ms  barge-in p99 {:.0} ms",
                    p.script, p.calls, p.turn_latency.p50, p.turn_latency.p99, p.barge_in.p99
                );
            }
        }
        for (reason, n) in self.failure_reasons.iter().take(5) {
            let _ = writeln!(t, "  {n} x {reason}");
        }
        t
    }

    /// Named summaries in table order.
    pub fn summaries(&self) -> [(&'static str, &Summary); 7] {
        [
            ("turn latency", &self.turn_latency),
            ("engine-added turn latency", &self.engine_added),
            ("greeting", &self.greeting),
            ("barge-in -> clear", &self.barge_in),
            ("backchannel pause", &self.backchannel_pause),
            ("mark held", &self.mark_held),
            ("bot audio gaps", &self.bot_gaps),
        ]
    }

    /// Writes `report.json` and `report.html` into `dir` (created if missing).
    pub fn write_files(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.html"), super::html::render(self))
    }
}

fn proc_line(t: &mut String, name: &str, p: &ProcReport) {
    // Writing into a String cannot fail.
    let _ = writeln!(
        t,
        "{name} {:?}: cpu mean {:.0}% max {:.0}% (100% = one core), rss {} -> max {} kB",
        p.target, p.cpu_mean_pct, p.cpu_max_pct, p.rss_start_kb, p.rss_max_kb
    );
}

fn count_outcome(counts: &mut CallCounts, reasons: &mut BTreeMap<String, u64>, o: &CallOutcome) {
    match o {
        CallOutcome::Completed => counts.completed += 1,
        CallOutcome::EndedByEngine => counts.ended_by_engine += 1,
        CallOutcome::Deadline => counts.deadline += 1,
        CallOutcome::Rejected(why) => {
            counts.rejected += 1;
            *reasons.entry(format!("rejected: {why}")).or_default() += 1;
        }
        CallOutcome::Failed(why) => {
            counts.failed += 1;
            *reasons.entry(format!("failed: {why}")).or_default() += 1;
        }
    }
}

#[derive(Default)]
struct SampleSets {
    turn: Samples,
    engine: Samples,
    greeting: Samples,
    barge: Samples,
    backchannel: Samples,
    mark: Samples,
    gaps: Samples,
}

impl SampleSets {
    fn add(&mut self, r: &CallRecord, provider_ms: f32) {
        self.turn.extend(&r.turn_ms);
        for &t in &r.turn_ms {
            self.engine.push(t - provider_ms);
        }
        if let Some(g) = r.greeting_ms {
            self.greeting.push(g);
        }
        self.barge.extend(&r.barge_in_ms);
        self.backchannel.extend(&r.backchannel_pause_ms);
        self.mark.extend(&r.mark_held_ms);
        self.gaps.extend(&r.gap_ms);
    }

    fn into_raw(mut self) -> RawSamples {
        RawSamples {
            turn: self.turn.sorted().to_vec(),
            engine_added: self.engine.sorted().to_vec(),
            greeting: self.greeting.sorted().to_vec(),
            barge_in: self.barge.sorted().to_vec(),
            mark_held: self.mark.sorted().to_vec(),
            gaps: self.gaps.sorted().to_vec(),
        }
    }
}
