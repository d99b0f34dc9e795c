//! Filtered, paginated listing of traces.
//!
//! A query picks the one index that answers its tenant x outcome x status
//! filters exactly ([`Scope`]), walks it newest-first between the date
//! bounds and reads only the summaries of the page it returns. The total
//! comes from the daily aggregates for whole days plus key counts for the
//! partial days at the edges. Filters no index covers (direction, phone
//! number, transcript text) are applied while walking, examining at most
//! `StoreConfig::max_scan` entries; past that the total is a lower bound and
//! `total_exact` is false.

use super::keys::{self, OutcomeKey, Scope, DAY_MS};
use super::summary::{DayAgg, TraceSummary};
use super::{Result, Store};
use crate::ids::TenantId;
use crate::trace::{CallStatus, CallTrace, Outcome};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TraceQuery {
    pub company: Option<TenantId>,
    /// Inclusive bounds on `startedAt` (seed 000's `$gte` / `$lte`).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Final outcome; only ended calls have one.
    pub outcome: Option<Outcome>,
    pub status: Option<CallStatus>,
    pub direction: Option<String>,
    /// Digits matched inside the caller or called number.
    pub phone: Option<String>,
    /// Case-insensitive substring of what the caller or the bot said.
    pub text: Option<String>,
    pub order: Order,
    /// 1-based.
    pub page: u64,
    pub limit: u64,
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            company: None,
            from: None,
            to: None,
            outcome: None,
            status: None,
            direction: None,
            phone: None,
            text: None,
            order: Order::NewestFirst,
            page: 1,
            limit: 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<TraceSummary>,
    pub page: u64,
    pub limit: u64,
    pub total: u64,
    pub pages: u64,
    /// False when a post-filtered query hit `max_scan` before the end.
    pub total_exact: bool,
}

/// How a query is answered: which index, and whether live calls (which
/// share the "any outcome" indexes) must be skipped.
struct Plan {
    scope: Scope,
    exclude_live: bool,
}

impl TraceQuery {
    fn plan(&self) -> Option<Plan> {
        let c = self.company.as_ref();
        let (scope, exclude_live) = match (self.status, self.outcome) {
            (Some(CallStatus::Live), Some(_)) => return None,
            (Some(CallStatus::Live), None) => (Scope::new(c, Some(OutcomeKey::Live)), false),
            (_, Some(o)) => (Scope::new(c, Some(OutcomeKey::ended(o))), false),
            (Some(CallStatus::Ended), None) => (Scope::new(c, None), true),
            (None, None) => (Scope::new(c, None), false),
        };
        Some(Plan {
            scope,
            exclude_live,
        })
    }

    fn ms_range(&self) -> (Option<i64>, Option<i64>) {
        let from = self.from.map(|d| d.timestamp_millis());
        let to_excl = self.to.map(|d| d.timestamp_millis().saturating_add(1));
        (from, to_excl)
    }

    fn has_post_filter(&self) -> bool {
        self.direction.is_some() || self.phone.is_some() || self.text.is_some()
    }

    fn offset(&self) -> usize {
        (self.page.max(1) - 1).saturating_mul(self.limit) as usize
    }
}

impl Store {
    /// One page of summaries matching `q`, newest first unless asked.
    pub fn list(&self, q: &TraceQuery) -> Result<Page> {
        let mut page = Page {
            items: Vec::new(),
            page: q.page.max(1),
            limit: q.limit,
            total: 0,
            pages: 0,
            total_exact: true,
        };
        let (from, to_excl) = q.ms_range();
        let Some(plan) = q
            .plan()
            .filter(|_| from.zip(to_excl).is_none_or(|(f, t)| f < t))
        else {
            return Ok(page);
        };
        let exclude = self.live_ids(q, &plan)?;
        if q.has_post_filter() {
            self.list_filtered(q, &plan, &exclude, &mut page)?;
        } else {
            page.total = self.count_scope(&plan.scope, from, to_excl)?;
            if plan.exclude_live {
                page.total = page.total.saturating_sub(exclude.len() as u64);
            }
            // A page past the end costs nothing (no walk over the skipped keys).
            let past_end = q.offset() as u64 >= page.total;
            let ids: Vec<String> = self
                .walk_ids(&plan.scope, q)
                .take(if past_end { 0 } else { usize::MAX })
                .filter(|id| !exclude.contains(id))
                .skip(q.offset())
                .take(q.limit as usize)
                .collect();
            page.items = self.summaries_of(&ids)?;
        }
        page.pages = if q.limit == 0 {
            0
        } else {
            page.total.div_ceil(q.limit)
        };
        Ok(page)
    }

    /// Visit every summary matching `q` (ignoring pagination) in order; the
    /// visitor returns false to stop.
    pub fn for_each_match(
        &self,
        q: &TraceQuery,
        mut visit: impl FnMut(TraceSummary) -> Result<bool>,
    ) -> Result<()> {
        let Some(plan) = q.plan() else { return Ok(()) };
        let exclude = self.live_ids(q, &plan)?;
        for id in self.walk_ids(&plan.scope, q) {
            if exclude.contains(&id) {
                continue;
            }
            if let Some(s) = self.summary_by_str(&id)? {
                if self.post_filter_matches(q, &s)? && !visit(s)? {
                    break;
                }
            }
        }
        Ok(())
    }

