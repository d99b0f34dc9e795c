//! Pure audio for Switchboard: G.711, resampling, VAD, Opus and PCM helpers.
//!
//! No tokio, no clock, no sockets: every function takes samples or bytes and
//! returns samples, bytes or events, so the call machine above can drive it
//! with virtual time. Nothing here panics on any input (property-tested);
//! malformed data comes back as a typed error or is clipped.
//!
//! Inbound path of a call: Twilio µ-law bytes -> [`g711::ulaw_decode_into`]
//! -> 8 kHz PCM -> [`vad::Vad::push`] (upsamples to 16 kHz inside) and the
//! STT stream. Outbound: TTS audio at 8/16/24/48 kHz ->
//! [`resample::StreamResampler`] to 8 kHz -> [`g711::ulaw_encode_into`].

pub mod g711;
pub mod opus;
pub mod pcm;
pub mod resample;
pub mod vad;
mod vad_gate;
mod vad_upsample;
