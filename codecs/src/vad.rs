//! Voice activity detection for one caller: earshot's neural VAD behind an
//! energy gate and a hysteresis.
//!
//! Data flow per `push`: 8 kHz PCM -> a half-band FIR 8k->16k (`vad_upsample`) -> a
//! [`Framer`] that cuts 256-sample (16 ms) frames -> for each frame either the
//! energy gate (quieter than `energy_gate_dbfs`, or less than 6 dB above the
//! tracked noise floor: probability 0, no inference; see `vad_gate`) or
//! earshot -> speech/non-speech per frame -> hysteresis (speech must last
//! `start_ms` to open, counted from its back-dated onset once earshot has
//! said speech for 32 ms; non-speech `stop_ms` to close; gaps of up to 32 ms
//! inside a run tolerated) -> at most one [`VadEvent`] returned per call.
//!
//! Event timestamps are 8 kHz sample indices since the first sample pushed,
//! corrected for the upsampler's delay, at 16 ms (128-sample) granularity.
//! An onset is stamped at the first speech frame of the run that opened the
//! hysteresis, moved back over the ungated frames just before it (earshot's
//! score needs a few frames to climb); an offset at the first non-speech
//! frame of the closing run, less earshot's ~2-frame lag. So they mark the
//! true boundaries (within ~40 ms on the fixtures) although the events are
//! emitted `start_ms`/`stop_ms` later.
//!
//! Footprint: ~10 KB of heap per `Vad`, nearly all of it earshot's state.

use std::collections::VecDeque;

use crate::pcm::{rms_dbfs, Framer};
use crate::vad_gate::EnergyGate;
use crate::vad_upsample::HalfbandUpsampler;

/// earshot's frame: 256 samples at 16 kHz.
const FRAME_LEN: usize = 256;
/// Length of one frame in ms (256 / 16 kHz).
const FRAME_MS: u32 = 16;
/// Shortest hysteresis window; keeps one event per 20 ms push at most.
const MIN_WINDOW_MS: u32 = 40;
/// Longest hysteresis window accepted (a minute of speech to open is a typo).
const MAX_WINDOW_MS: u32 = 60_000;
/// earshot's score reacts to the end of speech about this many frames late
/// (its analysis window spans three frames), so offsets are stamped earlier
/// by this much.
const OFFSET_LAG_FRAMES: u64 = 2;
/// Furthest an onset is moved back over ungated frames (128 ms).
const MAX_BACKDATE_FRAMES: u64 = 8;
/// Opposite frames tolerated inside a run before it breaks (32 ms).
const GAP_TOLERANCE: u32 = 2;
/// Frames earshot must call speech before an onset is confirmed, however
/// long ago the energy rose (32 ms).
const MIN_SPEECH_FRAMES: u64 = 2;
/// Gated frames after which earshot's context is reset (~160 ms): shorter
/// gaps are pauses inside speech whose context is still right.
const STALE_AFTER_GATED_FRAMES: u32 = 10;

/// VAD tuning. `Default` is tuned on the speech fixtures (see codecs/tests).
#[derive(Clone, Debug, PartialEq)]
pub struct VadConfig {
    /// earshot score (0..1) at or above which a frame counts as speech.
    pub threshold: f32,
    /// Speech must last this long before `SpeechStarted` (>= 40 ms).
    pub start_ms: u32,
    /// Non-speech must last this long before `SpeechStopped` (>= 40 ms).
    pub stop_ms: u32,
    /// Frames quieter than this (dBFS RMS at 16 kHz) skip inference and count
    /// as non-speech. (Frames within 6 dB of the tracked noise floor do too.)
    pub energy_gate_dbfs: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            start_ms: 80,
            stop_ms: 400,
            energy_gate_dbfs: -55.0,
        }
    }
}

/// An invalid [`VadConfig`].
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("threshold {0} is not strictly between 0 and 1")]
    Threshold(f32),
    #[error("{field} = {ms} ms is outside {MIN_WINDOW_MS}..={MAX_WINDOW_MS} ms")]
    Window { field: &'static str, ms: u32 },
    #[error("energy gate {0} dBFS is not a finite level at or below 0 dBFS")]
    EnergyGate(f32),
}

/// A change of speaking state. `at` is an 8 kHz sample index since the first
/// sample pushed, at the true onset/offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadEvent {
    SpeechStarted { at: u64 },
    SpeechStopped { at: u64 },
}

/// How much work the detector did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VadStats {
    /// Frames earshot ran on.
    pub frames_inferred: u64,
    /// Frames the energy gate decided without inference.
    pub frames_gated: u64,
}

