//! Seed 000's admin routes through real HTTP against a real sled store:
//! filters, pagination edges, bad input (400 with a message), unknown ids
//! (404), strings kept intact, daily statistics.

mod traces_support;

use chrono::Duration;
use switchboard_actors::trace::Outcome;
use traces_support::{t0, trace, TestServer, ADMIN};

const OUTCOMES: [Outcome; 4] = [
    Outcome::AiResolved,
    Outcome::EscalatedToHuman,
    Outcome::CallerHungUp,
    Outcome::Error,
];

/// 45 calls, one every 100 minutes from t0 (about 3 days), acme on every
/// third, outcomes cycling.
fn seed(server: &TestServer) {
    let traces: Vec<_> = (0..45)
        .map(|i| {
            let company = if i % 3 == 0 { "acme" } else { "globex" };
            trace(
                &format!("CA{i:03}"),
                company,
                t0() + Duration::minutes(100 * i),
                OUTCOMES[i as usize % 4],
                "hello",
            )
        })
        .collect();
    server.store.put_traces(&traces).expect("seed traces");
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["traces"]
        .as_array()
        .expect("traces array")
        .iter()
        .map(|t| t["callId"].as_str().expect("callId").to_owned())
        .collect()
}

#[actix_web::test]
async fn list_is_newest_first_with_default_page_of_20() {
    let s = TestServer::start("admin-list").await;
    seed(&s);
    let (status, v) = s.get("/admin/call-traces", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let got = ids(&v);
    assert_eq!(got.len(), 20);
    assert_eq!(got[0], "CA044");
    assert_eq!(got[19], "CA025");
    assert_eq!(
        v["pagination"],
        serde_json::json!({"page": 1, "limit": 20, "total": 45, "pages": 3, "totalExact": true})
    );
    assert_eq!(v["traces"][0]["stats"]["totalTurns"], 1);
    let (_, last) = s.get("/admin/call-traces?page=3", Some(ADMIN)).await;
    assert_eq!(
        ids(&last),
        (0..5)
            .rev()
            .map(|i| format!("CA{i:03}"))
            .collect::<Vec<_>>()
    );
    let (status, past) = s.get("/admin/call-traces?page=4", Some(ADMIN)).await;
    assert_eq!(
        (
            status,
            ids(&past).len(),
            past["pagination"]["total"].as_u64()
        ),
        (200, 0, Some(45))
    );
    s.stop().await;
}

#[actix_web::test]
async fn filters_combine_company_outcome_and_inclusive_dates() {
    let s = TestServer::start("admin-filters").await;
    seed(&s);
    // acme = i % 3 == 0; escalated = i % 4 == 1 -> i in {9, 21, 33}
    let (_, v) = s
        .get(
            "/admin/call-traces?companyId=acme&outcome=escalated_to_human",
            Some(ADMIN),
        )
        .await;
    assert_eq!(ids(&v), vec!["CA033", "CA021", "CA009"]);
    assert_eq!(v["pagination"]["total"], 3);
    // Inclusive bounds: exactly the start times of CA010 and CA012.
    let from = (t0() + Duration::minutes(1000)).to_rfc3339();
    let to = (t0() + Duration::minutes(1200)).to_rfc3339();
    let path = format!(
        "/admin/call-traces?dateFrom={}&dateTo={}",
        urlenc(&from),
        urlenc(&to)
    );
    let (_, v) = s.get(&path, Some(ADMIN)).await;
    assert_eq!(ids(&v), vec!["CA012", "CA011", "CA010"]);
    // A whole day by date: 2026-03-02 holds minutes 1440..2880 -> CA015..CA028.
    let (_, v) = s
        .get(
            "/admin/call-traces?dateFrom=2026-03-02&dateTo=2026-03-02&limit=100",
            Some(ADMIN),
        )
        .await;
    assert_eq!(v["pagination"]["total"], 14);
    assert_eq!(ids(&v).first().map(String::as_str), Some("CA028"));
    s.stop().await;
}

#[actix_web::test]
async fn limits_are_clamped_and_bad_parameters_are_400_with_a_message() {
    let s = TestServer::start("admin-bad").await;
    seed(&s);
    let (status, v) = s.get("/admin/call-traces?limit=500", Some(ADMIN)).await;
    assert_eq!(
        (status, v["pagination"]["limit"].as_u64()),
        (200, Some(100))
    );
    assert_eq!(ids(&v).len(), 45);
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=abc", "limit"),
        ("page=0", "page"),
        ("page=1.5", "page"),
        ("dateFrom=yesterday", "dateFrom"),
        ("dateTo=2026-13-45", "dateTo"),
        ("dateFrom=2026-03-03&dateTo=2026-03-01", "dateFrom"),
        ("outcome=great", "outcome"),
    ] {
        let (status, v) = s
            .get(&format!("/admin/call-traces?{query}"), Some(ADMIN))
            .await;
        assert_eq!(status, 400, "{query}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{query}: {msg}");
    }
    let (status, v) = s
        .get("/admin/call-traces/stats/daily?dateFrom=nope", Some(ADMIN))
        .await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap_or_default().contains("dateFrom"));
    s.stop().await;
}

