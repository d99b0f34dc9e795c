//! The STT mock's recogniser in virtual time: a fixture fed as 20 ms frames
//! yields interims as words end, the final only after the last speech frame
//! plus endpointing, then UtteranceEnd; silence and unknown audio yield
//! nothing.

use std::time::{Duration, Instant};
use switchboard::mocks::fixtures::{FixtureSet, FRAME_BYTES};
use switchboard::mocks::recognizer::{FixtureIndex, Recognizer, RecognizerParams};

fn params() -> RecognizerParams {
    RecognizerParams {
        interim_results: true,
        vad_events: true,
        endpointing: Duration::from_millis(300),
        utterance_end: Some(Duration::from_millis(1000)),
        result_latency: Duration::ZERO,
        mid_utterance_timeout: Duration::from_millis(800),
    }
}

fn kind(msg: &str) -> (String, bool, String) {
    let v: serde_json::Value = serde_json::from_str(msg).expect("mock sends JSON");
    let text = v
        .pointer("/channel/alternatives/0/transcript")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_owned();
    (
        v["type"].as_str().unwrap_or("").to_owned(),
        v["is_final"].as_bool().unwrap_or(false),
        text,
    )
}

#[test]
fn fixture_in_real_time_frames_gives_interims_then_final_after_endpointing() {
    let set = FixtureSet::load(&FixtureSet::default_dir()).expect("tests/fixtures is present");
    let fx = set.get("opening_hours").expect("fixture").clone();
    let index = FixtureIndex::new(set);
    let mut rec = Recognizer::new(&index, params());
    let t0 = Instant::now();
    let mut now = t0;
    let mut log: Vec<(Duration, (String, bool, String))> = Vec::new();
    for frame in fx.ulaw.chunks(FRAME_BYTES) {
        rec.push_audio(now, frame);
        log.extend(rec.poll(now).iter().map(|m| (now - t0, kind(m))));
        now += Duration::from_millis(20);
    }
    for _ in 0..100 {
        log.extend(rec.poll(now).iter().map(|m| (now - t0, kind(m))));
        now += Duration::from_millis(20);
    }
    let first_final = log
        .iter()
        .position(|(_, k)| k.0 == "Results" && k.1)
        .expect("a final");
    let interims: Vec<&str> = log[..first_final]
        .iter()
        .filter(|(_, k)| k.0 == "Results")
        .map(|(_, k)| k.2.as_str())
        .collect();
    assert_eq!(interims.first().copied(), Some("What"));
    assert!(interims.len() >= 3, "{interims:?}");
    let (at, (_, _, text)) = &log[first_final];
    assert_eq!(text, &fx.text);
    // Not before the last speech frame arrived plus endpointing.
    let last_word_end = Duration::from_millis(fx.words.last().expect("words").end_ms);
    assert!(
        *at >= last_word_end.saturating_sub(Duration::from_millis(100))
            + Duration::from_millis(300),
        "final at {at:?}"
    );
    assert_eq!(log.last().map(|(_, k)| k.0.as_str()), Some("UtteranceEnd"));
    assert!(log.iter().any(|(_, k)| k.0 == "SpeechStarted"));
    assert_eq!(rec.stats.unknown_speech_frames, 0);
}

#[test]
fn silence_and_unknown_speech_give_no_transcript() {
    let index = FixtureIndex::new(FixtureSet::synthetic(&[("known", "hello there")]));
    let stranger = FixtureSet::synthetic(&[("x", "something else entirely")]);
    let mut rec = Recognizer::new(&index, params());
    let mut now = Instant::now();
    let mut out = Vec::new();
    for frame in [0xFFu8; 1600]
        .chunks(FRAME_BYTES)
        .chain(stranger.utterances[0].ulaw.chunks(FRAME_BYTES))
    {
        rec.push_audio(now, frame);
        out.extend(rec.poll(now));
        now += Duration::from_millis(20);
    }
    out.extend(rec.close(now));
    assert!(out.is_empty(), "{out:?}");
    assert!(rec.stats.unknown_speech_frames > 20);
}

