//! The trace model: one [`CallTrace`] per call, shaped after the seed-000
//! CallTrace (camelCase JSON, same field names) and extended with the media
//! timeline, interruptions, supervisor actions and restarts. Call actors emit
//! [`TraceEvent`]s while the call runs and the finished [`CallTrace`] when it
//! ends; only the TraceSink writes them to the store.

use crate::ids::{CallSid, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    AiResolved,
    EscalatedToHuman,
    CallerHungUp,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::AiResolved => "ai_resolved",
            Outcome::EscalatedToHuman => "escalated_to_human",
            Outcome::CallerHungUp => "caller_hung_up",
            Outcome::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ai_resolved" => Outcome::AiResolved,
            "escalated_to_human" => Outcome::EscalatedToHuman,
            "caller_hung_up" => Outcome::CallerHungUp,
            "error" => Outcome::Error,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    #[default]
    Live,
    Ended,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    /// What the caller said (the STT final text).
    pub text: String,
    pub asr_provider: Option<String>,
    /// 0..1
    pub asr_confidence: Option<f32>,
}

/// What the router decided and what was said (seed 000 `aiBrain`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AiBrain {
    /// 1, 2, 3, or None when no tier matched (free conversation).
    pub tier_used: Option<u8>,
    pub tier1_score: Option<f32>,
    pub tier2_score: Option<f32>,
    pub tier3_confidence: Option<f32>,
    pub scenario_id: Option<String>,
    pub scenario_name: Option<String>,
    pub scenario_type_resolved: Option<String>,
    pub reply_strategy_resolved: Option<String>,
    /// What the engine actually did: "quick", "full", "quick_then_full", "llm", "fallback".
    pub response_strategy_used: Option<String>,
    /// The full reply the bot meant to say.
    pub response_text: String,
    /// Tier-3 rationale from the LLM, when tier 3 ran.
    pub rationale: Option<String>,
}

/// Per-stage timing of one turn, in milliseconds from the caller's end of
/// speech (VAD stop). `None` where a stage did not happen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TurnTiming {
    /// Router decision time (seed 000 `aiBrainTimeMs`).
    pub ai_brain_time_ms: Option<f64>,
    /// End of speech to first audio frame sent (seed 000 `totalTurnTimeMs`).
    pub total_turn_time_ms: Option<f64>,
    pub stt_final_ms: Option<f64>,
    pub route_decided_ms: Option<f64>,
    pub llm_first_token_ms: Option<f64>,
    pub tts_first_byte_ms: Option<f64>,
    pub first_audio_out_ms: Option<f64>,
    /// First mark echoed by Twilio: the caller has heard the reply start.
    pub first_audio_heard_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TurnFlags {
    pub escalated_this_turn: bool,
    pub null_response: bool,
    pub low_confidence: bool,
    /// QUICK_ONLY on an INFO_FAQ scenario (seed 000).
    pub config_error: bool,
    /// The caller barged in on this reply.
    pub interrupted: bool,
}

/// One exchange: what the caller said and what the bot answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub turn_index: u32,
    pub timestamp: DateTime<Utc>,
    pub user_input: UserInput,
    pub ai_brain: AiBrain,
    pub timing: TurnTiming,
    pub flags: TurnFlags,
    /// What the caller actually heard of `responseText` (marks echoed); equal
    /// to it unless interrupted.
    pub heard_text: Option<String>,
    /// Lexicon sentiment of the user's text, -1..1.
    pub sentiment: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LlmCallRecord {
    pub timestamp: DateTime<Utc>,
    pub model: String,
    /// Endpoint that served it.
    pub provider: String,
    /// tier3_match, llm_reply, summary ...
    pub purpose: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_usd: f64,
    /// Cancelled by barge-in before it finished.
    pub cancelled: bool,
}

