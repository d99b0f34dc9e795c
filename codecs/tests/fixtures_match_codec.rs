//! The committed fixtures agree with this crate's codec: each .ulaw is
//! exactly `ulaw_encode` of its .wav, and utterances.json is consistent.

mod support;

use support::{load_wav, manifest, ms, read_bytes};
use switchboard_codecs::g711::ulaw_encode;

#[test]
fn every_ulaw_fixture_is_the_encoding_of_its_wav() {
    let doc = manifest();
    let all = doc["utterances"]
        .as_array()
        .expect("list")
        .iter()
        .chain(doc["noise"].as_array().expect("list"));
    for entry in all.filter(|e| e["wav"].is_string()) {
        let wav = load_wav(entry["wav"].as_str().expect("string"));
        let ulaw = read_bytes(entry["file"].as_str().expect("string"));
        assert_eq!(wav.len(), ulaw.len(), "{}", entry["id"]);
        let mismatches = wav
            .iter()
            .zip(&ulaw)
            .filter(|(&s, &b)| ulaw_encode(s) != b)
            .count();
        assert_eq!(mismatches, 0, "{}", entry["id"]);
        assert_eq!(
            ms(entry, "duration_ms"),
            wav.len() as u64 / 8,
            "{}",
            entry["id"]
        );
    }
}

#[test]
fn utterance_metadata_is_consistent() {
    let doc = manifest();
    let utterances = doc["utterances"].as_array().expect("list");
    assert!(utterances.len() >= 11);
    for u in utterances {
        let (start, end, duration) = (
            ms(u, "speech_start_ms"),
            ms(u, "speech_end_ms"),
            ms(u, "duration_ms"),
        );
        assert!(start < end && end < duration, "{}", u["id"]);
        let words = u["words"].as_array().expect("words list");
        assert!(!words.is_empty(), "{}", u["id"]);
        let mut last = start;
        for w in words {
            let (ws, we) = (ms(w, "start_ms"), ms(w, "end_ms"));
            assert!(ws >= last && ws < we && we <= end, "{}: {w}", u["id"]);
            last = ws;
        }
    }
}
