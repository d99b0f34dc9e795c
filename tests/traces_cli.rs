//! `switchboard traces ...` against a real store directory: list, show,
//! stats, export (JSONL and CSV with awkward strings) and prune.

mod traces_support;

use chrono::Duration;
use switchboard::cli_traces::{run_traces_to, TracesArgs};
use switchboard_actors::store::{Store, StoreConfig};
use switchboard_actors::trace::Outcome;
use traces_support::{t0, trace, TempDir};

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    traces: TracesArgs,
}

fn run(dir: &TempDir, args: &[&str]) -> String {
    use clap::Parser;
    let store = dir.0.to_string_lossy().into_owned();
    let mut argv = vec!["traces", "--store", store.as_str()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    let mut out = Vec::new();
    run_traces_to(cli.traces, &mut out).expect("command runs");
    String::from_utf8(out).expect("utf-8 output")
}

fn seed(dir: &TempDir) {
    let store = Store::open(&StoreConfig::at(&dir.0)).expect("store");
    let mut a = trace(
        "CA-1",
        "acme",
        t0(),
        Outcome::AiResolved,
        "say \"hi\", then\nleave",
    );
    a.end_reason = Some("comma, \"quote\"".into());
    let b = trace(
        "CA-2",
        "globex",
        t0() + Duration::hours(1),
        Outcome::Error,
        "bye",
    );
    let old = trace(
        "CA-0",
        "acme",
        chrono::Utc::now() - Duration::days(400),
        Outcome::AiResolved,
        "ancient",
    );
    store.put_traces(&[a, b, old]).expect("seed");
    store.flush().expect("flush");
}

#[test]
fn list_show_stats_export_and_prune_read_the_store() {
    let dir = TempDir::new("cli");
    seed(&dir);
    let list = run(&dir, &["list", "--company", "acme"]);
    assert!(list.contains("CA-1") && !list.contains("CA-2"), "{list}");
    assert!(list.contains("page 1 of 1 (2 traces)"), "{list}");
    let show = run(&dir, &["show", "CA-1"]);
    let v: serde_json::Value = serde_json::from_str(&show).expect("show prints JSON");
    assert_eq!(
        v["turns"][0]["userInput"]["text"],
        "say \"hi\", then\nleave"
    );
    let stats = run(
        &dir,
        &["stats", "--from", "2026-03-01", "--to", "2026-03-01"],
    );
    let days: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    assert_eq!(days[0]["totalCalls"], 2);
    let jsonl = run(
        &dir,
        &["export", "--format", "jsonl", "--from", "2026-01-01"],
    );
    assert_eq!(jsonl.lines().count(), 2);
    for line in jsonl.lines() {
        serde_json::from_str::<switchboard_actors::trace::CallTrace>(line)
            .expect("each line is a trace");
    }
    let csv = run(
        &dir,
        &[
            "export",
            "--format",
            "csv",
            "--outcome",
            "ai_resolved",
            "--from",
            "2026-01-01",
        ],
    );
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("callId,companyId")));
    assert!(csv.contains("\"comma, \"\"quote\"\"\""), "{csv}");
    let dry = run(&dir, &["prune", "--days", "365", "--dry-run"]);
    assert!(dry.contains("\"traces\": 1"), "{dry}");
    run(&dir, &["prune", "--days", "365"]);
    assert!(!run(&dir, &["list"]).contains("CA-0"));
    assert!(
        <Cli as clap::Parser>::try_parse_from(["traces", "list", "--status", "sideways"]).is_err()
    );
}
