//! The STT mock's "speech recognition", sans-IO: it knows the fixtures by
//! the hashes of their 160-byte frames (near-silent frames are skipped), so
//! each incoming frame of speech is matched to an utterance and a position
//! in it. As the audio passes the end of each word an interim Results is
//! due; endpointing after the last matched frame (or after the utterance's
//! last speech frame) makes a final with `speech_final`, and UtteranceEnd
//! follows. Nothing is said about audio that has not arrived. Speech-like
//! audio that matches no fixture is counted and never transcribed.
//!
//! Time comes in as `now`; the server task moves bytes and wakes the
//! machine at `next_deadline()`.

use super::fixtures::{frame_rms, FixtureSet, SpeechFixture, FRAME_BYTES, FRAME_MS};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Frames quieter than this (about -45 dBFS) are silence.
pub const SILENCE_RMS: f32 = 180.0;

/// Frame hash -> (utterance, frame) positions.
#[derive(Debug, Default)]
pub struct FixtureIndex {
    pub fixtures: Vec<SpeechFixture>,
    frames: HashMap<u64, Vec<(u32, u32)>>,
    /// Per utterance, the last frame loud enough to be indexed: reaching it
    /// is reaching the end of the speech (a quiet tail is never matched).
    last_loud: Vec<u32>,
}

impl FixtureIndex {
    pub fn new(set: FixtureSet) -> Self {
        let mut frames: HashMap<u64, Vec<(u32, u32)>> = HashMap::new();
        let mut last_loud = vec![0; set.utterances.len()];
        for (u, fx) in set.utterances.iter().enumerate() {
            for (f, frame) in fx.ulaw.chunks(FRAME_BYTES).enumerate() {
                let mut padded = [super::fixtures::ULAW_SILENCE; FRAME_BYTES];
                padded[..frame.len()].copy_from_slice(frame);
                if frame_rms(&padded) >= SILENCE_RMS {
                    frames
                        .entry(frame_hash(&padded))
                        .or_default()
                        .push((u as u32, f as u32));
                    if (f as u64) * FRAME_MS < fx.speech_end_ms.max(FRAME_MS) {
                        last_loud[u] = f as u32;
                    }
                }
            }
        }
        Self {
            fixtures: set.utterances,
            frames,
            last_loud,
        }
    }

    fn lookup(&self, frame: &[u8]) -> &[(u32, u32)] {
        self.frames
            .get(&frame_hash(frame))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// FNV-1a over the frame, with the mu-law zero alias 0x7F read as 0xFF so a
/// decode/encode round trip on the way does not change the hash.
fn frame_hash(frame: &[u8]) -> u64 {
    frame.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        let b = if b == 0x7F { 0xFF } else { b };
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Stream options (from the listen URL) and mock latencies.
#[derive(Clone, Debug)]
pub struct RecognizerParams {
    pub interim_results: bool,
    pub vad_events: bool,
    pub endpointing: Duration,
    pub utterance_end: Option<Duration>,
    /// Extra delay on every transcript (the provider's processing time).
    pub result_latency: Duration,
    /// Endpoint when a recognised utterance stops before its end.
    pub mid_utterance_timeout: Duration,
}

/// Counters of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecognizerStats {
    pub bytes: u64,
    pub frames: u64,
    pub speech_frames: u64,
    pub matched_frames: u64,
    pub unknown_speech_frames: u64,
    pub interims: u64,
    pub finals: u64,
}

/// The utterance being heard.
#[derive(Debug)]
struct Active {
    utt: usize,
    /// Stream frame index of the fixture's frame 0.
    origin_frame: u64,
    last_frame: u32,
    words_reached: usize,
    words_final: usize,
    reached_end: bool,
    endpoint_at: Instant,
}

pub struct Recognizer<'a> {
    index: &'a FixtureIndex,
    p: RecognizerParams,
    partial: Vec<u8>,
    active: Option<Active>,
    due: VecDeque<(Instant, String)>,
    pub stats: RecognizerStats,
}

impl<'a> Recognizer<'a> {
    pub fn new(index: &'a FixtureIndex, p: RecognizerParams) -> Self {
        Self {
            index,
            p,
            partial: Vec::with_capacity(FRAME_BYTES),
            active: None,
            due: VecDeque::new(),
            stats: RecognizerStats::default(),
        }
    }

