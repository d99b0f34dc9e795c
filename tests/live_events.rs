//! The live events socket: a subscriber sees a call's events in order, and a
//! subscriber that never reads does not slow the call's audio.

mod common;

use common::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_sees_the_call_and_a_stalled_one_costs_nothing() {
    let app = start("events", |c| {
        quick(c);
    })
    .await;
    let url = format!("ws://{}/ws/events?key={VIEWER_KEY}", app.addr);
    let (mut events, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("events socket");
    // A second subscriber that never reads a byte.
    let (_stalled, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("stalled socket");
    let denied = tokio_tungstenite::connect_async(format!("ws://{}/ws/events", app.addr)).await;
    assert!(denied.is_err(), "no key, no events");

    let collected = tokio::spawn(async move {
        let mut types = Vec::new();
        while let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(30), events.next()).await
        {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            let ty = v["type"].as_str().unwrap_or_default().to_owned();
            let done = ty == "call.ended";
            types.push(ty);
            if done {
                break;
            }
        }
        types
    });

    let phone = Phone::greeted(&app, "CAevents01").await;
    let before = media_count(&phone.heard());
    phone.say(&fixture("opening_hours"));
    phone
        .wait_reply_done(before, Duration::from_millis(600), Duration::from_secs(20))
        .await;
    phone.send(PhoneCmd::HangUp);
    let types = collected.await.unwrap();

    let pos = |t: &str| {
        types
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("no {t} in {types:?}"))
    };
    assert!(pos("subscribed") < pos("call.started"));
    assert!(pos("call.started") < pos("interaction.added"));
    assert!(pos("interaction.added") < pos("call.ended"));

    // The stalled subscriber did not delay audio: bot frames kept real-time
    // pace (measured as the largest gap between frames inside a reply).
    let frames: Vec<Instant> = phone
        .heard()
        .iter()
        .filter_map(|h| {
            if let Heard::Media { at, .. } = h {
                Some(*at)
            } else {
                None
            }
        })
        .collect();
    let worst_gap = frames
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g < Duration::from_millis(500))
        .max()
        .unwrap_or_default();
    eprintln!("largest inter-frame gap inside replies with a stalled subscriber: {worst_gap:?}");
    assert!(
        worst_gap < Duration::from_millis(300),
        "audio stalled {worst_gap:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_page_is_served_and_uses_the_authenticated_api() {
    let app = start("dashboard", quick).await;
    let resp = http()
        .get(format!("{}/dashboard", app.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = resp.text().await.unwrap();
    for needle in [
        "/ws/events?key=",
        "/api/v1/calls?status=live",
        "/intervene",
        "/escalate",
        "Authorization",
    ] {
        assert!(page.contains(needle), "dashboard uses {needle}");
    }
    app.shutdown(Duration::from_secs(2)).await;
}
