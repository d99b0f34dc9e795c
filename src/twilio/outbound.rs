//! Media Streams messages the server sends to Twilio (PROTOCOLS.md 1.2):
//! `media`, `mark`, `clear`.
//!
//! The engine side writes them with [`write_media`], [`write_mark`] and
//! [`write_clear`] into a `String` the transport reuses, so a 20 ms frame
//! costs no allocation once the buffer has grown. The simulated Twilio
//! caller reads them back with [`parse_server_frame`], which goes through the
//! same wire structs as everything else.

use super::error::FrameError;
use super::media::{decode_base64, decoded_len, required, BASE64};
use super::wire::{RawServerFrame, WireStr};
use base64::Engine as _;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Appends `s` as a JSON string literal (quotes included) to `out`.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[plain_from..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        plain_from = i + c.len_utf8();
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// Replaces `out` with `{"event":"media","streamSid":..,"media":{"payload":..}}`
/// carrying `ulaw` (8 kHz mu-law) as base64.
pub fn write_media(out: &mut String, stream_sid: &str, ulaw: &[u8]) {
    out.clear();
    out.push_str(r#"{"event":"media","streamSid":"#);
    write_json_str(out, stream_sid);
    out.push_str(r#","media":{"payload":""#);
    BASE64.encode_string(ulaw, out);
    out.push_str(r#""}}"#);
}

/// Replaces `out` with `{"event":"mark","streamSid":..,"mark":{"name":..}}`.
pub fn write_mark(out: &mut String, stream_sid: &str, name: &str) {
    out.clear();
    out.push_str(r#"{"event":"mark","streamSid":"#);
    write_json_str(out, stream_sid);
    out.push_str(r#","mark":{"name":"#);
    write_json_str(out, name);
    out.push_str("}}");
}

/// Replaces `out` with `{"event":"clear","streamSid":..}`.
pub fn write_clear(out: &mut String, stream_sid: &str) {
    out.clear();
    out.push_str(r#"{"event":"clear","streamSid":"#);
    write_json_str(out, stream_sid);
    out.push('}');
}

/// A message the server sent to Twilio, as the simulated caller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    /// Audio to play, base64 8 kHz mu-law, still encoded.
    Media {
        stream_sid: Cow<'a, str>,
        payload: Cow<'a, str>,
    },
    /// Echo `name` once the audio queued before it has played.
    Mark {
        stream_sid: Cow<'a, str>,
        name: Cow<'a, str>,
    },
    /// Drop all queued audio and echo every pending mark.
    Clear { stream_sid: Cow<'a, str> },
    /// Twilio answers this with error 31924; the simulator records it.
    Unknown { event: Cow<'a, str> },
}

impl ServerFrame<'_> {
    pub fn stream_sid(&self) -> Option<&str> {
        match self {
            ServerFrame::Media { stream_sid, .. }
            | ServerFrame::Mark { stream_sid, .. }
            | ServerFrame::Clear { stream_sid } => Some(stream_sid),
            ServerFrame::Unknown { .. } => None,
        }
    }

    /// Decodes a `media` payload into `out`; any other frame decodes to 0 bytes.
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.clear();
        if let ServerFrame::Media { payload, .. } = self {
            out.resize(decoded_len(payload)?, 0);
            let n = decode_base64(payload, out)?;
            out.truncate(n);
        }
        Ok(())
    }
}

/// Parses one text frame the server sent (the simulated Twilio side).
pub fn parse_server_frame(text: &str) -> Result<ServerFrame<'_>, FrameError> {
    let raw: RawServerFrame<'_> = serde_json::from_str(text)?;
    let event = raw
        .event
        .as_ref()
        .ok_or(FrameError::MissingField("event"))?;
    Ok(match &*event.0 {
        "media" => {
            let media = raw.media.ok_or(FrameError::MissingField("media"))?;
            ServerFrame::Media {
                stream_sid: required(raw.stream_sid, "streamSid")?,
                payload: required(media.payload, "media.payload")?,
            }
        }
        "mark" => {
            let mark = raw.mark.ok_or(FrameError::MissingField("mark"))?;
            ServerFrame::Mark {
                stream_sid: required(raw.stream_sid, "streamSid")?,
                name: required(mark.name, "mark.name")?,
            }
        }
        "clear" => ServerFrame::Clear {
            stream_sid: required(raw.stream_sid, "streamSid")?,
        },
        _ => ServerFrame::Unknown {
            event: raw.event.map(WireStr::into_cow).unwrap_or_default(),
        },
    })
}
