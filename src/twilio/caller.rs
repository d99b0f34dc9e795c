//! The Twilio side of a Media Streams socket, for the simulated callers of
//! the load generator and for tests: builds the frames Twilio sends
//! (`connected`, `start`, `media`, `dtmf`, `mark`, `stop`) through the same
//! wire structs the server parses, numbering them as Twilio does
//! (`sequenceNumber` from 1 across all events, `chunk` from 1 across media).

use super::media::{Inbound, MediaFormat, Track, BASE64};
use super::wire::{
    RawDtmf, RawInbound, RawMark, RawMedia, RawMediaFormat, RawNum, RawStart, RawStop, WireStr,
};
use base64::Engine as _;
use std::borrow::Cow;
use std::collections::BTreeMap;

impl Inbound<'_> {
    /// The wire form of this message, numbers written as Twilio writes them.
    pub fn to_raw(&self) -> RawInbound<'_> {
        let mut raw = RawInbound {
            event: Some(WireStr::from(self.event_name())),
            ..Default::default()
        };
        match self {
            Inbound::Connected(m) => {
                raw.protocol = m.protocol.as_deref().map(WireStr::from);
                raw.version = m.version.as_deref().map(WireStr::from);
            }
            Inbound::Start(m) => {
                raw.sequence_number = Some(RawNum::string(m.sequence_number));
                raw.stream_sid = Some(WireStr::from(&*m.stream_sid));
                raw.start = Some(RawStart {
                    stream_sid: Some(WireStr::from(&*m.stream_sid)),
                    account_sid: Some(WireStr::from(&*m.account_sid)),
                    call_sid: Some(WireStr::from(&*m.call_sid)),
                    tracks: m.tracks.clone(),
                    custom_parameters: m.custom_parameters.clone(),
                    media_format: Some(raw_media_format(&m.media_format)),
                });
            }
            Inbound::Media(m) => {
                raw.sequence_number = Some(RawNum::string(m.sequence_number));
                raw.stream_sid = Some(WireStr::from(&*m.stream_sid));
                raw.media = Some(RawMedia {
                    track: Some(WireStr::from(m.track.as_str())),
                    chunk: Some(RawNum::string(m.chunk)),
                    timestamp: Some(RawNum::string(m.timestamp_ms)),
                    payload: Some(WireStr::from(&*m.payload)),
                });
            }
            Inbound::Dtmf(m) => {
                raw.sequence_number = Some(RawNum::string(m.sequence_number));
                raw.stream_sid = Some(WireStr::from(&*m.stream_sid));
                raw.dtmf = Some(RawDtmf {
                    track: Some(WireStr::from("inbound_track")),
                    digit: Some(WireStr(Cow::Owned(m.digit.to_string()))),
                });
            }
            Inbound::Mark(m) => {
                raw.sequence_number = Some(RawNum::string(m.sequence_number));
                raw.stream_sid = Some(WireStr::from(&*m.stream_sid));
                raw.mark = Some(RawMark {
                    name: Some(WireStr::from(&*m.name)),
                });
            }
            Inbound::Stop(m) => {
                raw.sequence_number = Some(RawNum::string(m.sequence_number));
                raw.stream_sid = Some(WireStr::from(&*m.stream_sid));
                raw.stop = Some(RawStop {
                    account_sid: m.account_sid.as_deref().map(WireStr::from),
                    call_sid: m.call_sid.as_deref().map(WireStr::from),
                });
            }
            Inbound::Unknown { .. } => {}
        }
        raw
    }

    /// The `event` value of this message.
    pub fn event_name(&self) -> &str {
        match self {
            Inbound::Connected(_) => "connected",
            Inbound::Start(_) => "start",
            Inbound::Media(_) => "media",
            Inbound::Dtmf(_) => "dtmf",
            Inbound::Mark(_) => "mark",
            Inbound::Stop(_) => "stop",
            Inbound::Unknown { event } => event,
        }
    }

    /// The JSON text frame Twilio would send.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_raw())
            .expect("wire structs hold only strings, numbers and string maps")
    }
}