#[test]
fn audio_in_odd_sized_pieces_is_recognised_the_same() {
    let set = FixtureSet::synthetic(&[("known", "hello there friend")]);
    let fx = set.utterances[0].clone();
    let index = FixtureIndex::new(set);
    let mut rec = Recognizer::new(&index, params());
    let now = Instant::now();
    for piece in fx.ulaw.chunks(97) {
        rec.push_audio(now, piece);
    }
    let out = rec.close(now + Duration::from_secs(1));
    let finals: Vec<_> = out.iter().map(|m| kind(m)).filter(|k| k.1).collect();
    assert_eq!(finals.len(), 1, "{out:?}");
    assert_eq!(finals[0].2, "hello there friend");
}

#[test]
fn lost_frames_inside_an_utterance_do_not_split_it() {
    let set = FixtureSet::load(&FixtureSet::default_dir()).expect("tests/fixtures is present");
    let fx = set.get("book_tuesday").expect("fixture").clone();
    let index = FixtureIndex::new(set);
    let mut rec = Recognizer::new(&index, params());
    let mut now = Instant::now();
    let mut out = Vec::new();
    for (i, frame) in fx.ulaw.chunks(FRAME_BYTES).enumerate() {
        if i % 10 != 7 {
            rec.push_audio(now, frame); // every tenth frame lost on the way
        }
        out.extend(rec.poll(now));
        now += Duration::from_millis(20);
    }
    out.extend(rec.poll(now + Duration::from_secs(2)));
    let finals: Vec<_> = out.iter().map(|m| kind(m)).filter(|k| k.1).collect();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0].2, fx.text);
}

proptest::proptest! {
    #[test]
    fn arbitrary_audio_and_controls_never_panic(pieces in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), 0..12), finalize_at in 0usize..12) {
        let set = FixtureSet::synthetic(&[("known", "hello there")]);
        let known = set.utterances[0].ulaw.clone();
        let index = FixtureIndex::new(set);
        let mut rec = Recognizer::new(&index, params());
        let mut now = Instant::now();
        for (i, piece) in pieces.iter().enumerate() {
            rec.push_audio(now, piece);
            if i % 3 == 0 {
                rec.push_audio(now, &known[i * 97 % known.len()..]);
            }
            if i == finalize_at {
                rec.finalize(now);
            }
            let _ = rec.poll(now);
            now += Duration::from_millis(37);
        }
        let _ = rec.close(now);
    }
}

#[test]
fn a_finalize_while_the_endpoint_final_waits_out_its_latency_still_delivers_it() {
    let set = FixtureSet::load(&FixtureSet::default_dir()).expect("tests/fixtures is present");
    let fx = set.get("opening_hours").expect("fixture").clone();
    let index = FixtureIndex::new(set);
    let mut p = params();
    p.result_latency = Duration::from_millis(100);
    let mut rec = Recognizer::new(&index, p);
    let t0 = Instant::now();
    let mut now = t0;
    let mut got: Vec<(String, bool, String)> = Vec::new();
    let speech_frames = (fx.speech_end_ms / 20 + 1) as usize;
    for frame in fx.ulaw.chunks(FRAME_BYTES).take(speech_frames) {
        rec.push_audio(now, frame);
        got.extend(rec.poll(now).iter().map(|m| kind(m)));
        now += Duration::from_millis(20);
    }
    // Past the endpoint (300 ms after the last frame): its final is queued
    // for 100 ms later. Finalize arrives before that latency has passed.
    now += Duration::from_millis(400);
    got.extend(rec.poll(now).iter().map(|m| kind(m)));
    assert!(
        !got.iter().any(|k| k.0 == "Results" && k.1),
        "the endpoint final is still waiting out its latency"
    );
    got.extend(rec.finalize(now).iter().map(|m| kind(m)));
    let finals: Vec<&str> = got
        .iter()
        .filter(|k| k.0 == "Results" && k.1 && !k.2.is_empty())
        .map(|k| k.2.as_str())
        .collect();
    assert_eq!(finals.len(), 1, "{got:?}");
    assert!(
        finals[0].to_lowercase().contains("opening hours"),
        "{finals:?}"
    );
}
