//! [`HttpTts`]: streaming text-to-speech over OpenAI-compatible
//! `POST /v1/audio/speech` with `response_format: "pcm"`, which answers raw
//! 24 kHz 16-bit little-endian mono PCM. Each network chunk becomes one
//! `TtsEvent::Audio` as it arrives (a sample split across two chunks is
//! carried over); the request runs in a task whose [`StreamHandle`] aborts
//! it, which drops the connection at once.

use super::{api_key_from_env, join_api_path};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::time::Duration;
use switchboard_actors::providers::{EventSink, StreamHandle, Tts, TtsEvent, TtsRequest};

/// Text-to-speech settings (`[tts]` in config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// Name for traces ("openai", "mock").
    pub name: String,
    /// `https://api.openai.com`, or the mock's URL; a trailing `/v1` is fine.
    pub base_url: String,
    pub model: String,
    /// Used when the request names no voice.
    pub voice: String,
    /// Environment variable holding the key; empty for servers without auth.
    pub api_key_env: String,
    /// Sample rate of the PCM the server returns (OpenAI: 24000).
    pub sample_rate: u32,
    pub speed: Option<f32>,
    pub connect_timeout_ms: u64,
    /// Longest silence between two reads of the response.
    pub read_timeout_ms: u64,
}

impl Default for TtsConfig {
    fn default() -> Self {
        Self {
            name: "openai".into(),
            base_url: "https://api.openai.com".into(),
            model: "gpt-4o-mini-tts".into(),
            voice: "alloy".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            sample_rate: 24_000,
            speed: None,
            connect_timeout_ms: 3_000,
            read_timeout_ms: 15_000,
        }
    }
}

/// The TTS client; cheap to clone (shares the connection pool).
#[derive(Clone, Debug)]
pub struct HttpTts {
    cfg: TtsConfig,
    url: String,
    key: Option<String>,
    /// A client that failed to build reports why on every request instead
    /// of failing the engine's start-up.
    http: Result<reqwest::Client, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("building the TTS HTTP client: {0}")]
pub struct TtsBuildError(String);

impl HttpTts {
    /// Builds the client (config by value or by reference); the key is
    /// read from `cfg.api_key_env` now. Never fails: a client that cannot
    /// be built answers every request with `TtsEvent::Error`.
    pub fn new(cfg: impl Borrow<TtsConfig>) -> Self {
        let key = api_key_from_env(&cfg.borrow().api_key_env);
        Self::with_key(cfg, key)
    }

    /// Like [`HttpTts::new`], but a client that cannot be built is an error.
    pub fn try_new(cfg: impl Borrow<TtsConfig>) -> Result<Self, TtsBuildError> {
        let tts = Self::new(cfg);
        match &tts.http {
            Ok(_) => Ok(tts),
            Err(e) => Err(TtsBuildError(e.clone())),
        }
    }

    pub fn with_key(cfg: impl Borrow<TtsConfig>, key: Option<String>) -> Self {
        let cfg = cfg.borrow();
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .read_timeout(Duration::from_millis(cfg.read_timeout_ms))
            .build()
            .map_err(|e| format!("{e:#}"));
        Self {
            url: join_api_path(&cfg.base_url, "audio/speech"),
            cfg: cfg.clone(),
            key,
            http,
        }
    }

    fn request(&self, req: &TtsRequest) -> Result<reqwest::RequestBuilder, String> {
        let http = self
            .http
            .as_ref()
            .map_err(|e| format!("TTS HTTP client unavailable: {e}"))?;
        let voice = if req.voice.is_empty() {
            &self.cfg.voice
        } else {
            &req.voice
        };
        let mut body = serde_json::json!({
            "model": self.cfg.model,
            "input": req.text,
            "voice": voice,
            "response_format": "pcm",
        });
        if let Some(speed) = self.cfg.speed {
            body["speed"] = serde_json::json!(speed);
        }
        let builder = http.post(&self.url).json(&body);
        Ok(match &self.key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        })
    }
}

impl Tts for HttpTts {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn synthesize(&self, req: TtsRequest, events: EventSink<TtsEvent>) -> StreamHandle {
        let id = req.id;
        let request = match self.request(&req) {
            Ok(r) => r,
            Err(message) => {
                events(TtsEvent::Error { id, message });
                return StreamHandle::detached();
            }
        };
        let sample_rate = self.cfg.sample_rate;
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            events(TtsEvent::Error {
                id,
                message: "TTS called outside a tokio runtime".into(),
            });
            return StreamHandle::detached();
        };
        let task = rt.spawn(async move {
            let event = match stream_pcm(request, id, sample_rate, &events).await {
                Ok(()) => TtsEvent::Done { id },
                Err(message) => TtsEvent::Error { id, message },
            };
            events(event);
        });
        StreamHandle::new(task.abort_handle())
    }
}

async fn stream_pcm(
    request: reqwest::RequestBuilder,
    id: u64,
    sample_rate: u32,
    events: &EventSink<TtsEvent>,
) -> Result<(), String> {
    let resp = request
        .send()
        .await
        .map_err(|e| format!("TTS request failed: {e:#}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        return Err(format!("TTS HTTP {}: {}", status.as_u16(), body.trim()));
    }
    let mut body = resp.bytes_stream();
    let mut pcm = PcmAssembler::default();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("TTS stream broke: {e:#}"))?;
        let samples = pcm.push(&chunk);
        if !samples.is_empty() {
            events(TtsEvent::Audio {
                id,
                pcm: samples,
                sample_rate,
            });
        }
    }
    Ok(())
}

/// Turns byte chunks of 16-bit LE PCM into samples, carrying an odd byte
/// over to the next chunk.
#[derive(Debug, Default)]
pub struct PcmAssembler {
    carry: Option<u8>,
}

impl PcmAssembler {
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(bytes.len() / 2 + 1);
        if let Some(lo) = self.carry.take() {
            match bytes.split_first() {
                Some((&hi, rest)) => {
                    out.push(i16::from_le_bytes([lo, hi]));
                    bytes = rest;
                }
                None => {
                    self.carry = Some(lo);
                    return out;
                }
            }
        }
        let pairs = bytes.chunks_exact(2);
        self.carry = pairs.remainder().first().copied();
        out.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
        out
    }

    /// A byte is waiting for its pair (a stream ending here was truncated).
    pub fn has_carry(&self) -> bool {
        self.carry.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::PcmAssembler;
    use proptest::prelude::*;

    #[test]
    fn a_sample_split_across_chunks_is_rebuilt() {
        let mut a = PcmAssembler::default();
        let bytes = 0x1234i16.to_le_bytes();
        assert!(a.push(&[bytes[0]]).is_empty());
        assert!(a.push(&[]).is_empty());
        assert_eq!(a.push(&[bytes[1], 0xff]), vec![0x1234]);
        assert!(a.has_carry());
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_samples(samples in proptest::collection::vec(any::<i16>(), 0..200), cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut a = PcmAssembler::default();
            let mut got = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                got.extend(a.push(&bytes[from..c]));
                from = c;
            }
            prop_assert_eq!(got, samples);
        }
    }
}
