//! Speech fixtures for the STT mock: `tests/fixtures/utterances.json` and
//! its `.ulaw` files (id, text, speech span and word boundaries per
//! utterance; noisy variants point at their `source`), or synthetic ones
//! made from the TTS mock's voice when a test needs its own.
//!
//! Audio is 8 kHz mu-law; frames are 160 bytes from the first byte of each
//! file, the last one padded with mu-law silence, exactly as the load
//! generator streams them.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Bytes in one 20 ms mu-law frame.
pub const FRAME_BYTES: usize = 160;
pub const FRAME_MS: u64 = 20;
pub const ULAW_SILENCE: u8 = 0xFF;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FixtureWord {
    pub word: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One utterance with its audio.
#[derive(Clone, Debug)]
pub struct SpeechFixture {
    pub id: String,
    pub text: String,
    pub speech_start_ms: u64,
    pub speech_end_ms: u64,
    pub words: Vec<FixtureWord>,
    pub ulaw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid {0}: {1}")]
    Parse(PathBuf, serde_json::Error),
}

#[derive(Deserialize)]
struct MetaEntry {
    id: String,
    #[serde(default)]
    text: String,
    file: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    speech_start_ms: Option<u64>,
    #[serde(default)]
    speech_end_ms: Option<u64>,
    #[serde(default)]
    words: Vec<FixtureWord>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MetaFile {
    Wrapped {
        utterances: Vec<MetaEntry>,
        #[serde(default)]
        noise: Vec<MetaEntry>,
    },
    List(Vec<MetaEntry>),
}

/// A set of speech fixtures.
#[derive(Clone, Debug, Default)]
pub struct FixtureSet {
    pub utterances: Vec<SpeechFixture>,
}

impl FixtureSet {
    /// `$SWITCHBOARD_FIXTURES`, else `tests/fixtures` of this source tree.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("SWITCHBOARD_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
    }

    /// Loads `dir/utterances.json` and the audio it names. Noise entries
    /// with a `source` become utterances with the source's words.
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        let meta_path = dir.join("utterances.json");
        let text = std::fs::read_to_string(&meta_path)
            .map_err(|e| FixtureError::Read(meta_path.clone(), e))?;
        let meta: MetaFile =
            serde_json::from_str(&text).map_err(|e| FixtureError::Parse(meta_path.clone(), e))?;
        let (utterances, noise) = match meta {
            MetaFile::Wrapped { utterances, noise } => (utterances, noise),
            MetaFile::List(list) => (list, Vec::new()),
        };
        let mut set = FixtureSet::default();
        for entry in &utterances {
            set.utterances.push(load_entry(dir, entry, entry)?);
        }
        for entry in noise.iter().filter(|n| n.source.is_some()) {
            if let Some(src) = utterances
                .iter()
                .find(|u| Some(&u.id) == entry.source.as_ref())
            {
                set.utterances.push(load_entry(dir, entry, src)?);
            }
        }
        Ok(set)
    }

    /// Fixtures made from the TTS mock's voice (8 kHz), for tests that need
    /// utterances of their own. Words are spread evenly over the speech.
    pub fn synthetic(items: &[(&str, &str)]) -> Self {
        let utterances = items
            .iter()
            .map(|(id, text)| synthetic_fixture(id, text))
            .collect();
        FixtureSet { utterances }
    }

    pub fn get(&self, id: &str) -> Option<&SpeechFixture> {
        self.utterances.iter().find(|u| u.id == id)
    }
}

