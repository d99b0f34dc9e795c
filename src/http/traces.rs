//! Seed 000's call-trace routes over the sled store:
//!
//! - `GET /admin/call-traces` — filtered list, newest first, paginated
//!   (companyId, dateFrom, dateTo, outcome, page, limit: default 20,
//!   clamped to 100);
//! - `GET /admin/call-traces/{callId}` — the whole trace (404 when unknown);
//! - `GET /admin/call-traces/stats/daily` — per UTC day aggregates;
//! - `POST /api/call-traces/log` — ingest from an external runtime (see
//!   [`super::trace_ingest`] for validation and idempotency).
//!
//! Reads need a viewer key, ingest an admin key; tenant-scoped keys see and
//! write only their tenant. Every handler answers with a JSON body and never
//! a 500 for bad input; a store failure is a 503 with the reason.

// Handlers answer refusals as ready-made responses: helpers return
// `Result<_, HttpResponse>` so a handler can `?` straight into its reply.
// The error path is cold and per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::auth::{Caller, Role};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::slot::Slot;
use switchboard_actors::store::{Page, Store, StoreError, TraceQuery};
pub use switchboard_actors::supervisor::LiveCall;
use switchboard_actors::trace::Outcome;
use switchboard_actors::trace_sink::TraceSinkMsg;

/// The live calls of the engine (implemented by the edge from the call
/// registry), merged into `/api/v1/calls` answers.
pub trait LiveCalls: Send + Sync {
    fn live(&self) -> BoxFuture<'static, Vec<LiveCall>>;
}

/// What the trace and conversation handlers share (`web::Data<TraceApi>`).
pub struct TraceApi {
    pub store: Store,
    pub keys: super::auth::ApiKeys,
    pub live: Option<Arc<dyn LiveCalls>>,
    /// Ingested traces go through the sink when set (the engine's single
    /// writer); without it they are written to the store directly and
    /// flushed (tools and tests).
    pub sink: Option<Slot<TraceSinkMsg>>,
}

impl TraceApi {
    pub fn new(store: Store, keys: super::auth::ApiKeys, live: Option<Arc<dyn LiveCalls>>) -> Self {
        TraceApi {
            store,
            keys,
            live,
            sink: None,
        }
    }

    pub fn with_sink(mut self, sink: Slot<TraceSinkMsg>) -> Self {
        self.sink = Some(sink);
        self
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/call-traces", web::get().to(list))
        .route("/admin/call-traces/stats/daily", web::get().to(daily))
        .route("/admin/call-traces/{callId}", web::get().to(detail))
        .route(
            "/api/call-traces/log",
            web::post().to(super::trace_ingest::ingest),
        );
}

pub(crate) fn json_error(
    status: actix_web::http::StatusCode,
    msg: impl std::fmt::Display,
) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": msg.to_string() }))
}

pub(crate) fn bad_request(msg: impl std::fmt::Display) -> HttpResponse {
    json_error(actix_web::http::StatusCode::BAD_REQUEST, msg)
}

pub(crate) fn not_found(what: &str, id: &str) -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({ "error": format!("{what} not found"), "callId": id }))
}

/// A store failure is the server's problem but not a crash: 503 with the
/// reason, logged.
pub(crate) fn store_failed(e: StoreError) -> HttpResponse {
    tracing::error!(error = %e, "trace store read failed");
    json_error(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        format!("trace store: {e}"),
    )
}

/// Query parameters, last value wins; decoding never fails.
pub(crate) fn params(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// First present parameter among `names` (aliases).
pub(crate) fn param<'a>(
    p: &'a HashMap<String, String>,
    names: &[&str],
) -> Option<(&'a str, &'a str)> {
    names
        .iter()
        .find_map(|n| p.get_key_value(*n))
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// RFC 3339, or a plain `YYYY-MM-DD` (the start of that UTC day for a lower
/// bound, its last millisecond for an upper bound), or epoch milliseconds.
pub(crate) fn parse_date(name: &str, v: &str, upper: bool) -> Result<DateTime<Utc>, HttpResponse> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let time = if upper {
            NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
        } else {
            NaiveTime::from_hms_opt(0, 0, 0)
        };
        if let Some(t) = time {
            return Ok(day.and_time(t).and_utc());
        }
    }
    if let Some(d) = v
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
    {
        return Ok(d);
    }
    Err(bad_request(format!(
        "{name}: invalid date {v:?}; use RFC 3339 (2026-03-01T10:00:00Z) or YYYY-MM-DD"
    )))
}

