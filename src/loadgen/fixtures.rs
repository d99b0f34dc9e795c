//! Speech fixtures as the callers send them: each utterance cut into 160-byte
//! (20 ms) mu-law frames from its first byte, base64-encoded once at load and
//! shared by every caller through an `Arc`, so streaming costs no encoding.
//!
//! The STT mock recognises utterances by frame hashes, so frame alignment
//! matters: frame 0 starts at byte 0 of the file and a short last frame is
//! padded with mu-law silence (0xFF).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

/// Bytes in one 20 ms frame of 8 kHz mu-law.
pub const FRAME_BYTES: usize = 160;
/// Milliseconds in one frame.
pub const FRAME_MS: u64 = 20;
/// Mu-law silence.
pub const SILENCE_BYTE: u8 = 0xFF;

/// Why the fixtures could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("unknown utterance {0:?}")]
    Unknown(String),
}

/// One entry of `utterances.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct UtteranceMeta {
    pub id: String,
    #[serde(default)]
    pub text: String,
    pub file: String,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub speech_start_ms: u64,
    #[serde(default)]
    pub speech_end_ms: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MetaFile {
    List(Vec<UtteranceMeta>),
    Wrapped { utterances: Vec<UtteranceMeta> },
}

/// One utterance ready to stream.
#[derive(Debug)]
pub struct Utterance {
    pub id: String,
    pub text: String,
    /// Base64 payload of each 20 ms frame, in order.
    pub frames: Box<[Box<str>]>,
    /// Offset of the first speech sample from the first byte.
    pub speech_start_ms: u64,
    /// Offset of the last speech sample from the first byte.
    pub speech_end_ms: u64,
}

impl Utterance {
    /// Cuts raw mu-law bytes into frames (the last one padded with silence).
    pub fn from_ulaw(id: &str, text: &str, audio: &[u8], speech: (u64, u64)) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        let frames = audio
            .chunks(FRAME_BYTES)
            .map(|chunk| {
                let mut frame = [SILENCE_BYTE; FRAME_BYTES];
                frame[..chunk.len()].copy_from_slice(chunk);
                b64.encode(frame).into_boxed_str()
            })
            .collect();
        let total_ms = audio.len() as u64 / 8;
        let (start, end) = speech;
        let end = if end == 0 || end > total_ms {
            total_ms
        } else {
            end
        };
        Utterance {
            id: id.to_owned(),
            text: text.to_owned(),
            frames,
            speech_start_ms: start.min(end),
            speech_end_ms: end,
        }
    }

    /// Index of the frame that holds the last speech sample.
    pub fn speech_end_frame(&self) -> usize {
        let last_ms = self.speech_end_ms.saturating_sub(1);
        ((last_ms / FRAME_MS) as usize).min(self.frames.len().saturating_sub(1))
    }

    /// Index of the frame that holds the first speech sample.
    pub fn speech_start_frame(&self) -> usize {
        ((self.speech_start_ms / FRAME_MS) as usize).min(self.frames.len().saturating_sub(1))
    }
}

/// All utterances by id, plus the shared silence frame.
#[derive(Debug, Clone)]
pub struct Fixtures {
    by_id: Arc<HashMap<String, Arc<Utterance>>>,
    silence: Arc<str>,
}

impl Fixtures {
    /// Builds the set from utterances already in memory (tests, demos).
    pub fn from_utterances(list: Vec<Utterance>) -> Self {
        let by_id = list
            .into_iter()
            .map(|u| (u.id.clone(), Arc::new(u)))
            .collect();
        let silence = base64::engine::general_purpose::STANDARD.encode([SILENCE_BYTE; FRAME_BYTES]);
        Fixtures {
            by_id: Arc::new(by_id),
            silence: silence.into(),
        }
    }

    /// Loads `utterances.json` and the `.ulaw` files it names (relative to it).
    pub fn load(json_path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(json_path).map_err(|source| FixtureError::Read {
            path: json_path.to_owned(),
            source,
        })?;
        let meta: MetaFile = serde_json::from_str(&text).map_err(|source| FixtureError::Parse {
            path: json_path.to_owned(),
            source,
        })?;
        let list = match meta {
            MetaFile::List(l) | MetaFile::Wrapped { utterances: l } => l,
        };
        let dir = json_path.parent().unwrap_or(Path::new("."));
        let mut out = Vec::with_capacity(list.len());
        for m in list {
            let path = dir.join(&m.file);
            let audio =
                std::fs::read(&path).map_err(|source| FixtureError::Read { path, source })?;
            let speech = (m.speech_start_ms, m.speech_end_ms);
            out.push(Utterance::from_ulaw(&m.id, &m.text, &audio, speech));
        }
        Ok(Self::from_utterances(out))
    }

    /// The utterance with this id.
    pub fn get(&self, id: &str) -> Result<&Arc<Utterance>, FixtureError> {
        self.by_id
            .get(id)
            .ok_or_else(|| FixtureError::Unknown(id.to_owned()))
    }

    /// Base64 of one silent frame.
    pub fn silence(&self) -> &Arc<str> {
        &self.silence
    }

    /// Ids of all utterances, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<_> = self.by_id.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_last_frame_is_padded_with_silence() {
        let audio = vec![0x10u8; FRAME_BYTES + 10];
        let u = Utterance::from_ulaw("x", "", &audio, (0, 0));
        assert_eq!(u.frames.len(), 2);
        let last = base64::engine::general_purpose::STANDARD
            .decode(u.frames[1].as_bytes())
            .expect("we encoded it");
        assert_eq!(&last[..10], &[0x10; 10]);
        assert!(last[10..].iter().all(|&b| b == SILENCE_BYTE));
    }

    #[test]
    fn speech_end_frame_holds_the_last_speech_sample() {
        let audio = vec![0x10u8; FRAME_BYTES * 10];
        let u = Utterance::from_ulaw("x", "", &audio, (40, 100));
        assert_eq!(u.speech_start_frame(), 2);
        assert_eq!(u.speech_end_frame(), 4);
        let whole = Utterance::from_ulaw("y", "", &audio, (0, 0));
        assert_eq!(whole.speech_end_ms, 200);
        assert_eq!(whole.speech_end_frame(), 9);
    }
}
