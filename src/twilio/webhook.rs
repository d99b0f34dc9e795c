//! Form parameters of Twilio's HTTP callbacks (PROTOCOLS.md 2.2): the voice
//! webhook, the call status callback and the stream status callback.
//!
//! The handler reads the raw body once: [`form_pairs`] gives every pair for
//! the signature check (unknown fields included, as Twilio signed them),
//! then `from_form` gives the typed struct, which ignores fields it does not
//! know so that Twilio adding one never breaks a call.

use serde::Deserialize;

/// A callback body that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad webhook form: {0}")]
pub struct WebhookError(pub String);

/// Every `name=value` pair of an `application/x-www-form-urlencoded` body,
/// percent-decoded, in order, repeats kept (for [`super::validate`]).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn from_form<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, WebhookError> {
    serde_urlencoded::from_bytes(body).map_err(|e| WebhookError(e.to_string()))
}

/// `CallStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
    /// A status this code does not know yet.
    #[serde(other)]
    Other,
}

impl CallStatus {
    /// The call is over (no further callbacks but possibly this one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::Failed
                | CallStatus::NoAnswer
                | CallStatus::Canceled
        )
    }
}

/// `Direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Inbound,
    OutboundApi,
    OutboundDial,
    #[serde(other)]
    Other,
}

/// `POST /twilio/voice`: a call arrived (or an outbound call was answered).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoiceWebhook {
    pub call_sid: String,
    pub account_sid: String,
    /// E.164 or `client:name`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub call_status: Option<CallStatus>,
    pub api_version: Option<String>,
    pub direction: Option<Direction>,
    pub forwarded_from: Option<String>,
    pub caller_name: Option<String>,
    pub parent_call_sid: Option<String>,
    pub call_token: Option<String>,
    pub from_city: Option<String>,
    pub from_state: Option<String>,
    pub from_zip: Option<String>,
    pub from_country: Option<String>,
    pub to_city: Option<String>,
    pub to_state: Option<String>,
    pub to_zip: Option<String>,
    pub to_country: Option<String>,
}

impl VoiceWebhook {
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        from_form(body)
    }
}

/// `POST /twilio/status`: the call's status changed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusCallback {
    pub call_sid: String,
    pub account_sid: String,
    pub call_status: Option<CallStatus>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<Direction>,
    pub api_version: Option<String>,
    /// Seconds, as a string of digits; see [`StatusCallback::call_duration_secs`].
    pub call_duration: Option<String>,
    pub recording_url: Option<String>,
    pub recording_sid: Option<String>,
    pub recording_duration: Option<String>,
    /// `initiated`, `ringing`, `answered`, `completed`.
    pub status_callback_event: Option<String>,
    pub sequence_number: Option<String>,
    /// RFC 2822 date as Twilio writes it.
    pub timestamp: Option<String>,
}

impl StatusCallback {
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        from_form(body)
    }

    /// `CallDuration` in seconds, when present and numeric.
    pub fn call_duration_secs(&self) -> Option<u64> {
        self.call_duration
            .as_deref()
            .and_then(super::wire::parse_digits)
    }
}

/// `StreamEvent` of a `<Stream statusCallback>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamEvent {
    StreamStarted,
    StreamStopped,
    StreamError,
    #[serde(other)]
    Other,
}

/// A `<Stream statusCallback>` POST.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamStatusCallback {
    pub stream_event: StreamEvent,
    pub stream_sid: String,
    pub call_sid: String,
    pub account_sid: String,
    pub stream_name: Option<String>,
    pub stream_error: Option<String>,
    /// ISO 8601.
    pub timestamp: Option<String>,
}

impl StreamStatusCallback {
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        from_form(body)
    }
}