/// A barge-in: what the caller heard before cutting the bot off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Interruption {
    pub at: DateTime<Utc>,
    pub turn_index: u32,
    /// Media time (ms since stream start) where caller speech began.
    pub speech_onset_media_ms: u64,
    /// From speech onset to `clear` sent.
    pub reaction_ms: f64,
    pub heard_text: String,
    pub cut_text: String,
    /// Milliseconds of bot audio the caller heard of this reply.
    pub heard_audio_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorActionRecord {
    pub at: DateTime<Utc>,
    /// Key id or name of the supervisor.
    pub who: String,
    /// say_now, say_next, instruct, pause, resume, takeover, escalate, end.
    pub action: String,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RestartRecord {
    pub at: DateTime<Utc>,
    pub reason: String,
    /// 1 for the first restart of this call.
    pub attempt: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    pub at: DateTime<Utc>,
    /// keyword, dtmf, sentiment, low_confidence, supervisor, scenario
    pub trigger: String,
    pub target: Option<String>,
    pub reason: Option<String>,
    /// Hand-off summary for the human agent.
    pub summary: Option<String>,
}

/// Aggregates, computed by [`CallTrace::recompute_stats`] (seed 000 `stats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TraceStats {
    pub total_turns: u32,
    pub tier1_hits: u32,
    pub tier2_hits: u32,
    pub tier3_hits: u32,
    pub null_responses: u32,
    pub escalations: u32,
    #[serde(rename = "totalLLMCostUsd")]
    pub total_llm_cost_usd: f64,
    pub interruptions: u32,
    pub restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CallTrace {
    pub call_id: CallSid,
    pub company_id: TenantId,
    /// voice, sms, chat
    pub channel: String,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    /// inbound, outbound-api, outbound-dial
    pub direction: Option<String>,
    pub stream_sid: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub total_duration_ms: Option<u64>,
    pub status: CallStatus,
    pub final_outcome: Outcome,
    pub end_reason: Option<String>,
    pub turns: Vec<Turn>,
    pub llm_calls: Vec<LlmCallRecord>,
    pub interruptions: Vec<Interruption>,
    pub supervisor_actions: Vec<SupervisorActionRecord>,
    pub restarts: Vec<RestartRecord>,
    pub escalation: Option<Escalation>,
    pub stats: TraceStats,
}

impl CallTrace {
    /// Recompute `stats` from the lists, as seed 000 does server-side.
    pub fn recompute_stats(&mut self) {
        let tier = |n| {
            self.turns
                .iter()
                .filter(|t| t.ai_brain.tier_used == Some(n))
                .count() as u32
        };
        self.stats = TraceStats {
            total_turns: self.turns.len() as u32,
            tier1_hits: tier(1),
            tier2_hits: tier(2),
            tier3_hits: tier(3),
            null_responses: self.turns.iter().filter(|t| t.flags.null_response).count() as u32,
            escalations: self
                .turns
                .iter()
                .filter(|t| t.flags.escalated_this_turn)
                .count() as u32,
            // `+ 0.0`: an empty f64 sum is -0.0, which would print as "-0".
            total_llm_cost_usd: self.llm_calls.iter().map(|c| c.cost_usd).sum::<f64>() + 0.0,
            interruptions: self.interruptions.len() as u32,
            restarts: self.restarts.len() as u32,
        };
        if let (Some(end), start) = (self.ended_at, self.started_at) {
            self.total_duration_ms = Some((end - start).num_milliseconds().max(0) as u64);
        }
    }
}

/// One entry of a call's media and decision timeline, written as the call
/// runs so that a crash loses at most the unflushed batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceEvent {
    pub call_id: CallSid,
    pub company_id: TenantId,
    pub at: DateTime<Utc>,
    /// Media time of the inbound stream, ms since `start`.
    pub media_ms: u64,
    pub kind: TraceKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceKind {
    CallStarted {
        caller: Option<String>,
        stream_sid: String,
    },
    SpeechStarted,
    SpeechStopped,
    Transcript {
        text: String,
        is_final: bool,
        confidence: f32,
    },
    TurnCompleted {
        turn: Box<Turn>,
    },
    BargeIn {
        interruption: Interruption,
    },
    MarkSent {
        name: String,
        audio_ms: u64,
        text_offset: usize,
    },
    MarkEchoed {
        name: String,
    },
    Clear,
    Dtmf {
        digit: String,
    },
    LlmCall {
        call: LlmCallRecord,
    },
    Supervisor {
        action: SupervisorActionRecord,
    },
    Restarted {
        restart: RestartRecord,
    },
    Escalated {
        escalation: Escalation,
    },
    Note {
        message: String,
    },
    CallEnded {
        outcome: Outcome,
        reason: String,
    },
}
