//! The OpenAI-compatible chat client against the chat mock over loopback:
//! what the client sends, SSE framing, HTTP and mid-stream errors, slow and
//! dropped connections, and cancel by dropping the stream.

use futures_util::StreamExt;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use switchboard::mocks::chat::{self, ChatFailure, ChatMockConfig};
use switchboard::mocks::chat_reply::TIER3_JSON_MARKER;
use switchboard::providers::{ChatEndpointConfig, OpenAiChat};
use switchboard_actors::providers::{Chat, ChatChunk, ChatError, ChatMessage, ChatRequest, Role};

fn fast_mock() -> ChatMockConfig {
    ChatMockConfig {
        first_token_ms: 0,
        tokens_per_second: 0.0,
        ..Default::default()
    }
}

fn client(url: &str, key: Option<&str>, read_timeout_ms: u64) -> OpenAiChat {
    let cfg = ChatEndpointConfig {
        name: "mock".into(),
        base_url: url.into(),
        model: "mock-model".into(),
        api_key_env: String::new(),
        connect_timeout_ms: 2000,
        read_timeout_ms,
    };
    OpenAiChat::with_key(cfg, key.map(str::to_owned)).expect("client builds")
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, "You are a receptionist."),
            ChatMessage::new(Role::User, text),
        ],
        max_tokens: Some(64),
        ..Default::default()
    }
}

async fn collect(
    chat: &OpenAiChat,
    req: ChatRequest,
) -> Result<Vec<Result<ChatChunk, ChatError>>, ChatError> {
    let stream = chat.open(req).await?;
    Ok(
        tokio::time::timeout(Duration::from_secs(20), stream.collect::<Vec<_>>())
            .await
            .expect("stream ends"),
    )
}

