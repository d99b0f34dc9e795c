//! Deepgram live-transcription messages (PROTOCOLS.md section 6): the URL
//! the client opens, the control messages it sends, and the parsing of the
//! server's JSON into [`SttEvent`]s. Pure functions, shared by the client and
//! the mock server so both speak exactly the same dialect.

use serde::{Deserialize, Serialize};
use switchboard_actors::providers::SttEvent;

/// `{"type":"KeepAlive"}`: keeps an idle stream open (send every 3-5 s).
pub const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
/// `{"type":"Finalize"}`: flush what was heard so far.
pub const FINALIZE: &str = r#"{"type":"Finalize"}"#;
/// `{"type":"CloseStream"}`: flush, send Metadata, close.
pub const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;

/// WebSocket settings for one live-transcription connection, client or
/// mock server: tungstenite's defaults allocate a 128 KiB read buffer per
/// connection, which thousands of calls cannot afford; messages here are a
/// few KiB, and anything past 1 MiB is a broken peer.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// A word of a transcript alternative.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
    #[serde(default)]
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub punctuated_word: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    #[serde(default)]
    pub transcript: String,
    #[serde(default)]
    pub confidence: f64,
    #[serde(default)]
    pub words: Vec<Word>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}

/// The server messages this engine reads (unknown types are ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    Results {
        #[serde(default)]
        channel_index: Vec<u32>,
        #[serde(default)]
        start: f64,
        #[serde(default)]
        duration: f64,
        #[serde(default)]
        is_final: bool,
        #[serde(default)]
        speech_final: bool,
        #[serde(default)]
        from_finalize: bool,
        #[serde(default)]
        channel: Channel,
    },
    UtteranceEnd {
        #[serde(default)]
        channel: Vec<u32>,
        #[serde(default)]
        last_word_end: f64,
    },
    SpeechStarted {
        #[serde(default)]
        channel: Vec<u32>,
        #[serde(default)]
        timestamp: f64,
    },
    Metadata {
        #[serde(default)]
        request_id: String,
        #[serde(default)]
        duration: f64,
        #[serde(default)]
        channels: u32,
    },
    /// Deepgram reports some failures as a JSON message before closing.
    Error {
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        variant: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("bad Deepgram message: {0}")]
pub struct WireError(String);

/// Parses one text frame. `Ok(None)` for messages the engine does not use
/// (Metadata, unknown types, empty interim transcripts of silence).
pub fn parse_server_message(text: &str) -> Result<Option<SttEvent>, WireError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| WireError(e.to_string()))?;
    let known = matches!(
        value.get("type").and_then(|t| t.as_str()),
        Some("Results" | "UtteranceEnd" | "SpeechStarted" | "Metadata" | "Error")
    );
    if !known {
        return Ok(None);
    }
    let msg: ServerMessage = serde_json::from_value(value).map_err(|e| WireError(e.to_string()))?;
    Ok(to_event(msg))
}

fn to_event(msg: ServerMessage) -> Option<SttEvent> {
    match msg {
        ServerMessage::Results {
            start,
            duration,
            is_final,
            speech_final,
            from_finalize,
            channel,
            ..
        } => {
            let alt = channel.alternatives.into_iter().next().unwrap_or_default();
            // Deepgram sends empty Results for silence; only an empty
            // speech_final or the answer to a Finalize carries news (the
            // endpoint, or "nothing more is coming").
            if alt.transcript.is_empty() && !speech_final && !from_finalize {
                return None;
            }
            Some(SttEvent::Transcript {
                text: alt.transcript,
                confidence: alt.confidence as f32,
                is_final,
                speech_final,
                from_finalize,
                start_s: start,
                duration_s: duration,
            })
        }
        ServerMessage::UtteranceEnd { last_word_end, .. } => Some(SttEvent::UtteranceEnd {
            last_word_end_s: last_word_end,
        }),
        ServerMessage::SpeechStarted { timestamp, .. } => Some(SttEvent::SpeechStarted {
            timestamp_s: timestamp,
        }),
        ServerMessage::Metadata { .. } => None,
        ServerMessage::Error {
            description,
            message,
            variant,
        } => Some(SttEvent::Error {
            message: [variant, message, description]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        }),
    }
}

/// Query parameters of the listen URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenParams<'a> {
    pub model: &'a str,
    pub language: Option<&'a str>,
    pub endpointing_ms: u32,
    pub utterance_end_ms: u32,
    pub smart_format: bool,
}

