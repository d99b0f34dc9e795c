//! [`DeepgramStt`]: the Deepgram-style live transcription client.
//!
//! `open` returns at once with a [`SttStream`] whose calls only queue: a
//! connection task spawned on the current tokio runtime connects, drains the
//! queue as binary mu-law frames, sends KeepAlive when no audio flowed for a
//! while, Finalize and CloseStream on request, and turns the server's JSON
//! into [`SttEvent`]s. The queue is bounded: when the provider stalls the
//! oldest audio is dropped (and counted) rather than growing without limit.
//! Any failure ends in `SttEvent::Error` then `SttEvent::Closed`.

use super::deepgram_wire::{self, ListenParams, CLOSE_STREAM, FINALIZE, KEEP_ALIVE};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_actors::ids::CallSid;
use switchboard_actors::providers::{EventSink, Stt, SttEvent, SttStream};
use tokio::sync::Notify;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Speech-to-text settings (`[stt]` in config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SttConfig {
    /// `wss://api.deepgram.com`, or `ws://127.0.0.1:port` for the mock.
    pub base_url: String,
    pub model: String,
    pub language: Option<String>,
    /// Environment variable holding the key; empty for servers without auth.
    pub api_key_env: String,
    /// Silence after which Deepgram marks `speech_final`.
    pub endpointing_ms: u32,
    /// Silence after the last word before `UtteranceEnd` (>= 1000 advised).
    pub utterance_end_ms: u32,
    pub smart_format: bool,
    /// KeepAlive interval while no audio flows (Deepgram closes after 10 s).
    pub keepalive_ms: u64,
    pub connect_timeout_ms: u64,
    /// Audio held while connecting or while the provider stalls; older audio
    /// beyond it is dropped.
    pub max_queued_ms: u64,
    /// How long to wait for the server to close after CloseStream.
    pub close_timeout_ms: u64,
}

impl Default for SttConfig {
    fn default() -> Self {
        Self {
            base_url: "wss://api.deepgram.com".into(),
            model: "nova-3".into(),
            language: None,
            api_key_env: "DEEPGRAM_API_KEY".into(),
            endpointing_ms: 300,
            utterance_end_ms: 1000,
            smart_format: false,
            keepalive_ms: 4000,
            connect_timeout_ms: 5000,
            max_queued_ms: 5000,
            close_timeout_ms: 5000,
        }
    }
}

/// Process-wide figures of all streams of one client (for `/metrics`).
#[derive(Debug, Default)]
pub struct SttCounters {
    pub streams_opened: AtomicU64,
    /// Streams that ended with an error (connect, protocol, provider close).
    pub streams_failed: AtomicU64,
    pub audio_bytes_sent: AtomicU64,
    /// Audio dropped because the queue was full (provider stalled).
    pub audio_bytes_dropped: AtomicU64,
    pub keepalives_sent: AtomicU64,
    /// Server messages that did not parse (ignored).
    pub bad_messages: AtomicU64,
}

/// The Deepgram client; one per process, `open` per call.
#[derive(Clone, Debug)]
pub struct DeepgramStt {
    url: String,
    key: Option<String>,
    cfg: SttConfig,
    counters: Arc<SttCounters>,
}

impl DeepgramStt {
    /// Builds the client; the key is read from `cfg.api_key_env` now.
    /// Takes the config by value or by reference.
    pub fn new(cfg: impl Borrow<SttConfig>) -> Self {
        let key = super::api_key_from_env(&cfg.borrow().api_key_env);
        Self::with_key(cfg, key)
    }

    pub fn with_key(cfg: impl Borrow<SttConfig>, key: Option<String>) -> Self {
        let cfg = cfg.borrow();
        super::install_crypto_provider();
        let params = ListenParams {
            model: &cfg.model,
            language: cfg.language.as_deref(),
            endpointing_ms: cfg.endpointing_ms,
            utterance_end_ms: cfg.utterance_end_ms,
            smart_format: cfg.smart_format,
        };
        Self {
            url: deepgram_wire::listen_url(&cfg.base_url, &params),
            key,
            cfg: cfg.clone(),
            counters: Arc::default(),
        }
    }

    /// The URL every stream opens.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn counters(&self) -> Arc<SttCounters> {
        self.counters.clone()
    }
}

impl Stt for DeepgramStt {
    fn name(&self) -> &str {
        "deepgram"
    }

