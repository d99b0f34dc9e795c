//! OpenAI-compatible chat completions over SSE (PROTOCOLS.md section 4).
//!
//! `open` POSTs the request with `stream: true` and
//! `stream_options.include_usage`, resolves once the response headers are in
//! (an HTTP error becomes [`ChatError::Status`] with what the retry policy
//! needs), then yields [`ChatChunk`]s as SSE events arrive. Dropping the
//! stream drops the connection, so a cancelled completion stops at once.

use super::sse::{SseEvent, SseParser};
use super::{api_key_from_env, join_api_path};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};
use switchboard_actors::providers::{
    Chat, ChatChunk, ChatError, ChatRequest, ChatStream, TokenUsage,
};

/// One chat endpoint (`[[llm.endpoints]]` in config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatEndpointConfig {
    /// Name for traces, breakers and cost lines ("primary", "openai").
    pub name: String,
    /// `https://api.openai.com`, `http://127.0.0.1:8000` (vLLM),
    /// `http://127.0.0.1:8080` (llama.cpp), `http://127.0.0.1:11434` (Ollama);
    /// a trailing `/v1` is accepted.
    pub base_url: String,
    pub model: String,
    /// Environment variable holding the key; empty for servers without auth.
    pub api_key_env: String,
    pub connect_timeout_ms: u64,
    /// Longest silence between two reads of the response (not a total limit).
    pub read_timeout_ms: u64,
}

impl Default for ChatEndpointConfig {
    fn default() -> Self {
        Self {
            name: "openai".into(),
            base_url: "https://api.openai.com".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            connect_timeout_ms: 3_000,
            read_timeout_ms: 20_000,
        }
    }
}

