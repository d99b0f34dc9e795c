//! The OpenAI-compatible chat mock: `POST /v1/chat/completions` streamed as
//! SSE with a configurable time to first token and token rate, a usage chunk
//! before `[DONE]`, every request body recorded, streams closed early by the
//! client counted, and failures on demand for the next requests.

use super::chat_reply::{reply_for, tokens};
use super::http::{ClientWatch, Request, ResponseWriter};
use super::MockServer;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatMockConfig {
    pub bind: SocketAddr,
    /// Delay between the response headers and the first token.
    pub first_token_ms: u64,
    /// Token rate after the first; 0 sends them as fast as possible.
    pub tokens_per_second: f64,
    /// Send an SSE comment (`: keep-alive`) before the first event.
    pub sse_comments: bool,
    /// Write each SSE event in two pieces (tests the client's framing).
    pub split_events: bool,
    /// When set, requests must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
}

impl Default for ChatMockConfig {
    fn default() -> Self {
        Self {
            bind: super::loopback_any(),
            first_token_ms: 250,
            tokens_per_second: 60.0,
            sse_comments: true,
            split_events: false,
            api_key: None,
        }
    }
}

/// A failure the mock plays for one request.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatFailure {
    /// 429 with `retry-after: <secs>` and `retry-after-ms`.
    RateLimited { retry_after_ms: u64 },
    /// 429 with code `insufficient_quota` (never worth a retry).
    InsufficientQuota,
    /// 500 with a `server_error` body.
    ServerError,
    /// An `{"error": ...}` event after this many tokens.
    MidStreamError { after_tokens: usize },
    /// Wait this long before sending anything, then answer normally.
    SlowFirstByte { delay_ms: u64 },
    /// Close the socket after this many tokens (0: before any response).
    DropConnection { after_tokens: usize },
}

/// Counters, recorded requests and the failure plan.
#[derive(Debug, Default)]
pub struct ChatMockState {
    cfg: ChatMockConfig,
    requests: Mutex<Vec<serde_json::Value>>,
    failures: Mutex<VecDeque<ChatFailure>>,
    pub requests_total: AtomicU64,
    pub streams_started: AtomicU64,
    pub streams_completed: AtomicU64,
    /// Streams the client closed before `[DONE]` (a cancel on barge-in).
    pub streams_cancelled: AtomicU64,
    pub failures_played: AtomicU64,
    pub tokens_sent: AtomicU64,
}

impl ChatMockState {
    /// Plays `failure` for the next `times` requests (after those queued).
    pub fn fail_next(&self, failure: ChatFailure, times: usize) {
        let mut q = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(std::iter::repeat_n(failure, times));
    }

    /// Request bodies received, in order (the first [`super::MAX_RECORDED`]).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn next_failure(&self) -> Option<ChatFailure> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }
}

