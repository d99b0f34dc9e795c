//! The simulated phone's playback buffer, sans-IO: bot audio plays in real
//! time from when it arrives, marks are echoed when the audio queued before
//! them has finished playing (at once if nothing is queued), and `clear`
//! drops the queue and echoes every pending mark at once — as Twilio does
//! (PROTOCOLS.md 1.2).
//!
//! It also tracks bot replies: a reply starts with the first audio after
//! silence and ends once the buffer has been empty for `reply_quiet`. Inside
//! a reply, audio that arrives after the buffer ran dry beyond
//! `gap_threshold` is an outbound gap (the caller would hear a dropout).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Bytes of 8 kHz mu-law per millisecond.
const BYTES_PER_MS: u64 = 8;

/// What one received media message meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEffect {
    /// The first audio of a new reply.
    ReplyStarted,
    /// More audio of the running reply, arriving in time.
    Continued,
    /// More audio of the running reply after the buffer ran dry this long.
    Gap(Duration),
}

/// An echoed mark and how long the caller held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub name: String,
    /// From receiving the mark to echoing it.
    pub held: Duration,
}

/// Timing rules of the simulated phone.
#[derive(Debug, Clone, Copy)]
pub struct PlaybackConfig {
    /// An underrun inside a reply longer than this counts as a gap.
    pub gap_threshold: Duration,
    /// A reply ends after the buffer has been empty this long.
    pub reply_quiet: Duration,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        PlaybackConfig {
            gap_threshold: Duration::from_millis(40),
            reply_quiet: Duration::from_millis(600),
        }
    }
}

/// Playback buffer, mark ledger and reply tracker of one simulated call.
#[derive(Debug)]
pub struct Playback {
    cfg: PlaybackConfig,
    /// When the audio queued so far finishes playing.
    play_end: Instant,
    /// Marks not yet echoed: name, when due, when received.
    pending: VecDeque<(String, Instant, Instant)>,
    /// Whether a bot reply is in progress.
    speaking: bool,
}

impl Playback {
    pub fn new(now: Instant, cfg: PlaybackConfig) -> Self {
        Playback {
            cfg,
            play_end: now,
            pending: VecDeque::new(),
            speaking: false,
        }
    }

    /// Queues `bytes` of bot audio received at `now`.
    pub fn on_media(&mut self, now: Instant, bytes: usize) -> MediaEffect {
        let duration = Duration::from_micros(bytes as u64 * 1000 / BYTES_PER_MS);
        let underrun = now.saturating_duration_since(self.play_end);
        self.play_end = self.play_end.max(now) + duration;
        if !self.speaking {
            self.speaking = true;
            return MediaEffect::ReplyStarted;
        }
        if underrun > self.cfg.gap_threshold {
            MediaEffect::Gap(underrun)
        } else {
            MediaEffect::Continued
        }
    }

    /// A mark arrived: echoed at once if nothing is queued, else held.
    pub fn on_mark(&mut self, now: Instant, name: String) -> Option<Echo> {
        if self.play_end <= now && self.pending.is_empty() {
            return Some(Echo {
                name,
                held: Duration::ZERO,
            });
        }
        let due = self.play_end.max(now);
        self.pending.push_back((name, due, now));
        None
    }

    /// `clear`: drops queued audio, ends the reply, echoes every pending mark.
    pub fn on_clear(&mut self, now: Instant, out: &mut Vec<Echo>) {
        self.play_end = now;
        self.speaking = false;
        out.extend(self.pending.drain(..).map(|(name, _, received)| Echo {
            name,
            held: now.saturating_duration_since(received),
        }));
    }

    /// Echoes the marks whose audio has played by `now`; returns true when a
    /// reply just ended (the buffer stayed empty for `reply_quiet`).
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Echo>) -> bool {
        while let Some((_, due, _)) = self.pending.front() {
            if *due > now {
                break;
            }
            let (name, _, received) = self.pending.pop_front().expect("front was Some");
            out.push(Echo {
                name,
                held: now.saturating_duration_since(received),
            });
        }
        let quiet_since = now.saturating_duration_since(self.play_end);
        if self.speaking && self.pending.is_empty() && quiet_since >= self.cfg.reply_quiet {
            self.speaking = false;
            return true;
        }
        false
    }

    /// Whether a bot reply is in progress.
    pub fn bot_speaking(&self) -> bool {
        self.speaking
    }

    /// Audio queued and not yet played at `now`.
    pub fn buffered(&self, now: Instant) -> Duration {
        self.play_end.saturating_duration_since(now)
    }

    /// Marks held, not yet echoed.
    pub fn pending_marks(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mark_with_nothing_buffered_is_echoed_at_once() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0, PlaybackConfig::default());
        let echo = p.on_mark(t0, "m1".into()).expect("nothing buffered");
        assert_eq!(echo.held, Duration::ZERO);
    }

    #[test]
    fn mark_is_echoed_when_the_audio_before_it_has_played() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0, PlaybackConfig::default());
        assert_eq!(p.on_media(t0, 800), MediaEffect::ReplyStarted); // 100 ms
        assert!(p.on_mark(t0, "m1".into()).is_none());
        let mut out = Vec::new();
        p.poll(t0 + ms(99), &mut out);
        assert!(out.is_empty());
        p.poll(t0 + ms(100), &mut out);
        assert_eq!(out[0].name, "m1");
        assert_eq!(out[0].held, ms(100));
    }

    #[test]
    fn clear_echoes_pending_marks_at_once_and_ends_the_reply() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0, PlaybackConfig::default());
        p.on_media(t0, 8000);
        p.on_mark(t0, "a".into());
        p.on_media(t0, 8000);
        p.on_mark(t0, "b".into());
        let mut out = Vec::new();
        p.on_clear(t0 + ms(10), &mut out);
        let names: Vec<_> = out.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(!p.bot_speaking());
        assert_eq!(p.buffered(t0 + ms(10)), Duration::ZERO);
    }

    #[test]
    fn underrun_inside_a_reply_beyond_threshold_is_a_gap() {
        let t0 = Instant::now();
        let mut p = Playback::new(t0, PlaybackConfig::default());
        p.on_media(t0, 160); // plays until t0+20
        assert_eq!(p.on_media(t0 + ms(50), 160), MediaEffect::Continued);
        assert_eq!(p.on_media(t0 + ms(170), 160), MediaEffect::Gap(ms(100)));
    }

    #[test]
    fn reply_ends_after_quiet_period() {
        let t0 = Instant::now();
        let cfg = PlaybackConfig::default();
        let mut p = Playback::new(t0, cfg);
        p.on_media(t0, 1600); // 200 ms
        let mut out = Vec::new();
        assert!(!p.poll(t0 + ms(200) + cfg.reply_quiet - ms(1), &mut out));
        assert!(p.poll(t0 + ms(200) + cfg.reply_quiet, &mut out));
        assert_eq!(p.on_media(t0 + ms(2000), 160), MediaEffect::ReplyStarted);
    }
}
