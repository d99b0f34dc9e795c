//! The load generator against the real engine (in-process, mock providers
//! through the real clients): a few basic calls complete, every turn gets a
//! reply, and no bot audio is lost. Counts only; latency figures belong to
//! the capacity benchmark.

use std::path::PathBuf;
use std::time::Duration;

use switchboard::app::App;
use switchboard::config::{Config, ProviderMode};
use switchboard::loadgen::{self, LoadtestConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_callers_complete_basic_calls_against_the_engine() {
    let mut config = Config::defaults();
    config.providers.mode = ProviderMode::Mock;
    config.server.bind = "127.0.0.1:0".into();
    // Twilio needs wss:// in the TwiML; the callers map it onto the target.
    config.server.public_url = "https://voice.example.com".into();
    config.twilio.validate_signatures = false;
    let store = std::env::temp_dir().join(format!("sb-loadgen-smoke-{}", std::process::id()));
    config.store.path = store.clone();
    let app = App::start(config).await.expect("engine starts");
    let cfg = LoadtestConfig {
        target: Some(app.base_url()),
        calls: 3,
        ramp_per_s: 5.0,
        concurrency: 3,
        script: root().join("config/loadtest/basic.toml"),
        fixtures: root().join("tests/fixtures/utterances.json"),
        provider_delays: switchboard::runner::mock_delays(&app.config),
        target_in_process: true,
        ..LoadtestConfig::default()
    };
    let report = loadgen::run(cfg, |_| {}).await;
    app.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&store);
    let report = report.expect("load test runs");
    let table = report.table();
    println!("{table}");
    assert_eq!(report.calls.failed + report.calls.rejected, 0, "{table}");
    assert_eq!(
        report.turn_latency.count, 9,
        "three turns per call\n{table}"
    );
    assert_eq!(report.reply_timeouts, 0, "{table}");
    assert_eq!(report.late_bot_frames, 0, "{table}");
    assert_eq!(report.protocol_errors, 0, "{table}");
}