/// Streaming VAD for one caller. `Send`; ~10 KB of heap plus ~1 KB inline.
pub struct Vad {
    cfg: VadConfig,
    detector: Box<earshot::Detector>,
    upsampler: HalfbandUpsampler,
    /// Upsampled audio of the current push (reused, so no allocation).
    upsampled: Vec<i16>,
    framer: Framer,
    frame: [i16; FRAME_LEN],
    gate: EnergyGate,
    hysteresis: Hysteresis,
    /// 16 kHz frames processed since the last reset.
    frames_done: u64,
    last_probability: f32,
    /// Consecutive gated frames just before this one; earshot's context is
    /// stale after a long stretch.
    gated_run: u32,
    /// Bit i set: the frame i frames ago passed the energy gate.
    open_history: u64,
    samples_seen: u64,
    stats: VadStats,
    /// Events decided but not yet returned (only if a push spans several).
    pending: VecDeque<VadEvent>,
}

/// Speech/non-speech per frame -> state flips, with a little tolerance.
///
/// A run against the current state starts at its first frame and flips the
/// state once it has lasted the configured window; up to `GAP_TOLERANCE`
/// consecutive frames agreeing with the current state inside the run do not
/// break it (stop closures in speech, clicks in silence).
#[derive(Clone, Debug)]
struct Hysteresis {
    start_frames: u64,
    stop_frames: u64,
    speaking: bool,
    /// First frame of the run against the state, if one is open.
    run_start: Option<u64>,
    /// Consecutive frames agreeing with the state inside the open run.
    run_gap: u32,
}

impl std::fmt::Debug for Vad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vad")
            .field("cfg", &self.cfg)
            .field("speaking", &self.hysteresis.speaking)
            .field("samples_seen", &self.samples_seen)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl VadConfig {
    /// Checks the ranges `Vad::new` relies on.
    pub fn validate(&self) -> Result<(), VadError> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(VadError::Threshold(self.threshold));
        }
        for (field, ms) in [("start_ms", self.start_ms), ("stop_ms", self.stop_ms)] {
            if !(MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) {
                return Err(VadError::Window { field, ms });
            }
        }
        if !(self.energy_gate_dbfs.is_finite() && self.energy_gate_dbfs <= 0.0) {
            return Err(VadError::EnergyGate(self.energy_gate_dbfs));
        }
        Ok(())
    }
}