    /// Audio arrived at `now` (any length; frames are cut at 160 bytes).
    pub fn push_audio(&mut self, now: Instant, mut bytes: &[u8]) {
        self.stats.bytes += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (FRAME_BYTES - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() == FRAME_BYTES {
                let frame = std::mem::take(&mut self.partial);
                self.frame(now, &frame);
                self.partial = frame;
                self.partial.clear();
            }
        }
    }

    fn frame(&mut self, now: Instant, frame: &[u8]) {
        let k = self.stats.frames;
        self.stats.frames += 1;
        if frame_rms(frame) < SILENCE_RMS {
            return;
        }
        self.stats.speech_frames += 1;
        let index = self.index; // a copy of the shared reference: no borrow of self
        let hits = index.lookup(frame);
        // A later frame of the utterance being heard continues it, even when
        // frames were lost on the way (the stream position is re-anchored).
        let continuing = self.active.as_ref().and_then(|a| {
            hits.iter()
                .find(|&&(u, f)| u as usize == a.utt && f > a.last_frame && f <= a.last_frame + 25)
        });
        if let Some(&(_, f)) = continuing {
            if let Some(a) = self.active.as_mut() {
                a.origin_frame = k.saturating_sub(f as u64);
            }
        } else if let Some(&(u, f)) = hits.first() {
            self.start_utterance(now, k, u as usize, f);
        } else {
            self.stats.unknown_speech_frames += 1;
            return;
        }
        self.stats.matched_frames += 1;
        let f = continuing.or(hits.first()).map(|h| h.1).unwrap_or_default();
        self.advance(now, f);
    }

    fn start_utterance(&mut self, now: Instant, k: u64, utt: usize, f: u32) {
        if self.active.is_some() {
            self.final_result(now, true, false);
        }
        self.active = Some(Active {
            utt,
            origin_frame: k.saturating_sub(f as u64),
            last_frame: f,
            words_reached: 0,
            words_final: 0,
            reached_end: false,
            endpoint_at: now,
        });
        if self.p.vad_events {
            let ts = secs(k * FRAME_MS);
            self.due.push_back((
                now,
                json!({"type": "SpeechStarted", "channel": [0], "timestamp": ts}).to_string(),
            ));
        }
    }

    fn advance(&mut self, now: Instant, f: u32) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let fx = &self.index.fixtures[a.utt];
        a.last_frame = f;
        let heard_ms = (f as u64 + 1) * FRAME_MS;
        let reached = fx.words.iter().take_while(|w| w.end_ms <= heard_ms).count();
        a.reached_end = heard_ms >= fx.speech_end_ms || f >= self.index.last_loud[a.utt];
        let reached = if a.reached_end {
            fx.words.len()
        } else {
            reached
        };
        let grew = reached > a.words_reached;
        a.words_reached = reached;
        a.endpoint_at = now
            + if a.reached_end {
                self.p.endpointing
            } else {
                self.p.endpointing.max(self.p.mid_utterance_timeout)
            };
        if grew && self.p.interim_results {
            let msg = self.results_json(false, false, false);
            self.stats.interims += 1;
            self.due.push_back((now + self.p.result_latency, msg));
        }
    }