/// Optional inclusive bounds on a start time.
pub(crate) type DateRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The date range of a request (`names` lists aliases for from and to).
pub(crate) fn date_range(
    p: &HashMap<String, String>,
    from_names: &[&str],
    to_names: &[&str],
) -> Result<DateRange, HttpResponse> {
    let from = param(p, from_names)
        .map(|(n, v)| parse_date(n, v, false))
        .transpose()?;
    let to = param(p, to_names)
        .map(|(n, v)| parse_date(n, v, true))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(bad_request(format!(
                "{} is after {}",
                from_names[0], to_names[0]
            )));
        }
    }
    Ok((from, to))
}

/// `page` (>= 1) and `limit` (>= 1, clamped to `max`).
pub(crate) fn paging(
    p: &HashMap<String, String>,
    limit_names: &[&str],
    default: u64,
    max: u64,
) -> Result<(u64, u64), HttpResponse> {
    let page = match p.get("page") {
        None => 1,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or_else(|| bad_request(format!("page: expected a positive integer, got {v:?}")))?,
    };
    let limit = match param(p, limit_names) {
        None => default,
        Some((name, v)) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_request(format!("{name}: expected a positive integer, got {v:?}")))?
            .min(max),
    };
    Ok((page, limit))
}

pub(crate) fn parse_outcome(v: &str) -> Result<Outcome, HttpResponse> {
    Outcome::parse(v).ok_or_else(|| {
        bad_request(format!("outcome: unknown value {v:?}; use ai_resolved, escalated_to_human, caller_hung_up or error"))
    })
}

pub(crate) fn pagination_json(page: &Page) -> serde_json::Value {
    serde_json::json!({
        "page": page.page,
        "limit": page.limit,
        "total": page.total,
        "pages": page.pages,
        "totalExact": page.total_exact,
    })
}

/// Read-side handlers run sled reads on the blocking pool, not on the HTTP
/// worker's event loop.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, HttpResponse> {
    match web::block(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_failed(e)),
        Err(e) => Err(json_error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("busy: {e}"),
        )),
    }
}

fn company_param(p: &HashMap<String, String>) -> Option<TenantId> {
    p.get("companyId").map(|c| TenantId::new(c.as_str()))
}

async fn list(caller: Caller, req: HttpRequest, api: web::Data<TraceApi>) -> HttpResponse {
    match list_inner(caller, &req, &api).await {
        Ok(r) | Err(r) => r,
    }
}

async fn list_inner(
    caller: Caller,
    req: &HttpRequest,
    api: &TraceApi,
) -> Result<HttpResponse, HttpResponse> {
    caller.require(Role::Viewer)?;
    let p = params(req);
    let company = caller.scope(company_param(&p))?;
    let (from, to) = date_range(&p, &["dateFrom"], &["dateTo"])?;
    let (page, limit) = paging(&p, &["limit"], 20, 100)?;
    let outcome = p.get("outcome").map(|v| parse_outcome(v)).transpose()?;
    let q = TraceQuery {
        company,
        from,
        to,
        outcome,
        page,
        limit,
        ..Default::default()
    };
    let store = api.store.clone();
    let page = blocking(move || store.list(&q)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "traces": page.items,
        "pagination": pagination_json(&page),
    })))
}

async fn detail(caller: Caller, id: web::Path<String>, api: web::Data<TraceApi>) -> HttpResponse {
    let inner = async {
        caller.require(Role::Viewer)?;
        let store = api.store.clone();
        let call_id = CallSid::new(id.as_str());
        let trace = blocking(move || store.get_trace(&call_id)).await?;
        match trace {
            Some(t) => {
                caller.require_tenant(&t.company_id)?;
                Ok(HttpResponse::Ok().json(t))
            }
            None => Err(not_found("call trace", &id)),
        }
    };
    match inner.await {
        Ok(r) | Err(r) => r,
    }
}

async fn daily(caller: Caller, req: HttpRequest, api: web::Data<TraceApi>) -> HttpResponse {
    let inner = async {
        caller.require(Role::Viewer)?;
        let p = params(&req);
        let company = caller.scope(company_param(&p))?;
        let (from, to) = date_range(&p, &["dateFrom"], &["dateTo"])?;
        let store = api.store.clone();
        let days = blocking(move || store.daily_stats(company.as_ref(), from, to)).await?;
        Ok(HttpResponse::Ok().json(days))
    };
    match inner.await {
        Ok(r) | Err(r) => r,
    }
}
