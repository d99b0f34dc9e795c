//! The per-socket gatekeeper of a Media Streams WebSocket, sans-IO.
//!
//! The transport task owns one [`FrameGuard`] per socket and asks it about
//! every frame, passing the time in: [`FrameGuard::admit`] before parsing
//! (kind, size, rate), [`FrameGuard::observe`] after (message order, stream
//! id, per-call token), or [`FrameGuard::screen_text`] for both plus the
//! parse. The answer is a [`Verdict`]: accept, ignore (with a running count
//! per reason for metrics), or close with a [`FrameError`]. Once it has said
//! close, it keeps saying so.
//!
//! Rate limiting is a GCRA token bucket ([`RateLimiter`]): Twilio sends 50
//! frames/s; the default lets bursts of 500 frames through (a network stall
//! delivering 10 s of audio at once) but closes on anything sustained above
//! 500 frames/s.

use super::error::FrameError;
use super::media::{parse_inbound, Inbound};
use super::token::verify_call_token;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits of one socket.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// Largest text frame accepted; a 20 ms media frame is ~330 bytes.
    pub max_frame_bytes: usize,
    /// Sustained frames per second above which the socket is a flood.
    pub rate_per_sec: u32,
    /// Frames accepted back to back before the rate applies.
    pub burst: u32,
    /// When set, `start.customParameters.token` must be
    /// [`call_token`](super::call_token)`(secret, callSid)`.
    pub token_secret: Option<Arc<[u8]>>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_frame_bytes: 64 * 1024,
            rate_per_sec: 500,
            burst: 500,
            token_secret: None,
        }
    }
}

/// What kind of WebSocket frame arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireKind {
    Text,
    Binary,
    /// Ping, pong: no payload to parse, but they count towards the rate.
    Control,
}

/// Why a frame was ignored (not fatal, counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// An `event` we do not know.
    UnknownEvent,
    /// `dtmf` or `mark` before `start`.
    BeforeStart,
    /// Anything after `stop`.
    AfterStop,
}

impl IgnoreReason {
    pub const ALL: [IgnoreReason; 3] = [
        IgnoreReason::UnknownEvent,
        IgnoreReason::BeforeStart,
        IgnoreReason::AfterStop,
    ];

    /// A stable metric label.
    pub fn counter(self) -> &'static str {
        match self {
            IgnoreReason::UnknownEvent => "unknown_event",
            IgnoreReason::BeforeStart => "before_start",
            IgnoreReason::AfterStop => "after_stop",
        }
    }
}

/// The guard's answer about one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<T = ()> {
    Accept(T),
    /// Drop the frame; `count` is how many frames were ignored for `reason`
    /// on this socket so far, this one included.
    Ignore {
        reason: IgnoreReason,
        count: u64,
    },
    /// Close the socket with `error.close_code()` and `error.close_reason()`.
    Close(FrameError),
}

impl<T> Verdict<T> {
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept(_))
    }

    pub fn is_close(&self) -> bool {
        matches!(self, Verdict::Close(_))
    }

    fn retag<U>(self, accept: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Verdict::Accept(t) => Verdict::Accept(accept(t)),
            Verdict::Ignore { reason, count } => Verdict::Ignore { reason, count },
            Verdict::Close(e) => Verdict::Close(e),
        }
    }
}

/// Where the stream is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingStart,
    /// Holds the `streamSid` of `start`; later messages must carry it.
    Streaming(String),
    Stopped,
}

/// The per-socket guard. See the module docs.
#[derive(Debug)]
pub struct FrameGuard {
    config: GuardConfig,
    limiter: RateLimiter,
    meter: RateMeter,
    phase: Phase,
    /// Ignored frames, indexed like [`IgnoreReason::ALL`].
    ignored: [u64; 3],
    /// Set by the first close; every later frame gets the same answer.
    closed: Option<FrameError>,
}

impl FrameGuard {
    /// A guard with the default limits except the sustained rate.
    pub fn with_rate(rate_per_sec: u32) -> Self {
        Self::new(GuardConfig {
            rate_per_sec,
            ..GuardConfig::default()
        })
    }

    pub fn new(config: GuardConfig) -> Self {
        FrameGuard {
            limiter: RateLimiter::new(config.rate_per_sec, config.burst),
            meter: RateMeter::default(),
            phase: Phase::AwaitingStart,
            ignored: [0; 3],
            closed: None,
            config,
        }
    }

    /// Frames ignored for `reason` so far.
    pub fn ignored(&self, reason: IgnoreReason) -> u64 {
        self.ignored[reason as usize]
    }

    /// The error the guard closed with, if it did.
    pub fn closed(&self) -> Option<&FrameError> {
        self.closed.as_ref()
    }

    /// Checks a frame before it is parsed: kind, size and rate.
    pub fn admit(&mut self, now: Instant, kind: WireKind, len: usize) -> Verdict {
        if let Some(e) = &self.closed {
            return Verdict::Close(e.clone());
        }
        let rate = self.meter.record(now);
        if kind == WireKind::Binary {
            return self.close(FrameError::BinaryFrame);
        }
        if len > self.config.max_frame_bytes {
            return self.close(FrameError::TooLarge {
                len,
                max: self.config.max_frame_bytes,
            });
        }
        if !self.limiter.try_acquire(now) {
            return self.close(FrameError::Flood {
                rate,
                limit: self.config.rate_per_sec,
            });
        }
        Verdict::Accept(())
    }

