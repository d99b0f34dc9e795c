//! The load generator: simulated Twilio callers that run scripted
//! conversations against an engine, measure what a caller would hear, and
//! report it (text table, JSON, self-contained HTML with plots).
//!
//! Data flow: [`run`] loads the [`script::Plan`] and the speech
//! [`fixtures::Fixtures`], launches calls at the ramp rate up to the
//! concurrency limit (one tokio task per call, [`caller::run_call`]), samples
//! active calls and `/proc` CPU/RSS every 250 ms, and folds the calls'
//! [`caller::CallRecord`]s into a [`report::Report`].
//!
//! Engine-added latency per turn is
//! `turn latency - (stt_endpointing_ms + llm_first_token_ms + tts_first_byte_ms)`:
//! the time from the caller's end of speech to the first bot audio, minus the
//! delays the mock providers were configured to add ([`ProviderDelays`]).

pub mod caller;
pub mod capacity;
pub mod fixtures;
pub mod html;
pub mod metrics;
pub mod playback;
pub mod procstat;
pub mod report;
pub mod script;
mod session;
pub mod webhook;
pub mod wire;

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use caller::{CallOutcome, CallRecord, LiveStats};
pub use playback::PlaybackConfig;
pub use report::Report;

/// Delays the mock providers add to every turn, subtracted from the turn
/// latency to get the engine-added latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProviderDelays {
    /// STT: speech end -> final transcript (endpointing delay).
    pub stt_endpointing_ms: f32,
    /// LLM: request -> first token.
    pub llm_first_token_ms: f32,
    /// TTS: request -> first audio byte.
    pub tts_first_byte_ms: f32,
}

impl ProviderDelays {
    pub fn total_ms(&self) -> f32 {
        self.stt_endpointing_ms + self.llm_first_token_ms + self.tts_first_byte_ms
    }
}

/// Everything one load test needs.
#[derive(Debug, Clone)]
pub struct LoadtestConfig {
    /// Base URL of the engine (`http://127.0.0.1:8080`).
    pub target: Option<String>,
    /// Calls to place in total.
    pub calls: u64,
    /// New calls per second.
    pub ramp_per_s: f64,
    /// Most calls live at once.
    pub concurrency: usize,
    /// Stop launching and hang up running calls after this long.
    pub duration: Option<Duration>,
    /// Script or population file (`config/loadtest/basic.toml`).
    pub script: PathBuf,
    /// `utterances.json` of the speech fixtures.
    pub fixtures: PathBuf,
    pub seed: u64,
    /// Twilio auth token: sign webhooks and upgrades when set.
    pub auth_token: Option<String>,
    /// The engine's public base URL (what Twilio is configured with): the
    /// webhook signature covers `{public_url}/twilio/voice`. None = `target`.
    pub public_url: Option<String>,
    /// Where to write `report.json` and `report.html`.
    pub report_dir: Option<PathBuf>,
    pub provider_delays: ProviderDelays,
    /// Process to sample CPU/RSS of; None with `target_in_process` = this one.
    pub target_pid: Option<u32>,
    /// The engine runs inside this process (demo, benches).
    pub target_in_process: bool,
    pub playback: PlaybackConfig,
    /// A caller frame sent later than this after its tick counts as late.
    pub late_send_threshold: Duration,
    /// How often `progress` is called.
    pub progress_interval: Duration,
}

impl Default for LoadtestConfig {
    fn default() -> Self {
        LoadtestConfig {
            target: None,
            calls: 10,
            ramp_per_s: 20.0,
            concurrency: 1000,
            duration: None,
            script: PathBuf::from("config/loadtest/basic.toml"),
            fixtures: PathBuf::from("tests/fixtures/utterances.json"),
            seed: 1,
            auth_token: None,
            public_url: None,
            report_dir: None,
            provider_delays: ProviderDelays::default(),
            target_pid: None,
            target_in_process: false,
            playback: PlaybackConfig::default(),
            late_send_threshold: Duration::from_millis(10),
            progress_interval: Duration::from_millis(500),
        }
    }
}

