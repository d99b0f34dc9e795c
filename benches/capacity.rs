//! Capacity benchmark: steps concurrency up (CAPACITY_STEPS, default
//! 100,250,500,1000,2000,4000) against an engine and stops at the first step
//! where p99 engine-added turn latency passes CAPACITY_MAX_P99_MS (20) or any
//! bot frame is lost or late. Writes benches/RESULTS-capacity.md.
//!
//! The engine runs in its own process so its CPU and RSS are its own:
//! - by default the bench starts `switchboard serve` (the binary cargo built
//!   beside this bench) on a free loopback port with the built-in mock
//!   providers, signature checks off and a throwaway store, and stops it at
//!   the end; the mocks' configured delays are read from the same config;
//! - `CAPACITY_TARGET=http://127.0.0.1:8080` (+ `CAPACITY_PID`,
//!   `CAPACITY_DELAYS_MS="stt,llm,tts"`) measures an engine already running.
//!
//! `CAPACITY_DELAYS_MS` also overrides the subtracted delays of the engine
//! started here. Other knobs: CAPACITY_STEPS, CAPACITY_MAX_P99_MS, CAPACITY_SCRIPT
//! (config/loadtest/capacity.toml), CAPACITY_RAMP (calls/s, default 100),
//! CAPACITY_AUTH_TOKEN and CAPACITY_PUBLIC_URL (the engine's
//! `server.public_url`, which webhook signatures cover).
//!
//! Smoke run: `CAPACITY_STEPS=10,20 cargo bench --bench capacity`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use switchboard::config::Config;
use switchboard::loadgen::capacity::{self, Target, UrlTarget};
use switchboard::loadgen::fixtures::Fixtures;
use switchboard::loadgen::script::Plan;
use switchboard::loadgen::{stderr_progress, LoadtestConfig, ProviderDelays};
use switchboard::runner::mock_delays;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn main() {
    let (mut child, target, delays) = match env("CAPACITY_TARGET") {
        Some(url) => {
            let pid = env("CAPACITY_PID").and_then(|p| p.parse().ok());
            (None, UrlTarget { url, pid }, delays_from_env())
        }
        None => {
            let (child, url, delays) = start_engine();
            let pid = Some(child.id());
            (Some(child), UrlTarget { url, pid }, delays)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let outcome = runtime.block_on(run(&target, delays));
    if let Some(child) = child.as_mut() {
        // We started it; stop it through its own handle.
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Err(e) = outcome {
        eprintln!("capacity: {e}");
        std::process::exit(1);
    }
}

/// Starts `switchboard serve` with mock providers on a free port.
fn start_engine() -> (Child, String, ProviderDelays) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let store = std::env::temp_dir().join(format!("sb-capacity-{}", std::process::id()));
    let overrides: Vec<(String, String)> = [
        ("SWITCHBOARD__SERVER__BIND", format!("127.0.0.1:{port}")),
        (
            "SWITCHBOARD__SERVER__PUBLIC_URL",
            "https://capacity.example.com".to_owned(),
        ),
        ("SWITCHBOARD__PROVIDERS__MODE", "mock".to_owned()),
        ("SWITCHBOARD__ENGINE__MAX_CALLS", "100000".to_owned()),
        (
            "SWITCHBOARD__TWILIO__VALIDATE_SIGNATURES",
            "false".to_owned(),
        ),
        ("SWITCHBOARD__STORE__PATH", store.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::load(None, std::env::vars().chain(overrides.clone()))
        .expect("the capacity engine config is valid");
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .envs(overrides)
        .env(
            "RUST_LOG",
            env("RUST_LOG").unwrap_or_else(|| "warn".to_owned()),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("switchboard serve starts");
    // CAPACITY_DELAYS_MS overrides what is subtracted (e.g. "360,0,150"
    // for a script answered from scenarios, which never waits for the LLM).
    let delays = match env("CAPACITY_DELAYS_MS") {
        Some(_) => delays_from_env(),
        None => mock_delays(&config),
    };
    (child, format!("http://127.0.0.1:{port}"), delays)
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

fn delays_from_env() -> ProviderDelays {
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

async fn run(target: &UrlTarget, delays: ProviderDelays) -> Result<(), String> {
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
        provider_delays: delays,
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
    // Every knob that was set, so the command reproduces the run.
    let mut shown: Vec<String> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("CAPACITY_") && k != "CAPACITY_AUTH_TOKEN")
                || k.starts_with("SWITCHBOARD__")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    shown.sort();
    let command = format!("{} cargo bench --bench capacity", shown.join(" "));
    let notes = format!(
        "Script {}, ramp {} calls/s, provider delays {:?}, engine pid {:?}, limit p99 engine-added {} ms. \
         The load generator runs on the same machine. Engine-added = turn latency - (stt endpointing \
         + llm first token + tts first byte); a negative value means a turn did not pay every \
         provider delay (e.g. a router answer that needs no LLM).",
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