    /// Checks a parsed message against the stream's state.
    pub fn observe(&mut self, msg: &Inbound<'_>) -> Verdict {
        if let Some(e) = &self.closed {
            return Verdict::Close(e.clone());
        }
        match (&self.phase, msg) {
            (_, Inbound::Unknown { .. }) => self.ignore(IgnoreReason::UnknownEvent),
            (Phase::Stopped, _) => self.ignore(IgnoreReason::AfterStop),
            (_, Inbound::Connected(_)) => Verdict::Accept(()),
            (Phase::AwaitingStart, Inbound::Start(start)) => match self.check_start(start) {
                Ok(()) => {
                    self.phase = Phase::Streaming(start.stream_sid.clone().into_owned());
                    Verdict::Accept(())
                }
                Err(e) => self.close(e),
            },
            (Phase::Streaming(_), Inbound::Start(_)) => self.close(FrameError::DuplicateStart),
            (Phase::AwaitingStart, Inbound::Media(_)) => self.close(FrameError::MediaBeforeStart),
            (Phase::AwaitingStart, Inbound::Dtmf(_) | Inbound::Mark(_)) => {
                self.ignore(IgnoreReason::BeforeStart)
            }
            (Phase::AwaitingStart, Inbound::Stop(_)) => {
                self.phase = Phase::Stopped;
                Verdict::Accept(())
            }
            (Phase::Streaming(sid), msg) => self.check_stream(sid.as_str() == stream_sid(msg), msg),
        }
    }

    /// `admit` + parse + `observe` for one text frame.
    pub fn screen_text<'t>(&mut self, now: Instant, text: &'t str) -> Verdict<Inbound<'t>> {
        // `admit` answers only Accept or Close.
        if let Verdict::Close(e) = self.admit(now, WireKind::Text, text.len()) {
            return Verdict::Close(e);
        }
        let msg = match parse_inbound(text) {
            Ok(msg) => msg,
            Err(e) => {
                self.closed = Some(e.clone());
                return Verdict::Close(e);
            }
        };
        self.observe(&msg).retag(|()| msg)
    }

    fn check_stream(&mut self, same_stream: bool, msg: &Inbound<'_>) -> Verdict {
        if !same_stream {
            return self.close(FrameError::BadValue("streamSid"));
        }
        if matches!(msg, Inbound::Stop(_)) {
            self.phase = Phase::Stopped;
        }
        Verdict::Accept(())
    }

    /// The engine decodes 8 kHz mono mu-law only, and a configured token
    /// secret makes the per-call token mandatory.
    fn check_start(&self, start: &super::media::Start<'_>) -> Result<(), FrameError> {
        if !start.media_format.is_mulaw_8k_mono() {
            return Err(FrameError::BadValue("start.mediaFormat"));
        }
        let Some(secret) = &self.config.token_secret else {
            return Ok(());
        };
        let token = start
            .custom_parameters
            .get("token")
            .ok_or(FrameError::BadToken)?;
        if verify_call_token(secret, &start.call_sid, token) {
            Ok(())
        } else {
            Err(FrameError::BadToken)
        }
    }

    fn ignore(&mut self, reason: IgnoreReason) -> Verdict {
        let count = &mut self.ignored[reason as usize];
        *count += 1;
        Verdict::Ignore {
            reason,
            count: *count,
        }
    }

    fn close(&mut self, error: FrameError) -> Verdict {
        self.closed = Some(error.clone());
        Verdict::Close(error)
    }
}

/// The `streamSid` of a message that has one.
fn stream_sid<'m>(msg: &'m Inbound<'_>) -> &'m str {
    match msg {
        Inbound::Start(m) => &m.stream_sid,
        Inbound::Media(m) => &m.stream_sid,
        Inbound::Dtmf(m) => &m.stream_sid,
        Inbound::Mark(m) => &m.stream_sid,
        Inbound::Stop(m) => &m.stream_sid,
        Inbound::Connected(_) | Inbound::Unknown { .. } => "",
    }
}

/// GCRA (the "virtual scheduling" token bucket): at most
/// `rate * t + burst` acquisitions succeed in any span of length `t`.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// Time one token is worth, rounded up so the real rate never exceeds
    /// the configured one.
    interval: Duration,
    /// How far ahead of `now` the theoretical arrival time may run:
    /// `(burst - 1) * interval`.
    tolerance: Duration,
    /// Theoretical arrival time of the next conforming frame.
    tat: Option<Instant>,
}

impl RateLimiter {
    /// `rate_per_sec` and `burst` are raised to at least 1.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        let rate = u64::from(rate_per_sec.max(1));
        let interval = Duration::from_nanos(1_000_000_000u64.div_ceil(rate));
        RateLimiter {
            interval,
            tolerance: interval * (burst.max(1) - 1),
            tat: None,
        }
    }

    /// Takes one token if the bucket has one at `now`.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        if tat.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        // An Instant too far in the future to add to cannot come from a
        // real clock; keeping the old value only makes the limit stricter.
        self.tat = Some(tat.checked_add(self.interval).unwrap_or(tat));
        true
    }
}

/// Frames seen in the current one-second window, for the flood report.
#[derive(Clone, Debug, Default)]
struct RateMeter {
    window_start: Option<Instant>,
    in_window: u32,
    previous_window: u32,
}

impl RateMeter {
    /// Records a frame; returns the larger of this and the previous window.
    fn record(&mut self, now: Instant) -> u32 {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= Duration::from_secs(1) {
            self.window_start = Some(now);
            self.previous_window = self.in_window;
            self.in_window = 0;
        }
        self.in_window = self.in_window.saturating_add(1);
        self.in_window.max(self.previous_window)
    }
}
