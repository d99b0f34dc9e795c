//! The JSON shapes of Media Streams messages, as serde structs, for both
//! directions. They are the single source of truth for field names: the
//! typed [`Inbound`](super::Inbound) / [`ServerFrame`](super::ServerFrame)
//! are converted from and to these. Every field is optional here so that a
//! missing field becomes a typed [`FrameError::MissingField`](super::FrameError)
//! instead of an opaque serde message, and unknown fields are ignored.
//!
//! One flat struct per direction (instead of an internally tagged enum) keeps
//! parsing single-pass: serde never buffers the frame to look for `event`.

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// A number Twilio sends as a JSON string (`"sequenceNumber":"7"`) or as a
/// JSON number (`"sampleRate":8000`). Both spellings are accepted on input so
/// that a field-level [`FrameError::BadNumber`](super::FrameError) can name
/// the field; anything else becomes [`RawNum::Invalid`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawNum<'a> {
    Str(Cow<'a, str>),
    Num(u64),
    Invalid,
}

impl<'a> RawNum<'a> {
    /// A number written as a string, as Twilio does for counters.
    pub fn string(n: u64) -> Self {
        RawNum::Str(Cow::Owned(n.to_string()))
    }

    /// The value as u64: strict ASCII digits (no sign, space or exponent).
    pub fn to_u64(&self) -> Option<u64> {
        match self {
            RawNum::Num(n) => Some(*n),
            RawNum::Str(s) => parse_digits(s),
            RawNum::Invalid => None,
        }
    }
}

/// Strict decimal parse: `u64::from_str` would accept a leading `+`.
pub fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

impl Serialize for RawNum<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            RawNum::Str(s) => ser.serialize_str(s),
            RawNum::Num(n) => ser.serialize_u64(*n),
            RawNum::Invalid => ser.serialize_none(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawNum<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(RawNumVisitor)
    }
}

struct RawNumVisitor;

impl<'de> Visitor<'de> for RawNumVisitor {
    type Value = RawNum<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a string holding a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(RawNum::Num(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(RawNum::Invalid, RawNum::Num))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawNum::Invalid)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawNum::Invalid)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawNum::Invalid)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(RawNum::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(RawNum::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(RawNum::Invalid)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawNum::Invalid)
    }
}

/// A JSON string that borrows from the frame when it holds no escapes and
/// is copied only when it does (serde's own `Cow` support never borrows
/// inside an `Option`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WireStr<'a>(pub Cow<'a, str>);

impl<'a> WireStr<'a> {
    pub fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
}

impl<'a> From<&'a str> for WireStr<'a> {
    fn from(s: &'a str) -> Self {
        WireStr(Cow::Borrowed(s))
    }
}

impl<'a> From<Cow<'a, str>> for WireStr<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        WireStr(s)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for WireStr<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_str(WireStrVisitor)
    }
}

struct WireStrVisitor;

impl<'de> Visitor<'de> for WireStrVisitor {
    type Value = WireStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(WireStr(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(WireStr(Cow::Owned(v.to_owned())))
    }
}

/// Any Media Streams message Twilio sends to the server.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawInbound<'a> {
    #[serde(borrow)]
    pub event: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<RawNum<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub stream_sid: Option<WireStr<'a>>,
    /// `connected` only.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<WireStr<'a>>,
    /// `connected` only.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub version: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub start: Option<RawStart<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub media: Option<RawMedia<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub dtmf: Option<RawDtmf<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub mark: Option<RawMark<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub stop: Option<RawStop<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawStart<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub stream_sid: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<WireStr<'a>>,
    #[serde(default)]
    pub tracks: Vec<String>,
    /// Absent and `null` both mean "no parameters".
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_parameters: BTreeMap<String, String>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub media_format: Option<RawMediaFormat<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMediaFormat<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<RawNum<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub channels: Option<RawNum<'a>>,
}

/// `media` in either direction: Twilio -> server fills every field; server ->
/// Twilio sends only `payload`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RawMedia<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub track: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<RawNum<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<RawNum<'a>>,
    #[serde(borrow)]
    pub payload: Option<WireStr<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RawDtmf<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub track: Option<WireStr<'a>>,
    #[serde(borrow)]
    pub digit: Option<WireStr<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RawMark<'a> {
    #[serde(borrow)]
    pub name: Option<WireStr<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawStop<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<WireStr<'a>>,
}

/// Any message the server sends to Twilio (`media`, `mark`, `clear`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawServerFrame<'a> {
    #[serde(borrow)]
    pub event: Option<WireStr<'a>>,
    #[serde(borrow)]
    pub stream_sid: Option<WireStr<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub media: Option<RawMedia<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub mark: Option<RawMark<'a>>,
}

fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}