/// `{base}/v1/listen?...` for 8 kHz mono mu-law with interim results,
/// endpointing, UtteranceEnd and VAD events. `base` is `wss://host` or
/// `ws://host:port` (an `https`/`http` base is turned into `wss`/`ws`).
pub fn listen_url(base: &str, p: &ListenParams<'_>) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("model", p.model)
        .append_pair("encoding", "mulaw")
        .append_pair("sample_rate", "8000")
        .append_pair("channels", "1")
        .append_pair("interim_results", "true")
        .append_pair("endpointing", &p.endpointing_ms.to_string())
        .append_pair("utterance_end_ms", &p.utterance_end_ms.to_string())
        .append_pair("vad_events", "true");
    if p.smart_format {
        q.append_pair("smart_format", "true");
    }
    if let Some(lang) = p.language {
        q.append_pair("language", lang);
    }
    format!("{base}/v1/listen?{}", q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_become_transcripts_with_finality() {
        let text = r#"{"type":"Results","channel_index":[0,1],"duration":1.2,"start":0.5,"is_final":true,"speech_final":true,
            "channel":{"alternatives":[{"transcript":"what are your hours","confidence":0.97,"words":[]}]},
            "metadata":{"request_id":"r","model_info":{"name":"n","version":"v","arch":"a"},"model_uuid":"u"}}"#;
        let ev = parse_server_message(text)
            .expect("valid JSON")
            .expect("a transcript");
        assert_eq!(
            ev,
            SttEvent::Transcript {
                text: "what are your hours".into(),
                confidence: 0.97,
                is_final: true,
                speech_final: true,
                from_finalize: false,
                start_s: 0.5,
                duration_s: 1.2
            }
        );
    }

    #[test]
    fn empty_interim_and_metadata_and_unknown_types_are_skipped() {
        let empty =
            r#"{"type":"Results","is_final":false,"channel":{"alternatives":[{"transcript":""}]}}"#;
        assert_eq!(parse_server_message(empty).expect("valid"), None);
        let meta = r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"x","sha256":"","created":"","duration":3.0,"channels":1}"#;
        assert_eq!(parse_server_message(meta).expect("valid"), None);
        assert_eq!(
            parse_server_message(r#"{"type":"Whatever"}"#).expect("valid"),
            None
        );
    }

    #[test]
    fn an_empty_answer_to_finalize_is_passed_on_as_the_end_of_the_audio() {
        let text = r#"{"type":"Results","is_final":true,"speech_final":false,"from_finalize":true,"channel":{"alternatives":[{"transcript":"","confidence":0.0,"words":[]}]}}"#;
        let ev = parse_server_message(text).expect("valid").expect("kept");
        assert!(matches!(
            ev,
            SttEvent::Transcript {
                is_final: true,
                from_finalize: true,
                ref text,
                ..
            } if text.is_empty()
        ));
    }

    #[test]
    fn utterance_end_and_speech_started_are_read() {
        let ue =
            parse_server_message(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.5}"#);
        assert_eq!(
            ue.expect("valid"),
            Some(SttEvent::UtteranceEnd {
                last_word_end_s: 2.5
            })
        );
        let ss = parse_server_message(r#"{"type":"SpeechStarted","channel":[0],"timestamp":0.3}"#);
        assert_eq!(
            ss.expect("valid"),
            Some(SttEvent::SpeechStarted { timestamp_s: 0.3 })
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_server_message("{not json").is_err());
        assert!(parse_server_message(r#"{"type":"Results","is_final":"yes"}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = parse_server_message(&text);
        }

        #[test]
        fn results_with_odd_field_values_never_panic(start in proptest::num::f64::ANY, words in 0usize..4, t in "[a-z ]{0,20}") {
            let text = format!(r#"{{"type":"Results","start":{},"is_final":true,"channel":{{"alternatives":[{{"transcript":"{t}","words":{}}}]}}}}"#,
                if start.is_finite() { start.to_string() } else { "null".into() },
                if words == 0 { "[]".to_owned() } else { format!("[{}]", vec![r#"{"word":"a","start":0,"end":1}"#; words].join(",")) });
            let _ = parse_server_message(&text);
        }
    }

    #[test]
    fn listen_url_carries_the_telephony_parameters() {
        let p = ListenParams {
            model: "nova-3",
            language: None,
            endpointing_ms: 300,
            utterance_end_ms: 1000,
            smart_format: false,
        };
        assert_eq!(
            listen_url("https://api.deepgram.com/", &p),
            "wss://api.deepgram.com/v1/listen?model=nova-3&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true"
        );
        assert!(listen_url("ws://127.0.0.1:9/v1", &p).starts_with("ws://127.0.0.1:9/v1/listen?"));
    }
}
