//! `switchboard loadtest` and `switchboard demo`: simulated Twilio callers
//! (the `loadgen` module) against a target engine, or against one started
//! in-process with the mock providers.

use crate::app::App;
use crate::config::{Config, ProviderMode};
use crate::loadgen::{self, LoadtestConfig, ProviderDelays, Report};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// Base URL of a running engine; without it an engine is started
    /// in-process with mock providers.
    #[arg(long)]
    pub target: Option<String>,
    /// Calls to place in total.
    #[arg(long, default_value_t = 50)]
    pub calls: u64,
    /// New calls per second.
    #[arg(long, default_value_t = 20.0)]
    pub ramp: f64,
    /// Most calls live at once.
    #[arg(long, default_value_t = 1000)]
    pub concurrency: usize,
    /// Stop after this many seconds (running calls hang up).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Script or population file.
    #[arg(long, default_value = "config/loadtest/basic.toml")]
    pub script: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Twilio auth token used to sign webhooks (the target's token).
    #[arg(long, env = "TWILIO_AUTH_TOKEN")]
    pub auth_token: Option<String>,
    /// Where report.json and report.html go.
    #[arg(long, default_value = "./loadtest-report")]
    pub report_dir: PathBuf,
    /// PID of the target engine, to sample its CPU and RSS.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Provider delays of the target (ms), subtracted for engine-added latency.
    #[arg(long, default_value_t = 0.0)]
    pub stt_delay_ms: f32,
    #[arg(long, default_value_t = 0.0)]
    pub llm_delay_ms: f32,
    #[arg(long, default_value_t = 0.0)]
    pub tts_delay_ms: f32,
}

/// The delays the built-in mock providers add to every turn.
pub fn mock_delays(config: &Config) -> ProviderDelays {
    let m = &config.providers.mock;
    ProviderDelays {
        stt_endpointing_ms: (u64::from(config.providers.stt.endpointing_ms)
            + m.stt.result_latency_ms) as f32,
        llm_first_token_ms: m.chat.first_token_ms as f32,
        tts_first_byte_ms: m.tts.first_byte_ms as f32,
    }
}

pub async fn run(mut config: Config, args: LoadtestArgs) -> anyhow::Result<()> {
    let mut cfg = LoadtestConfig {
        target: args.target.clone(),
        calls: args.calls,
        ramp_per_s: args.ramp,
        concurrency: args.concurrency,
        duration: args.duration.map(Duration::from_secs),
        script: args.script.clone(),
        seed: args.seed,
        auth_token: args.auth_token.clone(),
        report_dir: Some(args.report_dir.clone()),
        target_pid: args.pid,
        provider_delays: ProviderDelays {
            stt_endpointing_ms: args.stt_delay_ms,
            llm_first_token_ms: args.llm_delay_ms,
            tts_first_byte_ms: args.tts_delay_ms,
        },
        ..LoadtestConfig::default()
    };
    if cfg.target.is_some() {
        let report = loadgen::run(cfg, loadgen::stderr_progress()).await?;
        print_report(&report, &args.report_dir);
        return Ok(());
    }
    // In-process engine with the mock providers.
    config.providers.mode = ProviderMode::Mock;
    config.server.bind = "127.0.0.1:0".to_owned();
    config.engine.max_calls = config.engine.max_calls.max(args.concurrency);
    let app = App::start(config).await?;
    cfg.target = Some(app.base_url());
    cfg.target_in_process = true;
    cfg.auth_token = app.twilio_auth_token();
    cfg.provider_delays = mock_delays(&app.config);
    let result = loadgen::run(cfg, loadgen::stderr_progress()).await;
    app.shutdown(Duration::from_secs(5)).await;
    print_report(&result?, &args.report_dir);
    Ok(())
}

/// The demo: `calls` simulated callers with the demo script against `app`.
pub async fn demo(
    app: &App,
    calls: u64,
    ramp: f64,
    script: &Path,
    report_dir: &Path,
) -> anyhow::Result<Report> {
    let cfg = LoadtestConfig {
        target: Some(app.base_url()),
        calls,
        ramp_per_s: ramp,
        concurrency: calls as usize,
        script: script.to_path_buf(),
        auth_token: app.twilio_auth_token(),
        report_dir: Some(report_dir.to_path_buf()),
        provider_delays: mock_delays(&app.config),
        target_in_process: true,
        ..LoadtestConfig::default()
    };
    let report = loadgen::run(cfg, loadgen::stderr_progress())
        .await
        .context("running the simulated callers")?;
    print_report(&report, report_dir);
    Ok(report)
}

fn print_report(report: &Report, dir: &Path) {
    println!("{}", report.table());
    println!("report: {0}/report.json and {0}/report.html", dir.display());
}
