//! One phone call: the sans-IO [`Call`] machine and the actor that drives it.

mod actor;
mod config;
mod control;
mod escalation;
mod inbound;
mod io;
mod machine;
mod marks;
mod outbound;
mod pacer;
mod phrases;
mod playback;
mod reply;
mod sentences;
mod sentiment;
mod turn;

pub use actor::{
    AudioFrame, CallActor, CallArgs, CallDeps, CallMsg, CallSnapshot, CallStart, Escalator,
    NoEscalator, TransportTx,
};
pub use config::{CallConfig, EscalationConfig, VadSettings, VoicemailConfig};
pub use io::{
    Checkpoint, Command, Input, LiveEvent, LlmRequest, Outbound, Output, RouteRequest, StartInfo,
    SupervisorCommand,
};
pub use machine::{Call, CallState};
pub use marks::{MarkEntry, MarkLedger};
pub use sentences::SentenceSplitter;
pub use sentiment::score as sentiment_score;