    fn list_filtered(
        &self,
        q: &TraceQuery,
        plan: &Plan,
        exclude: &HashSet<String>,
        page: &mut Page,
    ) -> Result<()> {
        let (offset, limit) = (q.offset(), q.limit as usize);
        let mut matched = 0usize;
        for (scanned, id) in self.walk_ids(&plan.scope, q).enumerate() {
            if scanned >= self.config.max_scan {
                page.total_exact = false;
                break;
            }
            if exclude.contains(&id) {
                continue;
            }
            let Some(s) = self.summary_by_str(&id)? else {
                continue;
            };
            if !self.post_filter_matches(q, &s)? {
                continue;
            }
            if matched >= offset && page.items.len() < limit {
                page.items.push(s);
            }
            matched += 1;
        }
        page.total = matched as u64;
        Ok(())
    }

    fn post_filter_matches(&self, q: &TraceQuery, s: &TraceSummary) -> Result<bool> {
        if let Some(d) = &q.direction {
            if !s
                .direction
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(d))
            {
                return Ok(false);
            }
        }
        if let Some(p) = &q.phone {
            let nums = [&s.caller_number, &s.called_number];
            if !nums
                .iter()
                .any(|n| n.as_deref().is_some_and(|n| phone_matches(n, p)))
            {
                return Ok(false);
            }
        }
        if let Some(text) = &q.text {
            let trace = self.trace_by_str(s.call_id.as_str())?;
            return Ok(trace.is_some_and(|t| transcript_contains(&t, text)));
        }
        Ok(true)
    }

    /// Live calls inside the query's range, to skip when listing ended ones.
    fn live_ids(&self, q: &TraceQuery, plan: &Plan) -> Result<HashSet<String>> {
        if !plan.exclude_live {
            return Ok(HashSet::new());
        }
        let live = Scope::new(q.company.as_ref(), Some(OutcomeKey::Live));
        let (from, to_excl) = q.ms_range();
        let mut ids = HashSet::new();
        for k in self
            .by_outcome
            .range(live.lower(from)..live.upper(to_excl))
            .keys()
        {
            if let Some((_, id)) = live.parse(&k?) {
                ids.insert(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// Call ids of a scope between the query's bounds, in the query's order.
    fn walk_ids<'a>(
        &'a self,
        scope: &'a Scope,
        q: &TraceQuery,
    ) -> Box<dyn Iterator<Item = String> + 'a> {
        let (from, to_excl) = q.ms_range();
        let range = self
            .index_tree(scope.tree)
            .range(scope.lower(from)..scope.upper(to_excl));
        let parse = move |k: sled::Result<sled::IVec>| {
            let k = k.ok()?;
            scope.parse(&k).map(|(_, id)| id.to_owned())
        };
        match q.order {
            Order::NewestFirst => Box::new(range.keys().rev().filter_map(parse)),
            Order::OldestFirst => Box::new(range.keys().filter_map(parse)),
        }
    }

    fn summaries_of(&self, ids: &[String]) -> Result<Vec<TraceSummary>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.summary_by_str(id)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Entries of `scope` with start in `[from, to_excl)`: aggregates for
    /// whole UTC days, index key counts for the partial days at the edges.
    pub(super) fn count_scope(
        &self,
        scope: &Scope,
        from: Option<i64>,
        to_excl: Option<i64>,
    ) -> Result<u64> {
        let lo_day = from.map(|f| f.div_euclid(DAY_MS) + i64::from(f.rem_euclid(DAY_MS) != 0));
        let hi_day = to_excl.map(|t| t.div_euclid(DAY_MS));
        if let (Some(lo), Some(hi)) = (lo_day, hi_day) {
            if lo >= hi {
                return self.count_keys(scope, from, to_excl);
            }
        }
        let mut total = self
            .agg_sum(&scope.agg_company(), lo_day, hi_day)?
            .count(scope.outcome());
        if let (Some(f), Some(lo)) = (from, lo_day) {
            total += self.count_keys(scope, Some(f), Some(lo * DAY_MS))? as i64;
        }
        if let (Some(t), Some(hi)) = (to_excl, hi_day) {
            total += self.count_keys(scope, Some(hi * DAY_MS), Some(t))? as i64;
        }
        Ok(total.max(0) as u64)
    }

    fn count_keys(&self, scope: &Scope, from: Option<i64>, to_excl: Option<i64>) -> Result<u64> {
        let tree = self.index_tree(scope.tree);
        let mut n = 0u64;
        for k in tree.range(scope.lower(from)..scope.upper(to_excl)).keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// Sum of the daily aggregates of one tenant prefix over `[lo, hi)` days.
    pub(super) fn agg_sum(
        &self,
        company: &[u8],
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<DayAgg> {
        let mut sum = DayAgg::default();
        for (_, agg) in self.agg_days(company, lo, hi)? {
            sum.add(&agg);
        }
        Ok(sum)
    }

    pub(super) fn agg_days(
        &self,
        company: &[u8],
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<(i64, DayAgg)>> {
        let start = lo.map_or_else(|| company.to_vec(), |d| keys::agg_key(company, d));
        let end = hi.map_or_else(|| keys::prefix_end(company), |d| keys::agg_key(company, d));
        let mut out = Vec::new();
        for kv in self.daily.range(start..end) {
            let (k, v) = kv?;
            if let Some(day) = keys::day_from_bytes(&k[company.len()..]) {
                out.push((day, serde_json::from_slice(&v)?));
            }
        }
        Ok(out)
    }
}

fn phone_matches(number: &str, wanted: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let w = digits(wanted);
    if w.is_empty() {
        number.contains(wanted)
    } else {
        digits(number).contains(&w)
    }
}

/// Whether anything said in the call contains `needle` (case-insensitive).
pub fn transcript_contains(t: &CallTrace, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let hit = |s: &str| s.to_lowercase().contains(&needle);
    t.turns.iter().any(|turn| {
        hit(&turn.user_input.text)
            || hit(&turn.ai_brain.response_text)
            || turn.heard_text.as_deref().is_some_and(hit)
    })
}
