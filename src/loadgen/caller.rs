//! One simulated Twilio call, from the voice webhook to hang-up: POST the
//! webhook (signed), read the TwiML, open the media WebSocket (signed), then
//! hand the socket to [`super::session`] which streams the script.
//!
//! Every call is one tokio task; everything it shares with the others
//! (fixtures, HTTP client, counters) sits behind `Arc`s in [`CallerEnv`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::fixtures::Fixtures;
use super::playback::PlaybackConfig;
use super::script::Script;
use super::session::Session;
use super::webhook::{
    absolute_stream_url, local_stream_url, parse_twiml, twilio_signature, TwimlAction,
};
use super::wire::StreamIds;

/// What every caller of a run shares.
#[derive(Debug)]
pub struct CallerEnv {
    pub http: reqwest::Client,
    /// Base URL of the engine, without a trailing slash.
    pub target: String,
    /// The voice webhook URL as Twilio would request it (public host): the
    /// URL the signature covers. The POST itself goes to `target`.
    pub signed_webhook_url: String,
    /// The engine's public base URL (relative stream URLs resolve on it).
    pub public_base: String,
    /// Twilio auth token: sign the webhook and the upgrade when set.
    pub auth_token: Option<String>,
    pub account_sid: String,
    pub fixtures: Fixtures,
    pub playback: PlaybackConfig,
    /// A frame sent later than this after its tick counts as sent late.
    pub late_send_threshold: Duration,
    /// Webhook and WebSocket set-up must finish within this.
    pub setup_timeout: Duration,
    /// Calls still running at this instant hang up.
    pub run_deadline: Option<Instant>,
    pub live: Arc<LiveStats>,
}

/// Counters the progress line reads while the run goes on.
#[derive(Debug, Default)]
pub struct LiveStats {
    pub started: AtomicU64,
    pub active: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    /// Every turn latency so far, for the running percentiles.
    pub turn_ms: Mutex<Vec<f32>>,
}

