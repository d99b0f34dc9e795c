//! What every HTTP handler shares.

use crate::config::Config;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Instant;
use switchboard_actors::engine::EngineHandle;

pub struct AppState {
    pub config: Arc<Config>,
    pub engine: EngineHandle,
    pub metrics: Arc<Metrics>,
    /// Twilio auth token (signatures); None disables checks only when
    /// `twilio.validate_signatures` is false (validated at start-up).
    pub twilio_auth_token: Option<String>,
    /// Key for the per-call token parameter.
    pub call_token_secret: Vec<u8>,
    pub started: Instant,
}

impl AppState {
    pub fn validating(&self) -> bool {
        self.config.twilio.validate_signatures
    }
}
