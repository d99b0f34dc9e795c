//! CallActor: moves bytes and time for one [`Call`] machine.
//!
//! It turns messages (Twilio frames from the transport task, provider
//! events, router decisions, supervisor commands, its own timer) into
//! [`Input`]s, then sends every [`Output`] where it belongs: the socket, the
//! STT stream, the router, the LLM pool, TTS, the trace sink, the live event
//! hub. It never decides anything itself; a panic here is caught by ractor
//! and the CallSupervisor restarts the call from its last checkpoint.

use super::{Call, CallConfig, Checkpoint, Command, Input, Outbound, Output, StartInfo};
use crate::events::EventHub;
use crate::ids::{CallSid, TenantId};
use crate::llm_pool::{CompletionJob, LlmEvent, LlmPoolMsg, Priority};
use crate::providers::{EventSink, StreamHandle, Stt, SttEvent, SttStream, Tts, TtsEvent};
use crate::router::{RouteDecision, RouterMsg};
use crate::slot::Slot;
use crate::supervisor::SupervisorMsg;
use crate::trace::{Escalation, TraceEvent, TraceKind};
use crate::trace_sink::TraceSinkMsg;
use futures_util::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Frames for the call's socket; the transport task serialises and writes
/// them. Unbounded is safe: the machine paces outbound audio itself (at most
/// `lead_ms` ahead of playback).
pub type TransportTx = mpsc::UnboundedSender<Outbound>;

/// Hands a call to a human and hangs calls up through the telephony
/// provider's REST API (Twilio in production, a mock in tests).
pub trait Escalator: Send + Sync + 'static {
    fn escalate(
        &self,
        call: &CallSid,
        escalation: &Escalation,
    ) -> BoxFuture<'static, Result<(), String>>;
    fn hang_up(&self, call: &CallSid) -> BoxFuture<'static, Result<(), String>>;
}

/// An Escalator for deployments without telephony REST access: escalation
/// is recorded but the call cannot be redirected.
pub struct NoEscalator;

impl Escalator for NoEscalator {
    fn escalate(&self, _: &CallSid, _: &Escalation) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Err("no telephony REST client configured".to_owned()) })
    }
    fn hang_up(&self, _: &CallSid) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// Everything a call needs from the rest of the engine, shared by all calls.
#[derive(Clone)]
pub struct CallDeps {
    pub config: Arc<CallConfig>,
    /// Tenants whose `[call]` settings differ (e.g. escalation triggers).
    pub tenant_configs: Arc<HashMap<TenantId, Arc<CallConfig>>>,
    pub stt: Arc<dyn Stt>,
    pub tts: Arc<dyn Tts>,
    pub router: Slot<RouterMsg>,
    pub llm_pool: Slot<LlmPoolMsg>,
    pub trace_sink: Slot<TraceSinkMsg>,
    pub events: EventHub,
    pub escalator: Arc<dyn Escalator>,
}

impl CallDeps {
    /// The call settings of `tenant`: its own when configured, else the base.
    pub fn config_for(&self, tenant: &TenantId) -> Arc<CallConfig> {
        self.tenant_configs
            .get(tenant)
            .unwrap_or(&self.config)
            .clone()
    }
}

/// One frame of call audio for listen-in: mu-law 8 kHz.
#[derive(Clone, Debug)]
pub struct AudioFrame {
    /// "inbound" (caller) or "outbound" (bot).
    pub track: &'static str,
    pub ulaw: Arc<[u8]>,
}

/// A point-in-time view of a call, for the API and supervisor replies.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSnapshot {
    pub call_id: CallSid,
    pub state: String,
    pub turns: usize,
    pub attempt: u32,
}

pub struct CallActor;

pub enum CallStart {
    Fresh(Box<StartInfo>),
    /// Rebuild after a crash (restart policy of the CallSupervisor).
    Restore {
        checkpoint: Box<Checkpoint>,
        reason: String,
        attempt: u32,
        /// End the call politely right away (too many restarts).
        end_now: bool,
    },
}

pub struct CallArgs {
    pub start: CallStart,
    pub deps: CallDeps,
    pub transport: TransportTx,
    /// Receives checkpoints, so a restart can resume from the last one.
    pub supervisor: ActorRef<SupervisorMsg>,
}

