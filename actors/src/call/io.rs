//! What goes into and comes out of the sans-IO [`Call`](super::Call) machine.
//! The CallActor turns messages into [`Input`]s and [`Output`]s into sends;
//! tests feed inputs by hand with virtual time.

use crate::ids::{CallSid, StreamSid, TenantId};
use crate::llm_pool::LlmEvent;
use crate::providers::{ChatMessage, SttEvent, TtsEvent, TtsRequest};
use crate::router::RouteDecision;
use crate::trace::{CallTrace, Escalation, TraceKind, Turn};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `start` message of a Twilio stream, plus what the webhook told us.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StartInfo {
    pub call_sid: CallSid,
    pub stream_sid: StreamSid,
    pub account_sid: String,
    pub tenant: TenantId,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub direction: Option<String>,
    pub custom_parameters: BTreeMap<String, String>,
    /// Wall clock when the stream started; trace timestamps derive from it.
    pub started_at: DateTime<Utc>,
}

/// A human supervisor's command on a live call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SupervisorCommand {
    /// Speak `text`: `now` interrupts the bot (Twilio `clear`), otherwise it
    /// is queued after the current reply.
    Say {
        text: String,
        now: bool,
    },
    /// Add a supervisor instruction to the LLM context for the rest of the call.
    Instruct {
        text: String,
    },
    /// The AI stops answering; the caller hears `hold_text` then silence.
    Pause,
    Resume,
    /// The AI is muted for good; only `Say` speaks.
    Takeover,
    /// Tell the caller, then hand the call to `target` (number or agent).
    Escalate {
        target: String,
        reason: String,
    },
    /// Polite goodbye, then hang up.
    End {
        reason: Option<String>,
    },
}

/// A supervisor command with who sent it, for the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub who: String,
    pub command: SupervisorCommand,
}

/// One input to the machine. Borrowed where it comes from a frame buffer.
#[derive(Debug)]
pub enum Input<'a> {
    Start(StartInfo),
    /// Inbound 8 kHz mu-law, usually 20 ms; `timestamp_ms` from Twilio.
    Media {
        timestamp_ms: u64,
        ulaw: &'a [u8],
    },
    /// Twilio echoed one of our marks.
    Mark {
        name: &'a str,
    },
    Dtmf {
        digit: char,
    },
    /// Twilio `stop`, or the socket closed.
    Stop,
    Stt(SttEvent),
    Route(RouteDecision),
    Llm(LlmEvent),
    Tts(TtsEvent),
    Command(Command),
}

/// What the engine sends to Twilio on the call's socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// 8 kHz mu-law: whole 20 ms frames joined up to `max_media_ms` (the
    /// last of a reply may end in a partial frame).
    Media(Vec<u8>),
    Mark(String),
    Clear,
    /// Close the socket (after the goodbye has played): ends the call when no
    /// TwiML verb follows `<Connect>`.
    Close {
        reason: String,
    },
}

/// A request for the router to pick what to say to `utterance`.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteRequest {
    /// Echoed on the decision; stale decisions are dropped.
    pub request_id: u64,
    pub tenant: TenantId,
    pub utterance: String,
    /// Conversation so far, for tier 3.
    pub history: Vec<ChatMessage>,
}

/// A completion the call wants streamed (free conversation, or a scenario
/// reply the LLM must phrase).
#[derive(Clone, Debug, PartialEq)]
pub struct LlmRequest {
    pub request_id: u64,
    pub messages: Vec<ChatMessage>,
    /// llm_reply, summary ...
    pub purpose: &'static str,
}

/// An event for live subscribers (`/ws/events`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum LiveEvent {
    #[serde(rename = "call.started")]
    CallStarted {
        call_id: CallSid,
        tenant: TenantId,
        caller: Option<String>,
    },
    #[serde(rename = "call.updated")]
    CallUpdated { call_id: CallSid, state: String },
    #[serde(rename = "call.ended")]
    CallEnded {
        call_id: CallSid,
        outcome: String,
        reason: String,
    },
    #[serde(rename = "interaction.added")]
    InteractionAdded {
        call_id: CallSid,
        speaker: String,
        text: String,
        heard_text: Option<String>,
    },
    #[serde(rename = "barge_in")]
    BargeIn {
        call_id: CallSid,
        heard_text: String,
        cut_text: String,
        reaction_ms: f64,
    },
    #[serde(rename = "escalation.triggered")]
    EscalationTriggered {
        call_id: CallSid,
        trigger: String,
        target: Option<String>,
    },
    #[serde(rename = "sentiment.changed")]
    SentimentChanged { call_id: CallSid, score: f32 },
    #[serde(rename = "supervisor.action")]
    SupervisorAction {
        call_id: CallSid,
        who: String,
        action: String,
    },
    #[serde(rename = "actor.restarted")]
    ActorRestarted {
        call_id: CallSid,
        attempt: u32,
        reason: String,
    },
}

impl LiveEvent {
    pub fn call_id(&self) -> &CallSid {
        match self {
            LiveEvent::CallStarted { call_id, .. }
            | LiveEvent::CallUpdated { call_id, .. }
            | LiveEvent::CallEnded { call_id, .. }
            | LiveEvent::InteractionAdded { call_id, .. }
            | LiveEvent::BargeIn { call_id, .. }
            | LiveEvent::EscalationTriggered { call_id, .. }
            | LiveEvent::SentimentChanged { call_id, .. }
            | LiveEvent::SupervisorAction { call_id, .. }
            | LiveEvent::ActorRestarted { call_id, .. } => call_id,
        }
    }
}

/// One thing the machine wants done. Drained with `poll_output`.
#[derive(Debug)]
pub enum Output {
    Twilio(Outbound),
    /// Inbound mu-law to forward to the STT stream (batched).
    SttAudio(Vec<u8>),
    /// Ask STT to flush (end of turn by VAD before the final arrived).
    SttFinalize,
    Route(RouteRequest),
    Llm(LlmRequest),
    LlmCancel {
        request_id: u64,
    },
    Tts(TtsRequest),
    TtsCancel {
        id: u64,
    },
    Trace(TraceKind),
    Event(LiveEvent),
    /// Hand the call to a human: the actor calls Twilio REST with `<Dial>`.
    Escalate(Escalation),
    /// Hang up now (the socket is closed by an `Outbound::Close` before it).
    Hangup {
        reason: String,
    },
    /// The call is over: the final trace, to be confirmed by the sink
    /// before the actor stops.
    Finished(Box<CallTrace>),
}

/// What survives a CallActor restart: the conversation so far. The turn
/// state goes back to Listening; audio in flight is dropped.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Checkpoint {
    pub start: StartInfo,
    /// The trace so far (turns, LLM calls, interruptions ...).
    pub trace: CallTrace,
    /// The LLM context (system prompt, user/assistant turns, instructions).
    pub context: Vec<ChatMessage>,
    /// Media time reached, ms.
    pub media_ms: u64,
    pub greeted: bool,
    pub paused: bool,
    pub taken_over: bool,
    /// The last turn, kept whole for the Turn list.
    pub last_turn: Option<Turn>,
}
