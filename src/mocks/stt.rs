//! The Deepgram-style STT mock: a WebSocket server at `/v1/listen` that
//! feeds the binary mu-law it receives to a [`Recognizer`] and sends back
//! its Results, SpeechStarted and UtteranceEnd messages when they fall due.
//! Honours KeepAlive, Finalize and CloseStream (final Results, Metadata,
//! close), closes an idle stream with `NET-0001` like Deepgram, checks
//! `Authorization: Token <key>` when configured, and records per connection
//! what it received and sent.

use super::fixtures::FixtureSet;
use super::recognizer::{FixtureIndex, Recognizer, RecognizerParams, RecognizerStats};
use super::MockServer;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SttMockConfig {
    pub bind: SocketAddr,
    /// Directory with `utterances.json`; None: [`FixtureSet::default_dir`].
    pub fixtures_dir: Option<PathBuf>,
    /// When set, connections must send `Authorization: Token <key>`.
    pub api_key: Option<String>,
    /// Processing delay added to every transcript.
    pub result_latency_ms: u64,
    /// Endpointing when the URL has none.
    pub default_endpointing_ms: u64,
    /// Endpoint when a recognised utterance stops before its end.
    pub mid_utterance_timeout_ms: u64,
    /// Close with NET-0001 after this long without audio or KeepAlive.
    pub idle_timeout_ms: u64,
}

impl Default for SttMockConfig {
    fn default() -> Self {
        Self {
            bind: super::loopback_any(),
            fixtures_dir: None,
            api_key: None,
            result_latency_ms: 60,
            default_endpointing_ms: 300,
            mid_utterance_timeout_ms: 800,
            idle_timeout_ms: 10_000,
        }
    }
}

/// What one connection received and sent.
#[derive(Clone, Debug, Default)]
pub struct ConnectionRecord {
    /// The listen URL's query string.
    pub query: String,
    pub authorization: Option<String>,
    /// Binary (audio) messages; written when the connection ends.
    pub binary_messages: u64,
    /// Text frames from the client (KeepAlive, Finalize, CloseStream).
    pub text_messages: Vec<String>,
    /// Messages the mock sent, in order.
    pub sent: Vec<String>,
    /// Recogniser counters; written when the connection ends.
    pub stats: RecognizerStats,
    pub closed: bool,
}

#[derive(Debug, Default)]
pub struct SttMockState {
    cfg: SttMockConfig,
    index: FixtureIndex,
    connections: Mutex<Vec<ConnectionRecord>>,
    pub connections_total: AtomicU64,
    pub rejected: AtomicU64,
    pub bytes_received: AtomicU64,
    pub unknown_speech_frames: AtomicU64,
    pub finals_sent: AtomicU64,
}

impl SttMockState {
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ConnectionRecord>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, id: usize, f: impl FnOnce(&mut ConnectionRecord)) {
        if let Some(rec) = self.lock().get_mut(id) {
            f(rec);
        }
    }

    /// Message logs are kept for the first connections only.
    fn log(&self, id: usize, f: impl FnOnce(&mut ConnectionRecord)) {
        if id >= super::MAX_RECORDED {
            return;
        }
        if let Some(rec) = self.lock().get_mut(id) {
            f(rec);
        }
    }
}

/// Starts the mock with the fixtures of `cfg.fixtures_dir` (or the default
/// directory; a missing default directory gives an empty set).
pub async fn start(cfg: SttMockConfig) -> std::io::Result<MockServer<SttMockState>> {
    let set = match &cfg.fixtures_dir {
        Some(dir) => FixtureSet::load(dir)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
        None => FixtureSet::load(&FixtureSet::default_dir()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "STT mock runs without fixtures");
            FixtureSet::default()
        }),
    };
    start_with_fixtures(cfg, set).await
}

pub async fn start_with_fixtures(
    cfg: SttMockConfig,
    fixtures: FixtureSet,
) -> std::io::Result<MockServer<SttMockState>> {
    let listener = TcpListener::bind(cfg.bind).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SttMockState {
        cfg,
        index: FixtureIndex::new(fixtures),
        ..Default::default()
    });
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, rx, state.clone()));
    Ok(MockServer::from_parts(
        addr,
        format!("ws://{addr}"),
        state,
        tx,
        task,
    ))
}

async fn accept_loop(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    state: Arc<SttMockState>,
) {
    loop {
        let mut stop = shutdown.clone();
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = connection(stream, state) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                });
            }
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn connection(stream: TcpStream, state: Arc<SttMockState>) {
    let _ = stream.set_nodelay(true);
    let mut record = ConnectionRecord::default();
    let api_key = state.cfg.api_key.clone();
    // The callback's signature is tungstenite's; its error type is theirs.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        record.query = req.uri().query().unwrap_or_default().to_owned();
        record.authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match &api_key {
            Some(key) if record.authorization.as_deref() != Some(&format!("Token {key}")) => {
                let mut err = ErrorResponse::new(Some(
                    "{\"err_code\":\"INVALID_AUTH\",\"err_msg\":\"Invalid credentials.\"}".into(),
                ));
                *err.status_mut() = StatusCode::UNAUTHORIZED;
                Err(err)
            }
            _ => Ok(resp),
        }
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        check,
        Some(crate::providers::deepgram_wire::ws_config()),
    )
    .await
    else {
        state.rejected.fetch_add(1, Relaxed);
        return;
    };
    state.connections_total.fetch_add(1, Relaxed);
    let params = params_from_query(&record.query, &state.cfg);
    let id = {
        let mut conns = state.lock();
        conns.push(record);
        conns.len() - 1
    };
    let mut session = Session {
        state: &state,
        id,
        ws,
        binary_messages: 0,
    };
    session.run(params).await;
    state.update(id, |r| r.closed = true);
}

