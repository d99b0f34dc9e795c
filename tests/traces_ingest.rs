//! `POST /api/call-traces/log` through real HTTP: validation names the bad
//! fields, stats are computed server-side, a repeat is an upsert (201 then
//! 200), and ingest through a running TraceSink is durable when answered.

mod traces_support;

use ractor::Actor;
use serde_json::json;
use switchboard_actors::ids::CallSid;
use switchboard_actors::slot::Slot;
use switchboard_actors::store::{Store, StoreConfig};
use switchboard_actors::trace_sink::{TraceSink, TraceSinkArgs};
use traces_support::{TestServer, ADMIN};

fn seed_body(id: &str) -> serde_json::Value {
    json!({
        "callId": id,
        "companyId": "acme",
        "channel": "voice",
        "callerNumber": "+15550100",
        "startedAt": "2026-03-01T10:00:00Z",
        "endedAt": "2026-03-01T10:02:30.500Z",
        "turns": [
            {"turnIndex": 1, "timestamp": "2026-03-01T10:00:05Z",
             "userInput": {"text": "¿Dónde está \"la tienda\"?", "asrProvider": "deepgram", "asrConfidence": 0.91},
             "aiBrain": {"tierUsed": 1, "scenarioName": "hours", "responseText": "{\"json\": true} ✓"},
             "timing": {"aiBrainTimeMs": 12, "totalTurnTimeMs": 640},
             "flags": {"escalatedThisTurn": false, "nullResponse": false}},
            {"turnIndex": 2, "userInput": {"text": "human please"},
             "aiBrain": {"tierUsed": 3, "responseText": null},
             "flags": {"escalatedThisTurn": true, "nullResponse": true}}
        ],
        "llmCalls": [{"timestamp": "2026-03-01T10:01:00Z", "model": "gpt-4o-mini", "purpose": "tier3_match",
                      "promptTokens": 300, "completionTokens": 20, "costUsd": 0.0015}],
        "finalOutcome": "escalated_to_human",
        "stats": {"totalTurns": 999}
    })
}

#[actix_web::test]
async fn a_seed_000_body_is_stored_with_server_side_stats_and_upserted_on_repeat() {
    let s = TestServer::start("ingest-upsert").await;
    let (status, v) = s
        .post("/api/call-traces/log", Some(ADMIN), &seed_body("CA-in-1"))
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        (v["success"].as_bool(), v["created"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(v["stats"]["totalTurns"], 2);
    let (_, t) = s.get("/admin/call-traces/CA-in-1", Some(ADMIN)).await;
    assert_eq!(t["stats"]["tier1Hits"], 1);
    assert_eq!(t["stats"]["tier3Hits"], 1);
    assert_eq!(t["stats"]["nullResponses"], 1);
    assert_eq!(t["stats"]["escalations"], 1);
    assert_eq!(t["stats"]["totalLLMCostUsd"], 0.0015);
    assert_eq!(t["totalDurationMs"], 150_500);
    assert_eq!(t["status"], "ended");
    assert_eq!(
        t["turns"][0]["userInput"]["text"],
        "¿Dónde está \"la tienda\"?"
    );
    assert_eq!(
        t["turns"][0]["aiBrain"]["responseText"],
        "{\"json\": true} ✓"
    );
    // The second turn had no timestamp: it takes the call's start.
    assert_eq!(t["turns"][1]["timestamp"], "2026-03-01T10:00:00Z");
    let mut repeat = seed_body("CA-in-1");
    repeat["finalOutcome"] = json!("ai_resolved");
    let (status, v) = s.post("/api/call-traces/log", Some(ADMIN), &repeat).await;
    assert_eq!((status, v["created"].as_bool()), (200, Some(false)));
    let (_, list) = s.get("/admin/call-traces", Some(ADMIN)).await;
    assert_eq!(list["pagination"]["total"], 1, "upsert, not a second trace");
    assert_eq!(list["traces"][0]["finalOutcome"], "ai_resolved");
    let (_, esc) = s
        .get("/admin/call-traces?outcome=escalated_to_human", Some(ADMIN))
        .await;
    assert_eq!(
        esc["pagination"]["total"], 0,
        "old outcome index entry removed"
    );
    s.stop().await;
}

#[actix_web::test]
async fn invalid_bodies_are_400_naming_every_bad_field() {
    let s = TestServer::start("ingest-invalid").await;
    let body = json!({
        "callId": "", "startedAt": "last tuesday", "endedAt": 17, "finalOutcome": "meh",
        "channel": "pigeon", "turns": [{"aiBrain": {"tierUsed": "one"}}, "not an object"],
        "llmCalls": {"not": "a list"}
    });
    let (status, v) = s.post("/api/call-traces/log", Some(ADMIN), &body).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or(""))
        .collect();
    for f in [
        "callId",
        "companyId",
        "startedAt",
        "endedAt",
        "finalOutcome",
        "channel",
        "turns[0].aiBrain",
        "turns[1]",
        "llmCalls",
    ] {
        assert!(fields.contains(&f), "{f} not named in {v}");
    }
    assert!(v["error"].as_str().unwrap_or("").contains("callId"));
    for raw in ["not json", "[1,2]", "\"str\"", ""] {
        let resp = s
            .client
            .post(format!("{}/api/call-traces/log", s.base))
            .bearer_auth(ADMIN)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 400, "{raw:?}");
        let v: serde_json::Value = resp.json().await.expect("json error body");
        assert!(v["fields"].is_array());
    }
    let (status, _) = s
        .post(
            "/api/call-traces/log",
            Some(ADMIN),
            &json!({"callId": "CA\u{0}x", "companyId": "acme"}),
        )
        .await;
    assert_eq!(status, 400, "NUL in an id");
    s.stop().await;
}

#[actix_web::test]
async fn ingest_through_the_sink_is_written_when_answered() {
    let dir = traces_support::TempDir::new("ingest-sink");
    let store = Store::open(&StoreConfig::at(&dir.0)).expect("store");
    let (sink, _) = Actor::spawn(None, TraceSink, TraceSinkArgs::new(store.clone()))
        .await
        .expect("sink spawns");
    let slot = Slot::new(sink.clone());
    let s = TestServer::serve(dir, store, traces_support::keys(), move |api| {
        api.with_sink(slot)
    })
    .await;
    let (status, v) = s
        .post("/api/call-traces/log", Some(ADMIN), &seed_body("CA-sink"))
        .await;
    assert_eq!(status, 201, "{v}");
    // Answered only after the sink applied (and flushed) the batch.
    let stored = s
        .store
        .get_trace(&CallSid::new("CA-sink"))
        .expect("read")
        .expect("written by the sink");
    assert_eq!(stored.stats.total_turns, 2);
    sink.stop(None);
    s.stop().await;
}
