//! Media Streams messages Twilio sends to the server (PROTOCOLS.md 1.1), as
//! typed values borrowed from the text frame.
//!
//! Flow: the transport hands each text frame to [`parse_inbound`] (usually
//! through [`FrameGuard::screen_text`](super::FrameGuard::screen_text)); a
//! `media` message keeps its payload as borrowed base64, decoded on demand
//! with [`Media::decode_payload`] into a buffer the transport reuses. Counters
//! Twilio writes as strings become `u64` with a field-named error when they
//! are not digits. An unknown `event` is not an error: it comes back as
//! [`Inbound::Unknown`] for the transport to count and ignore.

use super::error::FrameError;
use super::wire::{RawInbound, RawMediaFormat, RawNum, RawStart, WireStr};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Largest decoded media payload accepted: 0.5 s of 8 kHz mu-law, 25 times
/// Twilio's usual 20 ms chunk.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024;

/// The only encoding Twilio streams (`start.mediaFormat.encoding`).
pub const MULAW_ENCODING: &str = "audio/x-mulaw";

/// Standard alphabet; padding optional on input because some Twilio-compatible
/// senders strip it, always written on output.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One message from Twilio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    Connected(Connected<'a>),
    Start(Start<'a>),
    Media(Media<'a>),
    Dtmf(Dtmf<'a>),
    Mark(Mark<'a>),
    Stop(Stop<'a>),
    /// An `event` this code does not know; counted and ignored, never fatal.
    Unknown {
        event: Cow<'a, str>,
    },
}

/// The kind of an [`Inbound`], without its data (for guards and counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InboundKind {
    Connected,
    Start,
    Media,
    Dtmf,
    Mark,
    Stop,
    Unknown,
}

/// First frame of a socket: `{"event":"connected","protocol":"Call",...}`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Connected<'a> {
    pub protocol: Option<Cow<'a, str>>,
    pub version: Option<Cow<'a, str>>,
}

/// `start`: who the call is and what the audio is. Sent once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start<'a> {
    pub sequence_number: u64,
    /// Top-level `streamSid`, or `start.streamSid` when the former is absent.
    pub stream_sid: Cow<'a, str>,
    pub account_sid: Cow<'a, str>,
    pub call_sid: Cow<'a, str>,
    pub tracks: Vec<String>,
    /// The `<Parameter>`s of the TwiML, e.g. the per-call token.
    pub custom_parameters: BTreeMap<String, String>,
    pub media_format: MediaFormat,
}

/// `start.mediaFormat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    pub encoding: String,
    pub sample_rate: u32,
    pub channels: u16,
}

impl MediaFormat {
    /// What Twilio always sends, and all the engine decodes.
    pub fn mulaw_8k() -> Self {
        MediaFormat {
            encoding: MULAW_ENCODING.to_owned(),
            sample_rate: 8000,
            channels: 1,
        }
    }

    pub fn is_mulaw_8k_mono(&self) -> bool {
        self.encoding == MULAW_ENCODING && self.sample_rate == 8000 && self.channels == 1
    }
}

/// Which side of the call a `media` or `dtmf` message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    /// The caller (the only track of a bidirectional stream).
    Inbound,
    /// What the call plays to the caller (unidirectional streams only).
    Outbound,
}

impl Track {
    /// The spelling of `media.track`.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Inbound => "inbound",
            Track::Outbound => "outbound",
        }
    }

    /// Accepts both `inbound` (media) and `inbound_track` (dtmf) spellings.
    pub fn parse(s: &str) -> Option<Track> {
        match s {
            "inbound" | "inbound_track" => Some(Track::Inbound),
            "outbound" | "outbound_track" => Some(Track::Outbound),
            _ => None,
        }
    }
}

/// `media`: one chunk of caller audio, base64 mu-law, still encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media<'a> {
    pub sequence_number: u64,
    pub stream_sid: Cow<'a, str>,
    pub track: Track,
    /// Starts at 1, one per media message.
    pub chunk: u64,
    /// Milliseconds since the stream started.
    pub timestamp_ms: u64,
    /// Base64 as it was in the frame (borrowed unless it held JSON escapes).
    pub payload: Cow<'a, str>,
}

/// `dtmf`: the caller pressed a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dtmf<'a> {
    pub sequence_number: u64,
    pub stream_sid: Cow<'a, str>,
    /// One of `0-9 * # A-D`.
    pub digit: char,
}