fn params_from_query(query: &str, cfg: &SttMockConfig) -> RecognizerParams {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let ms = |v: Option<&str>| {
        v.and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    RecognizerParams {
        interim_results: get("interim_results") == Some("true"),
        vad_events: get("vad_events") == Some("true"),
        endpointing: ms(get("endpointing"))
            .unwrap_or(Duration::from_millis(cfg.default_endpointing_ms)),
        utterance_end: ms(get("utterance_end_ms")),
        result_latency: Duration::from_millis(cfg.result_latency_ms),
        mid_utterance_timeout: Duration::from_millis(cfg.mid_utterance_timeout_ms),
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

struct Session<'a> {
    state: &'a SttMockState,
    id: usize,
    ws: Ws,
    /// Counted here and written to the record at the end, so the audio path
    /// takes no lock per frame.
    binary_messages: u64,
}

impl Session<'_> {
    async fn run(&mut self, params: RecognizerParams) {
        let state = self.state;
        let mut rec = Recognizer::new(&state.index, params);
        let idle = Duration::from_millis(state.cfg.idle_timeout_ms);
        let mut last_activity = Instant::now();
        loop {
            let wake = rec.next_deadline().map(Instant::from_std);
            let far = Instant::now() + Duration::from_secs(3600);
            let out = tokio::select! {
                msg = self.ws.next() => match msg {
                    Some(Ok(Message::Binary(audio))) => {
                        last_activity = Instant::now();
                        self.state.bytes_received.fetch_add(audio.len() as u64, Relaxed);
                        rec.push_audio(last_activity.into_std(), &audio);
                        self.binary_messages += 1;
                        rec.poll(Instant::now().into_std())
                    }
                    Some(Ok(Message::Text(text))) => {
                        last_activity = Instant::now();
                        self.state.log(self.id, |r| r.text_messages.push(text.to_string()));
                        match control_type(&text).as_deref() {
                            Some("Finalize") => rec.finalize(Instant::now().into_std()),
                            Some("CloseStream") => return self.close_stream(&mut rec).await,
                            _ => Vec::new(), // KeepAlive and unknown messages
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return self.finish(&rec),
                    Some(Ok(_)) => Vec::new(),
                },
                _ = sleep_until(wake.unwrap_or(far)), if wake.is_some() => rec.poll(Instant::now().into_std()),
                _ = sleep_until(last_activity + idle) => {
                    let frame = CloseFrame { code: CloseCode::Error, reason: "NET-0001".into() };
                    let _ = self.ws.send(Message::Close(Some(frame))).await;
                    return self.finish(&rec);
                }
            };
            if self.send_all(out).await.is_err() {
                return self.finish(&rec);
            }
        }
    }

    async fn send_all(&mut self, msgs: Vec<String>) -> Result<(), ()> {
        for m in msgs {
            if m.contains("\"is_final\":true") && !m.contains("\"transcript\":\"\"") {
                self.state.finals_sent.fetch_add(1, Relaxed);
            }
            self.state.log(self.id, |r| r.sent.push(m.clone()));
            self.ws.feed(Message::text(m)).await.map_err(|_| ())?;
        }
        self.ws.flush().await.map_err(|_| ())
    }

    async fn close_stream(&mut self, rec: &mut Recognizer<'_>) {
        let mut out = rec.close(Instant::now().into_std());
        out.push(
            serde_json::json!({
                "type": "Metadata", "transaction_key": "deprecated", "request_id": format!("mock-{}", self.id),
                "sha256": "", "created": chrono::Utc::now().to_rfc3339(),
                "duration": rec.stats.bytes as f64 / 8000.0, "channels": 1,
            })
            .to_string(),
        );
        self.finish(rec); // before the close, so a client that saw it sees the record
        if self.send_all(out).await.is_ok() {
            let _ = self
                .ws
                .close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                }))
                .await;
        }
    }

    fn finish(&self, rec: &Recognizer<'_>) {
        let stats = rec.stats.clone();
        self.state
            .unknown_speech_frames
            .fetch_add(stats.unknown_speech_frames, Relaxed);
        let binary = self.binary_messages;
        self.state.update(self.id, |r| {
            r.stats = stats;
            r.binary_messages = binary;
        });
    }
}

fn control_type(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("type")?.as_str().map(str::to_owned)
}
