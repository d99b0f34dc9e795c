//! `POST /api/call-traces/log`: a trace from an external runtime (seed 000's
//! "save call trace").
//!
//! Validation names every bad field (`400 {"error", "fields": [{"field",
//! "message"}]}`): each given field is checked on its own against the
//! model, with omitted and `null` fields taking the model's defaults, so a
//! partial seed-000 body is accepted. `stats` and `totalDurationMs` are
//! always recomputed server-side ([`CallTrace::recompute_stats`]).
//!
//! Idempotency: the route is an upsert on `callId`. A first POST answers
//! 201 (`created: true`), a repeat replaces the stored trace and answers 200
//! (`created: false`), so a runtime may retry freely. A `callId` already
//! stored under another companyId is refused with 409 and left untouched.

// Handlers answer refusals as ready-made responses: helpers return
// `Result<_, HttpResponse>` so a handler can `?` straight into its reply.
// The error path is cold and per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::auth::{Caller, Role};
use super::traces::{blocking, TraceApi};
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;
use switchboard_actors::store::keys::valid_id;
use switchboard_actors::trace::{
    CallStatus, CallTrace, Escalation, Interruption, LlmCallRecord, RestartRecord,
    SupervisorActionRecord, Turn,
};

/// Longest list accepted in one trace (turns, LLM calls ...).
const MAX_ITEMS: usize = 10_000;

#[derive(Debug, Serialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) async fn ingest(
    caller: Caller,
    body: web::Bytes,
    api: web::Data<TraceApi>,
) -> HttpResponse {
    match ingest_inner(caller, &body, &api).await {
        Ok(r) | Err(r) => r,
    }
}

async fn ingest_inner(
    caller: Caller,
    body: &[u8],
    api: &TraceApi,
) -> Result<HttpResponse, HttpResponse> {
    caller.require(Role::Admin)?;
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(vec![err("body", format!("not JSON: {e}"))]))?;
    let (trace, ignored) = validate(&value, chrono::Utc::now()).map_err(invalid)?;
    caller.require_tenant(&trace.company_id)?;
    let store = api.store.clone();
    let id = trace.call_id.clone();
    let existing = blocking(move || store.summary(&id)).await?;
    if let Some(old) = &existing {
        if old.company_id != trace.company_id {
            return Err(HttpResponse::Conflict().json(serde_json::json!({
                "error": "callId is already stored under another companyId",
                "callId": trace.call_id,
            })));
        }
    }
    let (call_id, stats) = (trace.call_id.clone(), trace.stats.clone());
    write(api, trace).await?;
    let body = serde_json::json!({
        "success": true,
        "callId": call_id,
        "created": existing.is_none(),
        "stats": stats,
        "ignoredFields": ignored,
    });
    Ok(if existing.is_none() {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn invalid(fields: Vec<FieldError>) -> HttpResponse {
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    HttpResponse::BadRequest().json(serde_json::json!({
        "error": format!("invalid call trace: {}", names.join(", ")),
        "fields": fields,
    }))
}

/// Through the sink (confirmed = flushed) when the engine runs, else
/// straight to the store and flushed.
async fn write(api: &TraceApi, trace: CallTrace) -> Result<(), HttpResponse> {
    let unavailable =
        |e: String| super::traces::json_error(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, e);
    if let Some(slot) = &api.sink {
        let sink = slot
            .get()
            .ok_or_else(|| unavailable("trace sink is restarting; retry".into()))?;
        return switchboard_actors::trace_sink::finish_trace(&sink, trace, Duration::from_secs(10))
            .await
            .map_err(unavailable);
    }
    let store = api.store.clone();
    blocking(move || {
        store.put_trace(&trace)?;
        store.flush()
    })
    .await
}

/// The trace a body describes, plus the top-level fields it ignored; or
/// every problem found.
pub fn validate(
    body: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(CallTrace, Vec<String>), Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![err("body", "must be a JSON object")]);
    };
    let mut errs = Vec::new();
    for key in ["callId", "companyId"] {
        match obj.get(key) {
            Some(Value::String(s)) if valid_id(s) => {}
            Some(Value::String(_)) => errs.push(err(
                key,
                "must be 1-256 characters without control characters",
            )),
            _ => errs.push(err(key, "required string")),
        }
    }
    let mut given = obj.clone();
    given.remove("stats");
    given.remove("totalDurationMs");
    if matches!(given.get("startedAt"), None | Some(Value::Null)) {
        given.insert("startedAt".into(), Value::String(now.to_rfc3339()));
    }
    if matches!(given.get("status"), None | Some(Value::Null)) {
        given.insert(
            "status".into(),
            serde_json::to_value(CallStatus::Ended).unwrap_or(Value::Null),
        );
    }
    check_channel(&given, &mut errs);
    let started = given.get("startedAt").cloned().unwrap_or(Value::Null);
    list::<Turn>(&mut given, "turns", Some(&started), &mut errs);
    list::<LlmCallRecord>(&mut given, "llmCalls", None, &mut errs);
    list::<Interruption>(&mut given, "interruptions", None, &mut errs);
    list::<SupervisorActionRecord>(&mut given, "supervisorActions", None, &mut errs);
    list::<RestartRecord>(&mut given, "restarts", None, &mut errs);
    if let Some(e @ Value::Object(_)) = given.get("escalation").cloned() {
        if let Some(merged) = check_object::<Escalation>("escalation", &e, &mut errs) {
            given.insert("escalation".into(), merged);
        }
    }
    let default_keys = defaults::<CallTrace>();
    let ignored: Vec<String> = given
        .keys()
        .filter(|k| !default_keys.contains_key(*k))
        .cloned()
        .collect();
    let merged = check_object::<CallTrace>("", &Value::Object(given), &mut errs);
    let trace = merged.and_then(|m| serde_json::from_value::<CallTrace>(m).ok());
    match trace {
        Some(mut t) if errs.is_empty() => {
            if t.ended_at.is_some_and(|e| e < t.started_at) {
                return Err(vec![err("endedAt", "is before startedAt")]);
            }
            t.recompute_stats();
            Ok((t, ignored))
        }
        _ => Err(errs),
    }
}