/// A [`Chat`] client for one endpoint; cheap to clone (shares the pool).
#[derive(Clone, Debug)]
pub struct OpenAiChat {
    name: String,
    model: String,
    url: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiChat {
    /// Builds the client; the key is read from `cfg.api_key_env` now.
    /// Takes the config by value or by reference.
    pub fn new(cfg: impl Borrow<ChatEndpointConfig>) -> Result<Self, ChatError> {
        let key = api_key_from_env(&cfg.borrow().api_key_env);
        Self::with_key(cfg, key)
    }

    /// Builds the client with an explicit key (tests, or keys from a vault).
    pub fn with_key(
        cfg: impl Borrow<ChatEndpointConfig>,
        key: Option<String>,
    ) -> Result<Self, ChatError> {
        let cfg = cfg.borrow();
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .read_timeout(Duration::from_millis(cfg.read_timeout_ms))
            .build()
            .map_err(|e| ChatError::Connect(format!("building HTTP client: {e}")))?;
        Ok(Self {
            name: cfg.name.clone(),
            model: cfg.model.clone(),
            url: join_api_path(&cfg.base_url, "chat/completions"),
            key,
            http,
        })
    }

    fn request_body(&self, req: &ChatRequest) -> serde_json::Value {
        let mut body = serde_json::json!({
            "model": req.model.as_deref().unwrap_or(&self.model),
            "messages": req.messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        if let Some(max) = req.max_tokens {
            body["max_tokens"] = max.into();
        }
        if let Some(t) = req.temperature {
            body["temperature"] = serde_json::json!(t);
        }
        body
    }
}

impl Chat for OpenAiChat {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn open(&self, req: ChatRequest) -> BoxFuture<'static, Result<ChatStream, ChatError>> {
        let mut builder = self.http.post(&self.url).json(&self.request_body(&req));
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(key);
        }
        Box::pin(async move {
            let resp = builder.send().await.map_err(map_send_error)?;
            let status = resp.status();
            if !status.is_success() {
                let headers = resp.headers().clone();
                let body = resp.text().await.unwrap_or_default();
                return Err(status_error(
                    status.as_u16(),
                    &headers,
                    &body,
                    SystemTime::now(),
                ));
            }
            Ok(chunk_stream(resp.bytes_stream().boxed()))
        })
    }
}

fn map_send_error(e: reqwest::Error) -> ChatError {
    if e.is_timeout() {
        ChatError::Timeout(e.to_string())
    } else {
        ChatError::Connect(format!("{e:#}"))
    }
}

fn map_body_error(e: reqwest::Error) -> ChatError {
    if e.is_timeout() {
        ChatError::Timeout(format!("reading the stream: {e}"))
    } else {
        ChatError::MidStream(format!("connection lost: {e:#}"))
    }
}

/// Builds [`ChatError::Status`] from an error response.
pub fn status_error(status: u16, headers: &HeaderMap, body: &str, now: SystemTime) -> ChatError {
    let (message, code) = parse_error_body(body);
    let should_retry = header_str(headers, "x-should-retry").and_then(|v| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    ChatError::Status {
        status,
        retry_after: retry_after(headers, now),
        code,
        should_retry,
        message,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The server's requested delay: `retry-after-ms`, else `retry-after` in
/// seconds or as an HTTP date. Zero, negative or unparsable values are None;
/// capping long delays is the retry policy's choice, not the parser's.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms > 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(now).ok().filter(|d| !d.is_zero())
}

/// Message and code (`error.code`, else `error.type`) of an error body; a
/// body that is not OpenAI's shape becomes the message as it is.
fn parse_error_body(body: &str) -> (String, Option<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return (truncate(body.trim(), 500), None);
    };
    let err = v.get("error").unwrap_or(&v);
    if let Some(s) = err.as_str() {
        return (s.to_owned(), None); // Ollama: {"error": "message"}
    }
    let message = err.get("message").and_then(|m| m.as_str()).unwrap_or(body);
    let code = [err.get("code"), err.get("type")]
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    (truncate(message, 500), code)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

// ------------------------------------------------------------ stream decoding

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// Where a stream is: decoding, done after `[DONE]`, or failed.
#[derive(Default)]
pub struct ChunkDecoder {
    parser: SseParser,
    /// A `finish_reason` arrived: a close after it loses only the usage.
    finished: bool,
    done: bool,
}

impl ChunkDecoder {
    /// Decodes one network chunk into results; an `Err` ends the stream.
    pub fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<Result<ChatChunk, ChatError>>) {
        let mut events = Vec::new();
        if let Err(e) = self.parser.feed(bytes, &mut events) {
            out.push_back(Err(ChatError::Protocol(e.to_string())));
            self.done = true;
        }
        for ev in events {
            if self.done {
                return;
            }
            self.event(ev, out);
        }
    }

    /// The connection ended: an error unless the completion was whole.
    pub fn eof(&mut self, out: &mut VecDeque<Result<ChatChunk, ChatError>>) {
        if !self.done && !self.finished {
            out.push_back(Err(ChatError::MidStream(
                "connection closed before the completion finished".into(),
            )));
        }
        self.done = true;
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn event(&mut self, ev: SseEvent, out: &mut VecDeque<Result<ChatChunk, ChatError>>) {
        if ev.data.trim() == "[DONE]" {
            self.done = true;
            return;
        }
        let chunk: WireChunk = match serde_json::from_str(&ev.data) {
            Ok(c) => c,
            Err(e) if ev.event.as_deref() == Some("error") => {
                return self.fail(out, ChatError::MidStream(format!("{}: {e}", ev.data)));
            }
            Err(e) => return self.fail(out, ChatError::Protocol(format!("bad chunk JSON: {e}"))),
        };
        if let Some(err) = chunk.error.filter(|e| !e.is_null()) {
            let (message, _) = parse_error_body(&serde_json::json!({ "error": err }).to_string());
            return self.fail(out, ChatError::MidStream(message));
        }
        for choice in chunk.choices {
            if let Some(text) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|t| !t.is_empty())
            {
                out.push_back(Ok(ChatChunk::Token(text)));
            }
            if let Some(reason) = choice.finish_reason {
                self.finished = true;
                out.push_back(Ok(ChatChunk::Finish { reason }));
            }
        }
        if let Some(u) = chunk.usage {
            out.push_back(Ok(ChatChunk::Usage(TokenUsage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            })));
        }
    }

    fn fail(&mut self, out: &mut VecDeque<Result<ChatChunk, ChatError>>, e: ChatError) {
        out.push_back(Err(e));
        self.done = true;
    }
}

type ByteStream = BoxStream<'static, Result<Bytes, reqwest::Error>>;

struct StreamState {
    body: ByteStream,
    decoder: ChunkDecoder,
    ready: VecDeque<Result<ChatChunk, ChatError>>,
}

fn chunk_stream(body: ByteStream) -> ChatStream {
    let state = StreamState {
        body,
        decoder: ChunkDecoder::default(),
        ready: VecDeque::new(),
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.ready.pop_front() {
                return Some((item, st));
            }
            if st.decoder.is_done() {
                return None;
            }
            match st.body.next().await {
                Some(Ok(bytes)) => st.decoder.feed(&bytes, &mut st.ready),
                Some(Err(e)) => {
                    st.ready.push_back(Err(map_body_error(e)));
                    st.decoder.done = true;
                }
                None => st.decoder.eof(&mut st.ready),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("test header is ASCII"));
        }
        h
    }

