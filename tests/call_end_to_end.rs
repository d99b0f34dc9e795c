//! One whole call through the real server: the greeting is heard, two
//! questions are answered, marks behave as Twilio's do, the caller hangs up,
//! and the trace in sled holds every turn.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_two_turns_and_hang_up_are_traced() {
    let app = start("e2e", |_| {}).await;
    let phone = Phone::call(&app, "CAe2e0001").await;

    // The greeting: audio arrives as 8 kHz mu-law frames with marks between.
    phone
        .wait_reply_done(0, Duration::from_millis(700), Duration::from_secs(15))
        .await;
    let greeting_frames = media_count(&phone.heard());
    let greeting_ms = media_ms(&phone.heard());
    assert!(
        greeting_ms > 500,
        "greeting should be at least half a second, got {greeting_ms} ms"
    );
    for h in phone.heard() {
        if let Heard::Media { bytes, .. } = h {
            assert!(
                bytes > 0 && bytes <= 800,
                "media messages carry at most 100 ms of 8 kHz mu-law, got {bytes}"
            );
        }
    }

    phone.say(&fixture("opening_hours"));
    phone
        .wait_reply_done(
            greeting_frames,
            Duration::from_millis(700),
            Duration::from_secs(20),
        )
        .await;
    let after_first = media_count(&phone.heard());
    phone.say(&fixture("boiler_service_cost"));
    phone
        .wait_reply_done(
            after_first,
            Duration::from_millis(700),
            Duration::from_secs(20),
        )
        .await;

    // Marks: every mark the engine sent was echoed after its audio played.
    let marks_sent = phone
        .heard()
        .iter()
        .filter(|h| matches!(h, Heard::Mark { .. }))
        .count();
    let echoed = phone.echoed.lock().unwrap().len();
    assert!(
        marks_sent >= 5,
        "a mark about every 100 ms of audio, got {marks_sent}"
    );
    assert!(
        echoed >= marks_sent - 2,
        "marks echoed {echoed} of {marks_sent}"
    );

    phone.send(PhoneCmd::HangUp);
    phone
        .wait_for("socket closed", Duration::from_secs(10), |h| {
            h.iter().any(|h| matches!(h, Heard::Closed { .. }))
        })
        .await;

    let trace = wait_for_ended_trace(&app, "CAe2e0001").await;
    let turns = trace["turns"].as_array().expect("turns");
    assert!(turns.len() >= 2, "two turns traced: {trace}");
    let said: Vec<String> = turns
        .iter()
        .map(|t| t["userInput"]["text"].as_str().unwrap_or("").to_lowercase())
        .collect();
    assert!(said.iter().any(|s| s.contains("opening hours")), "{said:?}");
    assert!(said.iter().any(|s| s.contains("boiler")), "{said:?}");
    for t in turns {
        assert!(
            !t["aiBrain"]["responseText"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "each turn has a reply: {t}"
        );
        assert!(
            t["timing"]["totalTurnTimeMs"].as_f64().is_some(),
            "each turn is timed: {t}"
        );
    }
    assert_eq!(trace["finalOutcome"], "caller_hung_up");
    assert_eq!(trace["status"], "ended");
    app.shutdown(Duration::from_secs(2)).await;
}

/// Poll the admin API until the call's final trace is there.
pub async fn wait_for_ended_trace(app: &switchboard::app::App, call: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = http()
            .get(format!("{}/admin/call-traces/{call}", app.base_url()))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        if resp.status() == 200 {
            let v: serde_json::Value = resp.json().await.unwrap();
            if v["status"] == "ended" {
                return v;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ended trace for {call}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
