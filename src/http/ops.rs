//! `/health` (open), `/metrics` (Prometheus; optionally behind a key) and
//! `/dashboard` (a static page for supervisors; it holds no data itself and
//! uses the authenticated API and `/ws/events` with the key typed into it).

use super::auth::{Caller, Role};
use super::state::AppState;
use crate::metrics::gauge;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::atomic::Ordering;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
}

const DASHBOARD: &str = include_str!("assets/dashboard.html");

async fn dashboard() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DASHBOARD)
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.engine.counters;
    let engine_up = state.engine.supervisor.get().is_some();
    let body = serde_json::json!({
        "status": if engine_up { "ok" } else { "degraded" },
        "activeCalls": c.active.load(Ordering::Relaxed),
        "maxCalls": state.config.engine.max_calls,
        "uptimeSecs": state.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if engine_up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.config.server.metrics_require_key {
        match Caller::from_request_sync(&req) {
            Ok(caller) => {
                if let Err(resp) = caller.require(Role::Viewer) {
                    return resp;
                }
            }
            Err(resp) => return resp,
        }
    }
    let mut out = String::with_capacity(4096);
    state.metrics.render_into(&mut out);
    let c = &state.engine.counters;
    let counts = [
        (
            "active_calls",
            "Calls with a live call actor",
            c.active.load(Ordering::Relaxed) as u64,
        ),
        (
            "calls_admitted",
            "Calls admitted since start",
            c.admitted.load(Ordering::Relaxed),
        ),
        (
            "calls_rejected",
            "Calls refused at admission",
            c.rejected.load(Ordering::Relaxed),
        ),
        (
            "call_actor_restarts",
            "Call actor restarts",
            c.restarts.load(Ordering::Relaxed),
        ),
        (
            "call_restart_give_ups",
            "Calls ended after too many restarts",
            c.gave_up.load(Ordering::Relaxed),
        ),
        (
            "live_event_subscribers",
            "Open /ws/events subscribers",
            state.engine.events.subscribers() as u64,
        ),
    ];
    for (name, help, value) in counts {
        gauge(&mut out, name, help, value);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}
