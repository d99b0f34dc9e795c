//! Small derived records kept beside each trace so that list pages, counts
//! and statistics never deserialise whole traces: a [`TraceSummary`] per call
//! and a [`DayAgg`] per tenant and UTC day.

use crate::ids::{CallSid, TenantId};
use crate::trace::{CallStatus, CallTrace, Outcome, TraceStats};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::OutcomeKey;

/// The list projection of a trace (seed 000 list fields plus what the
/// conversation API filters on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub call_id: CallSid,
    pub company_id: TenantId,
    pub channel: String,
    pub caller_number: Option<String>,
    pub called_number: Option<String>,
    pub direction: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub total_duration_ms: Option<u64>,
    pub status: CallStatus,
    pub final_outcome: Outcome,
    pub end_reason: Option<String>,
    pub stats: TraceStats,
    /// `totalTurnTimeMs` of each turn that has one: response times for the
    /// SLA and percentile statistics.
    #[serde(default)]
    pub turn_times_ms: Vec<f64>,
}

impl TraceSummary {
    pub fn of(t: &CallTrace) -> Self {
        TraceSummary {
            call_id: t.call_id.clone(),
            company_id: t.company_id.clone(),
            channel: t.channel.clone(),
            caller_number: t.caller_number.clone(),
            called_number: t.called_number.clone(),
            direction: t.direction.clone(),
            started_at: t.started_at,
            ended_at: t.ended_at,
            total_duration_ms: t.total_duration_ms,
            status: t.status,
            final_outcome: t.final_outcome,
            end_reason: t.end_reason.clone(),
            stats: t.stats.clone(),
            turn_times_ms: t
                .turns
                .iter()
                .filter_map(|turn| turn.timing.total_turn_time_ms)
                .collect(),
        }
    }

    pub fn outcome_key(&self) -> OutcomeKey {
        OutcomeKey::of(self.status, self.final_outcome)
    }

    pub fn start_ms(&self) -> i64 {
        self.started_at.timestamp_millis()
    }
}

/// Per tenant (or all tenants) and UTC day: counts by outcome and the sums of
/// seed 000's daily statistics. Signed so that replacing a trace can
/// subtract its old contribution; cost in nano-dollars so sums stay exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DayAgg {
    pub total: i64,
    pub live: i64,
    pub ai_resolved: i64,
    pub escalated: i64,
    pub hung_up: i64,
    pub error: i64,
    pub tier1: i64,
    pub tier2: i64,
    pub tier3: i64,
    pub null_responses: i64,
    pub cost_nano_usd: i64,
}

impl DayAgg {
    /// Add (`sign` = 1) or remove (`sign` = -1) one trace.
    pub fn apply(&mut self, s: &TraceSummary, sign: i64) {
        self.total += sign;
        *self.outcome_mut(s.outcome_key()) += sign;
        self.tier1 += sign * i64::from(s.stats.tier1_hits);
        self.tier2 += sign * i64::from(s.stats.tier2_hits);
        self.tier3 += sign * i64::from(s.stats.tier3_hits);
        self.null_responses += sign * i64::from(s.stats.null_responses);
        self.cost_nano_usd += sign * nano_usd(s.stats.total_llm_cost_usd);
    }

    pub fn add(&mut self, o: &DayAgg) {
        self.total += o.total;
        self.live += o.live;
        self.ai_resolved += o.ai_resolved;
        self.escalated += o.escalated;
        self.hung_up += o.hung_up;
        self.error += o.error;
        self.tier1 += o.tier1;
        self.tier2 += o.tier2;
        self.tier3 += o.tier3;
        self.null_responses += o.null_responses;
        self.cost_nano_usd += o.cost_nano_usd;
    }

    /// The count of one outcome bucket, or of everything.
    pub fn count(&self, outcome: Option<OutcomeKey>) -> i64 {
        match outcome {
            None => self.total,
            Some(OutcomeKey::Live) => self.live,
            Some(OutcomeKey::AiResolved) => self.ai_resolved,
            Some(OutcomeKey::Escalated) => self.escalated,
            Some(OutcomeKey::HungUp) => self.hung_up,
            Some(OutcomeKey::Error) => self.error,
        }
    }

    fn outcome_mut(&mut self, k: OutcomeKey) -> &mut i64 {
        match k {
            OutcomeKey::Live => &mut self.live,
            OutcomeKey::AiResolved => &mut self.ai_resolved,
            OutcomeKey::Escalated => &mut self.escalated,
            OutcomeKey::HungUp => &mut self.hung_up,
            OutcomeKey::Error => &mut self.error,
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &DayAgg::default()
    }
}

pub fn nano_usd(usd: f64) -> i64 {
    if usd.is_finite() {
        (usd * 1e9).round() as i64
    } else {
        0
    }
}
