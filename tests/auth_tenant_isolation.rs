//! Access control through real HTTP: 401 without a valid bearer key, 403
//! for a role or tenant that does not fit, JSON bodies, and a tenant-scoped
//! key never seeing another tenant's trace — in lists, totals, details,
//! statistics, transcripts or ingest.

mod traces_support;

use chrono::Duration;
use switchboard::http::auth::ApiKeys;
use switchboard_actors::trace::Outcome;
use traces_support::{
    t0, trace, TestServer, ACME_ADMIN, ACME_VIEWER, ADMIN, GLOBEX_SUPERVISOR, VIEWER,
};

fn seed(s: &TestServer) {
    let traces: Vec<_> = (0..12)
        .map(|i| {
            let company = if i % 4 == 0 { "acme" } else { "globex" };
            trace(
                &format!("CA{i:02}"),
                company,
                t0() + Duration::minutes(i),
                Outcome::AiResolved,
                "hi",
            )
        })
        .collect();
    s.store.put_traces(&traces).expect("seed");
}

#[actix_web::test]
async fn missing_or_wrong_keys_are_401_with_a_json_body() {
    let s = TestServer::start("auth-401").await;
    seed(&s);
    for path in [
        "/admin/call-traces",
        "/admin/call-traces/CA00",
        "/admin/call-traces/stats/daily",
        "/api/v1/calls",
        "/api/v1/stats",
        "/api/v1/system-events",
    ] {
        let (status, v) = s.get(path, None).await;
        assert_eq!(status, 401, "{path} without key");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("Bearer")),
            "{path}: {v}"
        );
        let (status, _) = s.get(path, Some("not-a-key-at-all")).await;
        assert_eq!(status, 401, "{path} with wrong key");
        // One character off a real key.
        let (status, _) = s.get(path, Some(&ADMIN[..ADMIN.len() - 1])).await;
        assert_eq!(status, 401, "{path} with truncated key");
    }
    let resp = s
        .client
        .get(format!("{}/admin/call-traces", s.base))
        .header("Authorization", format!("Basic {ADMIN}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|h| h.to_str().ok()),
        Some("Bearer")
    );
    let (status, _) = s
        .post(
            "/api/call-traces/log",
            None,
            &serde_json::json!({"callId": "X", "companyId": "acme"}),
        )
        .await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[actix_web::test]
async fn a_server_without_keys_refuses_everyone() {
    let s = TestServer::start_with("auth-nokeys", ApiKeys::default(), |a| a).await;
    let (status, v) = s.get("/admin/call-traces", Some(ADMIN)).await;
    assert_eq!(status, 401);
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.contains("no API keys")));
    s.stop().await;
}

#[actix_web::test]
async fn roles_gate_ingest_and_reads() {
    let s = TestServer::start("auth-roles").await;
    let body = serde_json::json!({"callId": "CA-R", "companyId": "globex"});
    let (status, v) = s.post("/api/call-traces/log", Some(VIEWER), &body).await;
    assert_eq!(status, 403);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("admin")));
    let (status, _) = s
        .post("/api/call-traces/log", Some(GLOBEX_SUPERVISOR), &body)
        .await;
    assert_eq!(status, 403);
    let (status, _) = s.post("/api/call-traces/log", Some(ADMIN), &body).await;
    assert_eq!(status, 201);
    let (status, _) = s.get("/admin/call-traces/CA-R", Some(VIEWER)).await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[actix_web::test]
async fn a_tenant_key_sees_only_its_tenant_everywhere() {
    let s = TestServer::start("auth-tenant").await;
    seed(&s);
    // Lists and totals.
    let (status, v) = s
        .get("/admin/call-traces?limit=100", Some(ACME_VIEWER))
        .await;
    assert_eq!(status, 200);
    let companies: Vec<&str> = v["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["companyId"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(companies, vec!["acme"; 3]);
    assert_eq!(v["pagination"]["total"], 3);
    let (status, _) = s
        .get("/admin/call-traces?companyId=globex", Some(ACME_VIEWER))
        .await;
    assert_eq!(status, 403);
    let (status, v) = s
        .get("/admin/call-traces?companyId=acme", Some(ACME_VIEWER))
        .await;
    assert_eq!((status, v["pagination"]["total"].as_u64()), (200, Some(3)));
    // Details of another tenant: refused without the trace in the body.
    let (status, v) = s.get("/admin/call-traces/CA01", Some(ACME_VIEWER)).await;
    assert_eq!(status, 403);
    assert!(v.get("turns").is_none() && v.get("companyId").is_none());
    let (status, _) = s.get("/admin/call-traces/CA04", Some(ACME_VIEWER)).await;
    assert_eq!(status, 200);
    // Daily stats count only the tenant.
    let (_, days) = s
        .get("/admin/call-traces/stats/daily", Some(ACME_VIEWER))
        .await;
    assert_eq!(days[0]["totalCalls"], 3);
    let (status, _) = s
        .get(
            "/admin/call-traces/stats/daily?companyId=globex",
            Some(ACME_VIEWER),
        )
        .await;
    assert_eq!(status, 403);
    // Conversation API.
    let (_, calls) = s.get("/api/v1/calls", Some(ACME_VIEWER)).await;
    assert_eq!(calls["pagination"]["total"], 3);
    for path in [
        "/api/v1/calls/CA01",
        "/api/v1/calls/CA01/interactions",
        "/api/v1/calls?companyId=globex",
        "/api/v1/stats?companyId=globex",
    ] {
        let (status, v) = s.get(path, Some(ACME_VIEWER)).await;
        assert_eq!(status, 403, "{path}: {v}");
    }
    // Supervisor of globex reads globex only.
    let (_, v) = s
        .get("/api/v1/calls?limit=100", Some(GLOBEX_SUPERVISOR))
        .await;
    assert_eq!(v["pagination"]["total"], 9);
    s.stop().await;
}

#[actix_web::test]
async fn a_tenant_admin_cannot_write_or_overwrite_another_tenant() {
    let s = TestServer::start("auth-ingest").await;
    seed(&s);
    let (status, _) = s
        .post(
            "/api/call-traces/log",
            Some(ACME_ADMIN),
            &serde_json::json!({"callId": "CA-new", "companyId": "globex"}),
        )
        .await;
    assert_eq!(status, 403);
    // CA01 is globex's: an acme-labelled upsert must not take it over.
    let (status, _) = s
        .post(
            "/api/call-traces/log",
            Some(ACME_ADMIN),
            &serde_json::json!({"callId": "CA01", "companyId": "acme"}),
        )
        .await;
    assert_eq!(status, 409);
    let kept = s
        .store
        .get_trace(&switchboard_actors::ids::CallSid::new("CA01"))
        .expect("read")
        .expect("still there");
    assert_eq!(kept.company_id.as_str(), "globex");
    assert_eq!(kept.turns.len(), 1);
    s.stop().await;
}
