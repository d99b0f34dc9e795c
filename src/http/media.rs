//! `GET /twilio/media`: the Twilio Media Streams WebSocket of one call.
//!
//! This is the transport task of DESIGN.md: it is not an actor. It reads
//! frames on the HTTP worker that accepted the socket (actix-ws's stream is
//! not Send), screens each with the [`FrameGuard`], forwards what it parsed
//! to the call's CallActor through the call's [`Slot`] (which survives actor
//! restarts), and writes whatever the CallActor sends out. Because it
//! outlives any one CallActor, a restarted call keeps the same socket.

use super::state::AppState;
use crate::metrics::Metrics;
use crate::twilio::{self, FrameGuard, GuardConfig, Inbound, Verdict};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use chrono::Utc;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use switchboard_actors::call::{CallMsg, Outbound, StartInfo};
use switchboard_actors::ids::{CallSid, StreamSid, TenantId};
use switchboard_actors::slot::Slot;
use switchboard_actors::supervisor::SupervisorMsg;
use tokio::sync::mpsc;

/// Largest WebSocket message accepted (issue 3: frames over 64 KiB close).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

pub async fn media_socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if state.validating() && !upgrade_signature_ok(&req, &state) {
        Metrics::inc(&state.metrics.ws_rejected_total);
        Metrics::inc(&state.metrics.webhook_bad_signature_total);
        tracing::warn!("media socket refused: bad X-Twilio-Signature on upgrade");
        return Ok(HttpResponse::Forbidden().body("invalid X-Twilio-Signature"));
    }
    let counters = &state.engine.counters;
    if counters.active.load(std::sync::atomic::Ordering::Relaxed) >= state.config.engine.max_calls {
        Metrics::inc(&state.metrics.ws_rejected_total);
        return Ok(HttpResponse::ServiceUnavailable().body("engine at capacity"));
    }
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    actix_web::rt::spawn(Transport::new(state.into_inner(), session).run(stream));
    Ok(response)
}

/// Twilio signs the wss:// URL as written in the TwiML, with no parameters.
fn upgrade_signature_ok(req: &HttpRequest, state: &AppState) -> bool {
    let Some(token) = state.twilio_auth_token.as_deref() else {
        return false;
    };
    let Some(sig) = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    twilio::validate_ws_upgrade(token, &state.config.media_ws_url(), sig)
}

struct Transport {
    state: std::sync::Arc<AppState>,
    session: actix_ws::Session,
    guard: FrameGuard,
    /// Set once `start` was accepted.
    call: Option<Slot<CallMsg>>,
    stream_sid: String,
    /// Reused buffers: no allocation per outbound frame beyond the message.
    out: String,
    payload: Vec<u8>,
}

/// Why the transport loop ended; decides the close frame.
enum End {
    PeerClosed,
    Engine(String),
    BadInput(twilio::FrameError),
    Idle,
}

impl Transport {
    fn new(state: std::sync::Arc<AppState>, session: actix_ws::Session) -> Self {
        let t = &state.config.twilio;
        let guard = FrameGuard::new(GuardConfig {
            max_frame_bytes: MAX_FRAME_BYTES,
            rate_per_sec: t.ws_max_frames_per_sec,
            burst: t.ws_max_frames_per_sec,
            token_secret: t
                .validate_signatures
                .then(|| std::sync::Arc::from(state.call_token_secret.as_slice())),
        });
        Self {
            state,
            session,
            guard,
            call: None,
            stream_sid: String::new(),
            out: String::with_capacity(512),
            payload: Vec::with_capacity(twilio::MAX_PAYLOAD_BYTES),
        }
    }

