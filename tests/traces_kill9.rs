//! Durability: a child process (this test binary, re-run in child mode)
//! writes calls through the real TraceSink and prints each callId once its
//! Finish is confirmed; the parent SIGKILLs it mid-stream, reopens the sled
//! directory and counts every confirmed trace.

mod traces_support;

use ractor::Actor;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{Store, StoreConfig, TraceQuery};
use switchboard_actors::trace::{CallStatus, Outcome, TraceEvent, TraceKind};
use switchboard_actors::trace_sink::{self, TraceSink, TraceSinkArgs, TraceSinkMsg};

const CHILD_ENV: &str = "SWITCHBOARD_TRACES_KILL9_CHILD_DIR";
const KILL_AFTER: usize = 150;

#[test]
fn every_confirmed_trace_survives_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return child(dir.into());
    }
    let dir = traces_support::TempDir::new("kill9");
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "every_confirmed_trace_survives_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut confirmed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while confirmed.len() < KILL_AFTER && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => confirmed.extend(line.strip_prefix("CONFIRMED ").map(str::to_owned)),
            _ => break,
        }
    }
    child.kill().expect("SIGKILL delivered");
    child.wait().expect("child reaped");
    // Lines printed before the kill are confirmations too.
    for line in lines.map_while(Result::ok) {
        confirmed.extend(line.strip_prefix("CONFIRMED ").map(str::to_owned));
    }
    assert!(
        confirmed.len() >= KILL_AFTER,
        "child confirmed only {} calls",
        confirmed.len()
    );
    let store = Store::open(&StoreConfig::at(&dir.0)).expect("store reopens after kill -9");
    let found = confirmed
        .iter()
        .filter(|id| {
            store
                .get_trace(&CallSid::new(id.as_str()))
                .expect("read")
                .is_some_and(|t| t.status == CallStatus::Ended && t.turns.len() == 1)
        })
        .count();
    assert_eq!(found, confirmed.len(), "confirmed traces lost by kill -9");
    let ended = TraceQuery {
        status: Some(CallStatus::Ended),
        ..Default::default()
    };
    assert!(store.list(&ended).expect("list").total >= confirmed.len() as u64);
    eprintln!(
        "kill -9: {} confirmed, {} found after reopening",
        confirmed.len(),
        found
    );
}

/// Child mode: write calls forever (until killed), confirming each finish.
fn child(dir: std::path::PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Store::open(&StoreConfig::at(&dir)).expect("child store");
        let (sink, _) = Actor::spawn(None, TraceSink, TraceSinkArgs::new(store))
            .await
            .expect("sink");
        for i in 0.. {
            let id = format!("CA{i:06}");
            let mut t = traces_support::trace(
                &id,
                "acme",
                chrono::Utc::now(),
                Outcome::AiResolved,
                "kill me",
            );
            t.status = CallStatus::Live;
            sink.cast(TraceSinkMsg::Start(Box::new(t.clone())))
                .expect("sink up");
            for n in 0..50 {
                let e = TraceEvent {
                    call_id: CallSid::new(&id),
                    company_id: TenantId::new("acme"),
                    at: t.started_at,
                    media_ms: n * 20,
                    kind: TraceKind::Note {
                        message: format!("event {n}"),
                    },
                };
                sink.cast(TraceSinkMsg::Event(e)).expect("sink up");
            }
            t.status = CallStatus::Ended;
            trace_sink::finish_trace(&sink, t, Duration::from_secs(30))
                .await
                .expect("confirmed");
            println!("CONFIRMED {id}");
        }
    });
}
