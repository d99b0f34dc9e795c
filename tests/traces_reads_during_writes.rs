//! Reads while the TraceSink writes: every list answer is consistent (a
//! listed call always has its trace, totals never go down, pages are in
//! order) while a writer streams starts, events and finishes through the
//! real sink into the same sled store.

mod traces_support;

use chrono::Duration;
use ractor::Actor;
use std::time::Duration as StdDuration;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{Store, StoreConfig};
use switchboard_actors::trace::{CallStatus, Outcome, TraceEvent, TraceKind};
use switchboard_actors::trace_sink::{self, TraceSink, TraceSinkArgs, TraceSinkMsg};
use traces_support::{t0, trace, TempDir, TestServer, ADMIN};

const CALLS: i64 = 300;

#[actix_web::test]
async fn list_and_detail_stay_consistent_while_the_sink_writes() {
    let dir = TempDir::new("reads-writes");
    let store = Store::open(&StoreConfig::at(&dir.0)).expect("store");
    let (sink, _) = Actor::spawn(None, TraceSink, TraceSinkArgs::new(store.clone()))
        .await
        .expect("sink");
    let s = TestServer::serve(dir, store, traces_support::keys(), |api| api).await;
    let writer_sink = sink.clone();
    let writer = actix_web::rt::spawn(async move {
        for i in 0..CALLS {
            let id = format!("CA{i:04}");
            let mut t = trace(
                &id,
                "acme",
                t0() + Duration::seconds(i),
                Outcome::AiResolved,
                "hi \"there\"",
            );
            t.status = CallStatus::Live;
            writer_sink
                .cast(TraceSinkMsg::Start(Box::new(t.clone())))
                .expect("sink up");
            for n in 0..20 {
                let kind = TraceKind::Transcript {
                    text: format!("part {n} ✓"),
                    is_final: n == 19,
                    confidence: 0.9,
                };
                let e = TraceEvent {
                    call_id: CallSid::new(&id),
                    company_id: TenantId::new("acme"),
                    at: t.started_at,
                    media_ms: n * 20,
                    kind,
                };
                writer_sink.cast(TraceSinkMsg::Event(e)).expect("sink up");
            }
            t.status = CallStatus::Ended;
            if i % 10 == 9 {
                trace_sink::finish_trace(&writer_sink, t, StdDuration::from_secs(10))
                    .await
                    .expect("confirmed");
            } else {
                // Fire and forget: nobody waits for this confirmation.
                let _ = writer_sink.cast(TraceSinkMsg::Finish(
                    Box::new(t),
                    ractor::RpcReplyPort::from(tokio::sync::oneshot::channel().0),
                ));
            }
        }
    });
    let mut last_total = 0;
    let mut reads = 0;
    while !writer.is_finished() || reads < 5 {
        let (status, v) = s.get("/admin/call-traces?limit=10", Some(ADMIN)).await;
        assert_eq!(status, 200);
        let total = v["pagination"]["total"].as_u64().expect("total");
        assert!(
            total >= last_total,
            "total went down: {last_total} -> {total}"
        );
        last_total = total;
        let items = v["traces"].as_array().expect("traces");
        assert!(items.len() as u64 <= total.min(10));
        let starts: Vec<&str> = items
            .iter()
            .map(|t| t["startedAt"].as_str().unwrap_or(""))
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {starts:?}"
        );
        if let Some(first) = items.first() {
            let id = first["callId"].as_str().expect("id");
            let (status, _) = s
                .get(&format!("/admin/call-traces/{id}"), Some(ADMIN))
                .await;
            assert_eq!(status, 200, "listed {id} has a trace");
        }
        reads += 1;
    }
    writer.await.expect("writer finished");
    trace_sink::flush(&sink, StdDuration::from_secs(10))
        .await
        .expect("flushed");
    let (_, v) = s.get("/admin/call-traces", Some(ADMIN)).await;
    assert_eq!(v["pagination"]["total"], CALLS);
    let (_, live) = s.get("/api/v1/calls?status=live", Some(ADMIN)).await;
    assert_eq!(live["pagination"]["total"], 0, "every call ended");
    assert_eq!(
        s.store
            .events(&CallSid::new("CA0299"), 100)
            .expect("events")
            .len(),
        20
    );
    assert!(reads >= 5);
    sink.stop(None);
    s.stop().await;
}
