//! The conversation API (seed 001, seed 004 section 1.5) over the trace
//! store, merged with the engine's live calls:
//!
//! - `GET /api/v1/calls` — live and finished calls. Filters: `status`
//!   (live|in_progress, ended|completed, escalated, failed), `direction`,
//!   `from_date`/`to_date` (or dateFrom/dateTo), `phone` (or from_number /
//!   to_number; digits matched in the caller or called number), `outcome`,
//!   `q` (text search over transcripts), `companyId`; `sort=started_at`
//!   with `order=desc|asc`; `page`, `page_size`/`limit` (default 50, max
//!   100).
//! - `GET /api/v1/calls/{id}` — the call's trace (plus its live state).
//! - `GET /api/v1/calls/{id}/interactions` — the transcript.
//! - `GET /api/v1/stats?hours=24` — calls, success rate, response times,
//!   SLA violations (turns over 1.5 s), cost.
//! - `GET /api/v1/system-events` — the engine's own events.
//!
//! All need a viewer key; tenant-scoped keys only ever see their tenant.

// Handlers answer refusals as ready-made responses: helpers return
// `Result<_, HttpResponse>` so a handler can `?` straight into its reply.
// The error path is cold and per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::auth::{Caller, Role};
use super::interactions::{interactions_of, Interaction};
use super::traces::{
    bad_request, blocking, date_range, not_found, pagination_json, param, params, parse_outcome,
    TraceApi,
};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use std::collections::HashMap;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{Order, Severity, SystemEventQuery, TraceQuery};
use switchboard_actors::supervisor::LiveCall;
use switchboard_actors::trace::{CallStatus, Outcome};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/calls", web::get().to(list))
        .route("/api/v1/calls/{id}", web::get().to(detail))
        .route(
            "/api/v1/calls/{id}/interactions",
            web::get().to(interactions),
        )
        .route("/api/v1/stats", web::get().to(stats))
        .route("/api/v1/system-events", web::get().to(system_events));
}

type Answer = Result<HttpResponse, HttpResponse>;

fn done(a: Answer) -> HttpResponse {
    match a {
        Ok(r) | Err(r) => r,
    }
}

async fn list(caller: Caller, req: HttpRequest, api: web::Data<TraceApi>) -> HttpResponse {
    done(list_inner(caller, &req, &api).await)
}

/// Seed 004 status names onto the trace model's status and outcome.
fn status_filter(v: &str) -> Result<(Option<CallStatus>, Option<Outcome>), HttpResponse> {
    Ok(match v {
        "live" | "in_progress" => (Some(CallStatus::Live), None),
        "ended" | "completed" => (Some(CallStatus::Ended), None),
        "escalated" => (Some(CallStatus::Ended), Some(Outcome::EscalatedToHuman)),
        "failed" => (Some(CallStatus::Ended), Some(Outcome::Error)),
        other => {
            return Err(bad_request(format!(
                "status: unknown value {other:?}; use live, in_progress, ended, completed, escalated or failed"
            )))
        }
    })
}

fn calls_query(caller: &Caller, p: &HashMap<String, String>) -> Result<TraceQuery, HttpResponse> {
    let company = caller.scope(p.get("companyId").map(|c| TenantId::new(c.as_str())))?;
    let (from, to) = date_range(p, &["from_date", "dateFrom"], &["to_date", "dateTo"])?;
    let (page, limit) = super::traces::paging(p, &["page_size", "limit"], 50, 100)?;
    let (status, mut outcome) = p
        .get("status")
        .map(|s| status_filter(s))
        .transpose()?
        .unwrap_or((None, None));
    if let Some(o) = p.get("outcome") {
        let o = parse_outcome(o)?;
        if outcome.is_some_and(|x| x != o) {
            return Err(bad_request("status and outcome contradict each other"));
        }
        outcome = Some(o);
    }
    if status == Some(CallStatus::Live) && outcome.is_some() {
        return Err(bad_request(
            "a live call has no outcome yet: drop status=live or outcome",
        ));
    }
    if let Some(sort) = p.get("sort") {
        if !matches!(sort.as_str(), "started_at" | "startedAt") {
            return Err(bad_request(format!(
                "sort: {sort:?} is not supported; calls sort by started_at"
            )));
        }
    }
    let order = match p.get("order").map(String::as_str) {
        None | Some("desc") => Order::NewestFirst,
        Some("asc") => Order::OldestFirst,
        Some(o) => {
            return Err(bad_request(format!(
                "order: expected asc or desc, got {o:?}"
            )))
        }
    };
    Ok(TraceQuery {
        company,
        from,
        to,
        outcome,
        status,
        direction: p.get("direction").cloned(),
        phone: param(p, &["phone", "from_number", "to_number"]).map(|(_, v)| v.to_owned()),
        text: param(p, &["q", "search"]).map(|(_, v)| v.to_owned()),
        order,
        page,
        limit,
    })
}

