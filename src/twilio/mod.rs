//! Twilio's wire: Media Streams messages in both directions, webhook
//! signatures, TwiML, webhook form parameters, per-call tokens, and the
//! per-socket frame guard. Pure and sans-IO: no sockets, no clock (time comes
//! in as `now`), so the HTTP transport, the load generator's simulated
//! callers and the tests all share one definition of the protocol.
//!
//! Inbound flow on a media socket: text frame -> [`FrameGuard::screen_text`]
//! (size, rate, order) -> [`Inbound`] borrowing the frame -> the transport
//! forwards it to the call; [`Media::decode_payload_into`] turns the base64
//! payload into mu-law bytes in a reused buffer. Outbound: the transport
//! writes [`write_media`] / [`write_mark`] / [`write_clear`] into a reused
//! `String`. The simulated caller uses [`TwilioStream`] and
//! [`parse_server_frame`] for the other side.

pub mod caller;
pub mod error;
pub mod guard;
pub mod media;
pub mod outbound;
pub mod signature;
pub mod token;
pub mod twiml;
pub mod webhook;
pub mod wire;

pub use caller::TwilioStream;
pub use error::FrameError;
pub use guard::{FrameGuard, GuardConfig, IgnoreReason, RateLimiter, Verdict, WireKind};
pub use media::{
    parse_inbound, Connected, Dtmf, Inbound, InboundKind, Mark, Media, MediaFormat, Start, Stop,
    Track, MAX_PAYLOAD_BYTES,
};
pub use outbound::{parse_server_frame, write_clear, write_mark, write_media, ServerFrame};
pub use signature::{compute_signature, validate, validate_json_body, validate_ws_upgrade};
pub use token::{call_token, verify_call_token};
pub use twiml::{ConnectStream, Dial, DialTarget, TwimlError};
pub use webhook::{form_pairs, StatusCallback, StreamStatusCallback, VoiceWebhook};
