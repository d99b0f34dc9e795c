//! Capacity benchmark: steps concurrency up (CAPACITY_STEPS, default
//! 100,250,500,1000,2000,4000) against an engine and stops at the first step
//! where p99 engine-added turn latency passes CAPACITY_MAX_P99_MS (20) or any
//! bot frame is lost or late. Writes benches/RESULTS-capacity.md.
//!
//! The engine runs in its own process so its CPU and RSS are its own:
//! - `CAPACITY_TARGET=http://127.0.0.1:8080` (+ `CAPACITY_PID`) for an engine
//!   already running, or
//! - `CAPACITY_SERVE_CMD='target/release/switchboard serve'` with
//!   `CAPACITY_TARGET` set to where it will listen: the bench starts it,
//!   waits for `/health`, and stops it at the end.
//!
//! Other knobs: CAPACITY_SCRIPT (config/loadtest/capacity.toml),
//! CAPACITY_RAMP (calls/s, default 100), CAPACITY_DELAYS_MS ("stt,llm,tts":
//! the mock providers' configured delays), CAPACITY_AUTH_TOKEN and
//! CAPACITY_PUBLIC_URL (the engine's `server.public_url`, which webhook
//! signatures cover).
//!
//! Example, engine with its built-in mock providers as a child process:
//!
//! ```text
//! cargo build --release
//! CAPACITY_TARGET=http://127.0.0.1:18080 \
//! CAPACITY_SERVE_CMD='env SWITCHBOARD__SERVER__BIND=127.0.0.1:18080 \
//!   SWITCHBOARD__PROVIDERS__MODE=mock SWITCHBOARD__ENGINE__MAX_CALLS=5000 \
//!   SWITCHBOARD__TWILIO__VALIDATE_SIGNATURES=false target/release/switchboard serve' \
//! CAPACITY_STEPS=100,250,500 cargo bench --bench capacity
//! ```
//!
//! `cargo bench --bench capacity` with none of these set prints the usage
//! and exits.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use switchboard::loadgen::capacity::{self, Target, UrlTarget};
use switchboard::loadgen::fixtures::Fixtures;
use switchboard::loadgen::script::Plan;
use switchboard::loadgen::{stderr_progress, LoadtestConfig, ProviderDelays};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn main() {
    let Some(url) = env("CAPACITY_TARGET") else {
        eprintln!("capacity: set CAPACITY_TARGET (and CAPACITY_PID or CAPACITY_SERVE_CMD); see benches/capacity.rs");
        return;
    };
    let mut child = env("CAPACITY_SERVE_CMD").map(|cmd| start_child(&cmd));
    let pid = child
        .as_ref()
        .map(Child::id)
        .or_else(|| env("CAPACITY_PID").and_then(|p| p.parse().ok()));
    let target = UrlTarget { url, pid };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let outcome = runtime.block_on(run(&target));
    if let Some(child) = child.as_mut() {
        // We started it; stop it by its own handle.
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Err(e) = outcome {
        eprintln!("capacity: {e}");
        std::process::exit(1);
    }
}

fn start_child(cmd: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .spawn()
        .expect("CAPACITY_SERVE_CMD starts")
}

async fn wait_healthy(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{url}/health")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url}/health did not answer within 30 s"))
}

fn delays() -> ProviderDelays {
    let parts: Vec<f32> = env("CAPACITY_DELAYS_MS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or(0.0);
    ProviderDelays {
        stt_endpointing_ms: at(0),
        llm_first_token_ms: at(1),
        tts_first_byte_ms: at(2),
    }
}

async fn run(target: &UrlTarget) -> Result<(), String> {
    wait_healthy(&target.base_url()).await?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = env("CAPACITY_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("config/loadtest/capacity.toml"));
    let plan = Plan::load(&script).map_err(|e| e.to_string())?;
    let fixtures =
        Fixtures::load(&root.join("tests/fixtures/utterances.json")).map_err(|e| e.to_string())?;
    let steps = capacity::parse_steps(env("CAPACITY_STEPS").as_deref());
    let max_p99: f32 = env("CAPACITY_MAX_P99_MS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20.0);
    let base = LoadtestConfig {
        ramp_per_s: env("CAPACITY_RAMP")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100.0),
        seed: 7,
        auth_token: env("CAPACITY_AUTH_TOKEN"),
        public_url: env("CAPACITY_PUBLIC_URL"),
        provider_delays: delays(),
        ..LoadtestConfig::default()
    };
    let results = capacity::run_steps(
        target,
        &base,
        &plan,
        &fixtures,
        &steps,
        max_p99,
        stderr_progress(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let command = format!(
        "CAPACITY_TARGET={} CAPACITY_STEPS={} cargo bench --bench capacity",
        target.base_url(),
        steps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let notes = format!(
        "Script {}, ramp {} calls/s, provider delays {:?}, engine pid {:?}, limit p99 engine-added {} ms. \
         The load generator runs on the same machine.",
        script.display(),
        base.ramp_per_s,
        base.provider_delays,
        target.pid(),
        max_p99
    );
    let md = capacity::results_markdown(&results, &command, &notes);
    println!("{md}");
    std::fs::write(root.join("benches/RESULTS-capacity.md"), md).map_err(|e| e.to_string())
}