    fn open(&self, call: &CallSid, events: EventSink<SttEvent>) -> Box<dyn SttStream> {
        self.counters.streams_opened.fetch_add(1, Relaxed);
        let shared = Arc::new(Shared::default());
        let session = Session {
            url: self.url.clone(),
            key: self.key.clone(),
            cfg: self.cfg.clone(),
            shared: shared.clone(),
            counters: self.counters.clone(),
            events,
        };
        let call = call.clone();
        // Outside a tokio runtime there is nowhere to connect from: report it
        // as a failed stream instead of panicking in `tokio::spawn`.
        let task = match tokio::runtime::Handle::try_current() {
            Ok(rt) => Some(
                rt.spawn(async move { session.run(call).await })
                    .abort_handle(),
            ),
            Err(_) => {
                (session.events)(SttEvent::Error {
                    message: "STT opened outside a tokio runtime".into(),
                });
                (session.events)(SttEvent::Closed);
                None
            }
        };
        Box::new(DeepgramStream {
            shared,
            // 8 kHz mu-law: 8 bytes per millisecond.
            max_queued_bytes: (self.cfg.max_queued_ms as usize).saturating_mul(8).max(160),
            counters: self.counters.clone(),
            task,
            closing: false,
        })
    }
}

// ------------------------------------------------------------ the queue

enum Outgoing {
    Audio(Vec<u8>),
    Finalize,
    Close,
}

#[derive(Default)]
struct Outbox {
    items: VecDeque<Outgoing>,
    audio_bytes: usize,
}

/// What the call side and the connection task share.
#[derive(Default)]
struct Shared {
    outbox: Mutex<Outbox>,
    wake: Notify,
}

impl Shared {
    fn push(&self, item: Outgoing, max_audio: usize) -> usize {
        let mut dropped = 0;
        {
            // A poisoned lock means a panic while pushing to a VecDeque;
            // the queue is still consistent enough to keep going.
            let mut out = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            if let Outgoing::Audio(bytes) = &item {
                out.audio_bytes += bytes.len();
            }
            out.items.push_back(item);
            while out.audio_bytes > max_audio {
                let Some(pos) = out
                    .items
                    .iter()
                    .position(|i| matches!(i, Outgoing::Audio(_)))
                else {
                    break;
                };
                if let Some(Outgoing::Audio(old)) = out.items.remove(pos) {
                    out.audio_bytes -= old.len();
                    dropped += old.len();
                }
            }
        }
        self.wake.notify_one();
        dropped
    }

    fn take(&self) -> VecDeque<Outgoing> {
        let mut out = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        out.audio_bytes = 0;
        std::mem::take(&mut out.items)
    }
}

/// The call's handle on its stream.
struct DeepgramStream {
    shared: Arc<Shared>,
    max_queued_bytes: usize,
    counters: Arc<SttCounters>,
    task: Option<tokio::task::AbortHandle>,
    /// CloseStream was queued: let the task finish the flush on its own.
    closing: bool,
}

impl SttStream for DeepgramStream {
    fn send_audio(&mut self, ulaw: &[u8]) {
        if self.closing || ulaw.is_empty() {
            return;
        }
        let dropped = self
            .shared
            .push(Outgoing::Audio(ulaw.to_vec()), self.max_queued_bytes);
        if dropped > 0 {
            self.counters
                .audio_bytes_dropped
                .fetch_add(dropped as u64, Relaxed);
        }
    }

    fn finalize(&mut self) {
        if !self.closing {
            self.shared.push(Outgoing::Finalize, self.max_queued_bytes);
        }
    }

    fn close(&mut self) {
        if !self.closing {
            self.closing = true;
            self.shared.push(Outgoing::Close, self.max_queued_bytes);
        }
    }
}

impl Drop for DeepgramStream {
    fn drop(&mut self) {
        // Dropped without close(): the call is gone, stop paying at once.
        if !self.closing {
            if let Some(task) = self.task.take() {
                task.abort();
            }
        }
    }
}

// ------------------------------------------------------------ the connection

