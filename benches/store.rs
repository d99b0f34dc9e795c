//! Trace store and TraceSink benchmarks.
//!
//! - `sink/events`: events per second through the real TraceSink actor into
//!   sled (batches of 1024 / 50 ms), each iteration ending with a flush.
//! - `store_1m/*`: list and detail latency over a store of
//!   `SB_BENCH_TRACES` traces (default 1,000,000), built once with a batch
//!   writer and kept in the temp directory between runs. Besides
//!   criterion's means, a p50/p99/max over 2,000 requests per query is
//!   printed (the target is p99 <= 50 ms per page).
//!
//! `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ractor::Actor;
use std::time::Instant;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{Store, StoreConfig, TraceQuery};
use switchboard_actors::trace::{CallStatus, CallTrace, Outcome, TraceEvent, TraceKind, Turn};
use switchboard_actors::trace_sink::{self, TraceSink, TraceSinkArgs, TraceSinkMsg};

const EVENTS_PER_ITER: u64 = 50_000;
const COMPANIES: u64 = 50;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn event(call: u64, n: u64) -> TraceEvent {
    TraceEvent {
        call_id: CallSid::new(format!("CA{call:08}")),
        company_id: TenantId::new("acme"),
        at: t0(),
        media_ms: n * 20,
        kind: TraceKind::Transcript {
            text: "I would like to book an appointment".into(),
            is_final: n % 10 == 0,
            confidence: 0.92,
        },
    }
}

fn bench_sink(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sb-bench-sink-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Store::open(&StoreConfig::at(&dir)).expect("bench store");
    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(EVENTS_PER_ITER));
    group.sample_size(10);
    // Events of one call arrive in runs of `run` (a call's burst of marks,
    // transcripts ...) spread over `calls` concurrent calls; sled's cost is
    // per record, and a batch holds one record per call.
    let cases = [
        ("events_2000_calls_interleaved", 2_000u64, 1u64, 1024usize),
        ("events_2000_calls_interleaved_batch_8192", 2_000, 1, 8192),
        ("events_100_calls_runs_of_20", 100, 20, 1024),
    ];
    for (name, calls, run, max_batch) in cases {
        let args = TraceSinkArgs {
            max_batch,
            ..TraceSinkArgs::new(store.clone())
        };
        let sink =
            rt.block_on(async { Actor::spawn(None, TraceSink, args).await.expect("sink").0 });
        let mut n = 0u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..EVENTS_PER_ITER {
                        sink.cast(TraceSinkMsg::Event(event((n / run) % calls, n)))
                            .expect("sink up");
                        n += 1;
                    }
                    rt.block_on(trace_sink::flush(&sink, std::time::Duration::from_secs(60)))
                        .expect("flushed");
                }
                start.elapsed()
            })
        });
        sink.stop(None);
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A compact finished call: one turn, spread over 120 days, 50 tenants.
fn compact_trace(i: u64, total: u64) -> CallTrace {
    let span_ms = 120 * 86_400_000i64;
    let at = t0() + Duration::milliseconds((i as i64) * span_ms / total as i64);
    let outcomes = [
        Outcome::AiResolved,
        Outcome::AiResolved,
        Outcome::EscalatedToHuman,
        Outcome::CallerHungUp,
        Outcome::Error,
    ];
    let mut t = CallTrace {
        call_id: CallSid::new(format!("CA{i:010}")),
        company_id: TenantId::new(format!("company-{:02}", i % COMPANIES)),
        channel: "voice".into(),
        caller_number: Some(format!("+1555{:07}", i % 10_000_000)),
        direction: Some("inbound".into()),
        started_at: at,
        ended_at: Some(at + Duration::seconds(95)),
        status: CallStatus::Ended,
        final_outcome: outcomes[(i % 5) as usize],
        ..Default::default()
    };
    let mut turn = Turn {
        turn_index: 1,
        timestamp: at,
        ..Default::default()
    };
    turn.user_input.text = "what time do you open".into();
    turn.ai_brain.tier_used = Some(1);
    turn.ai_brain.response_text = "We open at nine.".into();
    turn.timing.total_turn_time_ms = Some(700.0 + (i % 900) as f64);
    t.turns.push(turn);
    t.recompute_stats();
    t
}

