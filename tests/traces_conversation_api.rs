//! The conversation API (seeds 001 and 004) through real HTTP: call list
//! filters, sort and pagination, call detail, the transcript with what
//! barge-in cut, windowed statistics and system events.

mod traces_support;

use chrono::{Duration, Utc};
use switchboard_actors::store::{Severity, SystemEvent};
use switchboard_actors::trace::{CallStatus, Outcome};
use traces_support::{interrupted_trace, trace, TestServer, ACME_VIEWER, ADMIN};

/// A: resolved (acme), B: escalated outbound with a refund request,
/// C: interrupted and hung up, D: live, E: two days old.
fn seed(s: &TestServer) {
    let now = Utc::now();
    let a = trace(
        "CA-A",
        "acme",
        now - Duration::hours(5),
        Outcome::AiResolved,
        "what are your hours",
    );
    let mut b = trace(
        "CA-B",
        "globex",
        now - Duration::hours(4),
        Outcome::EscalatedToHuman,
        "I want a REFUND",
    );
    b.direction = Some("outbound-api".into());
    b.caller_number = Some("+44 20 7946 0018".into());
    let c = interrupted_trace("CA-C", "globex", now - Duration::hours(3));
    let mut d = trace(
        "CA-D",
        "acme",
        now - Duration::minutes(2),
        Outcome::AiResolved,
        "still talking",
    );
    d.status = CallStatus::Live;
    d.ended_at = None;
    d.recompute_stats();
    let e = trace(
        "CA-E",
        "acme",
        now - Duration::hours(50),
        Outcome::Error,
        "old",
    );
    s.store.put_traces(&[a, b, c, e]).expect("seed");
    s.store.start_trace(&d).expect("live call");
}