pub struct CallActorState {
    call: Call,
    deps: CallDeps,
    transport: TransportTx,
    supervisor: ActorRef<SupervisorMsg>,
    stt: Box<dyn SttStream>,
    tts: HashMap<u64, StreamHandle>,
    timer: Timer,
    tap: Option<broadcast::Sender<AudioFrame>>,
    attempt: u32,
    finished: bool,
}

/// The one pending wake-up: only the newest generation is acted on.
#[derive(Default)]
struct Timer {
    generation: u64,
    armed_for: Option<Instant>,
}

pub enum CallMsg {
    Media {
        timestamp_ms: u64,
        ulaw: Vec<u8>,
    },
    Mark(String),
    Dtmf(char),
    /// Twilio `stop`, or the socket closed.
    Stop,
    Stt(SttEvent),
    Route(RouteDecision),
    Llm(LlmEvent),
    Tts(TtsEvent),
    Command(Command, RpcReplyPort<CallSnapshot>),
    Snapshot(RpcReplyPort<CallSnapshot>),
    /// Subscribe to the call's audio, both directions.
    Listen(RpcReplyPort<broadcast::Receiver<AudioFrame>>),
    Timer(u64),
    /// Fault injection for the restart tests (reachable only through the
    /// debug route, off by default).
    Crash,
}

impl Actor for CallActor {
    type Msg = CallMsg;
    type State = CallActorState;
    type Arguments = CallArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        args: CallArgs,
    ) -> Result<CallActorState, ActorProcessingErr> {
        let now = Instant::now();
        let (call, attempt, end_now) = match args.start {
            CallStart::Fresh(start) => {
                let mut call = Call::new(args.deps.config_for(&start.tenant), now);
                call.handle_input(now, Input::Start(*start));
                (call, 0, false)
            }
            CallStart::Restore {
                mut checkpoint,
                reason,
                attempt,
                end_now,
            } => {
                // Media kept flowing while the actor was down; the checkpoint
                // may be older than the crash. Resume media time from the
                // wall clock so timestamps after the restart are right.
                let elapsed = (chrono::Utc::now() - checkpoint.start.started_at).num_milliseconds();
                checkpoint.media_ms = checkpoint.media_ms.max(elapsed.max(0) as u64);
                let call = Call::restore(
                    args.deps.config_for(&checkpoint.start.tenant),
                    *checkpoint,
                    now,
                    &reason,
                    attempt,
                );
                (call, attempt, end_now)
            }
        };
        let call_sid = call.call_sid().cloned().unwrap_or_default();
        let stt = args.deps.stt.open(&call_sid, sink(&myself, CallMsg::Stt));
        let mut state = CallActorState {
            call,
            deps: args.deps,
            transport: args.transport,
            supervisor: args.supervisor,
            stt,
            tts: HashMap::new(),
            timer: Timer::default(),
            tap: None,
            attempt,
            finished: false,
        };
        if end_now {
            let end = Command {
                who: "supervisor".to_owned(),
                command: super::SupervisorCommand::End {
                    reason: Some("too many restarts".to_owned()),
                },
            };
            state.call.handle_input(now, Input::Command(end));
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<CallMsg>,
        state: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        // The trace exists (status live) from the first moment of the call,
        // so the API lists live calls and a crash leaves a record.
        let _ = state
            .deps
            .trace_sink
            .cast(TraceSinkMsg::Start(Box::new(state.call.trace().clone())));
        drive(&myself, state).await;
        checkpoint(state);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        state: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        let call = &mut state.call;
        match msg {
            CallMsg::Media { timestamp_ms, ulaw } => {
                tap(&state.tap, "inbound", &ulaw);
                call.handle_input(
                    now,
                    Input::Media {
                        timestamp_ms,
                        ulaw: &ulaw,
                    },
                );
            }
            CallMsg::Mark(name) => call.handle_input(now, Input::Mark { name: &name }),
            CallMsg::Dtmf(digit) => call.handle_input(now, Input::Dtmf { digit }),
            CallMsg::Stop => call.handle_input(now, Input::Stop),
            CallMsg::Stt(ev) => call.handle_input(now, Input::Stt(ev)),
            CallMsg::Route(d) => call.handle_input(now, Input::Route(d)),
            CallMsg::Llm(ev) => call.handle_input(now, Input::Llm(ev)),
            CallMsg::Tts(ev) => {
                if let TtsEvent::Done { id } | TtsEvent::Error { id, .. } = &ev {
                    state.tts.remove(id);
                }
                call.handle_input(now, Input::Tts(ev))
            }
            CallMsg::Command(cmd, reply) => {
                call.handle_input(now, Input::Command(cmd));
                drive(&myself, state).await;
                checkpoint(state);
                // Ignored: the HTTP caller may have given up waiting.
                let _ = reply.send(snapshot(state));
                return Ok(());
            }
            CallMsg::Snapshot(reply) => {
                let _ = reply.send(snapshot(state));
                return Ok(());
            }
            CallMsg::Listen(reply) => {
                let tx = state.tap.get_or_insert_with(|| broadcast::channel(256).0);
                let _ = reply.send(tx.subscribe());
                return Ok(());
            }
            CallMsg::Timer(generation) => {
                if generation != state.timer.generation {
                    return Ok(()); // stale wake-up
                }
                state.timer.armed_for = None;
                call.handle_timeout(now);
            }
            CallMsg::Crash => panic!("fault injected by the debug route"),
        }
        drive(&myself, state).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<CallMsg>,
        state: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        if state.finished {
            // The call's LLM costs are in its trace; the pool may drop its
            // per-call totals. (Not after a crash: the restarted actor
            // carries on with the same call.)
            if let Some(sid) = state.call.call_sid() {
                let _ = state
                    .deps
                    .llm_pool
                    .cast(LlmPoolMsg::ForgetCall(sid.clone()));
            }
        }
        state.stt.close();
        state.tts.clear(); // dropping the handles cancels synthesis
        Ok(())
    }
}