/// `mark`: Twilio echoes a mark we sent once the audio before it has played
/// (or was cleared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark<'a> {
    pub sequence_number: u64,
    pub stream_sid: Cow<'a, str>,
    pub name: Cow<'a, str>,
}

/// `stop`: the stream ended (caller hung up, or the call moved on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop<'a> {
    pub sequence_number: u64,
    pub stream_sid: Cow<'a, str>,
    /// Lenient: a stop is honoured even without them.
    pub account_sid: Option<Cow<'a, str>>,
    pub call_sid: Option<Cow<'a, str>>,
}

/// Parses one text frame from Twilio. Borrows from `text`; never panics.
pub fn parse_inbound(text: &str) -> Result<Inbound<'_>, FrameError> {
    let raw: RawInbound<'_> = serde_json::from_str(text)?;
    Inbound::from_raw(raw)
}

impl<'a> Inbound<'a> {
    pub fn kind(&self) -> InboundKind {
        match self {
            Inbound::Connected(_) => InboundKind::Connected,
            Inbound::Start(_) => InboundKind::Start,
            Inbound::Media(_) => InboundKind::Media,
            Inbound::Dtmf(_) => InboundKind::Dtmf,
            Inbound::Mark(_) => InboundKind::Mark,
            Inbound::Stop(_) => InboundKind::Stop,
            Inbound::Unknown { .. } => InboundKind::Unknown,
        }
    }

    /// Twilio's running message counter; `connected` has none.
    pub fn sequence_number(&self) -> Option<u64> {
        match self {
            Inbound::Start(m) => Some(m.sequence_number),
            Inbound::Media(m) => Some(m.sequence_number),
            Inbound::Dtmf(m) => Some(m.sequence_number),
            Inbound::Mark(m) => Some(m.sequence_number),
            Inbound::Stop(m) => Some(m.sequence_number),
            Inbound::Connected(_) | Inbound::Unknown { .. } => None,
        }
    }

    /// Converts the wire struct, checking what each event needs.
    pub fn from_raw(raw: RawInbound<'a>) -> Result<Self, FrameError> {
        let event = raw
            .event
            .as_ref()
            .ok_or(FrameError::MissingField("event"))?;
        Ok(match &*event.0 {
            "connected" => Inbound::Connected(Connected {
                protocol: raw.protocol.map(WireStr::into_cow),
                version: raw.version.map(WireStr::into_cow),
            }),
            "start" => Inbound::Start(start_from_raw(raw)?),
            "media" => Inbound::Media(media_from_raw(raw)?),
            "dtmf" => Inbound::Dtmf(dtmf_from_raw(raw)?),
            "mark" => Inbound::Mark(mark_from_raw(raw)?),
            "stop" => Inbound::Stop(stop_from_raw(raw)?),
            _ => Inbound::Unknown {
                event: raw.event.map(WireStr::into_cow).unwrap_or_default(),
            },
        })
    }
}

/// Reads a counter: present, and strict digits that fit the target type.
pub(crate) fn number<T: TryFrom<u64>>(
    raw: Option<&RawNum<'_>>,
    field: &'static str,
) -> Result<T, FrameError> {
    let raw = raw.ok_or(FrameError::MissingField(field))?;
    let n = raw.to_u64().ok_or(FrameError::BadNumber(field))?;
    T::try_from(n).map_err(|_| FrameError::BadNumber(field))
}

pub(crate) fn required<'a>(
    s: Option<WireStr<'a>>,
    field: &'static str,
) -> Result<Cow<'a, str>, FrameError> {
    s.map(WireStr::into_cow)
        .ok_or(FrameError::MissingField(field))
}

fn sequence(raw: &RawInbound<'_>) -> Result<u64, FrameError> {
    number(raw.sequence_number.as_ref(), "sequenceNumber")
}