    /// The next time `poll` has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let endpoint = self.active.as_ref().map(|a| a.endpoint_at);
        [endpoint, self.due.front().map(|d| d.0)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Messages due at `now`, in order.
    pub fn poll(&mut self, now: Instant) -> Vec<String> {
        if self.active.as_ref().is_some_and(|a| a.endpoint_at <= now) {
            self.final_result(now + self.p.result_latency, true, false);
        }
        let mut out = Vec::new();
        while self.due.front().is_some_and(|d| d.0 <= now) {
            out.extend(self.due.pop_front().map(|d| d.1));
        }
        out
    }

    /// Finalize: what was heard becomes final now (`from_finalize`).
    pub fn finalize(&mut self, now: Instant) -> Vec<String> {
        // What was already due goes first (dropping it lost an endpoint
        // final that was waiting out its result latency).
        let mut out = self.flush_due();
        let pending = self
            .active
            .as_ref()
            .is_some_and(|a| a.words_reached > a.words_final);
        if pending {
            let msg = self.results_json(true, false, true);
            self.stats.finals += 1;
            if let Some(a) = self.active.as_mut() {
                a.words_final = a.words_reached;
            }
            self.due.push_back((now, msg));
        } else {
            self.due.push_back((now, empty_results(true)));
        }
        out.extend(self.flush_due());
        out
    }

    /// CloseStream: everything pending now, then the stream is over.
    pub fn close(&mut self, now: Instant) -> Vec<String> {
        if self.active.is_some() {
            self.final_result(now, false, false);
        }
        self.flush_due()
    }

    fn flush_due(&mut self) -> Vec<String> {
        self.due.drain(..).map(|d| d.1).collect()
    }

    /// Ends the active utterance with a final (when words are pending) and
    /// schedules UtteranceEnd.
    fn final_result(&mut self, at: Instant, speech_final: bool, from_finalize: bool) {
        let Some(a) = self.active.as_ref() else {
            return;
        };
        if a.words_reached > a.words_final {
            let msg = self.results_json(true, speech_final, from_finalize);
            self.stats.finals += 1;
            self.due.push_back((at, msg));
        }
        let Some(a) = self.active.take() else { return };
        if a.words_reached == 0 {
            return;
        }
        if let Some(ue) = self.p.utterance_end {
            let fx = &self.index.fixtures[a.utt];
            let last_end = secs(a.origin_frame * FRAME_MS + fx.words[a.words_reached - 1].end_ms);
            let when = at + ue.saturating_sub(self.p.endpointing);
            self.due.push_back((
                when,
                json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": last_end})
                    .to_string(),
            ));
        }
    }

    fn results_json(&self, is_final: bool, speech_final: bool, from_finalize: bool) -> String {
        let Some(a) = self.active.as_ref() else {
            return empty_results(is_final);
        };
        let fx = &self.index.fixtures[a.utt];
        let words = &fx.words[a.words_final..a.words_reached];
        let base = a.origin_frame * FRAME_MS;
        let whole = a.words_final == 0 && a.words_reached == fx.words.len() && !fx.text.is_empty();
        let transcript = if whole {
            fx.text.clone()
        } else {
            words
                .iter()
                .map(|w| w.word.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let start = words
            .first()
            .map(|w| secs(base + w.start_ms))
            .unwrap_or(0.0);
        let end = words.last().map(|w| secs(base + w.end_ms)).unwrap_or(start);
        let words_json: Vec<_> = words.iter().map(|w| json!({"word": w.word.to_lowercase(), "start": secs(base + w.start_ms), "end": secs(base + w.end_ms), "confidence": 0.98, "punctuated_word": w.word})).collect();
        json!({
            "type": "Results", "channel_index": [0, 1], "start": start, "duration": end - start,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.98, "words": words_json}]},
            "metadata": {"request_id": "mock", "model_info": {"name": "mock", "version": "1", "arch": "mock"}, "model_uuid": "mock"},
        })
        .to_string()
    }
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn empty_results(is_final: bool) -> String {
    json!({"type": "Results", "channel_index": [0, 1], "start": 0.0, "duration": 0.0, "is_final": is_final, "speech_final": false,
           "from_finalize": true, "channel": {"alternatives": [{"transcript": "", "confidence": 0.0, "words": []}]}})
    .to_string()
}