struct Session {
    url: String,
    key: Option<String>,
    cfg: SttConfig,
    shared: Arc<Shared>,
    counters: Arc<SttCounters>,
    events: EventSink<SttEvent>,
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Session {
    async fn run(self, call: CallSid) {
        let result = match self.connect().await {
            Ok(ws) => self.pump(ws).await,
            Err(e) => Err(e),
        };
        if let Err(message) = result {
            tracing::warn!(%call, %message, "STT stream failed");
            self.counters.streams_failed.fetch_add(1, Relaxed);
            (self.events)(SttEvent::Error { message });
        }
        (self.events)(SttEvent::Closed);
    }

    async fn connect(&self) -> Result<WsStream, String> {
        let mut req = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad STT URL: {e}"))?;
        if let Some(key) = &self.key {
            let value = HeaderValue::from_str(&format!("Token {key}"))
                .map_err(|_| "STT key is not a valid header value".to_string())?;
            req.headers_mut().insert("authorization", value);
        }
        let limit = Duration::from_millis(self.cfg.connect_timeout_ms);
        match timeout(
            limit,
            tokio_tungstenite::connect_async_with_config(
                req,
                Some(deepgram_wire::ws_config()),
                true, // no Nagle: 20 ms audio frames must not wait for ACKs
            ),
        )
        .await
        {
            Err(_) => Err(format!("STT connect timed out after {limit:?}")),
            Ok(Err(e)) => Err(describe_ws_error(e)),
            Ok(Ok((ws, _response))) => Ok(ws),
        }
    }

    /// Moves queued audio out and server messages in until the stream ends.
    async fn pump(&self, ws: WsStream) -> Result<(), String> {
        let (mut sink, mut source) = ws.split();
        let keepalive = Duration::from_millis(self.cfg.keepalive_ms.max(1));
        let mut last_sent = Instant::now();
        let mut close_deadline: Option<Instant> = None;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                _ = self.shared.wake.notified(), if close_deadline.is_none() => {
                    let (sent, closed) = self.send_queued(&mut sink).await?;
                    if sent {
                        last_sent = Instant::now();
                    }
                    if closed {
                        close_deadline = Some(Instant::now() + Duration::from_millis(self.cfg.close_timeout_ms));
                    }
                }
                msg = source.next() => {
                    if self.on_message(msg, close_deadline.is_some())? {
                        return Ok(());
                    }
                }
                _ = sleep_until(last_sent + keepalive), if close_deadline.is_none() => {
                    sink.send(Message::text(KEEP_ALIVE)).await.map_err(describe_ws_error)?;
                    self.counters.keepalives_sent.fetch_add(1, Relaxed);
                    last_sent = Instant::now();
                }
                _ = sleep_until(close_deadline.unwrap_or(far)), if close_deadline.is_some() => {
                    return Ok(()); // the server never closed after CloseStream
                }
            }
        }
    }

    /// Sends everything queued; returns (anything sent, CloseStream sent).
    async fn send_queued<S>(&self, sink: &mut S) -> Result<(bool, bool), String>
    where
        S: futures_util::Sink<Message, Error = WsError> + Unpin,
    {
        let items = self.shared.take();
        let sent = !items.is_empty();
        let mut closed = false;
        for item in items {
            let msg = match item {
                Outgoing::Audio(bytes) => {
                    self.counters
                        .audio_bytes_sent
                        .fetch_add(bytes.len() as u64, Relaxed);
                    Message::binary(bytes)
                }
                Outgoing::Finalize => Message::text(FINALIZE),
                Outgoing::Close => {
                    closed = true;
                    Message::text(CLOSE_STREAM)
                }
            };
            sink.feed(msg).await.map_err(describe_ws_error)?;
            if closed {
                break; // nothing may follow CloseStream
            }
        }
        sink.flush().await.map_err(describe_ws_error)?;
        Ok((sent, closed))
    }

    /// Handles one read; `Ok(true)` when the stream is over.
    fn on_message(
        &self,
        msg: Option<Result<Message, WsError>>,
        closing: bool,
    ) -> Result<bool, String> {
        match msg {
            None => Ok(true),
            Some(Err(WsError::ConnectionClosed)) if closing => Ok(true),
            Some(Err(e)) => Err(describe_ws_error(e)),
            Some(Ok(Message::Text(text))) => {
                match deepgram_wire::parse_server_message(&text) {
                    Ok(Some(ev)) => (self.events)(ev),
                    Ok(None) => {}
                    Err(e) => {
                        self.counters.bad_messages.fetch_add(1, Relaxed);
                        tracing::debug!(error = %e, "ignoring STT message");
                    }
                }
                Ok(false)
            }
            Some(Ok(Message::Close(frame))) => match frame {
                Some(f) if f.code != CloseCode::Normal && !closing => Err(format!(
                    "provider closed the stream: {} {}",
                    u16::from(f.code),
                    f.reason
                )),
                _ => Ok(true),
            },
            Some(Ok(_)) => Ok(false), // pings are answered by tungstenite
        }
    }
}

fn describe_ws_error(e: WsError) -> String {
    match e {
        WsError::Http(resp) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            format!(
                "STT handshake rejected: HTTP {} {}",
                resp.status().as_u16(),
                body.trim()
            )
        }
        other => format!("STT connection error: {other}"),
    }
}
