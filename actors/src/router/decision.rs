//! The router's answer to a [`RouteRequest`](crate::call::RouteRequest),
//! carried back to the call and into the turn's trace.

use crate::trace::LlmCallRecord;
use serde::{Deserialize, Serialize};

/// Scenario kinds of seed 000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScenarioType {
    InfoFaq,
    ActionFlow,
    SystemAck,
    SmallTalk,
}

/// How a scenario's reply is spoken (seed 000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyStrategy {
    #[default]
    Auto,
    FullOnly,
    QuickOnly,
    QuickThenFull,
}

impl ScenarioType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioType::InfoFaq => "INFO_FAQ",
            ScenarioType::ActionFlow => "ACTION_FLOW",
            ScenarioType::SystemAck => "SYSTEM_ACK",
            ScenarioType::SmallTalk => "SMALL_TALK",
        }
    }
}

impl ReplyStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStrategy::Auto => "AUTO",
            ReplyStrategy::FullOnly => "FULL_ONLY",
            ReplyStrategy::QuickOnly => "QUICK_ONLY",
            ReplyStrategy::QuickThenFull => "QUICK_THEN_FULL",
        }
    }
}

/// The scenario a decision picked, with what the call needs to answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioMatch {
    pub id: String,
    pub name: String,
    pub kind: ScenarioType,
    /// The strategy after resolving AUTO against the type.
    pub strategy: ReplyStrategy,
    pub quick_reply: Option<String>,
    pub full_reply: Option<String>,
    /// The scenario hands the call to a human (e.g. "talk to a person").
    pub escalate: bool,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct RouteDecision {
    pub request_id: u64,
    /// 1, 2 or 3; None when nothing matched (free conversation).
    pub tier: Option<u8>,
    pub tier1_score: Option<f32>,
    pub tier2_score: Option<f32>,
    pub tier3_confidence: Option<f32>,
    pub scenario: Option<ScenarioMatch>,
    /// QUICK_ONLY on an INFO_FAQ scenario (seed 000).
    pub config_error: bool,
    pub rationale: Option<String>,
    /// Time the router spent, microseconds.
    pub elapsed_us: u64,
    /// The tier-3 LLM call, when one was made.
    pub llm_call: Option<LlmCallRecord>,
}