impl Vad {
    pub fn new(cfg: VadConfig) -> Result<Self, VadError> {
        cfg.validate()?;
        Ok(Self {
            detector: earshot::Detector::default_boxed(),
            upsampler: HalfbandUpsampler::new(),
            upsampled: Vec::with_capacity(2 * FRAME_LEN),
            framer: Framer::new(FRAME_LEN),
            frame: [0; FRAME_LEN],
            gate: EnergyGate::new(cfg.energy_gate_dbfs),
            hysteresis: Hysteresis::new(&cfg),
            frames_done: 0,
            last_probability: 0.0,
            gated_run: 0,
            open_history: 0,
            samples_seen: 0,
            stats: VadStats::default(),
            pending: VecDeque::with_capacity(2),
            cfg,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &VadConfig {
        &self.cfg
    }

    /// 8 kHz PCM of any length (normally 160 samples = 20 ms). Returns at
    /// most one event; should one push span several transitions (only
    /// possible with pushes longer than 40 ms), the later ones come from the
    /// next calls or from [`Vad::next_event`].
    pub fn push(&mut self, pcm8k: &[i16]) -> Option<VadEvent> {
        self.samples_seen += pcm8k.len() as u64;
        self.upsampled.clear();
        self.upsampler.process(pcm8k, &mut self.upsampled);
        self.framer.push(&self.upsampled);
        while self.framer.pop_into(&mut self.frame) {
            self.process_frame();
        }
        self.pending.pop_front()
    }

    /// Returns an event left over from a long push, if any.
    pub fn next_event(&mut self) -> Option<VadEvent> {
        self.pending.pop_front()
    }

    pub fn is_speaking(&self) -> bool {
        self.hysteresis.speaking
    }

    /// While speaking: how long the silence that may become the offset has
    /// lasted so far (the stop window fills from it), in ms; 0 when not
    /// speaking or when the last frame was speech.
    pub fn silence_ms(&self) -> u64 {
        if !self.hysteresis.speaking {
            return 0;
        }
        self.hysteresis
            .run_start
            .map_or(0, |s| (self.frames_done - s) * u64::from(FRAME_MS))
    }

    /// Ends the speech now, without an event: the caller decided on other
    /// evidence (STT endpointing agreeing with this silence) that the
    /// utterance is over. The next speech is a new onset.
    pub fn end_speech(&mut self) {
        self.hysteresis.speaking = false;
        self.hysteresis.run_start = None;
        self.hysteresis.run_gap = 0;
    }

    /// earshot score of the last frame (0 for a gated frame).
    pub fn last_probability(&self) -> f32 {
        self.last_probability
    }

    /// 8 kHz samples pushed since creation or the last reset.
    pub fn samples_seen(&self) -> u64 {
        self.samples_seen
    }

    pub fn stats(&self) -> VadStats {
        self.stats
    }

    /// Back to the state of a new detector (sample clock and stats included).
    pub fn reset(&mut self) {
        self.detector.reset();
        self.upsampler.reset();
        self.framer.clear();
        self.gate.reset();
        self.hysteresis = Hysteresis::new(&self.cfg);
        self.frames_done = 0;
        self.last_probability = 0.0;
        self.gated_run = 0;
        self.open_history = 0;
        self.samples_seen = 0;
        self.stats = VadStats::default();
        self.pending.clear();
    }

    fn process_frame(&mut self) {
        let probability = self.score_frame();
        self.last_probability = probability;
        let frame = self.frames_done;
        self.frames_done += 1;
        let is_speech = probability >= self.cfg.threshold;
        // The start window runs from where the speech began (the onset
        // moved back over the ungated frames before earshot's first
        // speech frame), not from earshot's first speech frame: earshot
        // needs ~60 ms to climb, and a barge-in should not wait for it.
        let onset = (!self.hysteresis.speaking && is_speech).then(|| {
            let run_start = self.hysteresis.run_start.unwrap_or(frame);
            self.onset_frame(run_start, frame)
        });
        let Some(flip) = self.hysteresis.feed(frame, is_speech, onset) else {
            return;
        };
        let event = if self.hysteresis.speaking {
            VadEvent::SpeechStarted {
                at: self.frame_to_8k(self.onset_frame(flip, frame)),
            }
        } else {
            VadEvent::SpeechStopped {
                at: self.frame_to_8k(flip.saturating_sub(OFFSET_LAG_FRAMES)),
            }
        };
        self.pending.push_back(event);
    }

    /// earshot's score for the frame in `self.frame`, or 0 if the gate is shut.
    fn score_frame(&mut self) -> f32 {
        self.open_history <<= 1;
        if self.gate.is_gated(rms_dbfs(&self.frame)) {
            self.stats.frames_gated += 1;
            self.gated_run = self.gated_run.saturating_add(1);
            return 0.0;
        }
        if self.gated_run >= STALE_AFTER_GATED_FRAMES && !self.hysteresis.speaking {
            // earshot's context predates a long quiet stretch; start it
            // afresh rather than let old speech colour the next onset.
            self.detector.reset();
        }
        self.gated_run = 0;
        self.open_history |= 1;
        self.stats.frames_inferred += 1;
        self.detector.predict_i16(&self.frame).clamp(0.0, 1.0)
    }

    /// Moves a confirmed onset back over the ungated frames just before it:
    /// earshot's score needs a few frames to climb past the threshold, but
    /// the energy rose where the speech began.
    fn onset_frame(&self, run_start: u64, now: u64) -> u64 {
        let mut onset = run_start;
        while onset > 0 && run_start - onset < MAX_BACKDATE_FRAMES {
            let age = now - (onset - 1);
            if age >= 64 || self.open_history & (1 << age) == 0 {
                break;
            }
            onset -= 1;
        }
        onset
    }

    /// 8 kHz index of the start of 16 kHz frame `frame`, net of the upsampler delay.
    fn frame_to_8k(&self, frame: u64) -> u64 {
        let delay = self.upsampler.delay_samples() as u64;
        (frame * FRAME_LEN as u64).saturating_sub(delay) / 2
    }
}

impl Hysteresis {
    fn new(cfg: &VadConfig) -> Self {
        Self {
            start_frames: u64::from(cfg.start_ms.div_ceil(FRAME_MS)),
            stop_frames: u64::from(cfg.stop_ms.div_ceil(FRAME_MS)),
            speaking: false,
            run_start: None,
            run_gap: 0,
        }
    }

    /// Feeds frame `frame`'s decision; on a flip returns the run's first
    /// frame. `onset` (while not speaking): where the speech began, from
    /// which the start window is counted once earshot has said speech for
    /// `MIN_SPEECH_FRAMES`.
    fn feed(&mut self, frame: u64, is_speech: bool, onset: Option<u64>) -> Option<u64> {
        if is_speech == self.speaking {
            if self.run_start.is_some() {
                self.run_gap += 1;
                if self.run_gap > GAP_TOLERANCE {
                    self.run_start = None;
                }
            }
            return None;
        }
        self.run_gap = 0;
        let start = *self.run_start.get_or_insert(frame);
        let needed = if self.speaking {
            self.stop_frames
        } else {
            self.start_frames
        };
        let lasted = if self.speaking {
            frame + 1 - start
        } else {
            let from = onset.unwrap_or(start).min(start);
            let earshot = frame + 1 - start;
            if earshot < MIN_SPEECH_FRAMES {
                0
            } else {
                frame + 1 - from
            }
        };
        if lasted < needed {
            return None;
        }
        self.speaking = !self.speaking;
        self.run_start = None;
        Some(start)
    }
}

#[cfg(test)]
#[path = "vad_tests.rs"]
mod tests;
