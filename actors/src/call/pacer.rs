//! Estimates where Twilio's playback of our audio is, so outbound audio goes
//! out at most a bounded lead ahead of it.
//!
//! Why a lead at all: Twilio plays what it buffered, so sending a whole reply
//! at once would make barge-in useless (`clear` drops it, but the marks and
//! the text we think was heard would be wrong by seconds, and a cancelled
//! reply's audio would already be paid for). Sending exactly in real time
//! would make every network hiccup audible. A few hundred milliseconds ahead
//! is the compromise.
//!
//! Model: a *run* is a stretch of continuous playback. Positions are 8 kHz
//! sample counts since the run began. Playback starts when the first frame is
//! sent into an empty buffer and advances in real time until it reaches what
//! was sent. An echoed mark re-anchors the estimate on the truth.

use std::time::{Duration, Instant};

/// 8 kHz samples per millisecond.
const SAMPLES_PER_MS: u64 = 8;

#[derive(Debug, Default)]
pub struct Pacer {
    /// Audio sent in the current run (end of Twilio's buffer), samples.
    sent_end: u64,
    /// Playback was at `anchor.1` at instant `anchor.0`.
    anchor: Option<(Instant, u64)>,
}

impl Pacer {
    /// Estimated playback position at `now`, samples.
    pub fn position(&self, now: Instant) -> u64 {
        match self.anchor {
            None => self.sent_end,
            Some((at, pos)) => {
                let elapsed = now.saturating_duration_since(at).as_micros() as u64 * 8 / 1000;
                (pos + elapsed).min(self.sent_end)
            }
        }
    }

    /// Audio sent and not yet played, samples.
    pub fn lead(&self, now: Instant) -> u64 {
        self.sent_end - self.position(now)
    }

    /// Whether `samples` more can be sent without exceeding `lead_ms`.
    pub fn can_send(&self, now: Instant, samples: u64, lead_ms: u64) -> bool {
        self.lead(now) + samples <= lead_ms * SAMPLES_PER_MS
    }

    /// `samples` were sent now; returns the run position where they end.
    pub fn on_send(&mut self, now: Instant, samples: u64) -> u64 {
        if self.position(now) >= self.sent_end {
            // The buffer ran dry (or this is the first frame): playback
            // resumes with this frame.
            self.anchor = Some((now, self.sent_end));
        }
        self.sent_end += samples;
        self.sent_end
    }

    /// Twilio echoed a mark placed at `run_pos`: playback is there now.
    pub fn on_echo(&mut self, now: Instant, run_pos: u64) {
        if run_pos <= self.sent_end {
            self.anchor = Some((now, run_pos));
        }
    }

    /// A `clear` emptied Twilio's buffer: a new run starts.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The current run position where the next frame would start.
    pub fn sent_end(&self) -> u64 {
        self.sent_end
    }

    /// When the lead will have dropped to `lead_ms - refill_ms`: the next
    /// time worth waking up to send (wake-ups batched, not every 20 ms).
    pub fn refill_at(&self, lead_ms: u64, refill_ms: u64) -> Option<Instant> {
        let (at, pos) = self.anchor?;
        let low_water = (lead_ms.saturating_sub(refill_ms)) * SAMPLES_PER_MS;
        let target = self.sent_end.saturating_sub(low_water);
        Some(at + samples_to_duration(target.saturating_sub(pos)))
    }

    /// When playback will reach the end of what was sent.
    pub fn drained_at(&self) -> Option<Instant> {
        let (at, pos) = self.anchor?;
        Some(at + samples_to_duration(self.sent_end.saturating_sub(pos)))
    }
}

fn samples_to_duration(samples: u64) -> Duration {
    Duration::from_micros(samples * 1000 / SAMPLES_PER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u64 = 160;

    #[test]
    fn the_lead_never_exceeds_the_bound_and_refills_are_batched() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        let mut sent = 0;
        while p.can_send(t0, FRAME, 300) {
            p.on_send(t0, FRAME);
            sent += 1;
        }
        assert_eq!(sent, 15, "300 ms of 20 ms frames");
        let wake = p.refill_at(300, 100).expect("playing");
        assert_eq!(wake, t0 + Duration::from_millis(100));
        let mut more = 0;
        while p.can_send(wake, FRAME, 300) {
            p.on_send(wake, FRAME);
            more += 1;
        }
        assert_eq!(more, 5, "one batch of 100 ms");
        assert!(p.lead(wake) <= 300 * 8);
    }

    #[test]
    fn a_dry_buffer_restarts_playback_at_the_next_frame() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        p.on_send(t0, FRAME);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(p.lead(later), 0);
        p.on_send(later, FRAME);
        assert_eq!(p.lead(later), FRAME, "playback resumed now, not 5 s ago");
    }

    #[test]
    fn a_late_echo_moves_the_estimate_back() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        for _ in 0..10 {
            p.on_send(t0, FRAME);
        }
        let t = t0 + Duration::from_millis(150);
        assert_eq!(p.position(t), 1200);
        p.on_echo(t, 800);
        assert_eq!(p.position(t), 800);
        assert_eq!(p.drained_at(), Some(t + Duration::from_millis(100)));
    }
}