fn check_channel(given: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    match given.get("channel") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if ["voice", "sms", "chat"].contains(&c.as_str()) => {}
        Some(_) => errs.push(err("channel", "must be voice, sms or chat")),
    }
}

/// Validate each element of the array `key` as a `T`, replacing it with its
/// defaults-filled form. Turns get their index and timestamp filled in.
fn list<T: DeserializeOwned + Serialize + Default>(
    given: &mut Map<String, Value>,
    key: &str,
    started: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    let items = match given.get(key) {
        None | Some(Value::Null) => return,
        Some(Value::Array(items)) if items.len() <= MAX_ITEMS => items.clone(),
        Some(Value::Array(_)) => return errs.push(err(key, format!("at most {MAX_ITEMS} items"))),
        Some(_) => return errs.push(err(key, "must be an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        if let (Some(start), Value::Object(o)) = (started, &mut item) {
            o.entry("turnIndex").or_insert_with(|| Value::from(i + 1));
            if matches!(o.get("timestamp"), None | Some(Value::Null)) {
                o.insert("timestamp".into(), start.clone());
            }
        }
        if let Some(m) = check_object::<T>(&format!("{key}[{i}]"), &item, errs) {
            out.push(m);
        }
    }
    given.insert(key.into(), Value::Array(out));
}

fn defaults<T: Serialize + Default>() -> Map<String, Value> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// `given` over `T`'s defaults (nulls keep the default); each known field is
/// deserialised on its own so that errors name it. Returns the merged value
/// when every field is valid.
fn check_object<T: DeserializeOwned + Serialize + Default>(
    path: &str,
    given: &Value,
    errs: &mut Vec<FieldError>,
) -> Option<Value> {
    let Some(obj) = given.as_object() else {
        errs.push(err(path, "must be an object"));
        return None;
    };
    let base = defaults::<T>();
    let mut merged = base.clone();
    let before = errs.len();
    for (k, v) in obj {
        let value = match (base.get(k), v) {
            (Some(_), Value::Null) => continue,
            (Some(Value::Object(d)), Value::Object(o)) => Value::Object(overlay(d, o)),
            _ => v.clone(),
        };
        if base.contains_key(k) {
            let mut probe = base.clone();
            probe.insert(k.clone(), value.clone());
            if let Err(e) = serde_json::from_value::<T>(Value::Object(probe)) {
                let field = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                errs.push(err(field, e.to_string()));
            }
        }
        merged.insert(k.clone(), value);
    }
    (errs.len() == before).then_some(Value::Object(merged))
}

fn overlay(base: &Map<String, Value>, given: &Map<String, Value>) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in given {
        if !(v.is_null() && base.contains_key(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_772_000_000, 0).expect("valid time")
    }

    #[test]
    fn seed_000_body_with_nulls_and_partial_turns_is_accepted() {
        let body = json!({
            "callId": "CA1", "companyId": "acme", "channel": "voice", "callerNumber": "+15550001",
            "startedAt": "2026-03-01T10:00:00Z", "endedAt": "2026-03-01T10:01:00Z",
            "turns": [{"userInput": {"text": "hi", "asrConfidence": null},
                       "aiBrain": {"tierUsed": 3, "responseText": null},
                       "flags": {"nullResponse": true}}],
            "llmCalls": [{"model": "gpt-4o-mini", "costUsd": 0.002}],
            "finalOutcome": "escalated_to_human", "stats": {"totalTurns": 99}, "_id": "x"
        });
        let (t, ignored) = validate(&body, now()).expect("valid body");
        assert_eq!(t.stats.total_turns, 1);
        assert_eq!((t.stats.tier3_hits, t.stats.null_responses), (1, 1));
        assert_eq!(t.total_duration_ms, Some(60_000));
        assert_eq!(t.turns[0].turn_index, 1);
        assert_eq!(t.turns[0].timestamp, t.started_at);
        assert_eq!(ignored, vec!["_id".to_owned()]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let body = json!({
            "callId": "", "startedAt": "yesterday", "finalOutcome": "great",
            "channel": "fax", "turns": [{"aiBrain": {"tierUsed": "one"}}, 5]
        });
        let errs = validate(&body, now()).expect_err("invalid body");
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "callId",
            "companyId",
            "startedAt",
            "finalOutcome",
            "channel",
            "turns[0].aiBrain",
            "turns[1]",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn end_before_start_is_rejected() {
        let body = json!({"callId": "CA1", "companyId": "acme", "startedAt": "2026-03-01T10:00:00Z", "endedAt": "2026-03-01T09:00:00Z"});
        let errs = validate(&body, now()).expect_err("end before start");
        assert_eq!(errs[0].field, "endedAt");
    }
}