    #[test]
    fn retry_after_prefers_ms_then_seconds_then_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let h = headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "0")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn insufficient_quota_code_and_should_retry_are_read() {
        let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let e = status_error(
            429,
            &headers(&[("x-should-retry", "false")]),
            body,
            SystemTime::now(),
        );
        let ChatError::Status {
            code,
            should_retry,
            message,
            ..
        } = e
        else {
            panic!("expected a status error, got {e:?}");
        };
        assert_eq!(code.as_deref(), Some("insufficient_quota"));
        assert_eq!(should_retry, Some(false));
        assert!(message.contains("quota"));
    }

    #[test]
    fn error_type_is_the_code_when_code_is_null_and_plain_bodies_pass_through() {
        let (_, code) =
            parse_error_body(r#"{"error":{"message":"x","type":"server_error","code":null}}"#);
        assert_eq!(code.as_deref(), Some("server_error"));
        assert_eq!(
            parse_error_body(r#"{"error":"model not found"}"#).0,
            "model not found"
        );
        assert_eq!(parse_error_body("Bad Gateway").0, "Bad Gateway");
    }

    #[test]
    fn decoder_yields_tokens_finish_usage_and_stops_at_done() {
        let mut d = ChunkDecoder::default();
        let mut out = VecDeque::new();
        d.feed(b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n: keep\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n", &mut out);
        d.feed(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n", &mut out);
        let got: Vec<_> = out.into_iter().collect();
        assert_eq!(
            got,
            vec![
                Ok(ChatChunk::Token("Hi".into())),
                Ok(ChatChunk::Finish {
                    reason: "stop".into()
                }),
                Ok(ChatChunk::Usage(TokenUsage {
                    prompt_tokens: 7,
                    completion_tokens: 1
                })),
            ]
        );
        assert!(d.is_done());
    }

    #[test]
    fn mid_stream_error_object_ends_the_stream() {
        let mut d = ChunkDecoder::default();
        let mut out = VecDeque::new();
        d.feed(b"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\ndata: {\"choices\":[]}\n\n", &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], Err(ChatError::MidStream(m)) if m == "overloaded"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80), 0..6)) {
            let mut d = ChunkDecoder::default();
            let mut out = VecDeque::new();
            for c in &chunks {
                d.feed(c, &mut out);
            }
            d.eof(&mut out);
            proptest::prop_assert!(d.is_done());
        }

        #[test]
        fn data_lines_with_random_json_never_panic(body in r#"\{("choices"|"usage"|"error"|"delta"|"content"|"x"|:|,|\[|\]|\{|\}|null|1|"s")*\}?"#) {
            let mut d = ChunkDecoder::default();
            let mut out = VecDeque::new();
            d.feed(format!("data: {body}\n\n").as_bytes(), &mut out);
        }
    }

    #[test]
    fn close_before_finish_is_an_error_but_after_finish_is_not() {
        let mut out = VecDeque::new();
        let mut d = ChunkDecoder::default();
        d.eof(&mut out);
        assert!(matches!(
            out.pop_front(),
            Some(Err(ChatError::MidStream(_)))
        ));
        let mut d = ChunkDecoder::default();
        d.feed(
            b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
            &mut out,
        );
        out.clear();
        d.eof(&mut out);
        assert!(out.is_empty());
    }
}