fn text_of(chunks: &[Result<ChatChunk, ChatError>]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            Ok(ChatChunk::Token(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn split_sse_events_with_comments_stream_tokens_then_finish_then_usage() {
    let mock = chat::start(ChatMockConfig {
        split_events: true,
        sse_comments: true,
        api_key: Some("sk-test".into()),
        ..fast_mock()
    })
    .await
    .expect("mock starts");
    let chat = client(mock.url(), Some("sk-test"), 5000);
    let chunks = collect(&chat, ask("What are your opening hours?"))
        .await
        .expect("stream opens");
    assert!(text_of(&chunks).contains("open"), "{chunks:?}");
    let tail: Vec<_> = chunks.iter().rev().take(2).collect();
    assert!(
        matches!(tail[0], Ok(ChatChunk::Usage(u)) if u.completion_tokens > 0 && u.prompt_tokens > 0),
        "{chunks:?}"
    );
    assert!(matches!(tail[1], Ok(ChatChunk::Finish { reason }) if reason == "stop"));
    let sent = &mock.state.requests()[0];
    assert_eq!(sent["model"], "mock-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["messages"][1]["role"], "user");
    assert_eq!(
        sent["messages"][1]["content"],
        "What are your opening hours?"
    );
}

#[tokio::test]
async fn wrong_key_is_a_401_status_with_the_error_code() {
    let mock = chat::start(ChatMockConfig {
        api_key: Some("sk-right".into()),
        ..fast_mock()
    })
    .await
    .expect("mock starts");
    let err = collect(&client(mock.url(), Some("sk-wrong"), 5000), ask("hi"))
        .await
        .expect_err("401");
    assert!(
        matches!(err, ChatError::Status { status: 401, code: Some(ref c), .. } if c == "invalid_api_key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_429_carries_retry_after() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    mock.state.fail_next(
        ChatFailure::RateLimited {
            retry_after_ms: 1500,
        },
        1,
    );
    let chat = client(mock.url(), None, 5000);
    let err = collect(&chat, ask("hi")).await.expect_err("429");
    let ChatError::Status {
        status,
        retry_after,
        code,
        ..
    } = err
    else {
        panic!("status error expected: {err:?}")
    };
    assert_eq!(
        (status, retry_after, code.as_deref()),
        (
            429,
            Some(Duration::from_millis(1500)),
            Some("rate_limit_exceeded")
        )
    );
    assert!(
        collect(&chat, ask("hi")).await.is_ok(),
        "only one request fails"
    );
}

#[tokio::test]
async fn insufficient_quota_and_server_errors_keep_their_codes() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    mock.state.fail_next(ChatFailure::InsufficientQuota, 1);
    mock.state.fail_next(ChatFailure::ServerError, 1);
    let chat = client(mock.url(), None, 5000);
    let quota = collect(&chat, ask("hi")).await.expect_err("quota");
    assert!(
        matches!(quota, ChatError::Status { status: 429, code: Some(ref c), should_retry: Some(false), .. } if c == "insufficient_quota"),
        "{quota:?}"
    );
    let server = collect(&chat, ask("hi")).await.expect_err("500");
    assert!(
        matches!(server, ChatError::Status { status: 500, code: Some(ref c), .. } if c == "server_error"),
        "{server:?}"
    );
}

#[tokio::test]
async fn mid_stream_error_object_ends_the_stream_with_an_error() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    mock.state
        .fail_next(ChatFailure::MidStreamError { after_tokens: 2 }, 1);
    let chunks = collect(&client(mock.url(), None, 5000), ask("hi"))
        .await
        .expect("headers were fine");
    assert_eq!(
        chunks
            .iter()
            .filter(|c| matches!(c, Ok(ChatChunk::Token(_))))
            .count(),
        2
    );
    assert!(
        matches!(chunks.last(), Some(Err(ChatError::MidStream(_)))),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn dropped_connections_are_errors_not_silent_ends() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    mock.state
        .fail_next(ChatFailure::DropConnection { after_tokens: 0 }, 1);
    mock.state
        .fail_next(ChatFailure::DropConnection { after_tokens: 3 }, 1);
    let chat = client(mock.url(), None, 5000);
    let before = collect(&chat, ask("hi"))
        .await
        .expect_err("no response at all");
    assert!(matches!(before, ChatError::Connect(_)), "{before:?}");
    let during = collect(&chat, ask("hi")).await.expect("headers arrived");
    assert!(
        matches!(during.last(), Some(Err(ChatError::MidStream(_)))),
        "{during:?}"
    );
}

#[tokio::test]
async fn slow_first_byte_beyond_the_read_timeout_times_out_and_within_it_succeeds() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    mock.state
        .fail_next(ChatFailure::SlowFirstByte { delay_ms: 3000 }, 1);
    mock.state
        .fail_next(ChatFailure::SlowFirstByte { delay_ms: 100 }, 1);
    let err = collect(&client(mock.url(), None, 300), ask("hi"))
        .await
        .expect_err("too slow");
    assert!(matches!(err, ChatError::Timeout(_)), "{err:?}");
    let ok = collect(&client(mock.url(), None, 5000), ask("hi"))
        .await
        .expect("slow but fine");
    assert!(ok.iter().all(Result::is_ok));
}

#[tokio::test]
async fn dropping_the_stream_closes_it_on_the_server() {
    let mock = chat::start(ChatMockConfig {
        first_token_ms: 0,
        tokens_per_second: 5.0,
        ..Default::default()
    })
    .await
    .expect("mock starts");
    let mut stream = client(mock.url(), None, 5000)
        .open(ask("hi"))
        .await
        .expect("opens");
    let first = stream.next().await;
    assert!(matches!(first, Some(Ok(ChatChunk::Token(_)))), "{first:?}");
    drop(stream);
    let state = mock.state.clone();
    tokio::time::timeout(Duration::from_secs(10), async move {
        while state.streams_cancelled.load(Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server saw the stream closed");
    assert_eq!(mock.state.streams_completed.load(Relaxed), 0);
}

#[tokio::test]
async fn tier3_marker_gets_a_json_scenario_choice() {
    let mock = chat::start(fast_mock()).await.expect("mock starts");
    let system = format!("Choose a scenario. {TIER3_JSON_MARKER} {{scenarioId, confidence, rationale}}.\n- id: opening_hours (when we are open)\n- id: emergency_leak (leak, flooding, burst pipe)");
    let req = ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, "there is water flooding my basement"),
        ],
        ..Default::default()
    };
    let chunks = collect(&client(mock.url(), None, 5000), req)
        .await
        .expect("opens");
    let v: serde_json::Value = serde_json::from_str(&text_of(&chunks)).expect("the reply is JSON");
    assert_eq!(v["scenarioId"], "emergency_leak");
    assert!(v["rationale"].is_string());
}