async fn list_inner(caller: Caller, req: &HttpRequest, api: &TraceApi) -> Answer {
    caller.require(Role::Viewer)?;
    let q = calls_query(&caller, &params(req))?;
    let store = api.store.clone();
    let query = q.clone();
    let mut page = blocking(move || store.list(&query)).await?;
    let live = live_calls(api).await;
    // The registry knows restarts; the store knows everything else.
    let mut calls: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|s| {
            with_live(
                serde_json::to_value(s).unwrap_or_default(),
                live.get(s.call_id.as_str()),
            )
        })
        .collect();
    if q.status == Some(CallStatus::Live) && page.page == 1 {
        // Calls the registry holds but whose start the store has not seen
        // yet (the sink batches): shown on the first page of live calls.
        let listed: std::collections::HashSet<&str> =
            page.items.iter().map(|s| s.call_id.as_str()).collect();
        for c in live
            .values()
            .filter(|c| !listed.contains(c.call_id.as_str()) && registry_matches(&q, c))
        {
            calls.push(live_only(c));
            page.total += 1;
        }
    }
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "calls": calls, "pagination": pagination_json(&page) })))
}

fn registry_matches(q: &TraceQuery, c: &LiveCall) -> bool {
    q.company.as_ref().is_none_or(|t| t.as_str() == c.tenant)
        && q.from.is_none_or(|f| c.started_at >= f)
        && q.to.is_none_or(|t| c.started_at <= t)
        && q.direction.is_none()
        && q.text.is_none()
        && q.phone
            .as_ref()
            .is_none_or(|p| c.caller.as_deref().is_some_and(|n| n.contains(p.as_str())))
}

async fn live_calls(api: &TraceApi) -> HashMap<String, LiveCall> {
    match &api.live {
        Some(l) => l
            .live()
            .await
            .into_iter()
            .map(|c| (c.call_id.to_string(), c))
            .collect(),
        None => HashMap::new(),
    }
}

fn with_live(mut v: serde_json::Value, live: Option<&LiveCall>) -> serde_json::Value {
    if let (Some(obj), Some(c)) = (v.as_object_mut(), live) {
        obj.insert("live".into(), serde_json::json!({ "restarts": c.restarts }));
    }
    v
}

fn live_only(c: &LiveCall) -> serde_json::Value {
    serde_json::json!({
        "callId": c.call_id,
        "companyId": c.tenant,
        "callerNumber": c.caller,
        "startedAt": c.started_at,
        "status": "live",
        "live": { "restarts": c.restarts },
    })
}

async fn detail(caller: Caller, id: web::Path<String>, api: web::Data<TraceApi>) -> HttpResponse {
    done(detail_inner(caller, &id, &api).await)
}

async fn detail_inner(caller: Caller, id: &str, api: &TraceApi) -> Answer {
    caller.require(Role::Viewer)?;
    let store = api.store.clone();
    let call_id = CallSid::new(id);
    let trace = blocking(move || store.get_trace(&call_id)).await?;
    let live = live_calls(api).await;
    match (trace, live.get(id)) {
        (Some(t), l) => {
            caller.require_tenant(&t.company_id)?;
            Ok(HttpResponse::Ok().json(with_live(serde_json::to_value(&t).unwrap_or_default(), l)))
        }
        (None, Some(c)) => {
            caller.require_tenant(&TenantId::new(c.tenant.as_str()))?;
            Ok(HttpResponse::Ok().json(live_only(c)))
        }
        (None, None) => Err(not_found("call", id)),
    }
}

