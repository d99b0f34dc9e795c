//! A call actor that panics mid-call is restarted from its checkpoint and
//! re-attached to the same socket: the caller keeps talking and gets
//! answers, the restart is in the trace, and too many restarts end the call
//! politely instead of looping.

mod common;

use common::*;
use std::time::Duration;

async fn inject_panic(app: &switchboard::app::App, call: &str) -> u16 {
    http()
        .post(format!(
            "{}/api/v1/calls/{call}/debug/panic",
            app.base_url()
        ))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Wait until the engine has restarted call actors `n` times in all, so the
/// next fault hits the new actor.
async fn wait_restarts(app: &switchboard::app::App, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app
        .engine
        .counters
        .restarts
        .load(std::sync::atomic::Ordering::Relaxed)
        < n
    {
        assert!(
            std::time::Instant::now() < deadline,
            "restart {n} never happened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await; // the new actor takes the slot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_call_actor_is_restarted_on_the_same_socket() {
    let app = start("restart", quick).await;
    let phone = Phone::greeted(&app, "CArestart01").await;

    assert_eq!(inject_panic(&app, "CArestart01").await, 202);
    wait_restarts(&app, 1).await;
    assert!(phone.closed().is_none(), "the socket survives the crash");

    let before = media_count(&phone.heard());
    phone.say(&fixture("opening_hours"));
    phone
        .wait_reply_done(before, Duration::from_millis(600), Duration::from_secs(20))
        .await;
    assert!(
        phone.closed().is_none(),
        "still on the line after the answer"
    );

    phone.send(PhoneCmd::HangUp);
    let trace = ended_trace(&app, "CArestart01").await;
    assert_eq!(
        trace["restarts"].as_array().map(Vec::len),
        Some(1),
        "{trace}"
    );
    assert!(trace["turns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["userInput"]["text"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("opening")));
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("switchboard_call_actor_restarts 1"),
        "{metrics}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_restarts_end_the_call_politely() {
    let app = start("restart-limit", |c| {
        quick(c);
        c.engine.restart.max_restarts = 2;
    })
    .await;
    let phone = Phone::greeted(&app, "CArestart02").await;
    for n in 1..=3 {
        assert_eq!(inject_panic(&app, "CArestart02").await, 202);
        wait_restarts(&app, n).await;
    }
    // The third failure is over the limit: a goodbye, then the call ends.
    phone
        .wait_for("the call to end", Duration::from_secs(20), |h| {
            h.iter().any(|h| matches!(h, Heard::Closed { .. }))
        })
        .await;
    let trace = ended_trace(&app, "CArestart02").await;
    assert_eq!(
        trace["restarts"].as_array().map(Vec::len),
        Some(3),
        "{trace}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}
