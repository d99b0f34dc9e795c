//! Live sockets for supervisors: `GET /ws/events` (every call's events, or
//! one call's with `?call=`), and `GET /ws/calls/{id}/listen` (the call's
//! audio, both directions, as mu-law frames).
//!
//! Each subscriber reads its own bounded queue (see `EventHub`): a stalled
//! client loses the oldest events, is told how many (`{"type":"missed"}`)
//! and never slows a call. Browsers cannot set headers on a WebSocket, so
//! the key may also come as `?key=`.

use super::auth::{Caller, Role};
use super::state::AppState;
use crate::metrics::Metrics;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde::Deserialize;
use std::sync::Arc;
use switchboard_actors::call::AudioFrame;
use switchboard_actors::call::CallMsg;
use switchboard_actors::events::Published;
use switchboard_actors::ids::CallSid;
use switchboard_actors::supervisor::SupervisorMsg;
use tokio::sync::broadcast::{self, error::RecvError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/events", web::get().to(events))
        .route("/ws/calls/{id}/listen", web::get().to(listen));
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    call: Option<String>,
}

async fn events(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    q: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if let Err(resp) = caller.require(Role::Viewer) {
        return Ok(resp);
    }
    let (response, session, incoming) = actix_ws::handle(&req, body)?;
    let rx = state.engine.events.subscribe();
    let only_call = q.into_inner().call.map(CallSid::new);
    let metrics = state.metrics.clone();
    actix_web::rt::spawn(async move {
        let hello = serde_json::json!({"type": "subscribed", "call": only_call.as_ref().map(|c| c.as_str())});
        let mut session = session;
        if session.text(hello.to_string()).await.is_err() {
            return;
        }
        let render = |p: &Arc<Published>| {
            if caller.company.as_ref().is_some_and(|c| c != &p.tenant)
                || only_call.as_ref().is_some_and(|c| c != p.event.call_id())
            {
                return None;
            }
            let mut v = serde_json::to_value(&p.event).unwrap_or_default();
            v["seq"] = p.seq.into();
            v["tenant"] = p.tenant.as_str().into();
            Some(v.to_string())
        };
        forward(session, incoming, rx, &metrics, "type", render).await;
    });
    Ok(response)
}

async fn listen(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    if let Err(resp) = caller.require(Role::Supervisor) {
        return Ok(resp);
    }
    let Some(sup) = state.engine.supervisor.get() else {
        return Ok(HttpResponse::ServiceUnavailable().finish());
    };
    let link = ractor::call_t!(sup, SupervisorMsg::Lookup, 2_000, CallSid::new(id.as_str()))
        .ok()
        .flatten();
    let Some(actor) = link.and_then(|l| l.get()) else {
        return Ok(HttpResponse::NotFound().json(serde_json::json!({"error": "no such live call"})));
    };
    let Ok(rx) = ractor::call_t!(actor, CallMsg::Listen, 2_000) else {
        return Ok(HttpResponse::Conflict().json(serde_json::json!({"error": "call is ending"})));
    };
    let (response, session, incoming) = actix_ws::handle(&req, body)?;
    let metrics = state.metrics.clone();
    actix_web::rt::spawn(async move {
        let render = |f: &AudioFrame| {
            let payload = base64::engine::general_purpose::STANDARD.encode(&f.ulaw);
            Some(
                serde_json::json!({"event": "media", "track": f.track, "payload": payload})
                    .to_string(),
            )
        };
        forward(session, incoming, rx, &metrics, "event", render).await;
    });
    Ok(response)
}

/// Copy a broadcast feed to a socket until either side ends. A receiver that
/// fell behind is told how many items it missed (`{"<key>":"missed"}`);
/// `render` drops an item by returning None.
async fn forward<T: Clone>(
    mut session: actix_ws::Session,
    mut incoming: actix_ws::MessageStream,
    mut rx: broadcast::Receiver<T>,
    metrics: &Metrics,
    key: &str,
    render: impl Fn(&T) -> Option<String>,
) {
    use futures_util::StreamExt;
    loop {
        tokio::select! {
            item = rx.recv() => {
                let text = match item {
                    Ok(item) => match render(&item) {
                        Some(text) => text,
                        None => continue,
                    },
                    Err(RecvError::Lagged(n)) => {
                        metrics.events_ws_lagged_total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                        serde_json::json!({key: "missed", "count": n}).to_string()
                    }
                    Err(RecvError::Closed) => break,
                };
                if session.text(text).await.is_err() { break; }
            }
            msg = incoming.next() => match msg {
                Some(Ok(actix_ws::Message::Ping(b))) if session.pong(&b).await.is_err() => break,
                Some(Ok(actix_ws::Message::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            }
        }
    }
    let _ = session.close(None).await;
}
