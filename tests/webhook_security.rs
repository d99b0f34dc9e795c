//! Twilio signatures on the webhooks and the socket upgrade, and the
//! per-call token on `start`.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_or_forged_requests_are_refused() {
    let app = start("security", quick).await;
    let form = [("CallSid", "CAsec0001"), ("From", "+15550001111")];

    let unsigned = http()
        .post(format!("{}/twilio/voice", app.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let forged = http()
        .post(format!("{}/twilio/voice", app.base_url()))
        .header("x-twilio-signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (status, twiml) = voice_webhook(&app, "CAsec0001").await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("wss://") && twiml.contains("name=\"token\""),
        "{twiml}"
    );

    assert!(
        try_open_socket(&app, false).await.is_err(),
        "unsigned upgrade refused"
    );

    // A signed socket with a forged per-call token is closed at `start`.
    let mut ws = open_socket(&app).await;
    let mut s = switchboard::twilio::TwilioStream::new("ACtest", "CAsec0001", "MZsec");
    let mut params = std::collections::BTreeMap::new();
    params.insert("token".to_owned(), "0000".to_owned());
    ws.send(Message::text(s.connected())).await.unwrap();
    ws.send(Message::text(s.start(params))).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| f.reason.to_string()).unwrap_or_default();
            }
        }
        String::new()
    })
    .await
    .expect("closed");
    assert!(closed.to_lowercase().contains("token"), "{closed}");

    let status_cb = http()
        .post(format!("{}/twilio/status", app.base_url()))
        .form(&[("CallSid", "CAsec0001"), ("CallStatus", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(status_cb.status(), 403, "status callbacks are signed too");
    app.shutdown(Duration::from_secs(2)).await;
}
