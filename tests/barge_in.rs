//! Barge-in over the real socket: the caller talks over the bot, `clear`
//! arrives quickly, the bot stops, and the assistant message in the LLM
//! context is cut to what the caller heard (marks say so).

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_speech_over_the_bot_clears_and_truncates_the_context() {
    let app = start("barge", quick).await;
    let phone = Phone::greeted(&app, "CAbarge0001").await;

    // A question whose answer is long (the scenario's full reply).
    phone.say(&fixture("opening_hours"));
    let before = media_count(&phone.heard());
    phone
        .wait_for("reply audio", Duration::from_secs(15), |h| {
            media_count(h) > before + 10
        })
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Talk over it. Speech onset = when the fixture's speech starts playing.
    let interrupt = fixture("wait_stop");
    let sent_at = Instant::now();
    phone.say(&interrupt);
    phone
        .wait_for("clear", Duration::from_secs(5), |h| {
            h.iter().any(|h| matches!(h, Heard::Clear { .. }))
        })
        .await;
    let clear_at = phone
        .heard()
        .iter()
        .find_map(|h| {
            if let Heard::Clear { at } = h {
                Some(*at)
            } else {
                None
            }
        })
        .unwrap();
    let onset = sent_at + Duration::from_millis(speech_start_ms("wait_stop"));
    let reaction = clear_at.saturating_duration_since(onset);
    // VAD start window + interrupt_min_ms + the frame in flight; generous on a shared machine.
    assert!(
        reaction < Duration::from_millis(900),
        "clear came {reaction:?} after speech onset"
    );

    // The bot answers the interruption as a new turn, then we hang up.
    let after_clear = media_count(&phone.heard());
    phone
        .wait_reply_done(
            after_clear,
            Duration::from_millis(600),
            Duration::from_secs(20),
        )
        .await;
    phone.send(PhoneCmd::HangUp);

    let trace = ended_trace(&app, "CAbarge0001").await;
    let cut = &trace["interruptions"][0];
    let heard = cut["heardText"].as_str().expect("heard text");
    let cut_text = cut["cutText"].as_str().expect("cut text");
    assert!(!cut_text.is_empty(), "something was cut: {cut}");
    let full = format!("{heard}{cut_text}");
    assert!(
        full.contains("Monday"),
        "heard + cut is the whole reply: {full:?}"
    );
    assert!(
        trace["turns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["flags"]["interrupted"] == true),
        "turn flagged"
    );

    // The next LLM request carried the truncated assistant message.
    let mocks = app.mocks.as_ref().expect("mock providers");
    let requests = mocks.chat.state.requests();
    let assistant_msgs: Vec<String> = requests
        .iter()
        .flat_map(|r| r["messages"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        assistant_msgs.iter().all(|m| !m.contains(cut_text.trim())),
        "cut text never reaches the LLM: {assistant_msgs:?} vs cut {cut_text:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

fn speech_start_ms(id: &str) -> u64 {
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/utterances.json"
        ))
        .unwrap(),
    )
    .unwrap();
    index["utterances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap()["speech_start_ms"]
        .as_u64()
        .unwrap()
}
