//! The Media Streams messages a simulated caller sends (Twilio -> server,
//! PROTOCOLS.md 1.1) and a parser for what the server sends back (1.2).
//!
//! `media` frames are formatted by hand into a reused buffer with the
//! payload pre-encoded in the fixtures: 50 of them a second per call is the
//! load generator's hot path. The rare messages go through serde_json.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::json;

/// Identity of one simulated stream.
#[derive(Debug, Clone)]
pub struct StreamIds {
    pub account_sid: String,
    pub call_sid: String,
    pub stream_sid: String,
}

/// `connected`: the first frame, without sequence number.
pub fn connected() -> String {
    r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned()
}

/// `start` with the TwiML's `<Parameter>`s as customParameters.
pub fn start(seq: u64, ids: &StreamIds, params: &[(String, String)]) -> String {
    let custom: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    json!({
        "event": "start",
        "sequenceNumber": seq.to_string(),
        "streamSid": ids.stream_sid,
        "start": {
            "streamSid": ids.stream_sid,
            "accountSid": ids.account_sid,
            "callSid": ids.call_sid,
            "tracks": ["inbound"],
            "customParameters": custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
    })
    .to_string()
}

/// One inbound `media` frame, written into `out` (cleared first).
pub fn media_into(
    out: &mut String,
    seq: u64,
    stream_sid: &str,
    chunk: u64,
    ts_ms: u64,
    payload: &str,
) {
    out.clear();
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        r#"{{"event":"media","sequenceNumber":"{seq}","streamSid":"{stream_sid}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{ts_ms}","payload":"{payload}"}}}}"#
    );
}

/// `dtmf` for one key.
pub fn dtmf(seq: u64, stream_sid: &str, digit: &str) -> String {
    json!({
        "event": "dtmf",
        "sequenceNumber": seq.to_string(),
        "streamSid": stream_sid,
        "dtmf": {"track": "inbound_track", "digit": digit},
    })
    .to_string()
}

/// The echo of a `mark` the server sent.
pub fn mark(seq: u64, stream_sid: &str, name: &str) -> String {
    json!({
        "event": "mark",
        "sequenceNumber": seq.to_string(),
        "streamSid": stream_sid,
        "mark": {"name": name},
    })
    .to_string()
}

/// `stop`: the caller hung up.
pub fn stop(seq: u64, ids: &StreamIds) -> String {
    json!({
        "event": "stop",
        "sequenceNumber": seq.to_string(),
        "streamSid": ids.stream_sid,
        "stop": {"accountSid": ids.account_sid, "callSid": ids.call_sid},
    })
    .to_string()
}

/// A message from the server, as far as the caller cares.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// Bot audio: the number of mu-law bytes it carries.
    Media {
        bytes: usize,
    },
    Mark {
        name: String,
    },
    Clear,
    /// A well-formed message of another event type.
    Other,
}

/// Why a server message was not understood.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed server message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0} message without its body")]
    MissingBody(&'static str),
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    media: Option<RawMedia<'a>>,
    #[serde(borrow, default)]
    mark: Option<RawMark<'a>>,
}

#[derive(Deserialize)]
struct RawMedia<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawMark<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// Parses one server -> Twilio text frame without decoding the audio.
pub fn parse_server(text: &str) -> Result<ServerMessage, WireError> {
    let raw: RawMessage<'_> = serde_json::from_str(text)?;
    match raw.event.as_ref() {
        "media" => {
            let media = raw.media.ok_or(WireError::MissingBody("media"))?;
            Ok(ServerMessage::Media {
                bytes: base64_decoded_len(&media.payload),
            })
        }
        "mark" => {
            let mark = raw.mark.ok_or(WireError::MissingBody("mark"))?;
            Ok(ServerMessage::Mark {
                name: mark.name.into_owned(),
            })
        }
        "clear" => Ok(ServerMessage::Clear),
        _ => Ok(ServerMessage::Other),
    }
}

/// Decoded length of standard base64 text, from its length and padding.
pub fn base64_decoded_len(b64: &str) -> usize {
    let trimmed = b64.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn decoded_length_matches_real_decoding() {
        let b64 = base64::engine::general_purpose::STANDARD;
        for n in 0..40 {
            let text = b64.encode(vec![7u8; n]);
            assert_eq!(base64_decoded_len(&text), n);
        }
    }

    #[test]
    fn server_messages_parse() {
        let media = r#"{"event":"media","streamSid":"MZ1","media":{"payload":"//////8="}}"#;
        assert_eq!(
            parse_server(media).expect("valid"),
            ServerMessage::Media { bytes: 5 }
        );
        let mark = r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"r\"1"}}"#;
        assert_eq!(
            parse_server(mark).expect("valid"),
            ServerMessage::Mark {
                name: "r\"1".into()
            }
        );
        let clear = r#"{"event":"clear","streamSid":"MZ1"}"#;
        assert_eq!(parse_server(clear).expect("valid"), ServerMessage::Clear);
        assert!(parse_server(r#"{"event":"media"}"#).is_err());
        assert!(parse_server("{").is_err());
    }

    #[test]
    fn media_frame_is_valid_json_with_string_fields() {
        let mut out = String::new();
        media_into(&mut out, 7, "MZ1", 6, 100, "AAAA");
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["sequenceNumber"], "7");
        assert_eq!(v["media"]["chunk"], "6");
        assert_eq!(v["media"]["timestamp"], "100");
        assert_eq!(v["media"]["payload"], "AAAA");
    }
}