/// A provider event sink that casts into this actor's mailbox.
fn sink<T: Send + 'static>(myself: &ActorRef<CallMsg>, wrap: fn(T) -> CallMsg) -> EventSink<T> {
    let me = myself.clone();
    // Ignored send errors: the call has ended or is being restarted, and the
    // restarted actor opens its own streams.
    Arc::new(move |ev| {
        let _ = me.cast(wrap(ev));
    })
}

fn tap(tap: &Option<broadcast::Sender<AudioFrame>>, track: &'static str, ulaw: &[u8]) {
    if let Some(tx) = tap {
        if tx.receiver_count() > 0 {
            // Ignored: a listener that left is not an error.
            let _ = tx.send(AudioFrame {
                track,
                ulaw: Arc::from(ulaw),
            });
        }
    }
}

fn snapshot(state: &CallActorState) -> CallSnapshot {
    CallSnapshot {
        call_id: state.call.call_sid().cloned().unwrap_or_default(),
        state: state.call.state().as_str().to_owned(),
        turns: state.call.trace().turns.len(),
        attempt: state.attempt,
    }
}

fn checkpoint(state: &CallActorState) {
    if let Some(sid) = state.call.call_sid() {
        // Ignored: the supervisor is gone only during shutdown.
        let _ = state.supervisor.cast(SupervisorMsg::Checkpoint(
            sid.clone(),
            Box::new(state.call.checkpoint()),
        ));
    }
}

/// Drain the machine's outputs, then arm the next wake-up.
async fn drive(myself: &ActorRef<CallMsg>, state: &mut CallActorState) {
    let mut turn_done = false;
    while let Some(out) = state.call.poll_output() {
        turn_done |= matches!(
            out,
            Output::Trace(TraceKind::TurnCompleted { .. })
                | Output::Trace(TraceKind::Supervisor { .. })
        );
        dispatch(myself, state, out).await;
    }
    if turn_done {
        checkpoint(state);
    }
    arm_timer(myself, state);
}