async fn interactions(
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    api: web::Data<TraceApi>,
) -> HttpResponse {
    done(interactions_inner(caller, &id, &req, &api).await)
}

async fn interactions_inner(caller: Caller, id: &str, req: &HttpRequest, api: &TraceApi) -> Answer {
    caller.require(Role::Viewer)?;
    let p = params(req);
    let (page, limit) = super::traces::paging(&p, &["page_size", "limit"], 100, 1000)?;
    let speaker = p.get("speaker").cloned();
    let store = api.store.clone();
    let call_id = CallSid::new(id);
    let found = blocking(move || {
        let Some(t) = store.get_trace(&call_id)? else {
            return Ok(None);
        };
        let events = if t.status == CallStatus::Live {
            store.events(&call_id, 100_000)?
        } else {
            Vec::new()
        };
        Ok(Some((t, events)))
    })
    .await?;
    let Some((trace, events)) = found else {
        return Err(not_found("call", id));
    };
    caller.require_tenant(&trace.company_id)?;
    let all: Vec<Interaction> = interactions_of(&trace, &events)
        .into_iter()
        .filter(|i| speaker.as_deref().is_none_or(|s| i.speaker == s))
        .collect();
    let total = all.len() as u64;
    let items: Vec<&Interaction> = all
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "callId": trace.call_id,
        "status": trace.status,
        "interactions": items,
        "pagination": { "page": page, "limit": limit, "total": total, "pages": total.div_ceil(limit) },
    })))
}

async fn stats(caller: Caller, req: HttpRequest, api: web::Data<TraceApi>) -> HttpResponse {
    let inner = async {
        caller.require(Role::Viewer)?;
        let p = params(&req);
        let company = caller.scope(p.get("companyId").map(|c| TenantId::new(c.as_str())))?;
        let hours = match p.get("hours") {
            None => 24,
            Some(h) => h
                .parse::<i64>()
                .ok()
                .filter(|h| (1..=24 * 366).contains(h))
                .ok_or_else(|| {
                    bad_request(format!(
                        "hours: expected an integer from 1 to 8784, got {h:?}"
                    ))
                })?,
        };
        let to = Utc::now();
        let from = to - Duration::hours(hours);
        let store = api.store.clone();
        let s = blocking(move || store.window_stats(company.as_ref(), from, to)).await?;
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("hours".into(), hours.into());
            o.insert("from".into(), serde_json::json!(from));
            o.insert("to".into(), serde_json::json!(to));
            o.insert("slaThresholdMs".into(), 1500.into());
        }
        Ok(HttpResponse::Ok().json(v))
    };
    done(inner.await)
}

async fn system_events(caller: Caller, req: HttpRequest, api: web::Data<TraceApi>) -> HttpResponse {
    let inner = async {
        caller.require(Role::Viewer)?;
        let p = params(&req);
        let company = caller.scope(p.get("companyId").map(|c| TenantId::new(c.as_str())))?;
        let (from, to) = date_range(&p, &["from_date", "dateFrom"], &["to_date", "dateTo"])?;
        let (_, limit) = super::traces::paging(&p, &["limit"], 100, 1000)?;
        let severity = match p.get("severity").map(String::as_str) {
            None => None,
            Some("info") => Some(Severity::Info),
            Some("warn") => Some(Severity::Warn),
            Some("error") => Some(Severity::Error),
            Some(s) => {
                return Err(bad_request(format!(
                    "severity: expected info, warn or error, got {s:?}"
                )))
            }
        };
        let q = SystemEventQuery {
            from,
            to,
            kind: p.get("kind").cloned(),
            severity,
            company,
            limit: limit as usize,
        };
        let store = api.store.clone();
        let events = blocking(move || store.system_events(&q)).await?;
        Ok(HttpResponse::Ok().json(serde_json::json!({ "events": events })))
    };
    done(inner.await)
}
