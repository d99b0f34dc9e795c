//! The provider traits the engine talks to: speech-to-text, text-to-speech and
//! chat completion. Real network clients live in the `switchboard` crate
//! (`src/providers`); tests use in-process fakes. Implementations spawn their
//! own I/O on the current tokio runtime and report back through an
//! [`EventSink`], so a call actor never awaits a provider inside its handler.

use crate::ids::CallSid;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Where a provider delivers its events: usually a closure that casts a
/// message to the call actor. It must not block.
pub type EventSink<T> = Arc<dyn Fn(T) + Send + Sync>;

/// Owns a provider's background task; dropping it (or calling `cancel`)
/// aborts the task at once, which drops its connection: a cancelled LLM or TTS
/// stream stops costing money the moment barge-in happens.
#[derive(Debug, Default)]
pub struct StreamHandle(Option<tokio::task::AbortHandle>);

impl StreamHandle {
    pub fn new(handle: tokio::task::AbortHandle) -> Self {
        Self(Some(handle))
    }
    /// A handle for work that needs no cancelling (already finished).
    pub fn detached() -> Self {
        Self(None)
    }
    pub fn cancel(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

// ---------------------------------------------------------------- STT

/// One event of a live transcription stream (Deepgram's model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SttEvent {
    /// A transcript; interim (`is_final == false`) ones are revised later.
    Transcript {
        text: String,
        confidence: f32,
        is_final: bool,
        /// Endpointing saw a pause after this segment.
        speech_final: bool,
        /// The answer to a `finalize` (Deepgram `from_finalize`): everything
        /// sent before it has been transcribed.
        from_finalize: bool,
        /// Seconds of stream audio where this segment starts.
        start_s: f64,
        duration_s: f64,
    },
    /// The provider's own VAD heard speech start.
    SpeechStarted { timestamp_s: f64 },
    /// No word for `utterance_end_ms`: the utterance is over.
    UtteranceEnd { last_word_end_s: f64 },
    /// The stream failed; the call goes on without transcripts until reopened.
    Error { message: String },
    /// The provider closed the stream (after CloseStream or on its own).
    Closed,
}

/// The sending half of a live transcription stream for one call.
pub trait SttStream: Send {
    /// Queue 8 kHz mu-law audio; never blocks (buffers while connecting).
    fn send_audio(&mut self, ulaw: &[u8]);
    /// Ask the provider to flush what it has (Deepgram `Finalize`).
    fn finalize(&mut self);
    /// Flush and close (Deepgram `CloseStream`).
    fn close(&mut self);
}

pub trait Stt: Send + Sync + 'static {
    /// Short provider name for traces ("deepgram", "fake").
    fn name(&self) -> &str;
    /// Open a stream for `call`; events arrive on `events`. Must not block:
    /// the connection is made in the background.
    fn open(&self, call: &CallSid, events: EventSink<SttEvent>) -> Box<dyn SttStream>;
}

// ---------------------------------------------------------------- TTS

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtsRequest {
    /// Chosen by the caller of `synthesize`, echoed on every event.
    pub id: u64,
    pub text: String,
    pub voice: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TtsEvent {
    /// Linear PCM, mono, any length (not 20 ms aligned).
    Audio {
        id: u64,
        pcm: Vec<i16>,
        sample_rate: u32,
    },
    Done {
        id: u64,
    },
    Error {
        id: u64,
        message: String,
    },
}

pub trait Tts: Send + Sync + 'static {
    fn name(&self) -> &str;
    /// Start synthesising; audio streams to `events` as it is made. Dropping
    /// the handle cancels the request.
    fn synthesize(&self, req: TtsRequest, events: EventSink<TtsEvent>) -> StreamHandle;
}

// ---------------------------------------------------------------- Chat

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Overrides the endpoint's default model.
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// One piece of a streamed completion.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatChunk {
    Token(String),
    Usage(TokenUsage),
    Finish { reason: String },
}

/// Why a completion failed; carries what the retry policy needs.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChatError {
    #[error("HTTP {status}: {message}")]
    Status {
        status: u16,
        /// From `retry-after-ms` / `retry-after`.
        retry_after: Option<Duration>,
        /// The error body's `code` or `type` (e.g. `insufficient_quota`).
        code: Option<String>,
        /// `x-should-retry`, when the server sent it.
        should_retry: Option<bool>,
        message: String,
    },
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("error in stream: {0}")]
    MidStream(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub type ChatStream = BoxStream<'static, Result<ChatChunk, ChatError>>;

pub trait Chat: Send + Sync + 'static {
    /// The endpoint's name for traces, breakers and cost ("primary", "openai").
    fn name(&self) -> &str;
    /// The model used when the request names none.
    fn model(&self) -> &str;
    /// Send the request; resolves when the response headers arrived (or
    /// failed), then yields chunks as they stream.
    fn open(&self, req: ChatRequest) -> BoxFuture<'static, Result<ChatStream, ChatError>>;
}
