//! The chat mock as any OpenAI client sees it: non-streaming completions,
//! unknown routes, and the counters tests rely on.

use std::sync::atomic::Ordering::Relaxed;
use switchboard::mocks::chat::{self, ChatMockConfig};

#[tokio::test]
async fn non_streaming_requests_get_a_whole_completion_with_usage() {
    let mock = chat::start(ChatMockConfig::default())
        .await
        .expect("mock starts");
    let http = reqwest::Client::new();
    let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "how much does a visit cost?"}]});
    let resp = http
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value = resp.json().await.expect("JSON");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("dollars")),
        "{v}"
    );
    assert!(v["usage"]["total_tokens"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(mock.state.requests_total.load(Relaxed), 1);
    assert_eq!(mock.state.streams_started.load(Relaxed), 0);
}

#[tokio::test]
async fn unknown_routes_and_bad_bodies_get_openai_style_errors() {
    let mock = chat::start(ChatMockConfig::default())
        .await
        .expect("mock starts");
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 404);
    let r = http
        .post(format!("{}/v1/chat/completions", mock.url()))
        .body("{nope")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(mock.state.requests_total.load(Relaxed), 0);
}

#[tokio::test]
async fn a_completed_stream_is_counted_once_and_not_as_cancelled() {
    let mock = chat::start(ChatMockConfig {
        first_token_ms: 0,
        tokens_per_second: 0.0,
        ..Default::default()
    })
    .await
    .expect("mock starts");
    let body = serde_json::json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let text = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&body)
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(text.starts_with(": keep-alive\n\ndata: {"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert!(
        !text.contains("\"usage\":{"),
        "no usage chunk unless include_usage"
    );
    assert_eq!(mock.state.streams_completed.load(Relaxed), 1);
    assert_eq!(mock.state.streams_cancelled.load(Relaxed), 0);
}