pub async fn start(cfg: ChatMockConfig) -> std::io::Result<MockServer<ChatMockState>> {
    let state = Arc::new(ChatMockState {
        cfg: cfg.clone(),
        ..Default::default()
    });
    let s = state.clone();
    super::start_http(cfg.bind, "http", state, move |req, w, watch| {
        handle(s.clone(), req, w, watch)
    })
    .await
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> serde_json::Value {
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

async fn handle(
    state: Arc<ChatMockState>,
    req: Request,
    mut w: ResponseWriter,
    mut watch: ClientWatch,
) {
    if req.method != "POST" || !req.path.ends_with("/chat/completions") {
        let _ = w
            .json(
                404,
                &[],
                &error_body("unknown route", "invalid_request_error", None),
            )
            .await;
        return;
    }
    if let Some(key) = &state.cfg.api_key {
        if req.header("authorization") != Some(&format!("Bearer {key}")) {
            let _ = w
                .json(
                    401,
                    &[],
                    &error_body(
                        "Incorrect API key provided",
                        "invalid_request_error",
                        Some("invalid_api_key"),
                    ),
                )
                .await;
            return;
        }
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
        let _ = w
            .json(
                400,
                &[],
                &error_body("body is not JSON", "invalid_request_error", None),
            )
            .await;
        return;
    };
    state.requests_total.fetch_add(1, Relaxed);
    state
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    let failure = state.next_failure();
    if failure.is_some() {
        state.failures_played.fetch_add(1, Relaxed);
    }
    if answer_failure(&failure, &mut w).await {
        return;
    }
    if let Some(ChatFailure::SlowFirstByte { delay_ms }) = failure {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    let messages = body
        .get("messages")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    let reply = Reply::new(&body, &messages, failure);
    if body.get("stream").and_then(|s| s.as_bool()) != Some(true) {
        let _ = w.json(200, &[], &reply.whole_completion()).await;
        return;
    }
    state.streams_started.fetch_add(1, Relaxed);
    tokio::select! {
        done = stream_reply(&state, &reply, &mut w) => {
            if done {
                state.streams_completed.fetch_add(1, Relaxed);
            }
        }
        _ = watch.gone() => { state.streams_cancelled.fetch_add(1, Relaxed); }
    }
}

/// Answers the failures that replace the response; true when answered.
async fn answer_failure(failure: &Option<ChatFailure>, w: &mut ResponseWriter) -> bool {
    let (status, headers, body) = match failure {
        Some(ChatFailure::RateLimited { retry_after_ms }) => (
            429,
            vec![
                ("retry-after", retry_after_ms.div_ceil(1000).to_string()),
                ("retry-after-ms", retry_after_ms.to_string()),
            ],
            error_body(
                "Rate limit reached for requests",
                "requests",
                Some("rate_limit_exceeded"),
            ),
        ),
        Some(ChatFailure::InsufficientQuota) => (
            429,
            vec![("x-should-retry", "false".to_string())],
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                Some("insufficient_quota"),
            ),
        ),
        Some(ChatFailure::ServerError) => (
            500,
            vec![],
            error_body(
                "The server had an error while processing your request.",
                "server_error",
                None,
            ),
        ),
        Some(ChatFailure::DropConnection { after_tokens: 0 }) => return true, // dropping `w` closes the socket
        _ => return false,
    };
    let _ = w.json(status, &headers, &body).await;
    true
}

/// One completion to stream.
struct Reply {
    id: String,
    model: String,
    tokens: Vec<String>,
    prompt_tokens: usize,
    include_usage: bool,
    failure: Option<ChatFailure>,
}

impl Reply {
    fn new(
        body: &serde_json::Value,
        messages: &[serde_json::Value],
        failure: Option<ChatFailure>,
    ) -> Self {
        let prompt_chars: usize = messages
            .iter()
            .filter_map(|m| m.get("content").and_then(|c| c.as_str()))
            .map(str::len)
            .sum();
        Self {
            id: format!("chatcmpl-mock{}", fastrand::u64(..)),
            model: body
                .get("model")
                .and_then(|m| m.as_str())
                .unwrap_or("mock")
                .to_owned(),
            tokens: tokens(&reply_for(messages)),
            prompt_tokens: prompt_chars / 4 + messages.len() * 4,
            include_usage: body
                .pointer("/stream_options/include_usage")
                .and_then(|v| v.as_bool())
                == Some(true),
            failure,
        }
    }

    fn chunk(&self, delta: serde_json::Value, finish: Option<&str>) -> serde_json::Value {
        json!({ "id": self.id, "object": "chat.completion.chunk", "created": 0, "model": self.model,
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }], "usage": null })
    }

    fn usage(&self) -> serde_json::Value {
        let (p, c) = (self.prompt_tokens, self.tokens.len());
        json!({ "id": self.id, "object": "chat.completion.chunk", "created": 0, "model": self.model, "choices": [],
                "usage": { "prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c } })
    }

    fn whole_completion(&self) -> serde_json::Value {
        let (p, c) = (self.prompt_tokens, self.tokens.len());
        json!({ "id": self.id, "object": "chat.completion", "created": 0, "model": self.model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": self.tokens.concat() }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c } })
    }
}

/// Streams the reply; true when it reached `[DONE]`.
async fn stream_reply(state: &ChatMockState, reply: &Reply, w: &mut ResponseWriter) -> bool {
    let cfg = &state.cfg;
    if w.start_chunked(200, "text/event-stream").await.is_err() {
        return false;
    }
    if cfg.sse_comments && w.chunk(b": keep-alive\n\n").await.is_err() {
        return false;
    }
    let split = cfg.split_events;
    if send_json(
        w,
        split,
        reply.chunk(json!({"role": "assistant", "content": ""}), None),
    )
    .await
    .is_err()
    {
        return false;
    }
    tokio::time::sleep(Duration::from_millis(cfg.first_token_ms)).await;
    let gap =
        (cfg.tokens_per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / cfg.tokens_per_second));
    for (i, token) in reply.tokens.iter().enumerate() {
        match reply.failure {
            Some(ChatFailure::MidStreamError { after_tokens }) if after_tokens == i => {
                let err = error_body(
                    "The server had an error while processing your request.",
                    "server_error",
                    None,
                );
                let _ = send_json(w, split, err).await;
                let _ = w.end_chunked().await;
                return false;
            }
            Some(ChatFailure::DropConnection { after_tokens }) if after_tokens == i => {
                return false
            }
            _ => {}
        }
        if i > 0 {
            if let Some(gap) = gap {
                tokio::time::sleep(gap).await;
            }
        }
        if send_json(w, split, reply.chunk(json!({"content": token}), None))
            .await
            .is_err()
        {
            return false;
        }
        state.tokens_sent.fetch_add(1, Relaxed);
    }
    if send_json(w, split, reply.chunk(json!({}), Some("stop")))
        .await
        .is_err()
    {
        return false;
    }
    if reply.include_usage && send_json(w, split, reply.usage()).await.is_err() {
        return false;
    }
    send_event(w, "data: [DONE]\n\n", cfg.split_events)
        .await
        .is_ok()
        && w.end_chunked().await.is_ok()
}

async fn send_json(
    w: &mut ResponseWriter,
    split: bool,
    v: serde_json::Value,
) -> std::io::Result<()> {
    send_event(w, &format!("data: {v}\n\n"), split).await
}

async fn send_event(w: &mut ResponseWriter, text: &str, split: bool) -> std::io::Result<()> {
    if !split {
        return w.chunk(text.as_bytes()).await;
    }
    // Split inside the JSON and between the two newlines.
    let cut = text.len() / 2;
    let cut = (0..=cut)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    w.chunk(&text.as_bytes()[..cut]).await?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    w.chunk(&text.as_bytes()[cut..text.len() - 1]).await?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    w.chunk(b"\n").await
}
