//! Speech-like audio for the TTS mock: voiced harmonics under syllable
//! envelopes with a drifting pitch and short gaps between words, so VAD,
//! codecs and barge-in see something like a voice rather than a pure tone.
//! Deterministic for a given text, and generated lazily chunk by chunk from
//! a one-period wavetable, so thousands of simulated calls (and cancelled
//! streams) cost little CPU even in a debug build.

use std::f32::consts::{PI, TAU};
use std::sync::OnceLock;

const TABLE: usize = 2048;

/// One period of the voiced waveform: 8 harmonics, the first-formant region
/// (harmonics 3-6 at a ~135 Hz pitch, 400-800 Hz) emphasised like a vowel.
fn wavetable() -> &'static [f32; TABLE] {
    static T: OnceLock<[f32; TABLE]> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [0f32; TABLE];
        for (i, v) in t.iter_mut().enumerate() {
            let x = TAU * i as f32 / TABLE as f32;
            *v = (1..=8).map(|k| if (3..=6).contains(&k) { 1.6 } else { 1.0 } * (k as f32 * x).sin() / k as f32).sum();
        }
        t
    })
}

/// A lazy generator of speech-like PCM for one text.
#[derive(Clone, Debug)]
pub struct SpeechSynth {
    total: usize,
    pos: usize,
    sample_rate: f32,
    phase: f32,
    seed_phase: f32,
    gaps: Vec<usize>,
}

impl SpeechSynth {
    /// `ms_per_char` per character (at least 300 ms), mono at `sample_rate`.
    pub fn new(text: &str, sample_rate: u32, ms_per_char: u32) -> Self {
        let chars = text.chars().count().max(1);
        let total_ms = (chars as u64 * ms_per_char as u64).max(300);
        let total = (total_ms * sample_rate as u64 / 1000) as usize;
        let seed = text
            .bytes()
            .fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        let gaps = text
            .chars()
            .enumerate()
            .filter(|(_, c)| c.is_whitespace())
            .map(|(i, _)| i * total / chars)
            .collect();
        Self {
            total,
            pos: 0,
            sample_rate: sample_rate as f32,
            phase: 0.0,
            seed_phase: (seed % 7) as f32,
            gaps,
        }
    }

    /// Samples in the whole utterance.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Samples not generated yet.
    pub fn remaining(&self) -> usize {
        self.total - self.pos
    }

    /// Fills `out` with the next samples; returns how many were written.
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let n = out.len().min(self.remaining());
        let table = wavetable();
        let syllable = 0.18 * self.sample_rate;
        for (j, slot) in out[..n].iter_mut().enumerate() {
            let i = self.pos + j;
            let t = i as f32 / self.sample_rate;
            // Pitch glides around 120-150 Hz like intonation.
            let f0 = 135.0 + 15.0 * (t * 2.1 + self.seed_phase).sin();
            self.phase = (self.phase + f0 / self.sample_rate).fract();
            let voiced = table[(self.phase * TABLE as f32) as usize % TABLE];
            let env =
                syllable_envelope(i as f32 / syllable) * gap_gain(&self.gaps, i, self.sample_rate);
            *slot = (voiced * env * 7000.0).clamp(-32000.0, 32000.0) as i16;
        }
        self.pos += n;
        n
    }
}

/// The whole utterance at once.
pub fn speech_like_pcm(text: &str, sample_rate: u32, ms_per_char: u32) -> Vec<i16> {
    let mut synth = SpeechSynth::new(text, sample_rate, ms_per_char);
    let mut out = vec![0i16; synth.len()];
    synth.fill(&mut out);
    out
}

/// Most bytes the audio cache keeps before it starts afresh.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The whole utterance as little-endian PCM bytes, shared: simulated calls
/// repeat the same replies, and synthesising each again cost the mock
/// process most of its CPU in capacity runs (CPU the engine and the callers
/// share on one machine, where a real TTS provider costs none).
pub fn cached_pcm_le(text: &str, sample_rate: u32, ms_per_char: u32) -> std::sync::Arc<Vec<u8>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    type Key = (String, u32, u32);
    /// The entries and their total size in bytes.
    type Cache = (HashMap<Key, Arc<Vec<u8>>>, usize);
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new((HashMap::new(), 0)));
    let key = (text.to_owned(), sample_rate, ms_per_char);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.0.get(&key).cloned()) {
        return hit;
    }
    let pcm = speech_like_pcm(text, sample_rate, ms_per_char);
    let bytes: Arc<Vec<u8>> = Arc::new(pcm.iter().flat_map(|s| s.to_le_bytes()).collect());
    if let Ok(mut c) = cache.lock() {
        if c.1 + bytes.len() > CACHE_BYTES {
            c.0.clear();
            c.1 = 0;
        }
        c.1 += bytes.len();
        c.0.insert(key, bytes.clone());
    }
    bytes
}

/// Rises and falls once per syllable, never quite silent inside a word.
fn syllable_envelope(pos: f32) -> f32 {
    let s = (PI * pos.fract()).sin();
    0.15 + 0.85 * s * s.sqrt()
}

/// Fades to silence for ~40 ms around each word gap.
fn gap_gain(gaps: &[usize], i: usize, sr: f32) -> f32 {
    let half = (0.02 * sr) as usize;
    // Gaps are sorted: only the nearest two can be close.
    let k = gaps.partition_point(|&g| g < i);
    let near = [k.checked_sub(1).map(|p| gaps[p]), gaps.get(k).copied()];
    match near.into_iter().flatten().map(|g| g.abs_diff(i)).min() {
        Some(d) if d < half => d as f32 / half as f32,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_follows_the_text() {
        let short = speech_like_pcm("Hi there", 24_000, 65);
        let long = speech_like_pcm(
            "Our opening hours are eight to six on weekdays.",
            24_000,
            65,
        );
        assert_eq!(short.len(), 24 * 520);
        assert_eq!(long.len(), 24 * 65 * 47);
    }

    #[test]
    fn it_is_loud_and_not_constant() {
        let pcm = speech_like_pcm("Hello, how can I help you today?", 24_000, 65);
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 4000, "peak {peak}");
        let energies: Vec<u64> = pcm
            .chunks(480)
            .map(|c| c.iter().map(|&s| (s as i64 * s as i64) as u64).sum::<u64>() / 480)
            .collect();
        let (lo, hi) = (
            energies.iter().min().copied().unwrap_or(0),
            energies.iter().max().copied().unwrap_or(0),
        );
        assert!(
            hi > lo * 4,
            "syllable envelopes should modulate energy: {lo}..{hi}"
        );
    }

    #[test]
    fn chunked_generation_equals_whole() {
        let whole = speech_like_pcm("chunk by chunk", 8_000, 65);
        let mut synth = SpeechSynth::new("chunk by chunk", 8_000, 65);
        let mut got = Vec::new();
        let mut buf = [0i16; 333];
        while synth.remaining() > 0 {
            let n = synth.fill(&mut buf);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, whole);
    }
}