impl LiveStats {
    pub fn record_turn(&self, ms: f32) {
        // A poisoned lock only means a caller panicked mid-push; keep counting.
        let mut v = self.turn_ms.lock().unwrap_or_else(|e| e.into_inner());
        v.push(ms);
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum CallOutcome {
    /// The script ran to its end (or hang_up).
    Completed,
    /// The engine closed the socket before the script was done.
    EndedByEngine,
    /// The run's duration passed and the caller hung up.
    Deadline,
    /// Refused: hang-up TwiML, 429/503 on the webhook, or upgrade refused.
    Rejected(String),
    /// Anything else that went wrong.
    Failed(String),
}

/// Everything measured on one call.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub index: u64,
    pub script: String,
    pub call_sid: String,
    pub outcome: CallOutcome,
    /// Seconds from run start to call start and end.
    pub start_s: f32,
    pub end_s: f32,
    /// Stream start -> first greeting audio.
    pub greeting_ms: Option<f32>,
    /// Caller end of speech -> first bot audio of the reply.
    pub turn_ms: Vec<f32>,
    /// Caller speech onset during bot audio -> `clear` received.
    pub barge_in_ms: Vec<f32>,
    /// A `clear` during a backchannel (the engine paused for it) -> the
    /// next bot audio (it resumed), ms.
    pub backchannel_pause_ms: Vec<f32>,
    /// Barge-ins the engine never answered with `clear`.
    pub barge_in_missed: u32,
    /// Mark received -> mark echoed (how far ahead the engine sent audio).
    /// Hundreds per call: summarised in the report, not kept per call in JSON.
    #[serde(skip)]
    pub mark_held_ms: Vec<f32>,
    /// Underruns of the playback buffer inside a reply, beyond the threshold.
    pub gap_ms: Vec<f32>,
    /// Frames' worth of bot audio missing in those gaps (lost or late).
    pub late_bot_frames: u32,
    /// Frames the caller itself sent late (a slow load generator).
    pub caller_late_frames: u32,
    pub frames_sent: u64,
    pub bot_audio_bytes: u64,
    pub marks_echoed: u32,
    pub reply_timeouts: u32,
    /// Server messages that did not parse.
    pub protocol_errors: u32,
}

impl CallRecord {
    fn new(index: u64, script: &Script, call_sid: String) -> Self {
        CallRecord {
            index,
            script: script.name.clone(),
            call_sid,
            outcome: CallOutcome::Completed,
            start_s: 0.0,
            end_s: 0.0,
            greeting_ms: None,
            turn_ms: Vec::new(),
            barge_in_ms: Vec::new(),
            backchannel_pause_ms: Vec::new(),
            barge_in_missed: 0,
            mark_held_ms: Vec::new(),
            gap_ms: Vec::new(),
            late_bot_frames: 0,
            caller_late_frames: 0,
            frames_sent: 0,
            bot_audio_bytes: 0,
            marks_echoed: 0,
            reply_timeouts: 0,
            protocol_errors: 0,
        }
    }
}

/// Random Twilio-style sid: two-letter prefix and 32 hex digits.
pub fn sid(prefix: &str, rng: &mut fastrand::Rng) -> String {
    format!("{prefix}{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// Runs one call to its end; never panics on anything the server does.
pub async fn run_call(
    env: &CallerEnv,
    index: u64,
    seed: u64,
    script: Arc<Script>,
    run_start: Instant,
) -> CallRecord {
    let mut rng = fastrand::Rng::with_seed(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let ids = StreamIds {
        account_sid: env.account_sid.clone(),
        call_sid: sid("CA", &mut rng),
        stream_sid: sid("MZ", &mut rng),
    };
    let mut rec = CallRecord::new(index, &script, ids.call_sid.clone());
    rec.start_s = run_start.elapsed().as_secs_f32();
    env.live.started.fetch_add(1, Ordering::Relaxed);
    env.live.active.fetch_add(1, Ordering::Relaxed);
    let setup = tokio::time::timeout(env.setup_timeout, set_up(env, &script, &ids)).await;
    match setup {
        Err(_) => rec.outcome = CallOutcome::Failed("set-up timed out".into()),
        Ok(Err(outcome)) => rec.outcome = outcome,
        Ok(Ok((ws, params))) => {
            let session = Session::new(env, ws, ids, &script, &mut rec);
            session.run(&params).await;
        }
    }
    env.live.active.fetch_sub(1, Ordering::Relaxed);
    let counter = match rec.outcome {
        CallOutcome::Rejected(_) => &env.live.rejected,
        CallOutcome::Failed(_) => &env.live.failed,
        _ => &env.live.completed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    rec.end_s = run_start.elapsed().as_secs_f32();
    rec
}

/// The client WebSocket type of a caller.
pub type CallerSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Webhook + TwiML + upgrade; the error is the call's outcome.
async fn set_up(
    env: &CallerEnv,
    script: &Script,
    ids: &StreamIds,
) -> Result<(CallerSocket, Vec<(String, String)>), CallOutcome> {
    let twiml = post_voice_webhook(env, script, ids).await?;
    let TwimlAction::Stream { url, parameters } = parse_twiml(&twiml) else {
        return Err(CallOutcome::Rejected("TwiML without <Stream>".into()));
    };
    let ws = connect_stream(env, &url).await?;
    Ok((ws, parameters))
}

async fn post_voice_webhook(
    env: &CallerEnv,
    script: &Script,
    ids: &StreamIds,
) -> Result<String, CallOutcome> {
    let url = format!("{}/twilio/voice", env.target);
    let form = [
        ("AccountSid", ids.account_sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", ids.call_sid.as_str()),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", script.from.as_str()),
        ("To", script.to.as_str()),
    ];
    let mut req = env.http.post(&url).form(&form);
    if let Some(token) = &env.auth_token {
        let signature = twilio_signature(token, &env.signed_webhook_url, &form);
        req = req.header("X-Twilio-Signature", signature);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| CallOutcome::Failed(format!("webhook: {e}")))?;
    let status = resp.status();
    if status.as_u16() == 429 || status.as_u16() == 503 {
        return Err(CallOutcome::Rejected(format!("webhook status {status}")));
    }
    if !status.is_success() {
        // The body says why (e.g. a bad signature); keep it short.
        let body = resp.text().await.unwrap_or_default();
        let why: String = body.chars().take(160).collect();
        return Err(CallOutcome::Failed(format!(
            "webhook status {status}: {why}"
        )));
    }
    resp.text()
        .await
        .map_err(|e| CallOutcome::Failed(format!("webhook body: {e}")))
}

async fn connect_stream(env: &CallerEnv, stream_url: &str) -> Result<CallerSocket, CallOutcome> {
    let stream_url = &absolute_stream_url(stream_url, &env.public_base);
    let local = local_stream_url(stream_url, &env.target)
        .map_err(|e| CallOutcome::Failed(format!("stream url {stream_url:?}: {e}")))?;
    let mut request = local
        .as_str()
        .into_client_request()
        .map_err(|e| CallOutcome::Failed(format!("stream request: {e}")))?;
    if let Some(token) = &env.auth_token {
        // Twilio signs the wss:// URL exactly as the TwiML wrote it.
        let signature = twilio_signature(token, stream_url, &[]);
        let value = HeaderValue::from_str(&signature).expect("base64 is a valid header value");
        request.headers_mut().insert("x-twilio-signature", value);
    }
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use tokio_tungstenite::tungstenite::Error;
    // tungstenite's 128 KiB default buffers would cost ~256 KiB per caller
    // and it zero-fills the read buffer on every read: a call's messages are
    // a few hundred bytes, and we flush every tick.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024);
    match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
        Ok((ws, _)) => Ok(ws),
        Err(Error::Http(resp)) => Err(CallOutcome::Rejected(format!(
            "upgrade refused: {}",
            resp.status()
        ))),
        Err(e) => Err(CallOutcome::Failed(format!("upgrade: {e}"))),
    }
}