#[actix_web::test]
async fn unknown_ids_are_404_and_strings_come_back_intact() {
    let s = TestServer::start("admin-detail").await;
    let nasty = "Ünïcødé ☎️ \"quoted\" {\"json\": [1,2]} back\\slash, comma\nnew line 日本語";
    let id = "CA-\u{e9}\"'<>";
    let mut t = trace(id, "acme", t0(), Outcome::AiResolved, nasty);
    t.end_reason = Some(nasty.to_owned());
    s.store.put_trace(&t).expect("write");
    let (status, v) = s
        .get(&format!("/admin/call-traces/{}", urlenc(id)), Some(ADMIN))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["callId"], id);
    assert_eq!(v["turns"][0]["userInput"]["text"], nasty);
    assert_eq!(
        v["turns"][0]["aiBrain"]["responseText"],
        format!("You said: {nasty}")
    );
    assert_eq!(v["endReason"], nasty);
    let back: switchboard_actors::trace::CallTrace =
        serde_json::from_value(v).expect("detail is a CallTrace");
    assert_eq!(back, t);
    for unknown in ["CA-nope", "%00", "..%2F..", "%E2%98%8E"] {
        let (status, v) = s
            .get(&format!("/admin/call-traces/{unknown}"), Some(ADMIN))
            .await;
        assert_eq!(status, 404, "{unknown}");
        assert!(v["error"].as_str().is_some());
    }
    s.stop().await;
}

#[actix_web::test]
async fn daily_stats_group_by_utc_day_newest_first() {
    let s = TestServer::start("admin-daily").await;
    seed(&s);
    let (status, v) = s.get("/admin/call-traces/stats/daily", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let days = v.as_array().expect("array of days");
    let dates: Vec<&str> = days
        .iter()
        .map(|d| d["_id"].as_str().expect("date"))
        .collect();
    assert_eq!(
        dates,
        vec!["2026-03-04", "2026-03-03", "2026-03-02", "2026-03-01"]
    );
    let total: u64 = days
        .iter()
        .map(|d| d["totalCalls"].as_u64().expect("count"))
        .sum();
    assert_eq!(total, 45);
    // Day 1: minutes 0..1440 -> i 0..=14 (15 calls), outcomes cycling from 0.
    let d1 = &days[3];
    assert_eq!(
        (
            d1["totalCalls"].as_u64(),
            d1["aiResolved"].as_u64(),
            d1["escalated"].as_u64()
        ),
        (Some(15), Some(4), Some(4))
    );
    assert_eq!(d1["tier1Hits"], 15);
    assert!((d1["totalLLMCostUsd"].as_f64().expect("cost") - 3.75).abs() < 1e-9);
    let (_, acme) = s
        .get(
            "/admin/call-traces/stats/daily?companyId=acme&dateFrom=2026-03-01T12:00:00Z",
            Some(ADMIN),
        )
        .await;
    let acme_total: u64 = acme
        .as_array()
        .expect("days")
        .iter()
        .map(|d| d["totalCalls"].as_u64().unwrap_or(0))
        .sum();
    // acme calls at i % 3 == 0 with 100*i >= 720 minutes: i in 9..=42 step 3.
    assert_eq!(acme_total, 12);
    s.stop().await;
}

pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
