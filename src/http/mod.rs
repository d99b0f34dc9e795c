//! HTTP edge: actix-web routes and the Twilio media WebSocket.
//!
//! Handlers only `cast` or `call` into actor refs; they never spawn actors
//! (an actor spawned on an actix worker would be pinned to its thread).

pub mod auth;
pub mod calls_api;
pub mod interactions;
pub mod live;
pub mod media;
pub mod ops;
pub mod state;
pub mod supervise;
pub mod trace_ingest;
pub mod traces;
pub mod twilio_hooks;

use actix_web::web;

/// Every route of the engine. `state` is the shared [`state::AppState`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/twilio/voice", web::post().to(twilio_hooks::voice))
        .route("/twilio/status", web::post().to(twilio_hooks::status))
        .route("/twilio/media", web::get().to(media::media_socket))
        .configure(ops::routes)
        .configure(supervise::routes)
        .configure(live::routes)
        .configure(traces::routes)
        .configure(calls_api::routes);
}