fn load_entry(
    dir: &Path,
    entry: &MetaEntry,
    words_from: &MetaEntry,
) -> Result<SpeechFixture, FixtureError> {
    let path = dir.join(&entry.file);
    let ulaw = std::fs::read(&path).map_err(|e| FixtureError::Read(path, e))?;
    let total_ms = ulaw.len() as u64 / 8;
    let start = entry
        .speech_start_ms
        .or(words_from.speech_start_ms)
        .unwrap_or(0);
    let end = entry
        .speech_end_ms
        .or(words_from.speech_end_ms)
        .unwrap_or(total_ms);
    let words = if words_from.words.is_empty() {
        even_words(&words_from.text, start, end)
    } else {
        words_from.words.clone()
    };
    Ok(SpeechFixture {
        id: entry.id.clone(),
        text: words_from.text.clone(),
        speech_start_ms: start,
        speech_end_ms: end,
        words,
        ulaw,
    })
}

/// Word boundaries spread over the speech span by character count.
fn even_words(text: &str, start_ms: u64, end_ms: u64) -> Vec<FixtureWord> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let chars: u64 = words
        .iter()
        .map(|w| w.chars().count() as u64 + 1)
        .sum::<u64>()
        .max(1);
    let span = end_ms.saturating_sub(start_ms);
    let mut at = 0u64;
    words
        .iter()
        .map(|w| {
            let from = start_ms + span * at / chars;
            at += w.chars().count() as u64 + 1;
            FixtureWord {
                word: (*w).to_owned(),
                start_ms: from,
                end_ms: start_ms + span * at / chars,
            }
        })
        .collect()
}

fn synthetic_fixture(id: &str, text: &str) -> SpeechFixture {
    const LEAD_MS: u64 = 300;
    let pcm = super::synth::speech_like_pcm(text, 8_000, 65);
    let speech_ms = pcm.len() as u64 / 8;
    let mut ulaw = vec![ULAW_SILENCE; (LEAD_MS * 8) as usize];
    ulaw.extend(pcm.iter().map(|&s| ulaw_encode(s)));
    ulaw.extend(std::iter::repeat_n(ULAW_SILENCE, (LEAD_MS * 8) as usize));
    let (start, end) = (LEAD_MS, LEAD_MS + speech_ms);
    SpeechFixture {
        id: id.to_owned(),
        text: text.to_owned(),
        speech_start_ms: start,
        speech_end_ms: end,
        words: even_words(text, start, end),
        ulaw,
    }
}

/// G.711 mu-law encoding of one sample (PROTOCOLS.md section 7).
pub fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    let mag = s.abs().min(CLIP) + BIAS;
    let exponent = (7 - (mag as u32).leading_zeros().saturating_sub(17).min(7)) as i32;
    let mantissa = (mag >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// G.711 mu-law decoding of one byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let mag = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// Root mean square of a mu-law frame, in linear sample units.
pub fn frame_rms(frame: &[u8]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|&b| (ulaw_decode(b) as f64).powi(2)).sum();
    (sum / frame.len() as f64).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_round_trips_every_code_up_to_the_zero_alias() {
        for b in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(b));
            assert!(
                back == b || (b == 0x7F && back == 0xFF),
                "{b:#x} -> {back:#x}"
            );
        }
        assert_eq!(ulaw_encode(0), 0xFF);
    }

    #[test]
    fn repository_fixtures_load_with_words() {
        let set = FixtureSet::load(&FixtureSet::default_dir()).expect("tests/fixtures is present");
        let hours = set.get("opening_hours").expect("opening_hours fixture");
        assert_eq!(hours.words.first().map(|w| w.word.as_str()), Some("What"));
        assert!(hours.ulaw.len() > 8 * 1000);
        assert!(set
            .utterances
            .iter()
            .any(|u| u.id.ends_with("_20db") && !u.words.is_empty()));
    }

    #[test]
    fn synthetic_fixtures_have_speech_between_silences() {
        let set = FixtureSet::synthetic(&[("greet", "hello there friend")]);
        let f = set.get("greet").expect("made above");
        assert_eq!(f.words.len(), 3);
        assert_eq!(frame_rms(&f.ulaw[..FRAME_BYTES]), 0.0);
        let mid = (f.speech_start_ms + 200) as usize * 8;
        assert!(frame_rms(&f.ulaw[mid..mid + FRAME_BYTES]) > 500.0);
    }
}
