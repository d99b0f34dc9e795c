//! The command line: `serve`, `demo`, `loadtest`, `mock-providers`,
//! `traces`. Each command loads and validates the config before touching a
//! port (bad config: a clear message and exit code 64).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use switchboard::app::App;
use switchboard::config::{Config, ProviderMode};

/// Exit code for a configuration error (sysexits EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Hosts AI voice agents on phone calls"
)]
struct Cli {
    /// A TOML file layered over the built-in defaults.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine: Twilio webhooks, media sockets, admin API.
    Serve,
    /// The engine with a sled store under ./data, mock providers and a few
    /// dozen simulated callers; prints the report.
    Demo(DemoArgs),
    /// Simulated Twilio callers against a running engine (or one started
    /// in-process when no --target is given).
    Loadtest(switchboard::runner::LoadtestArgs),
    /// Run the mock STT, LLM, TTS and Twilio REST servers standalone.
    MockProviders {
        /// Print the URLs as JSON and keep serving until Ctrl-C.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// Read the trace store: list, show, stats, export.
    Traces(switchboard::cli_traces::TracesArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// How many simulated calls.
    #[arg(long, default_value_t = 24)]
    calls: usize,
    /// Calls started per second.
    #[arg(long, default_value_t = 4.0)]
    ramp: f64,
    /// Where the sled store goes.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// The conversation script.
    #[arg(long, default_value = "config/loadtest/demo.toml")]
    script: PathBuf,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and load tests print a report: keep the log to warnings.
    let quiet = matches!(cli.command, Command::Demo(_) | Command::Loadtest(_));
    init_tracing(if quiet { "warn" } else { "info" });
    if let Command::Traces(args) = cli.command {
        return report(switchboard::cli_traces::run_traces(args));
    }
    let in_process = match &cli.command {
        Command::Demo(_) => true,
        Command::Loadtest(args) => args.target.is_none(),
        _ => false,
    };
    if in_process && std::env::var_os("TWILIO_AUTH_TOKEN").is_none() {
        // Simulated callers sign their webhooks like Twilio does: give the
        // in-process engine a token when none is set. Still single-threaded.
        std::env::set_var("TWILIO_AUTH_TOKEN", "switchboard-demo-token");
    }
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match actor_runtime(&config) {
        Ok(rt) => rt,
        Err(e) => return report(Err(e)),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Demo(args) => demo(config, args).await,
            Command::Loadtest(args) => switchboard::runner::run(config, args).await,
            Command::MockProviders { host } => mock_providers(config, &host).await,
            Command::Traces(_) => unreachable!("handled before the runtime starts"),
        }
    });
    report(result)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The actors' multi-thread runtime; HTTP runs beside it on its own system.
fn actor_runtime(config: &Config) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name("actors");
    if config.engine.actor_threads > 0 {
        b.worker_threads(config.engine.actor_threads);
    }
    b.build().context("building the actor runtime")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let grace = Duration::from_secs(config.engine.shutdown_grace_secs);
    let app = App::start(config).await?;
    println!("switchboard listening on {}", app.base_url());
    wait_for_signal().await;
    tracing::info!("signal received: draining calls (grace {grace:?})");
    let report = app.shutdown(grace).await;
    tracing::info!(calls_cut = report.calls_cut, took = ?report.took, "stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn mock_providers(config: Config, host: &str) -> anyhow::Result<()> {
    let mocks = switchboard::mocks::MockSet::start_on(&config.providers.mock, host).await?;
    println!("{}", serde_json::to_string_pretty(&mocks.urls())?);
    wait_for_signal().await;
    Ok(())
}

async fn demo(mut config: Config, args: DemoArgs) -> anyhow::Result<()> {
    config.providers.mode = ProviderMode::Mock;
    config.server.bind = "127.0.0.1:0".to_owned();
    config.store.path = args.data.join("traces");
    let app = App::start(config).await?;
    let base = app.base_url();
    println!(
        "switchboard demo: engine on {base}, traces in {}",
        args.data.join("traces").display()
    );
    let report_dir = args.data.join("report");
    let result = switchboard::runner::demo(
        &app,
        args.calls as u64,
        args.ramp,
        &args.script,
        &report_dir,
    )
    .await;
    let shutdown = app.shutdown(Duration::from_secs(5)).await;
    let report = result?;
    tracing::debug!(calls = report.calls.completed, "demo done");
    println!();
    println!(
        "Traces are stored in {}. See them with:",
        args.data.join("traces").display()
    );
    let store = args.data.join("traces");
    for command in ["list", "show <callId>", "stats"] {
        println!(
            "  cargo run --release -- traces --store {} {command}",
            store.display()
        );
    }
    println!(
        "or over HTTP while `switchboard serve` runs: GET /admin/call-traces, GET /api/v1/calls"
    );
    tracing::debug!(?shutdown, "demo engine stopped");
    Ok(())
}
