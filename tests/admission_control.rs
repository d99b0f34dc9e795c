//! Admission control: when the engine is full, the webhook answers with a
//! polite goodbye and the media socket is refused; a call ending frees its
//! place.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_engine_refuses_politely_and_frees_places_when_calls_end() {
    let app = start("admission", |c| {
        quick(c);
        c.engine.max_calls = 1;
    })
    .await;
    let first = Phone::call(&app, "CAadmit0001").await;
    first
        .wait_for("greeting", Duration::from_secs(10), |h| media_count(h) > 0)
        .await;

    let (status, twiml) = voice_webhook(&app, "CAadmit0002").await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("<Say") && twiml.contains("<Hangup"),
        "polite rejection TwiML: {twiml}"
    );
    assert!(!twiml.contains("<Stream"), "{twiml}");
    let refused = try_open_socket(&app, true).await;
    assert!(refused.is_err(), "the media socket is refused while full");

    first.send(PhoneCmd::HangUp);
    first
        .wait_for("first call closed", Duration::from_secs(10), |h| {
            h.iter().any(|h| matches!(h, Heard::Closed { .. }))
        })
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, twiml) = voice_webhook(&app, "CAadmit0003").await;
        if status == 200 && twiml.contains("<Stream") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "place never freed: {twiml}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health: serde_json::Value = http()
        .get(format!("{}/health", app.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["maxCalls"], 1);
    app.shutdown(Duration::from_secs(2)).await;
}
