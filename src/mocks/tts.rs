//! The OpenAI-compatible TTS mock: `POST /v1/audio/speech` answers raw
//! 24 kHz 16-bit LE PCM of speech-like audio whose length follows the text,
//! after a configurable time to first byte, in chunks paced a configurable
//! factor faster than real time. Counts requests, finished and cancelled
//! streams (the client dropped the connection).

use super::http::{ClientWatch, Request, ResponseWriter};
use super::synth::cached_pcm_le;
use super::MockServer;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsMockConfig {
    pub bind: SocketAddr,
    /// Delay before the first audio byte.
    pub first_byte_ms: u64,
    /// Bytes per chunk written (an odd size splits samples across chunks).
    pub chunk_bytes: usize,
    /// How much faster than real time audio is sent; 0 sends it unpaced.
    pub realtime_factor: f64,
    /// Audio length per character of input.
    pub ms_per_char: u32,
    pub sample_rate: u32,
}

impl Default for TtsMockConfig {
    fn default() -> Self {
        Self {
            bind: super::loopback_any(),
            first_byte_ms: 150,
            chunk_bytes: 4800,
            realtime_factor: 4.0,
            ms_per_char: 65,
            sample_rate: 24_000,
        }
    }
}

#[derive(Debug, Default)]
pub struct TtsMockState {
    cfg: TtsMockConfig,
    texts: Mutex<Vec<String>>,
    fail_next: AtomicU64,
    pub requests: AtomicU64,
    pub completed: AtomicU64,
    /// Streams the client closed before the end (cancel on barge-in).
    pub cancelled: AtomicU64,
    pub bytes_sent: AtomicU64,
}

impl TtsMockState {
    /// Answers the next `times` requests with HTTP 500.
    pub fn fail_next(&self, times: u64) {
        self.fail_next.fetch_add(times, Relaxed);
    }

    /// `input` texts received, in order (the first [`super::MAX_RECORDED`]).
    pub fn texts(&self) -> Vec<String> {
        self.texts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub async fn start(cfg: TtsMockConfig) -> std::io::Result<MockServer<TtsMockState>> {
    let state = Arc::new(TtsMockState {
        cfg: cfg.clone(),
        ..Default::default()
    });
    let s = state.clone();
    super::start_http(cfg.bind, "http", state, move |req, w, watch| {
        handle(s.clone(), req, w, watch)
    })
    .await
}

async fn handle(
    state: Arc<TtsMockState>,
    req: Request,
    mut w: ResponseWriter,
    mut watch: ClientWatch,
) {
    if req.method != "POST" || !req.path.ends_with("/audio/speech") {
        let _ = w
            .json(
                404,
                &[],
                &json!({"error": {"message": "unknown route", "type": "invalid_request_error"}}),
            )
            .await;
        return;
    }
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let Some(text) = body
        .get("input")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
    else {
        let _ = w.json(400, &[], &json!({"error": {"message": "input is required", "type": "invalid_request_error"}})).await;
        return;
    };
    state.requests.fetch_add(1, Relaxed);
    state
        .texts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(text.clone());
    let failing = state
        .fail_next
        .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        let _ = w
            .json(
                500,
                &[],
                &json!({"error": {"message": "synthesis failed", "type": "server_error"}}),
            )
            .await;
        return;
    }
    tokio::select! {
        ok = stream_audio(&state, &text, &mut w) => {
            if ok {
                state.completed.fetch_add(1, Relaxed);
            }
        }
        _ = watch.gone() => { state.cancelled.fetch_add(1, Relaxed); }
    }
}

async fn stream_audio(state: &TtsMockState, text: &str, w: &mut ResponseWriter) -> bool {
    let cfg = &state.cfg;
    tokio::time::sleep(Duration::from_millis(cfg.first_byte_ms)).await;
    if w.start_chunked(200, "audio/pcm").await.is_err() {
        return false;
    }
    let audio = cached_pcm_le(text, cfg.sample_rate, cfg.ms_per_char);
    let chunk = cfg.chunk_bytes.max(1);
    let per_chunk = (cfg.realtime_factor > 0.0).then(|| {
        Duration::from_secs_f64(chunk as f64 / 2.0 / cfg.sample_rate as f64 / cfg.realtime_factor)
    });
    for (i, piece) in audio.chunks(chunk).enumerate() {
        if let (Some(d), true) = (per_chunk, i > 0) {
            tokio::time::sleep(d).await;
        }
        if w.chunk(piece).await.is_err() {
            return false;
        }
        state.bytes_sent.fetch_add(piece.len() as u64, Relaxed);
    }
    w.end_chunked().await.is_ok()
}