/// Why a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    #[error("no target: start the engine and give its base URL")]
    NoTarget,
    #[error(transparent)]
    Script(#[from] script::ScriptError),
    #[error(transparent)]
    Fixture(#[from] fixtures::FixtureError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("writing the report: {0}")]
    Report(#[from] std::io::Error),
}

/// A snapshot for the live progress line.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub planned: u64,
    pub started: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected: u64,
    pub turn_p50_ms: Option<f32>,
    pub turn_p99_ms: Option<f32>,
    /// The last snapshot of the run.
    pub done: bool,
}

impl Progress {
    /// One line: `12.5s active 40 done 10/100 failed 0 rejected 0 turn p50 812ms p99 950ms`.
    pub fn line(&self) -> String {
        let ms = |v: Option<f32>| v.map_or("-".to_owned(), |v| format!("{v:.0}ms"));
        format!(
            "{:>6.1}s  active {:>5}  done {:>6}/{}  failed {}  rejected {}  turn p50 {} p99 {}",
            self.elapsed.as_secs_f32(),
            self.active,
            self.completed,
            self.planned,
            self.failed,
            self.rejected,
            ms(self.turn_p50_ms),
            ms(self.turn_p99_ms),
        )
    }
}

/// Progress on stderr: one updating line on a terminal, a plain line every
/// five seconds otherwise.
pub fn stderr_progress() -> impl Fn(&Progress) {
    let tty = std::io::stderr().is_terminal();
    let last_plain: Mutex<Option<Duration>> = Mutex::new(None);
    move |p: &Progress| {
        let mut err = std::io::stderr().lock();
        // Progress output is best effort: a closed stderr must not stop the run.
        if tty {
            let _ = write!(err, "\r\x1b[2K{}", p.line());
            if p.done {
                let _ = writeln!(err);
            }
            return;
        }
        let mut last = last_plain.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|t| p.elapsed >= t + Duration::from_secs(5));
        if due || p.done {
            *last = Some(p.elapsed);
            let _ = writeln!(err, "{}", p.line());
        }
    }
}

/// Runs a load test to its end and returns (and writes) the report.
pub async fn run(
    cfg: LoadtestConfig,
    progress: impl Fn(&Progress),
) -> Result<Report, LoadtestError> {
    let target = cfg.target.clone().ok_or(LoadtestError::NoTarget)?;
    let plan = script::Plan::load(&cfg.script)?;
    let fixtures = fixtures::Fixtures::load(&cfg.fixtures)?;
    run_with(cfg, target, plan, fixtures, progress).await
}

/// [`run`] with the plan and fixtures already in memory (tests, benches).
pub async fn run_with(
    cfg: LoadtestConfig,
    target: String,
    plan: script::Plan,
    fixtures: fixtures::Fixtures,
    progress: impl Fn(&Progress),
) -> Result<Report, LoadtestError> {
    for (script, _) in &plan.scripts {
        for id in script.utterance_ids() {
            fixtures.get(id)?;
        }
    }
    let run_start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(cfg.seed);
    let target_base = target.trim_end_matches('/').to_owned();
    let public = cfg.public_url.as_deref().unwrap_or(&target_base);
    let env = Arc::new(caller::CallerEnv {
        http: reqwest::Client::builder().no_proxy().build()?,
        signed_webhook_url: format!("{}/twilio/voice", public.trim_end_matches('/')),
        public_base: public.to_owned(),
        target: target_base.clone(),
        auth_token: cfg.auth_token.clone(),
        account_sid: caller::sid("AC", &mut rng),
        fixtures,
        playback: cfg.playback,
        late_send_threshold: cfg.late_send_threshold,
        setup_timeout: Duration::from_secs(10),
        run_deadline: cfg.duration.map(|d| run_start + d),
        live: Arc::new(LiveStats::default()),
    });
    let mut sampler = Sampler::new(&cfg, run_start);
    let records = launch_all(&cfg, &env, &plan, &mut rng, &mut sampler, &progress).await;
    progress(&snapshot(&env.live, cfg.calls, run_start, true));
    let report = Report::build(&cfg, &target, &plan.name, records, sampler, run_start);
    if let Some(dir) = &cfg.report_dir {
        report.write_files(dir)?;
    }
    Ok(report)
}

