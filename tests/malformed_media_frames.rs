//! Bad input on the media socket closes that socket with a logged reason
//! and a counter, and nothing else: the engine keeps serving. Unknown events
//! are ignored.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use switchboard::twilio::TwilioStream;
use tokio_tungstenite::tungstenite::Message;

/// Send `frames` on a fresh socket; return the close (code, reason).
async fn close_after(app: &switchboard::app::App, frames: Vec<Message>) -> (u16, String) {
    let mut ws = open_socket(app).await;
    for f in frames {
        if ws.send(f).await.is_err() {
            break;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                return (u16::from(frame.code), frame.reason.to_string())
            }
            Ok(Some(Ok(Message::Close(None)))) | Ok(None) => return (0, String::new()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return (0, e.to_string()),
            Err(_) => panic!("socket was not closed"),
        }
    }
}

fn started(call: &str) -> (TwilioStream, Vec<Message>) {
    let mut s = TwilioStream::new("ACtest", call, "MZtest");
    let mut params = std::collections::BTreeMap::new();
    params.insert("token".to_owned(), String::new());
    let frames = vec![Message::text(s.connected()), Message::text(s.start(params))];
    (s, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_frame_closes_only_its_socket() {
    let app = start("malformed", |c| {
        quick(c);
        c.twilio.validate_signatures = false; // reach the parser without tokens
    })
    .await;

    let (code, reason) = close_after(&app, vec![Message::text("{not json")]).await;
    assert!(
        code >= 1000 && reason.to_lowercase().contains("json"),
        "malformed JSON: {code} {reason}"
    );

    let (mut s, mut frames) = started("CAbad0001");
    frames.push(Message::text(
        s.media(0, &[0xFF; 160])
            .replace("\"payload\":\"", "\"payload\":\"!!!"),
    ));
    let (_, reason) = close_after(&app, frames).await;
    assert!(
        reason.to_lowercase().contains("base64"),
        "bad base64: {reason}"
    );

    let mut s = TwilioStream::new("ACtest", "CAbad0002", "MZtest");
    let (_, reason) = close_after(
        &app,
        vec![
            Message::text(s.connected()),
            Message::text(s.media(0, &[0xFF; 160])),
        ],
    )
    .await;
    assert!(
        reason.to_lowercase().contains("start"),
        "media before start: {reason}"
    );

    let (code, reason) = close_after(&app, vec![Message::binary(vec![1u8, 2, 3])]).await;
    assert_eq!(code, 1003, "binary frames are unsupported data: {reason}");

    let huge = format!(
        "{{\"event\":\"media\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let (code, reason) = close_after(&app, vec![Message::text(huge)]).await;
    assert!(
        code == 1009 || reason.contains("large"),
        "oversize: {code} {reason}"
    );

    let (mut s, mut frames) = started("CAbad0003");
    for i in 0..3000u64 {
        frames.push(Message::text(s.media(i * 20, &[0xFF; 160])));
    }
    let (_, reason) = close_after(&app, frames).await;
    assert!(
        reason.to_lowercase().contains("flood") || reason.to_lowercase().contains("rate"),
        "flood: {reason}"
    );

    // Unknown events are counted and ignored: the call still works.
    let (mut s, mut frames) = started("CAbad0004");
    frames.insert(
        1,
        Message::text(r#"{"event":"something-new","sequenceNumber":"1"}"#),
    );
    let mut ws = open_socket(&app).await;
    for f in frames {
        ws.send(f).await.unwrap();
    }
    let mut got_audio = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            if t.contains("\"media\"") {
                got_audio = true;
                break;
            }
        }
    }
    assert!(got_audio, "the greeting plays despite the unknown event");
    let _ = ws.send(Message::text(s.stop())).await;

    let metrics = metrics_text(&app).await;
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        value("switchboard_ws_closed_bad_input_total") >= 5,
        "{metrics}"
    );
    assert!(value("switchboard_ws_closed_flood_total") >= 1, "{metrics}");
    assert!(
        value("switchboard_ws_unknown_events_total") >= 1,
        "{metrics}"
    );
    let health = http()
        .get(format!("{}/health", app.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the engine is still serving");
    app.shutdown(Duration::from_secs(2)).await;
}
