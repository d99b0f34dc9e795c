//! Supervisor controls on live calls (issue 7): intervene (say, instruct,
//! pause, resume, takeover), escalate, end. Each reaches the CallActor
//! through the registry, is recorded in the trace by the call itself (who,
//! what, when), and is answered with the resulting call state.

// The error side of these helpers is the HTTP answer itself, built once per
// request on a cold path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::auth::{Caller, Role};
use super::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use switchboard_actors::call::{CallMsg, Command, SupervisorCommand};
use switchboard_actors::ids::CallSid;
use switchboard_actors::supervisor::SupervisorMsg;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/calls/{id}/intervene", web::post().to(intervene))
        .route("/api/v1/calls/{id}/escalate", web::post().to(escalate))
        .route("/api/v1/calls/{id}/end", web::post().to(end))
        .route(
            "/api/v1/calls/{id}/debug/panic",
            web::post().to(debug_panic),
        );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterveneBody {
    mode: String,
    text: Option<String>,
    /// For `say`: interrupt now (default) or queue after the current reply.
    #[serde(default = "yes")]
    now: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateBody {
    target: String,
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    reason: Option<String>,
}

fn bad_request(msg: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({ "error": msg.to_string() }))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, HttpResponse> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid body: {e}")))
}

fn intervene_command(body: InterveneBody) -> Result<SupervisorCommand, HttpResponse> {
    let text = || {
        body.text
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| bad_request(format!("mode {} needs a non-empty text", body.mode)))
    };
    Ok(match body.mode.as_str() {
        "say" => SupervisorCommand::Say {
            text: text()?,
            now: body.now,
        },
        "instruct" => SupervisorCommand::Instruct { text: text()? },
        "pause" => SupervisorCommand::Pause,
        "resume" => SupervisorCommand::Resume,
        "takeover" => SupervisorCommand::Takeover,
        other => {
            return Err(bad_request(format!(
                "unknown mode {other:?}; use say, instruct, pause, resume or takeover"
            )))
        }
    })
}

async fn intervene(
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let command = match parse::<InterveneBody>(&body).and_then(intervene_command) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    act(caller, &id, command, &state).await
}

async fn escalate(
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body = match parse::<EscalateBody>(&body) {
        Ok(b) if !b.target.trim().is_empty() => b,
        Ok(_) => return bad_request("target must not be empty"),
        Err(resp) => return resp,
    };
    act(
        caller,
        &id,
        SupervisorCommand::Escalate {
            target: body.target,
            reason: body.reason,
        },
        &state,
    )
    .await
}

async fn end(
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let body = if body.is_empty() {
        EndBody::default()
    } else {
        match parse::<EndBody>(&body) {
            Ok(b) => b,
            Err(resp) => return resp,
        }
    };
    act(
        caller,
        &id,
        SupervisorCommand::End {
            reason: body.reason,
        },
        &state,
    )
    .await
}

/// Fault injection for the restart tests; 404 unless `engine.debug_routes`.
async fn debug_panic(
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !state.config.engine.debug_routes {
        return HttpResponse::NotFound().finish();
    }
    if let Err(resp) = caller.require(Role::Admin) {
        return resp;
    }
    match lookup(&state, &id).await {
        Some(link) => {
            let _ = link.cast(CallMsg::Crash);
            HttpResponse::Accepted()
                .json(serde_json::json!({ "callId": id.as_str(), "injected": "panic" }))
        }
        None => HttpResponse::NotFound().json(serde_json::json!({ "error": "no such live call" })),
    }
}

async fn lookup(state: &AppState, id: &str) -> Option<switchboard_actors::slot::Slot<CallMsg>> {
    let sup = state.engine.supervisor.get()?;
    ractor::call_t!(sup, SupervisorMsg::Lookup, 2_000, CallSid::new(id))
        .ok()
        .flatten()
}

async fn act(
    caller: Caller,
    id: &str,
    command: SupervisorCommand,
    state: &AppState,
) -> HttpResponse {
    if let Err(resp) = caller.require(Role::Supervisor) {
        return resp;
    }
    let stored = state
        .engine
        .store
        .get_trace(&CallSid::new(id))
        .ok()
        .flatten();
    if let (Some(company), Some(trace)) = (&caller.company, &stored) {
        if &trace.company_id != company {
            return HttpResponse::Forbidden()
                .json(serde_json::json!({ "error": "call belongs to another tenant" }));
        }
    }
    let Some(link) = lookup(state, id).await else {
        return match stored {
            Some(_) => HttpResponse::Conflict()
                .json(serde_json::json!({ "error": "call has ended", "callId": id })),
            None => HttpResponse::NotFound()
                .json(serde_json::json!({ "error": "unknown call", "callId": id })),
        };
    };
    let Some(actor) = link.get() else {
        return HttpResponse::Conflict()
            .json(serde_json::json!({ "error": "call is ending", "callId": id }));
    };
    let cmd = Command {
        who: caller.key_name.clone(),
        command,
    };
    match ractor::call_t!(actor, CallMsg::Command, 5_000, cmd) {
        Ok(snapshot) => HttpResponse::Ok().json(snapshot),
        Err(e) => HttpResponse::Conflict()
            .json(serde_json::json!({ "error": format!("call did not take the command: {e}") })),
    }
}
