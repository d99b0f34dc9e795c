//! Twilio's webhooks: `POST /twilio/voice` answers a new call with TwiML
//! that connects it to our media socket (or politely hangs up when the
//! engine is full); `POST /twilio/status` records status callbacks.
//! Both check `X-Twilio-Signature` unless explicitly switched off.

// The error side of these helpers is the HTTP answer itself, built once per
// request on a cold path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::state::AppState;
use crate::metrics::Metrics;
use crate::twilio;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::atomic::Ordering;
use switchboard_actors::call::CallMsg;
use switchboard_actors::ids::CallSid;
use switchboard_actors::supervisor::SupervisorMsg;

/// Form parameters in the order received (the signature sorts them itself).
type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parse the form body and check its signature; the error is the response.
fn verified_form(req: &HttpRequest, body: &[u8], state: &AppState) -> Result<Params, HttpResponse> {
    let params: Params = url::form_urlencoded::parse(body).into_owned().collect();
    if !state.validating() {
        return Ok(params);
    }
    let url = format!(
        "{}{}",
        state.config.server.public_url.trim_end_matches('/'),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let sig = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    let ok = match (state.twilio_auth_token.as_deref(), sig) {
        (Some(token), Some(sig)) => twilio::signature::validate(token, &url, &params, sig),
        _ => false,
    };
    if ok {
        Ok(params)
    } else {
        Metrics::inc(&state.metrics.webhook_bad_signature_total);
        tracing::warn!(%url, "webhook refused: bad or missing X-Twilio-Signature");
        Err(HttpResponse::Forbidden()
            .json(serde_json::json!({"error": "invalid X-Twilio-Signature"})))
    }
}

fn twiml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(body)
}

pub async fn voice(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let params = match verified_form(&req, &body, &state) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(call_sid) = param(&params, "CallSid").filter(|s| !s.is_empty()) else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({"error": "CallSid is required"}));
    };
    Metrics::inc(&state.metrics.webhook_voice_total);
    let active = state.engine.counters.active.load(Ordering::Relaxed);
    if active >= state.config.engine.max_calls {
        Metrics::inc(&state.metrics.webhook_rejected_full_total);
        tracing::warn!(%call_sid, active, "engine full: answering with a polite hang-up");
        return twiml(twilio::twiml::reject_politely(
            "Sorry, all of our agents are busy right now. Please call again in a few minutes. Goodbye.",
        ));
    }
    let tenant =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("tenant").cloned())
            .unwrap_or_else(|| state.config.twilio.default_tenant.clone());
    let token = twilio::token::call_token(&state.call_token_secret, call_sid);
    let mut stream_params = vec![("token".to_owned(), token), ("tenant".to_owned(), tenant)];
    for (name, field) in [("from", "From"), ("to", "To"), ("direction", "Direction")] {
        if let Some(v) = param(&params, field) {
            stream_params.push((name.to_owned(), v.to_owned()));
        }
    }
    let stream = stream_params.iter().fold(
        twilio::ConnectStream::new(&state.config.media_ws_url()),
        |s, (k, v)| s.and_then(|s| s.parameter(k, v)),
    );
    match stream {
        Ok(stream) => twiml(stream.to_xml()),
        Err(e) => HttpResponse::BadRequest().json(serde_json::json!({"error": e.to_string()})),
    }
}

pub async fn status(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = match verified_form(&req, &body, &state) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    Metrics::inc(&state.metrics.webhook_status_total);
    let call_sid = param(&params, "CallSid").unwrap_or_default();
    let status = param(&params, "CallStatus")
        .or(param(&params, "StreamEvent"))
        .unwrap_or_default();
    tracing::info!(%call_sid, %status, "status callback");
    // A call Twilio reports finished while we still hold it: the socket
    // may linger, so end the call now.
    if matches!(
        status,
        "completed" | "failed" | "busy" | "no-answer" | "canceled"
    ) {
        if let Some(sup) = state.engine.supervisor.get() {
            let sid = CallSid::new(call_sid);
            if let Ok(Some(link)) = ractor::call_t!(sup, SupervisorMsg::Lookup, 2_000, sid) {
                // Ignored: the call may end on its own meanwhile.
                let _ = link.cast(CallMsg::Stop);
            }
        }
    }
    HttpResponse::NoContent().finish()
}