async fn dispatch(myself: &ActorRef<CallMsg>, state: &mut CallActorState, out: Output) {
    let deps = &state.deps;
    let call_sid = state.call.call_sid().cloned().unwrap_or_default();
    match out {
        Output::Twilio(frame) => {
            if let Outbound::Media(ulaw) = &frame {
                tap(&state.tap, "outbound", ulaw);
            }
            // Ignored: the socket is gone; Stop arrives from the transport.
            let _ = state.transport.send(frame);
        }
        Output::SttAudio(ulaw) => state.stt.send_audio(&ulaw),
        Output::SttFinalize => state.stt.finalize(),
        Output::Route(req) => {
            let msg = RouterMsg::Route {
                req,
                reply: sink(myself, CallMsg::Route),
            };
            if deps.router.cast(msg).is_err() {
                tracing::warn!(call = %call_sid, "router unavailable; the turn times out to the fallback");
            }
        }
        Output::Llm(req) => {
            let job = CompletionJob {
                call: call_sid.clone(),
                tenant: state.call.trace().company_id.clone(),
                request_id: req.request_id,
                priority: Priority::Live,
                purpose: req.purpose.to_owned(),
                request: crate::providers::ChatRequest {
                    messages: req.messages,
                    ..Default::default()
                },
                events: sink(myself, CallMsg::Llm),
            };
            if deps.llm_pool.cast(LlmPoolMsg::Complete(job)).is_err() {
                tracing::warn!(call = %call_sid, "llm pool unavailable");
            }
        }
        Output::LlmCancel { request_id } => {
            let _ = deps.llm_pool.cast(LlmPoolMsg::Cancel {
                call: call_sid,
                request_id,
            });
        }
        Output::Tts(req) => {
            let id = req.id;
            let handle = deps.tts.synthesize(req, sink(myself, CallMsg::Tts));
            state.tts.insert(id, handle);
        }
        Output::TtsCancel { id } => {
            state.tts.remove(&id); // drop = cancel
        }
        Output::Trace(kind) => send_trace(state, kind),
        Output::Event(ev) => {
            let tenant = state.call.trace().company_id.clone();
            deps.events.publish(&tenant, ev);
        }
        Output::Escalate(esc) => {
            let escalator = deps.escalator.clone();
            let trace_sink = deps.trace_sink.clone();
            let (company_id, media_ms) =
                (state.call.trace().company_id.clone(), state.call.media_ms());
            tokio::spawn(async move {
                let message = match escalator.escalate(&call_sid, &esc).await {
                    Ok(()) => format!(
                        "telephony redirected the call to {}",
                        esc.target.as_deref().unwrap_or("?")
                    ),
                    Err(e) => format!("escalation REST request failed: {e}"),
                };
                tracing::info!(call = %call_sid, "{message}");
                let event = TraceEvent {
                    call_id: call_sid,
                    company_id,
                    at: chrono::Utc::now(),
                    media_ms,
                    kind: TraceKind::Note { message },
                };
                // Ignored: see send_trace.
                let _ = trace_sink.cast(TraceSinkMsg::Event(event));
            });
        }
        Output::Hangup { reason } => {
            tracing::debug!(call = %call_sid, %reason, "hang-up");
            let escalator = deps.escalator.clone();
            tokio::spawn(async move {
                if let Err(e) = escalator.hang_up(&call_sid).await {
                    tracing::warn!(call = %call_sid, "REST hang-up failed: {e}");
                }
            });
        }
        Output::Finished(trace) => {
            state.finished = true;
            let sink = deps.trace_sink.get();
            let confirmed = match sink {
                Some(s) => ractor::call_t!(s, TraceSinkMsg::Finish, 5_000, trace)
                    .map_err(|e| e.to_string())
                    .and_then(|r| r),
                None => Err("trace sink not running".to_owned()),
            };
            if let Err(e) = confirmed {
                tracing::error!(call = %call_sid, "final trace not confirmed: {e}");
            }
            myself.stop(Some("call finished".to_owned()));
        }
    }
}

fn send_trace(state: &CallActorState, kind: TraceKind) {
    let trace = state.call.trace();
    let event = TraceEvent {
        call_id: trace.call_id.clone(),
        company_id: trace.company_id.clone(),
        at: chrono::Utc::now(),
        media_ms: state.call.media_ms(),
        kind,
    };
    // Ignored: between a sink crash and its restart, events are lost
    // (unconfirmed); the final trace is confirmed separately.
    let _ = state.deps.trace_sink.cast(TraceSinkMsg::Event(event));
}

fn arm_timer(myself: &ActorRef<CallMsg>, state: &mut CallActorState) {
    if state.finished {
        return;
    }
    let Some(deadline) = state.call.poll_timeout() else {
        return;
    };
    if state.timer.armed_for.is_some_and(|armed| armed <= deadline) {
        return; // an earlier wake-up is pending; it re-arms when it fires
    }
    state.timer.generation += 1;
    state.timer.armed_for = Some(deadline);
    let generation = state.timer.generation;
    let delay = deadline.saturating_duration_since(Instant::now());
    myself.send_after(delay.max(Duration::from_millis(1)), move || {
        CallMsg::Timer(generation)
    });
}
