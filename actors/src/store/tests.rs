//! Store tests against a real sled directory: every list/count answer is
//! checked against a brute-force filter of the same traces.

use super::*;
use crate::ids::{CallSid, TenantId};
use crate::trace::{CallStatus, Outcome, Turn};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub(crate) struct TempStore {
    pub store: Store,
    dir: std::path::PathBuf,
}

impl TempStore {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sb-store-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let store = Store::open(&StoreConfig::at(&dir)).expect("temp store opens");
        TempStore { store, dir }
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn trace(
    i: u32,
    company: &str,
    at: DateTime<Utc>,
    outcome: Outcome,
    status: CallStatus,
) -> CallTrace {
    let mut t = CallTrace {
        call_id: CallSid::new(format!("CA{i:05}")),
        company_id: TenantId::new(company),
        channel: "voice".into(),
        started_at: at,
        status,
        final_outcome: outcome,
        ..Default::default()
    };
    if status == CallStatus::Ended {
        t.ended_at = Some(at + Duration::seconds(30));
    }
    let mut turn = Turn::default();
    turn.ai_brain.tier_used = Some((i % 3 + 1) as u8);
    turn.user_input.text = format!("question {i}");
    t.turns.push(turn);
    t.recompute_stats();
    t
}

/// 200 traces over ~9 days, two tenants, all outcomes, some live.
fn fixture(store: &Store) -> Vec<CallTrace> {
    let outcomes = [
        Outcome::AiResolved,
        Outcome::EscalatedToHuman,
        Outcome::CallerHungUp,
        Outcome::Error,
    ];
    let all: Vec<CallTrace> = (0..200)
        .map(|i| {
            let at = t0() + Duration::minutes(i64::from(i) * 61);
            let status = if i % 17 == 0 {
                CallStatus::Live
            } else {
                CallStatus::Ended
            };
            let company = if i % 3 == 0 { "acme" } else { "globex" };
            trace(i, company, at, outcomes[(i % 4) as usize], status)
        })
        .collect();
    store.put_traces(&all).expect("fixture writes");
    all
}

fn brute(all: &[CallTrace], q: &TraceQuery) -> Vec<String> {
    let mut v: Vec<&CallTrace> = all
        .iter()
        .filter(|t| q.company.as_ref().is_none_or(|c| *c == t.company_id))
        .filter(|t| q.from.is_none_or(|f| t.started_at >= f))
        .filter(|t| q.to.is_none_or(|f| t.started_at <= f))
        .filter(|t| q.status.is_none_or(|s| s == t.status))
        .filter(|t| {
            q.outcome
                .is_none_or(|o| t.status == CallStatus::Ended && t.final_outcome == o)
        })
        .collect();
    v.sort_by_key(|t| std::cmp::Reverse((t.started_at, t.call_id.clone())));
    v.iter().map(|t| t.call_id.to_string()).collect()
}

#[test]
fn list_pages_and_totals_match_brute_force_for_every_filter_mix() {
    let ts = TempStore::new("brute");
    let all = fixture(&ts.store);
    let froms = [
        None,
        Some(t0() + Duration::hours(30) + Duration::minutes(7)),
        Some(t0() + Duration::days(2)),
    ];
    let tos = [
        None,
        Some(t0() + Duration::days(6) + Duration::minutes(1)),
        Some(t0() + Duration::hours(40)),
    ];
    let companies = [None, Some(TenantId::new("acme"))];
    let outcomes = [None, Some(Outcome::AiResolved), Some(Outcome::Error)];
    let statuses = [None, Some(CallStatus::Live), Some(CallStatus::Ended)];
    for from in froms {
        for to in tos {
            for company in &companies {
                for outcome in outcomes {
                    for status in statuses {
                        let q = TraceQuery {
                            company: company.clone(),
                            from,
                            to,
                            outcome,
                            status,
                            page: 2,
                            limit: 7,
                            ..Default::default()
                        };
                        let expect = brute(&all, &q);
                        let page = ts.store.list(&q).expect("list");
                        let got: Vec<String> =
                            page.items.iter().map(|s| s.call_id.to_string()).collect();
                        let want: Vec<String> = expect.iter().skip(7).take(7).cloned().collect();
                        assert_eq!(page.total, expect.len() as u64, "total for {q:?}");
                        assert_eq!(got, want, "page for {q:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn replacing_a_live_trace_moves_it_between_outcome_counts() {
    let ts = TempStore::new("replace");
    let mut t = trace(1, "acme", t0(), Outcome::AiResolved, CallStatus::Live);
    ts.store.start_trace(&t).expect("start");
    let live = TraceQuery {
        status: Some(CallStatus::Live),
        ..Default::default()
    };
    assert_eq!(ts.store.list(&live).expect("list").total, 1);
    t.status = CallStatus::Ended;
    t.final_outcome = Outcome::EscalatedToHuman;
    ts.store.put_trace(&t).expect("finish");
    // A late start must not undo the end.
    ts.store
        .start_trace(&trace(
            1,
            "acme",
            t0(),
            Outcome::AiResolved,
            CallStatus::Live,
        ))
        .expect("late start");
    assert_eq!(ts.store.list(&live).expect("list").total, 0);
    let esc = TraceQuery {
        outcome: Some(Outcome::EscalatedToHuman),
        ..Default::default()
    };
    assert_eq!(ts.store.list(&esc).expect("list").total, 1);
    let days = ts.store.daily_stats(None, None, None).expect("daily");
    assert_eq!(days.len(), 1);
    assert_eq!(
        (days[0].total_calls, days[0].escalated, days[0].live),
        (1, 1, 0)
    );
}

#[test]
fn daily_stats_match_brute_force_with_partial_edge_days() {
    let ts = TempStore::new("daily");
    let all = fixture(&ts.store);
    let from = t0() + Duration::hours(30);
    let to = t0() + Duration::hours(100);
    let days = ts
        .store
        .daily_stats(Some(&TenantId::new("acme")), Some(from), Some(to))
        .expect("daily");
    let in_range: Vec<&CallTrace> = all
        .iter()
        .filter(|t| t.company_id.as_str() == "acme" && t.started_at >= from && t.started_at <= to)
        .collect();
    assert_eq!(
        days.iter().map(|d| d.total_calls).sum::<u64>(),
        in_range.len() as u64
    );
    let t1: u64 = in_range.iter().map(|t| u64::from(t.stats.tier1_hits)).sum();
    assert_eq!(days.iter().map(|d| d.tier1_hits).sum::<u64>(), t1);
    assert!(
        days.windows(2).all(|w| w[0].date > w[1].date),
        "newest first"
    );
}

#[test]
fn janitor_removes_old_traces_events_and_counts_in_dry_run() {
    let ts = TempStore::new("janitor");
    let all = fixture(&ts.store);
    let ev = crate::trace::TraceEvent {
        call_id: all[0].call_id.clone(),
        company_id: all[0].company_id.clone(),
        at: t0(),
        media_ms: 0,
        kind: crate::trace::TraceKind::SpeechStarted,
    };
    ts.store.append_events(&[ev.clone(), ev]).expect("events");
    // Keep only what started within 90 days before `now`: the first 5 days go.
    let now = t0() + Duration::days(95);
    let cutoff = now - Duration::days(90);
    let old = all.iter().filter(|t| t.started_at < cutoff).count() as u64;
    let dry = ts.store.janitor(now, 16, true).expect("dry run");
    assert_eq!(dry.traces, old);
    assert_eq!(ts.store.trace_count(), 200);
    let done = ts.store.janitor(now, 16, false).expect("janitor");
    assert_eq!((done.traces, done.events), (old, 2));
    assert_eq!(ts.store.trace_count() as u64, 200 - old);
    assert!(ts
        .store
        .events(&all[0].call_id, 10)
        .expect("events")
        .is_empty());
    let page = ts.store.list(&TraceQuery::default()).expect("list");
    assert_eq!(page.total, 200 - old);
}

#[test]
fn orphaned_live_traces_are_closed_as_errors() {
    let ts = TempStore::new("orphans");
    fixture(&ts.store);
    let n = ts
        .store
        .close_orphaned_live(t0() + Duration::days(30))
        .expect("close");
    assert_eq!(n, 12);
    let live = TraceQuery {
        status: Some(CallStatus::Live),
        ..Default::default()
    };
    assert_eq!(ts.store.list(&live).expect("list").total, 0);
    let t = ts
        .store
        .get_trace(&CallSid::new("CA00000"))
        .expect("get")
        .expect("exists");
    assert_eq!(
        (t.status, t.final_outcome),
        (CallStatus::Ended, Outcome::Error)
    );
}

#[test]
fn post_filters_by_text_and_phone_page_correctly() {
    let ts = TempStore::new("post");
    let mut all = Vec::new();
    for i in 0..30 {
        let mut t = trace(
            i,
            "acme",
            t0() + Duration::minutes(i64::from(i)),
            Outcome::AiResolved,
            CallStatus::Ended,
        );
        t.caller_number = Some(format!("+1 (555) 000-{:04}", i % 2));
        t.turns[0].user_input.text = if i % 3 == 0 {
            "I want a REFUND \"now\"".into()
        } else {
            "hello".into()
        };
        all.push(t);
    }
    ts.store.put_traces(&all).expect("writes");
    let q = TraceQuery {
        text: Some("refund \"NOW\"".into()),
        phone: Some("5550000001".into()),
        limit: 2,
        ..Default::default()
    };
    let page = ts.store.list(&q).expect("list");
    // i % 3 == 0 and i odd: 3, 9, 15, 21, 27
    assert_eq!(page.total, 5);
    assert!(page.total_exact);
    let ids: Vec<_> = page.items.iter().map(|s| s.call_id.to_string()).collect();
    assert_eq!(ids, vec!["CA00027", "CA00021"]);
}