/// The 1M store, built once and reused (its size is in a marker file).
fn big_store(total: u64) -> Store {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-store-{total}"));
    let marker = dir.join("BUILT");
    let built = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        == Some(total);
    if !built {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let store = Store::open(&StoreConfig::at(&dir)).expect("big store");
    if !built {
        let start = Instant::now();
        let batch = 2_000;
        for chunk in 0..total.div_ceil(batch) {
            let traces: Vec<CallTrace> = (chunk * batch..((chunk + 1) * batch).min(total))
                .map(|i| compact_trace(i, total))
                .collect();
            store.put_traces(&traces).expect("batch write");
        }
        store.flush().expect("flush");
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "built {total} traces in {secs:.1} s ({:.0} traces/s)",
            total as f64 / secs
        );
        std::fs::write(&marker, total.to_string()).expect("marker");
    }
    store
}

fn queries(total: u64) -> Vec<(&'static str, TraceQuery)> {
    let company = Some(TenantId::new("company-07"));
    let mid = t0() + Duration::days(60);
    vec![
        ("list_all_page1", TraceQuery::default()),
        (
            "list_company_page1",
            TraceQuery {
                company: company.clone(),
                ..Default::default()
            },
        ),
        (
            "list_company_outcome_range",
            TraceQuery {
                company: company.clone(),
                outcome: Some(Outcome::EscalatedToHuman),
                from: Some(mid - Duration::hours(36)),
                to: Some(mid + Duration::hours(36)),
                ..Default::default()
            },
        ),
        (
            "list_status_ended",
            TraceQuery {
                status: Some(CallStatus::Ended),
                ..Default::default()
            },
        ),
        (
            "list_all_page50",
            TraceQuery {
                page: 50,
                ..Default::default()
            },
        ),
        (
            "list_company_page100_limit100",
            TraceQuery {
                company,
                page: 100.min(total / 100 / COMPANIES).max(1),
                limit: 100,
                ..Default::default()
            },
        ),
    ]
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[(((v.len() as f64) * p).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99), v[v.len() - 1])
}

fn bench_big_store(c: &mut Criterion) {
    let total: u64 = std::env::var("SB_BENCH_TRACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let store = big_store(total);
    assert_eq!(store.trace_count() as u64, total, "bench store is complete");
    let mut group = c.benchmark_group(format!("store_{}", total));
    for (name, q) in queries(total) {
        let page = store.list(&q).expect("list");
        assert!(!page.items.is_empty(), "{name} returns a page");
        group.bench_function(name, |b| b.iter(|| store.list(&q).expect("list")));
        let lat: Vec<f64> = (0..2_000)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(store.list(&q).expect("list"));
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let (p50, p99, max) = percentiles(lat);
        eprintln!(
            "{name}: total {} | p50 {p50:.3} ms  p99 {p99:.3} ms  max {max:.3} ms",
            page.total
        );
    }
    let mut i = 0u64;
    group.bench_function("detail", |b| {
        b.iter(|| {
            i = (i + 7_919) % total;
            store
                .get_trace(&CallSid::new(format!("CA{i:010}")))
                .expect("get")
                .expect("exists")
        })
    });
    let lat: Vec<f64> = (0..2_000u64)
        .map(|k| {
            let id = CallSid::new(format!("CA{:010}", (k * 104_729) % total));
            let s = Instant::now();
            std::hint::black_box(store.get_trace(&id).expect("get"));
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (p50, p99, max) = percentiles(lat);
    eprintln!("detail: p50 {p50:.3} ms  p99 {p99:.3} ms  max {max:.3} ms");
    group.finish();
}

criterion_group!(benches, bench_sink, bench_big_store);
criterion_main!(benches);
