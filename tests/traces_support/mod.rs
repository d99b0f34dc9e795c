//! Shared by the trace and auth tests: a real actix-web server on
//! 127.0.0.1:0 serving the trace and conversation APIs over a real sled
//! directory, a reqwest client, and trace fixtures.
#![allow(dead_code)]

use actix_web::{web, App, HttpServer};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::net::TcpListener;
use std::path::PathBuf;
use switchboard::http::auth::{ApiKeys, Role};
use switchboard::http::traces::TraceApi;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{Store, StoreConfig};
use switchboard_actors::trace::{
    CallStatus, CallTrace, Interruption, LlmCallRecord, Outcome, Turn,
};

pub const ADMIN: &str = "admin-secret-0001";
pub const VIEWER: &str = "viewer-secret-0002";
pub const ACME_VIEWER: &str = "acme-viewer-secret-3";
pub const ACME_ADMIN: &str = "acme-admin-secret-04";
pub const GLOBEX_SUPERVISOR: &str = "globex-sup-secret-5";

pub fn keys() -> ApiKeys {
    ApiKeys::default()
        .with_key("ops", Role::Admin, None, ADMIN)
        .and_then(|k| k.with_key("viewer", Role::Viewer, None, VIEWER))
        .and_then(|k| k.with_key("acme-viewer", Role::Viewer, Some("acme"), ACME_VIEWER))
        .and_then(|k| k.with_key("acme-admin", Role::Admin, Some("acme"), ACME_ADMIN))
        .and_then(|k| {
            k.with_key(
                "globex-sup",
                Role::Supervisor,
                Some("globex"),
                GLOBEX_SUPERVISOR,
            )
        })
        .expect("test keys are valid")
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        TempDir(std::env::temp_dir().join(format!(
            "sb-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _dir: TempDir,
}

impl TestServer {
    pub async fn start(tag: &str) -> TestServer {
        Self::start_with(tag, keys(), |api| api).await
    }

    pub async fn start_with(
        tag: &str,
        keys: ApiKeys,
        customize: impl FnOnce(TraceApi) -> TraceApi,
    ) -> TestServer {
        let dir = TempDir::new(tag);
        let store = Store::open(&StoreConfig::at(&dir.0)).expect("store opens");
        Self::serve(dir, store, keys, customize).await
    }

    /// Serve an already open store (e.g. one a TraceSink also writes).
    pub async fn serve(
        dir: TempDir,
        store: Store,
        keys: ApiKeys,
        customize: impl FnOnce(TraceApi) -> TraceApi,
    ) -> TestServer {
        let api = web::Data::new(customize(TraceApi::new(store.clone(), keys, None)));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(api.clone())
                .configure(switchboard::http::traces::routes)
                .configure(switchboard::http::calls_api::routes)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestServer {
            base,
            store,
            client: reqwest::Client::new(),
            handle,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.client.get(format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .client
            .post(format!("{}{}", self.base, path))
            .json(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn read(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body read");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, json)
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// A finished call of `company` at `at`, with one turn saying `text`.
pub fn trace(
    id: &str,
    company: &str,
    at: DateTime<Utc>,
    outcome: Outcome,
    text: &str,
) -> CallTrace {
    let mut t = CallTrace {
        call_id: CallSid::new(id),
        company_id: TenantId::new(company),
        channel: "voice".into(),
        caller_number: Some("+1 (555) 010-0001".into()),
        direction: Some("inbound".into()),
        started_at: at,
        ended_at: Some(at + Duration::seconds(42)),
        status: CallStatus::Ended,
        final_outcome: outcome,
        ..Default::default()
    };
    let mut turn = Turn {
        turn_index: 1,
        timestamp: at + Duration::seconds(2),
        ..Default::default()
    };
    turn.user_input.text = text.to_owned();
    turn.user_input.asr_confidence = Some(0.93);
    turn.ai_brain.tier_used = Some(1);
    turn.ai_brain.response_text = format!("You said: {text}");
    turn.timing.total_turn_time_ms = Some(900.0);
    t.turns.push(turn);
    t.llm_calls.push(LlmCallRecord {
        timestamp: at,
        model: "gpt-4o-mini".into(),
        cost_usd: 0.25,
        ..Default::default()
    });
    t.recompute_stats();
    t
}

/// A call that was cut off by barge-in: slow second turn, interruption.
pub fn interrupted_trace(id: &str, company: &str, at: DateTime<Utc>) -> CallTrace {
    let mut t = trace(id, company, at, Outcome::CallerHungUp, "hours?");
    let mut turn = t.turns[0].clone();
    turn.turn_index = 2;
    turn.timestamp = at + Duration::seconds(10);
    turn.ai_brain.response_text = "We open at nine and close at five.".into();
    turn.heard_text = Some("We open at nine".into());
    turn.flags.interrupted = true;
    turn.timing.total_turn_time_ms = Some(2100.0);
    t.turns.push(turn);
    t.interruptions.push(Interruption {
        at: at + Duration::seconds(11),
        turn_index: 2,
        heard_text: "We open at nine".into(),
        cut_text: " and close at five.".into(),
        ..Default::default()
    });
    t.recompute_stats();
    t
}
