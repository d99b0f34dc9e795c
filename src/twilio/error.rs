//! Why a Media Streams frame was refused. Every variant closes the socket;
//! [`FrameError::close_code`] and [`FrameError::close_reason`] give the
//! WebSocket close frame, [`FrameError::counter`] the metric label.

/// Close codes from RFC 6455 section 7.4.1.
pub mod close_code {
    /// The peer sent a kind of data we do not accept (binary frames).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// The frame's content is inconsistent with its type (bad JSON, base64 ...).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The WebSocket framing itself was broken.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The peer broke the protocol's rules (order, rate, token).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// The frame is larger than we accept.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

/// The longest reason a WebSocket close frame can carry (125 - 2 code bytes).
pub const MAX_CLOSE_REASON: usize = 123;

/// A frame that cannot be accepted on a Media Streams socket.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, not an object, or a field of the wrong JSON type.
    #[error("malformed JSON at line {line} column {column}")]
    MalformedJson { line: usize, column: usize },
    /// The media payload is not standard base64.
    #[error("bad base64 in media payload")]
    BadBase64,
    /// A field the message needs is absent (dotted JSON path).
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A counter that should hold a non-negative integer does not.
    #[error("field {0} is not a non-negative integer")]
    BadNumber(&'static str),
    /// A field holds a value outside its domain (track, digit, encoding ...).
    #[error("field {0} has an unexpected value")]
    BadValue(&'static str),
    /// A frame, or a decoded payload, longer than allowed.
    #[error("too large: {len} bytes, max {max}")]
    TooLarge { len: usize, max: usize },
    /// Twilio sends text frames only.
    #[error("binary frame")]
    BinaryFrame,
    /// `media` arrived before `start`: we would not know whose audio it is.
    #[error("media before start")]
    MediaBeforeStart,
    /// A second `start` on the same socket.
    #[error("duplicate start")]
    DuplicateStart,
    /// The per-call token in `start.customParameters` is missing or wrong.
    #[error("bad call token")]
    BadToken,
    /// The WebSocket layer itself failed (bad framing, invalid UTF-8 ...);
    /// carries the transport library's message.
    #[error("websocket protocol error: {0}")]
    Protocol(String),
    /// Frames arrive far faster than any real call sends them.
    #[error("flood: {rate} frames/s, limit {limit}")]
    Flood { rate: u32, limit: u32 },
}

impl FrameError {
    /// The RFC 6455 close code to send with this error.
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::BinaryFrame => close_code::UNSUPPORTED_DATA,
            FrameError::Protocol(_) => close_code::PROTOCOL_ERROR,
            FrameError::TooLarge { .. } => close_code::MESSAGE_TOO_BIG,
            FrameError::MalformedJson { .. }
            | FrameError::BadBase64
            | FrameError::MissingField(_)
            | FrameError::BadNumber(_)
            | FrameError::BadValue(_) => close_code::INVALID_PAYLOAD,
            FrameError::MediaBeforeStart
            | FrameError::DuplicateStart
            | FrameError::BadToken
            | FrameError::Flood { .. } => close_code::POLICY_VIOLATION,
        }
    }

    /// The Display text cut to what a close frame can carry (on a char
    /// boundary, so the frame stays valid UTF-8).
    pub fn close_reason(&self) -> String {
        let mut text = self.to_string();
        if text.len() > MAX_CLOSE_REASON {
            let mut cut = MAX_CLOSE_REASON;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        text
    }

    /// A stable metric label, one per variant.
    pub fn counter(&self) -> &'static str {
        match self {
            FrameError::MalformedJson { .. } => "malformed_json",
            FrameError::BadBase64 => "bad_base64",
            FrameError::MissingField(_) => "missing_field",
            FrameError::BadNumber(_) => "bad_number",
            FrameError::BadValue(_) => "bad_value",
            FrameError::TooLarge { .. } => "too_large",
            FrameError::BinaryFrame => "binary_frame",
            FrameError::MediaBeforeStart => "media_before_start",
            FrameError::DuplicateStart => "duplicate_start",
            FrameError::BadToken => "bad_token",
            FrameError::Flood { .. } => "flood",
            FrameError::Protocol(_) => "protocol",
        }
    }
}

impl From<serde_json::Error> for FrameError {
    fn from(e: serde_json::Error) -> Self {
        FrameError::MalformedJson {
            line: e.line(),
            column: e.column(),
        }
    }
}
