//! Pause-first barge-in over real sockets: simulated callers say "uh-huh"
//! over the bot. The engine clears at once (the pause), the backchannel is
//! not an interruption, and the bot's audio comes back; the traces show one
//! turn per call and no interruption.

mod common;

use common::*;
use std::path::PathBuf;
use switchboard::loadgen::{self, LoadtestConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backchannel_pauses_the_bot_and_it_resumes_without_an_interruption() {
    let app = start("backchannel", |_| {}).await;
    let cfg = LoadtestConfig {
        target: Some(app.base_url()),
        calls: 2,
        ramp_per_s: 5.0,
        concurrency: 2,
        script: root().join("config/loadtest/backchannel.toml"),
        fixtures: root().join("tests/fixtures/utterances.json"),
        provider_delays: switchboard::runner::mock_delays(&app.config),
        auth_token: Some(AUTH_TOKEN.to_owned()),
        target_in_process: true,
        ..LoadtestConfig::default()
    };
    let report = loadgen::run(cfg, |_| {}).await.expect("load test runs");
    let table = report.table();
    println!("{table}");
    assert_eq!(report.calls.failed + report.calls.rejected, 0, "{table}");
    // Each "uh-huh" paused the bot (a clear) and bot audio came back.
    assert_eq!(report.backchannel_pause.count, 2, "{table}");
    assert_eq!(report.late_bot_frames, 0, "{table}");
    assert_eq!(report.protocol_errors, 0, "{table}");
    for call in &report.call_records {
        let trace = ended_trace(&app, &call.call_sid).await;
        assert_eq!(
            trace["interruptions"].as_array().map(Vec::len),
            Some(0),
            "{trace}"
        );
        assert_eq!(trace["turns"].as_array().map(Vec::len), Some(1), "{trace}");
    }
}
