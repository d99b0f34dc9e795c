//! Loads the committed speech/noise fixtures (tests/fixtures at the
//! workspace root, made by make_fixtures.sh) and runs a `Vad` over them.

#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

use serde_json::Value;
use switchboard_codecs::g711::ulaw_decode_into;
use switchboard_codecs::vad::{Vad, VadConfig, VadEvent, VadStats};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn manifest() -> Value {
    let path = fixtures_dir().join("utterances.json");
    let text = std::fs::read_to_string(&path).expect("fixtures are committed");
    serde_json::from_str(&text).expect("utterances.json is valid JSON")
}

pub fn read_bytes(relative: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(relative))
        .expect("fixture file listed in utterances.json exists")
}

pub fn load_ulaw(relative: &str) -> Vec<i16> {
    let bytes = read_bytes(relative);
    let mut pcm = vec![0i16; bytes.len()];
    ulaw_decode_into(&bytes, &mut pcm);
    pcm
}

/// Samples of a 16-bit mono PCM WAV (just enough RIFF parsing for our fixtures).
pub fn load_wav(relative: &str) -> Vec<i16> {
    let bytes = read_bytes(relative);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        if id == b"data" {
            let data = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
            return data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{relative} has no data chunk");
}

pub fn ms(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A detected speech segment in ms, from back-dated events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    pub start_ms: f64,
    pub end_ms: f64,
}

pub struct VadRun {
    pub segments: Vec<Segment>,
    pub stats: VadStats,
    /// 20 ms frames pushed.
    pub frames: usize,
}

/// Pushes `pcm` in 20 ms frames followed by `tail_ms` of digital silence, so
/// the last segment closes; collects the segments.
pub fn run_vad(cfg: &VadConfig, pcm: &[i16], tail_ms: usize) -> VadRun {
    let mut vad = Vad::new(cfg.clone()).expect("valid config");
    let mut events = Vec::new();
    let mut audio = pcm.to_vec();
    audio.extend(std::iter::repeat_n(0, tail_ms * 8));
    let frames = audio.chunks(160).count();
    for frame in audio.chunks(160) {
        events.extend(vad.push(frame));
        events.extend(std::iter::from_fn(|| vad.next_event()));
    }
    let mut segments = Vec::new();
    let mut open = None;
    for event in events {
        match event {
            VadEvent::SpeechStarted { at } => open = Some(at as f64 / 8.0),
            VadEvent::SpeechStopped { at } => {
                let start_ms = open.take().expect("stop follows a start");
                segments.push(Segment {
                    start_ms,
                    end_ms: at as f64 / 8.0,
                });
            }
        }
    }
    assert!(open.is_none(), "segment still open after the silent tail");
    VadRun {
        segments,
        stats: vad.stats(),
        frames,
    }
}

impl VadRun {
    /// Share of the 10 ms slots in `[from, to)` ms covered by a segment.
    pub fn coverage(&self, from_ms: f64, to_ms: f64) -> f64 {
        let slots: Vec<f64> = (0..)
            .map(|i| from_ms + 10.0 * i as f64 + 5.0)
            .take_while(|&t| t < to_ms)
            .collect();
        if slots.is_empty() {
            return 0.0;
        }
        let covered = slots
            .iter()
            .filter(|&&t| {
                self.segments
                    .iter()
                    .any(|s| s.start_ms <= t && t < s.end_ms)
            })
            .count();
        covered as f64 / slots.len() as f64
    }
}