fn call_ids(v: &serde_json::Value) -> Vec<&str> {
    v["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["callId"].as_str().unwrap_or(""))
        .collect()
}

#[actix_web::test]
async fn calls_filter_by_status_direction_phone_and_transcript_text() {
    let s = TestServer::start("conv-list").await;
    seed(&s);
    let (status, v) = s.get("/api/v1/calls", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(call_ids(&v), vec!["CA-D", "CA-C", "CA-B", "CA-A", "CA-E"]);
    assert_eq!(v["pagination"]["limit"], 50);
    let (_, v) = s.get("/api/v1/calls?status=live", Some(ADMIN)).await;
    assert_eq!(call_ids(&v), vec!["CA-D"]);
    let (_, v) = s.get("/api/v1/calls?status=completed", Some(ADMIN)).await;
    assert_eq!(v["pagination"]["total"], 4);
    let (_, v) = s.get("/api/v1/calls?status=escalated", Some(ADMIN)).await;
    assert_eq!(call_ids(&v), vec!["CA-B"]);
    let (_, v) = s
        .get("/api/v1/calls?direction=outbound-api", Some(ADMIN))
        .await;
    assert_eq!(call_ids(&v), vec!["CA-B"]);
    let (_, v) = s
        .get("/api/v1/calls?phone=%2B442079460018", Some(ADMIN))
        .await;
    assert_eq!(call_ids(&v), vec!["CA-B"]);
    let (_, v) = s.get("/api/v1/calls?q=refund", Some(ADMIN)).await;
    assert_eq!(call_ids(&v), vec!["CA-B"]);
    let (_, v) = s
        .get("/api/v1/calls?q=close%20at%20five", Some(ADMIN))
        .await;
    assert_eq!(call_ids(&v), vec!["CA-C"]);
    let (_, v) = s
        .get("/api/v1/calls?order=asc&page_size=2&page=2", Some(ADMIN))
        .await;
    assert_eq!(call_ids(&v), vec!["CA-B", "CA-C"]);
    assert_eq!(v["pagination"]["pages"], 3);
    for bad in [
        "sort=duration",
        "order=sideways",
        "status=on_hold",
        "page_size=0",
        "from_date=soon",
        "status=live&outcome=error",
    ] {
        let (status, v) = s.get(&format!("/api/v1/calls?{bad}"), Some(ADMIN)).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    s.stop().await;
}

#[actix_web::test]
async fn call_detail_and_transcript_show_what_barge_in_cut() {
    let s = TestServer::start("conv-detail").await;
    seed(&s);
    let (status, v) = s.get("/api/v1/calls/CA-C", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert_eq!(v["finalOutcome"], "caller_hung_up");
    assert_eq!(v["interruptions"][0]["cutText"], " and close at five.");
    let (status, v) = s.get("/api/v1/calls/CA-C/interactions", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let items = v["interactions"].as_array().expect("interactions");
    let speakers: Vec<&str> = items
        .iter()
        .map(|i| i["speaker"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(speakers, vec!["caller", "agent", "caller", "agent"]);
    assert_eq!(items[3]["heardText"], "We open at nine");
    assert_eq!(items[3]["cutText"], " and close at five.");
    assert_eq!(items[3]["interrupted"], true);
    assert_eq!(
        items[0]["asrConfidence"]
            .as_f64()
            .map(|c| (c * 100.0).round()),
        Some(93.0)
    );
    let (_, v) = s
        .get("/api/v1/calls/CA-C/interactions?speaker=agent", Some(ADMIN))
        .await;
    assert_eq!(v["pagination"]["total"], 2);
    for path in [
        "/api/v1/calls/CA-none",
        "/api/v1/calls/CA-none/interactions",
    ] {
        let (status, v) = s.get(path, Some(ADMIN)).await;
        assert_eq!(status, 404, "{path}");
        assert!(v["error"].is_string());
    }
    s.stop().await;
}

#[actix_web::test]
async fn stats_cover_the_window_with_sla_violations_and_percentiles() {
    let s = TestServer::start("conv-stats").await;
    seed(&s);
    let (status, v) = s.get("/api/v1/stats?hours=24", Some(ADMIN)).await;
    assert_eq!(status, 200, "{v}");
    // A, B, C ended + D live; E is older than the window.
    assert_eq!(
        (v["calls"].as_u64(), v["ended"].as_u64(), v["live"].as_u64()),
        (Some(4), Some(3), Some(1))
    );
    assert!((v["successRate"].as_f64().expect("rate") - 100.0 / 3.0).abs() < 1e-9);
    // Turn times 900 x4 and 2100.
    assert_eq!(v["slaViolations"], 1);
    assert_eq!(v["p95ResponseTimeMs"], 2100.0);
    assert_eq!(v["avgResponseTimeMs"], 1140.0);
    assert!((v["totalCostUsd"].as_f64().expect("cost") - 1.0).abs() < 1e-9);
    let (_, wide) = s.get("/api/v1/stats?hours=72", Some(ADMIN)).await;
    assert_eq!(wide["calls"], 5);
    let (_, acme) = s.get("/api/v1/stats", Some(ACME_VIEWER)).await;
    assert_eq!(acme["calls"], 2);
    for bad in ["hours=0", "hours=-3", "hours=abc", "hours=100000"] {
        let (status, _) = s.get(&format!("/api/v1/stats?{bad}"), Some(ADMIN)).await;
        assert_eq!(status, 400, "{bad}");
    }
    s.stop().await;
}

#[actix_web::test]
async fn system_events_are_queryable_by_kind_and_scoped_by_tenant() {
    let s = TestServer::start("conv-system").await;
    let now = Utc::now();
    let mut outage = SystemEvent::new(
        now - Duration::minutes(3),
        "provider_outage",
        Severity::Error,
        "llm_pool",
        "openai: 503 x5",
    );
    outage.metadata = serde_json::json!({"endpoint": "primary", "quote": "\"down\""});
    let mut shed = SystemEvent::new(
        now - Duration::minutes(2),
        "load_shed",
        Severity::Warn,
        "supervisor",
        "max_calls reached",
    );
    shed.company_id = Some(switchboard_actors::ids::TenantId::new("acme"));
    let start = SystemEvent::new(
        now - Duration::minutes(10),
        "startup",
        Severity::Info,
        "engine",
        "up",
    );
    s.store
        .append_system_events(&[outage, shed, start])
        .expect("append");
    let (status, v) = s.get("/api/v1/system-events", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, vec!["load_shed", "provider_outage", "startup"]);
    assert_eq!(v["events"][1]["metadata"]["quote"], "\"down\"");
    let (_, v) = s
        .get("/api/v1/system-events?kind=provider_outage", Some(ADMIN))
        .await;
    assert_eq!(v["events"].as_array().map(Vec::len), Some(1));
    let (_, v) = s
        .get("/api/v1/system-events?severity=warn&limit=1", Some(ADMIN))
        .await;
    assert_eq!(v["events"][0]["kind"], "load_shed");
    let (_, v) = s.get("/api/v1/system-events", Some(ACME_VIEWER)).await;
    assert_eq!(
        v["events"].as_array().map(Vec::len),
        Some(1),
        "a tenant key sees its tenant's events only"
    );
    let (status, _) = s
        .get("/api/v1/system-events?severity=panic", Some(ADMIN))
        .await;
    assert_eq!(status, 400);
    s.stop().await;
}