fn raw_media_format(f: &MediaFormat) -> RawMediaFormat<'_> {
    RawMediaFormat {
        encoding: Some(WireStr::from(f.encoding.as_str())),
        sample_rate: Some(RawNum::Num(u64::from(f.sample_rate))),
        channels: Some(RawNum::Num(u64::from(f.channels))),
    }
}

/// One simulated Twilio stream: its ids and counters.
#[derive(Clone, Debug)]
pub struct TwilioStream {
    pub account_sid: String,
    pub call_sid: String,
    pub stream_sid: String,
    /// The last `sequenceNumber` sent (0 before the first numbered message).
    sequence: u64,
    /// The last media `chunk` sent.
    chunk: u64,
}

impl TwilioStream {
    pub fn new(account_sid: &str, call_sid: &str, stream_sid: &str) -> Self {
        TwilioStream {
            account_sid: account_sid.to_owned(),
            call_sid: call_sid.to_owned(),
            stream_sid: stream_sid.to_owned(),
            sequence: 0,
            chunk: 0,
        }
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// `connected`: the first frame, unnumbered.
    pub fn connected(&self) -> String {
        Inbound::Connected(super::media::Connected {
            protocol: Some(Cow::Borrowed("Call")),
            version: Some(Cow::Borrowed("1.0.0")),
        })
        .to_json()
    }

    /// `start` with the TwiML `<Parameter>`s and the usual mu-law format.
    pub fn start(&mut self, custom_parameters: BTreeMap<String, String>) -> String {
        let seq = self.next_sequence();
        Inbound::Start(super::media::Start {
            sequence_number: seq,
            stream_sid: Cow::Borrowed(&self.stream_sid),
            account_sid: Cow::Borrowed(&self.account_sid),
            call_sid: Cow::Borrowed(&self.call_sid),
            tracks: vec!["inbound".to_owned()],
            custom_parameters,
            media_format: MediaFormat::mulaw_8k(),
        })
        .to_json()
    }

    /// `media` carrying `ulaw` (8 kHz mu-law) heard at `timestamp_ms`.
    pub fn media(&mut self, timestamp_ms: u64, ulaw: &[u8]) -> String {
        let seq = self.next_sequence();
        self.chunk += 1;
        Inbound::Media(super::media::Media {
            sequence_number: seq,
            stream_sid: Cow::Borrowed(&self.stream_sid),
            track: Track::Inbound,
            chunk: self.chunk,
            timestamp_ms,
            payload: Cow::Owned(BASE64.encode(ulaw)),
        })
        .to_json()
    }

    /// `dtmf` for one key press.
    pub fn dtmf(&mut self, digit: char) -> String {
        let seq = self.next_sequence();
        Inbound::Dtmf(super::media::Dtmf {
            sequence_number: seq,
            stream_sid: Cow::Borrowed(&self.stream_sid),
            digit,
        })
        .to_json()
    }

    /// `mark`: the echo of a mark the server sent.
    pub fn mark(&mut self, name: &str) -> String {
        let seq = self.next_sequence();
        Inbound::Mark(super::media::Mark {
            sequence_number: seq,
            stream_sid: Cow::Borrowed(&self.stream_sid),
            name: Cow::Borrowed(name),
        })
        .to_json()
    }

    /// `stop`: the caller hung up.
    pub fn stop(&mut self) -> String {
        let seq = self.next_sequence();
        Inbound::Stop(super::media::Stop {
            sequence_number: seq,
            stream_sid: Cow::Borrowed(&self.stream_sid),
            account_sid: Some(Cow::Borrowed(&self.account_sid)),
            call_sid: Some(Cow::Borrowed(&self.call_sid)),
        })
        .to_json()
    }
}
