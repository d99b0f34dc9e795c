//! The two halves of a turn while they are being built: the caller's
//! [`Utterance`] (VAD onset to end of turn, with its transcripts) and the
//! bot's [`TurnDraft`] (the trace `Turn` filled in stage by stage, timed from
//! the caller's end of speech).

use crate::trace::{Turn, UserInput};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// Caller speech being collected into a turn.
#[derive(Debug)]
pub struct Utterance {
    /// Media time of the VAD onset, 8 kHz samples since stream start.
    pub onset: u64,
    /// Media time where the current stretch of continuous speech began
    /// (the onset, or the latest resume after a pause).
    pub run_onset: u64,
    /// Media time of the VAD offset, while the caller is silent.
    pub stopped: Option<u64>,
    /// Wall instant the caller stopped speaking (back-dated from the VAD's
    /// sample index, as the VAD decides `stop_ms` late).
    pub stopped_at: Option<Instant>,
    /// Opened while the bot was talking or thinking: it only becomes a turn
    /// if it turns into a barge-in (or the bot falls silent first).
    pub candidate: bool,
    /// Media time when a candidate became an ordinary utterance because the
    /// bot fell silent by itself.
    pub promoted_at: Option<u64>,
    /// Final transcript segments so far.
    pub finals: String,
    /// The latest interim transcript after the last final.
    pub interim: String,
    confidence_sum: f32,
    confidence_n: u32,
    /// A final, `speech_final` or utterance end arrived after the VAD stop:
    /// STT has everything the caller said.
    pub stt_complete: bool,
    /// When the STT final that completed the turn arrived.
    pub final_at: Option<Instant>,
    /// End the turn with whatever text there is at this instant.
    pub endpoint_deadline: Option<Instant>,
    /// STT's endpointing (`speech_final`) fired before our VAD closed the
    /// run: once the VAD stops too, STT already has everything.
    pub speech_final_at: Option<Instant>,
}

impl Utterance {
    pub fn new(onset: u64, candidate: bool) -> Self {
        Self {
            onset,
            run_onset: onset,
            stopped: None,
            stopped_at: None,
            candidate,
            promoted_at: None,
            finals: String::new(),
            interim: String::new(),
            confidence_sum: 0.0,
            confidence_n: 0,
            stt_complete: false,
            final_at: None,
            endpoint_deadline: None,
            speech_final_at: None,
        }
    }

    /// The caller spoke again (at `at`) before the turn ended: same utterance.
    pub fn resume(&mut self, at: u64) {
        self.run_onset = at;
        self.stopped = None;
        self.stopped_at = None;
        self.stt_complete = false;
        self.endpoint_deadline = None;
        self.speech_final_at = None;
    }

    pub fn add_transcript(&mut self, now: Instant, text: &str, confidence: f32, is_final: bool) {
        let text = text.trim();
        if !is_final {
            self.interim = text.to_owned();
            return;
        }
        self.interim.clear();
        if !text.is_empty() {
            if !self.finals.is_empty() {
                self.finals.push(' ');
            }
            self.finals.push_str(text);
            self.confidence_sum += confidence;
            self.confidence_n += 1;
        }
        if self.stopped.is_some() {
            self.stt_complete = true;
            self.final_at = Some(now);
        }
    }

    /// Everything heard so far: finals, then the pending interim.
    pub fn text(&self) -> String {
        match (self.finals.is_empty(), self.interim.is_empty()) {
            (_, true) => self.finals.clone(),
            (true, false) => self.interim.clone(),
            (false, false) => format!("{} {}", self.finals, self.interim),
        }
    }

    /// Mean confidence of the finals, if any.
    pub fn confidence(&self) -> Option<f32> {
        (self.confidence_n > 0).then(|| self.confidence_sum / self.confidence_n as f32)
    }

    /// Continuous speech (no VAD pause) so far, ms, at media time `media`.
    pub fn continuous_speech_ms(&self, media: u64) -> u64 {
        match self.stopped {
            Some(_) => 0,
            None => media.saturating_sub(self.run_onset) / 8,
        }
    }

    /// Length of speech so far, ms, at media time `media`.
    pub fn speech_ms(&self, media: u64) -> u64 {
        self.stopped.unwrap_or(media).saturating_sub(self.onset) / 8
    }
}

impl Utterance {
    /// Said entirely over the bot's voice (the caller had stopped before the
    /// bot did): a backchannel then was feedback on the bot's words.
    pub fn ended_under_bot(&self) -> bool {
        self.promoted_at
            .zip(self.stopped)
            .is_some_and(|(promoted, stopped)| stopped <= promoted)
    }
}

/// A turn of the trace being filled in.
#[derive(Debug)]
pub struct TurnDraft {
    pub turn: Turn,
    /// The caller's end of speech: stage timings are measured from here.
    pub t0: Instant,
    /// The reply answering this turn, once there is one.
    pub reply_id: Option<u64>,
}

impl TurnDraft {
    pub fn new(
        index: u32,
        at: DateTime<Utc>,
        t0: Instant,
        text: String,
        conf: Option<f32>,
    ) -> Self {
        let turn = Turn {
            turn_index: index,
            timestamp: at,
            user_input: UserInput {
                text,
                asr_provider: None,
                asr_confidence: conf,
            },
            ..Turn::default()
        };
        Self {
            turn,
            t0,
            reply_id: None,
        }
    }

    /// Milliseconds from the end of speech to `now`.
    pub fn since_t0(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.t0).as_secs_f64() * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finals_accumulate_and_only_finals_after_the_stop_complete_the_turn() {
        let t = Instant::now();
        let mut u = Utterance::new(0, false);
        u.add_transcript(t, "I want", 0.9, false);
        assert_eq!(u.text(), "I want");
        u.add_transcript(t, "I want to book", 0.8, true);
        assert!(!u.stt_complete, "speech still going on");
        u.stopped = Some(8000);
        u.add_transcript(t, "a table", 0.6, true);
        assert!(u.stt_complete);
        assert_eq!(u.text(), "I want to book a table");
        assert!((u.confidence().unwrap() - 0.7).abs() < 1e-6);
    }
}