    async fn run(mut self, mut stream: actix_ws::AggregatedMessageStream) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
        let idle = Duration::from_millis(self.state.config.twilio.ws_idle_timeout_ms);
        let end = loop {
            tokio::select! {
                frame = tokio::time::timeout(idle, stream.next()) => {
                    let Ok(frame) = frame else { break End::Idle };
                    match self.on_frame(frame, &tx).await {
                        Ok(()) => {}
                        Err(end) => break end,
                    }
                }
                Some(out) = rx.recv() => {
                    if let Err(end) = self.on_outbound(out).await {
                        break end;
                    }
                }
            }
        };
        self.finish(end).await;
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<AggregatedMessage, actix_ws::ProtocolError>>,
        tx: &mpsc::UnboundedSender<Outbound>,
    ) -> Result<(), End> {
        let m = &self.state.metrics;
        match frame {
            None | Some(Ok(AggregatedMessage::Close(_))) => Err(End::PeerClosed),
            Some(Err(e)) => {
                let err = match e {
                    actix_ws::ProtocolError::Overflow => twilio::FrameError::TooLarge {
                        len: MAX_FRAME_BYTES + 1,
                        max: MAX_FRAME_BYTES,
                    },
                    other => twilio::FrameError::Protocol(other.to_string()),
                };
                Err(End::BadInput(err))
            }
            Some(Ok(AggregatedMessage::Ping(bytes))) => {
                self.session.pong(&bytes).await.map_err(|_| End::PeerClosed)
            }
            Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
            Some(Ok(AggregatedMessage::Binary(_))) => {
                Err(End::BadInput(twilio::FrameError::BinaryFrame))
            }
            Some(Ok(AggregatedMessage::Text(text))) => {
                Metrics::inc(&m.ws_frames_in_total);
                let inbound = match self.guard.screen_text(Instant::now(), &text) {
                    Verdict::Accept(inbound) => inbound,
                    Verdict::Ignore { .. } => {
                        Metrics::inc(&m.ws_unknown_events_total);
                        return Ok(());
                    }
                    Verdict::Close(err) => return Err(End::BadInput(err)),
                };
                self.on_inbound(inbound, tx).await
            }
        }
    }

    async fn on_inbound(
        &mut self,
        inbound: Inbound<'_>,
        tx: &mpsc::UnboundedSender<Outbound>,
    ) -> Result<(), End> {
        let msg = match inbound {
            Inbound::Connected(_) | Inbound::Unknown { .. } => return Ok(()),
            Inbound::Start(start) => {
                let info = self.start_info(&start)?;
                self.stream_sid = start.stream_sid.to_string();
                self.call = Some(self.admit(info, tx.clone()).await?);
                return Ok(());
            }
            Inbound::Media(media) => {
                self.payload.clear();
                media
                    .decode_payload_into(&mut self.payload)
                    .map_err(End::BadInput)?;
                Metrics::inc(&self.state.metrics.ws_media_in_total);
                CallMsg::Media {
                    timestamp_ms: media.timestamp_ms,
                    ulaw: self.payload.clone(),
                }
            }
            Inbound::Mark(mark) => CallMsg::Mark(mark.name.to_string()),
            Inbound::Dtmf(dtmf) => CallMsg::Dtmf(dtmf.digit),
            Inbound::Stop(_) => {
                self.forward(CallMsg::Stop);
                return Ok(());
            }
        };
        self.forward(msg);
        Ok(())
    }

    fn forward(&self, msg: CallMsg) {
        if let Some(call) = &self.call {
            // Ignored: during the few microseconds of a restart the slot is
            // between actors; the frame is lost, the call goes on.
            let _ = call.cast(msg);
        }
    }

    fn start_info(&self, start: &twilio::Start<'_>) -> Result<StartInfo, End> {
        // The guard has already checked the per-call token (when validating).
        let params = &start.custom_parameters;
        let tenant = params
            .get("tenant")
            .cloned()
            .unwrap_or_else(|| self.state.config.twilio.default_tenant.clone());
        Ok(StartInfo {
            call_sid: CallSid::new(start.call_sid.as_ref()),
            stream_sid: StreamSid::new(start.stream_sid.as_ref()),
            account_sid: start.account_sid.to_string(),
            tenant: TenantId::new(tenant),
            caller: params.get("from").cloned(),
            called: params.get("to").cloned(),
            direction: params.get("direction").cloned(),
            custom_parameters: params.clone(),
            started_at: Utc::now(),
        })
    }

    async fn admit(
        &self,
        info: StartInfo,
        tx: mpsc::UnboundedSender<Outbound>,
    ) -> Result<Slot<CallMsg>, End> {
        let Some(supervisor) = self.state.engine.supervisor.get() else {
            return Err(End::Engine("engine not running".to_owned()));
        };
        let start = Box::new(info);
        let result = ractor::call_t!(
            supervisor,
            |reply| SupervisorMsg::Admit {
                start,
                transport: tx,
                reply
            },
            5_000
        );
        match result {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(e)) => {
                Metrics::inc(&self.state.metrics.ws_rejected_total);
                Err(End::Engine(e.to_string()))
            }
            Err(e) => Err(End::Engine(format!("supervisor did not answer: {e}"))),
        }
    }

    async fn on_outbound(&mut self, out: Outbound) -> Result<(), End> {
        self.out.clear();
        match out {
            Outbound::Media(ulaw) => twilio::write_media(&mut self.out, &self.stream_sid, &ulaw),
            Outbound::Mark(name) => twilio::write_mark(&mut self.out, &self.stream_sid, &name),
            Outbound::Clear => twilio::write_clear(&mut self.out, &self.stream_sid),
            Outbound::Close { reason } => return Err(End::Engine(reason)),
        }
        Metrics::inc(&self.state.metrics.ws_frames_out_total);
        self.session
            .text(self.out.clone())
            .await
            .map_err(|_| End::PeerClosed)
    }

    async fn finish(self, end: End) {
        let m = &self.state.metrics;
        let reason = match &end {
            End::PeerClosed => None,
            End::Engine(why) => Some(CloseReason {
                code: CloseCode::Normal,
                description: Some(why.clone()),
            }),
            End::Idle => {
                Metrics::inc(&m.ws_closed_idle_total);
                Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("idle timeout".to_owned()),
                })
            }
            End::BadInput(err) => {
                let counter = if matches!(err, twilio::FrameError::Flood { .. }) {
                    &m.ws_closed_flood_total
                } else {
                    &m.ws_closed_bad_input_total
                };
                Metrics::inc(counter);
                tracing::warn!(stream = %self.stream_sid, "closing media socket: {err}");
                Some(CloseReason {
                    code: CloseCode::from(err.close_code()),
                    description: Some(err.close_reason()),
                })
            }
        };
        // The caller is gone (or we are hanging up): the call ends either way.
        self.forward(CallMsg::Stop);
        // Ignored: the peer may already have closed.
        let _ = self.session.close(reason).await;
    }
}