/// Launches calls at the ramp rate within the concurrency limit and collects
/// their records, sampling concurrency and `/proc` on the way.
async fn launch_all(
    cfg: &LoadtestConfig,
    env: &Arc<caller::CallerEnv>,
    plan: &script::Plan,
    rng: &mut fastrand::Rng,
    sampler: &mut Sampler,
    progress: &impl Fn(&Progress),
) -> Vec<CallRecord> {
    let run_start = sampler.start;
    let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let gap = Duration::from_secs_f64(1.0 / cfg.ramp_per_s.max(0.001));
    let mut calls = JoinSet::new();
    let mut records = Vec::with_capacity(cfg.calls as usize);
    let mut launched = 0u64;
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    let mut last_progress = run_start;
    loop {
        let past_deadline = env.run_deadline.is_some_and(|d| Instant::now() >= d);
        let may_launch = launched < cfg.calls && !past_deadline;
        if !may_launch && calls.is_empty() {
            return records;
        }
        let next_at = run_start + gap.mul_f64(launched as f64);
        tokio::select! {
            permit = wait_slot(next_at, &slots), if may_launch => {
                let script = plan.pick(rng.u64(..)).clone();
                let env = env.clone();
                let (index, seed) = (launched, cfg.seed);
                calls.spawn(async move {
                    let record = caller::run_call(&env, index, seed, script, run_start).await;
                    drop(permit);
                    record
                });
                launched += 1;
            }
            Some(done) = calls.join_next() => match done {
                Ok(record) => records.push(record),
                Err(e) => sampler.panics.push(e.to_string()),
            },
            _ = ticks.tick() => {
                let now = Instant::now();
                sampler.sample(now, env.live.active.load(Ordering::Relaxed));
                if now >= last_progress + cfg.progress_interval {
                    last_progress = now;
                    progress(&snapshot(&env.live, cfg.calls, run_start, false));
                }
            }
        }
    }
}

async fn wait_slot(at: Instant, slots: &Arc<Semaphore>) -> tokio::sync::OwnedSemaphorePermit {
    tokio::time::sleep_until(at).await;
    slots
        .clone()
        .acquire_owned()
        .await
        .expect("the launch semaphore is never closed")
}

fn snapshot(live: &LiveStats, planned: u64, start: Instant, done: bool) -> Progress {
    let (p50, p99) = {
        let mut turns = live
            .turn_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        turns.sort_unstable_by(f32::total_cmp);
        (
            metrics::percentile_of_sorted(&turns, 50.0),
            metrics::percentile_of_sorted(&turns, 99.0),
        )
    };
    Progress {
        elapsed: start.elapsed(),
        planned,
        started: live.started.load(Ordering::Relaxed),
        active: live.active.load(Ordering::Relaxed),
        completed: live.completed.load(Ordering::Relaxed),
        failed: live.failed.load(Ordering::Relaxed),
        rejected: live.rejected.load(Ordering::Relaxed),
        turn_p50_ms: p50,
        turn_p99_ms: p99,
        done,
    }
}

/// Time series gathered during the run.
#[derive(Debug)]
pub struct Sampler {
    pub start: Instant,
    /// (seconds since start, active calls).
    pub concurrency: Vec<(f32, u64)>,
    pub target: Option<procstat::ProcSeries>,
    pub loadgen: procstat::ProcSeries,
    /// RSS of the target before the first call, kB.
    pub target_rss_start_kb: Option<u64>,
    pub panics: Vec<String>,
}

impl Sampler {
    fn new(cfg: &LoadtestConfig, start: Instant) -> Self {
        use procstat::{ProcSeries, ProcTarget};
        let target = match (cfg.target_pid, cfg.target_in_process) {
            (Some(pid), _) => Some(ProcTarget::Pid(pid)),
            (None, true) => Some(ProcTarget::SelfProcess),
            (None, false) => None,
        };
        let std_start = start.into_std();
        let mut sampler = Sampler {
            start,
            concurrency: Vec::new(),
            target: target.map(|t| ProcSeries::new(t, std_start)),
            loadgen: ProcSeries::new(ProcTarget::SelfProcess, std_start),
            target_rss_start_kb: None,
            panics: Vec::new(),
        };
        sampler.target_rss_start_kb = target
            .and_then(|t| procstat::read(t, std_start))
            .map(|r| r.rss_kb);
        sampler.sample(start, 0);
        sampler
    }

    fn sample(&mut self, now: Instant, active: u64) {
        let t = now.saturating_duration_since(self.start).as_secs_f32();
        self.concurrency.push((t, active));
        let std_now = now.into_std();
        if let Some(series) = &mut self.target {
            series.sample(std_now);
        }
        self.loadgen.sample(std_now);
    }
}