fn start_from_raw(raw: RawInbound<'_>) -> Result<Start<'_>, FrameError> {
    let sequence_number = sequence(&raw)?;
    let start: RawStart<'_> = raw.start.ok_or(FrameError::MissingField("start"))?;
    let stream_sid = raw.stream_sid.or(start.stream_sid);
    Ok(Start {
        sequence_number,
        stream_sid: required(stream_sid, "streamSid")?,
        account_sid: required(start.account_sid, "start.accountSid")?,
        call_sid: required(start.call_sid, "start.callSid")?,
        tracks: start.tracks,
        custom_parameters: start.custom_parameters,
        media_format: media_format(start.media_format)?,
    })
}

fn media_format(raw: Option<RawMediaFormat<'_>>) -> Result<MediaFormat, FrameError> {
    let raw = raw.ok_or(FrameError::MissingField("start.mediaFormat"))?;
    Ok(MediaFormat {
        encoding: required(raw.encoding, "start.mediaFormat.encoding")?.into_owned(),
        sample_rate: number(raw.sample_rate.as_ref(), "start.mediaFormat.sampleRate")?,
        channels: number(raw.channels.as_ref(), "start.mediaFormat.channels")?,
    })
}

fn media_from_raw(raw: RawInbound<'_>) -> Result<Media<'_>, FrameError> {
    let sequence_number = sequence(&raw)?;
    let media = raw.media.ok_or(FrameError::MissingField("media"))?;
    let track = required(media.track, "media.track")?;
    Ok(Media {
        sequence_number,
        stream_sid: required(raw.stream_sid, "streamSid")?,
        track: Track::parse(&track).ok_or(FrameError::BadValue("media.track"))?,
        chunk: number(media.chunk.as_ref(), "media.chunk")?,
        timestamp_ms: number(media.timestamp.as_ref(), "media.timestamp")?,
        payload: required(media.payload, "media.payload")?,
    })
}

fn dtmf_from_raw(raw: RawInbound<'_>) -> Result<Dtmf<'_>, FrameError> {
    let sequence_number = sequence(&raw)?;
    let dtmf = raw.dtmf.ok_or(FrameError::MissingField("dtmf"))?;
    let digit = required(dtmf.digit, "dtmf.digit")?;
    Ok(Dtmf {
        sequence_number,
        stream_sid: required(raw.stream_sid, "streamSid")?,
        digit: dtmf_digit(&digit).ok_or(FrameError::BadValue("dtmf.digit"))?,
    })
}

/// A single key of a phone keypad (A-D are the rare fourth column).
pub fn dtmf_digit(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    let valid = c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D');
    (valid && chars.next().is_none()).then_some(c)
}

fn mark_from_raw(raw: RawInbound<'_>) -> Result<Mark<'_>, FrameError> {
    let sequence_number = sequence(&raw)?;
    let mark = raw.mark.ok_or(FrameError::MissingField("mark"))?;
    Ok(Mark {
        sequence_number,
        stream_sid: required(raw.stream_sid, "streamSid")?,
        name: required(mark.name, "mark.name")?,
    })
}

fn stop_from_raw(raw: RawInbound<'_>) -> Result<Stop<'_>, FrameError> {
    let sequence_number = sequence(&raw)?;
    let stop = raw.stop.unwrap_or_default();
    Ok(Stop {
        sequence_number,
        stream_sid: required(raw.stream_sid, "streamSid")?,
        account_sid: stop.account_sid.map(WireStr::into_cow),
        call_sid: stop.call_sid.map(WireStr::into_cow),
    })
}

impl Media<'_> {
    /// Decodes the payload into `out`, returning the number of bytes written.
    /// Refuses payloads over [`MAX_PAYLOAD_BYTES`] or larger than `out`.
    pub fn decode_payload(&self, out: &mut [u8]) -> Result<usize, FrameError> {
        decode_base64(&self.payload, out)
    }

    /// Decodes the payload into `out` (cleared first), reusing its capacity.
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.clear();
        out.resize(decoded_len(&self.payload)?, 0);
        let n = decode_base64(&self.payload, out)?;
        out.truncate(n);
        Ok(())
    }
}

/// The exact decoded length of padded or unpadded base64, checked against
/// [`MAX_PAYLOAD_BYTES`] before any decoding work.
pub fn decoded_len(b64: &str) -> Result<usize, FrameError> {
    let body = b64
        .strip_suffix("==")
        .or_else(|| b64.strip_suffix('='))
        .unwrap_or(b64);
    let len = match body.len() % 4 {
        0 => body.len() / 4 * 3,
        2 => body.len() / 4 * 3 + 1,
        3 => body.len() / 4 * 3 + 2,
        _ => return Err(FrameError::BadBase64),
    };
    if len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(len)
}

/// Decodes `b64` into `out` with the size checks of [`decoded_len`].
pub fn decode_base64(b64: &str, out: &mut [u8]) -> Result<usize, FrameError> {
    let len = decoded_len(b64)?;
    if len > out.len() {
        return Err(FrameError::TooLarge {
            len,
            max: out.len(),
        });
    }
    BASE64
        .decode_slice(b64, out)
        .map_err(|_| FrameError::BadBase64)
}
