//! Aggregate statistics: seed 000's daily stats (from the per-day
//! aggregates, walking summaries only for partial days at the edges) and
//! seed 001's windowed call statistics (walking the summaries of the window).

use super::keys::{self, Scope, DAY_MS};
use super::summary::{DayAgg, TraceSummary};
use super::{Result, Store};
use crate::ids::TenantId;
use crate::trace::CallStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// A turn slower than this (end of speech to first audio) violates the SLA.
pub const SLA_TURN_MS: f64 = 1500.0;

/// One UTC day of seed 000 `GET /admin/call-traces/stats/daily`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyStats {
    /// `YYYY-MM-DD` (seed 000 groups by this string as `_id`).
    #[serde(rename = "_id")]
    pub date: String,
    pub total_calls: u64,
    pub ai_resolved: u64,
    pub escalated: u64,
    pub caller_hung_up: u64,
    pub errors: u64,
    pub live: u64,
    pub tier1_hits: u64,
    pub tier2_hits: u64,
    pub tier3_hits: u64,
    pub null_responses: u64,
    #[serde(rename = "totalLLMCostUsd")]
    pub total_llm_cost_usd: f64,
}

/// Seed 001's `get_call_statistics(hours)`.
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WindowStats {
    pub calls: u64,
    pub live: u64,
    pub ended: u64,
    pub ai_resolved: u64,
    pub escalated: u64,
    /// Percent of ended calls resolved by the AI; 0 when none ended.
    pub success_rate: f64,
    pub turns: u64,
    pub avg_response_time_ms: Option<f64>,
    pub p95_response_time_ms: Option<f64>,
    /// Turns over [`SLA_TURN_MS`].
    pub sla_violations: u64,
    pub total_cost_usd: f64,
}

impl Store {
    /// Per UTC day, newest first, for traces started in `[from, to]`.
    pub fn daily_stats(
        &self,
        company: Option<&TenantId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<DailyStats>> {
        let from = from.map(|d| d.timestamp_millis());
        let to_excl = to.map(|d| d.timestamp_millis().saturating_add(1));
        let scope = Scope::new(company, None);
        let lo_day = from.map(|f| f.div_euclid(DAY_MS) + i64::from(f.rem_euclid(DAY_MS) != 0));
        let hi_day = to_excl.map(|t| t.div_euclid(DAY_MS));
        let mut days: BTreeMap<i64, DayAgg> = BTreeMap::new();
        if lo_day.zip(hi_day).is_some_and(|(lo, hi)| lo >= hi) {
            self.walk_into(&scope, from, to_excl, &mut days)?;
        } else {
            for (day, agg) in self.agg_days(&keys::company_prefix(company), lo_day, hi_day)? {
                days.entry(day).or_default().add(&agg);
            }
            if let (Some(f), Some(lo)) = (from, lo_day) {
                self.walk_into(&scope, Some(f), Some(lo * DAY_MS), &mut days)?;
            }
            if let (Some(t), Some(hi)) = (to_excl, hi_day) {
                self.walk_into(&scope, Some(hi * DAY_MS), Some(t), &mut days)?;
            }
        }
        Ok(days
            .into_iter()
            .rev()
            .filter(|(_, a)| a.total > 0)
            .map(|(d, a)| daily(d, &a))
            .collect())
    }

    /// Statistics of calls started in `[from, to]`.
    pub fn window_stats(
        &self,
        company: Option<&TenantId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<WindowStats> {
        let scope = Scope::new(company, None);
        let mut acc = WindowStats::default();
        let mut times = Vec::new();
        let range = scope.lower(Some(from.timestamp_millis()))
            ..scope.upper(Some(to.timestamp_millis() + 1));
        for k in self.index_tree(scope.tree).range(range).keys() {
            let k = k?;
            let Some((_, id)) = scope.parse(&k) else {
                continue;
            };
            if let Some(s) = self.summary_by_str(id)? {
                accumulate(&mut acc, &s, &mut times);
            }
        }
        finish(&mut acc, &mut times);
        Ok(acc)
    }

    fn walk_into(
        &self,
        scope: &Scope,
        from: Option<i64>,
        to_excl: Option<i64>,
        days: &mut BTreeMap<i64, DayAgg>,
    ) -> Result<()> {
        let range = scope.lower(from)..scope.upper(to_excl);
        for k in self.index_tree(scope.tree).range(range).keys() {
            let k = k?;
            let Some((ms, id)) = scope.parse(&k) else {
                continue;
            };
            if let Some(s) = self.summary_by_str(id)? {
                days.entry(keys::day_of(ms)).or_default().apply(&s, 1);
            }
        }
        Ok(())
    }
}

fn daily(day: i64, a: &DayAgg) -> DailyStats {
    let date = DateTime::<Utc>::from_timestamp_millis(day * DAY_MS)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let n = |v: i64| v.max(0) as u64;
    DailyStats {
        date,
        total_calls: n(a.total),
        ai_resolved: n(a.ai_resolved),
        escalated: n(a.escalated),
        caller_hung_up: n(a.hung_up),
        errors: n(a.error),
        live: n(a.live),
        tier1_hits: n(a.tier1),
        tier2_hits: n(a.tier2),
        tier3_hits: n(a.tier3),
        null_responses: n(a.null_responses),
        total_llm_cost_usd: a.cost_nano_usd as f64 / 1e9,
    }
}

fn accumulate(acc: &mut WindowStats, s: &TraceSummary, times: &mut Vec<f64>) {
    acc.calls += 1;
    match s.status {
        CallStatus::Live => acc.live += 1,
        CallStatus::Ended => {
            acc.ended += 1;
            match s.final_outcome {
                crate::trace::Outcome::AiResolved => acc.ai_resolved += 1,
                crate::trace::Outcome::EscalatedToHuman => acc.escalated += 1,
                _ => {}
            }
        }
    }
    acc.total_cost_usd += s.stats.total_llm_cost_usd;
    acc.turns += u64::from(s.stats.total_turns);
    times.extend(s.turn_times_ms.iter().copied().filter(|t| t.is_finite()));
}

fn finish(acc: &mut WindowStats, times: &mut [f64]) {
    if acc.ended > 0 {
        acc.success_rate = acc.ai_resolved as f64 * 100.0 / acc.ended as f64;
    }
    acc.sla_violations = times.iter().filter(|t| **t > SLA_TURN_MS).count() as u64;
    if !times.is_empty() {
        times.sort_by(f64::total_cmp);
        acc.avg_response_time_ms = Some(times.iter().sum::<f64>() / times.len() as f64);
        // Nearest-rank percentile.
        let rank = ((times.len() as f64) * 0.95).ceil() as usize;
        acc.p95_response_time_ms = Some(times[rank.clamp(1, times.len()) - 1]);
    }
}
