use super::*;
use crate::g711::ulaw_decode_into;
use proptest::prelude::*;

/// "What are your opening hours?": speech from 500 to 1740 ms.
static OPENING_HOURS: &[u8] = include_bytes!("../../tests/fixtures/speech/opening_hours.ulaw");

fn speech() -> Vec<i16> {
    let mut pcm = vec![0i16; OPENING_HOURS.len()];
    ulaw_decode_into(OPENING_HOURS, &mut pcm);
    pcm
}

fn events_in_20ms_pushes(vad: &mut Vad, pcm: &[i16]) -> Vec<(usize, VadEvent)> {
    let mut events = Vec::new();
    for (i, frame) in pcm.chunks(160).enumerate() {
        if let Some(event) = vad.push(frame) {
            events.push((i, event));
        }
        assert!(
            vad.next_event().is_none(),
            "20 ms pushes never queue a second event"
        );
    }
    events
}

#[test]
fn invalid_configs_are_rejected() {
    let ok = VadConfig::default();
    assert!(ok.validate().is_ok());
    let bad = [
        VadConfig {
            threshold: 0.0,
            ..ok.clone()
        },
        VadConfig {
            threshold: 1.0,
            ..ok.clone()
        },
        VadConfig {
            threshold: f32::NAN,
            ..ok.clone()
        },
        VadConfig {
            start_ms: 39,
            ..ok.clone()
        },
        VadConfig {
            stop_ms: 0,
            ..ok.clone()
        },
        VadConfig {
            stop_ms: 120_000,
            ..ok.clone()
        },
        VadConfig {
            energy_gate_dbfs: 1.0,
            ..ok.clone()
        },
        VadConfig {
            energy_gate_dbfs: f32::NEG_INFINITY,
            ..ok.clone()
        },
    ];
    for cfg in bad {
        assert!(Vad::new(cfg.clone()).is_err(), "{cfg:?} accepted");
    }
}

#[test]
fn default_config_is_in_the_documented_ranges() {
    let cfg = VadConfig::default();
    assert_eq!(cfg.threshold, 0.5);
    assert!((60..=100).contains(&cfg.start_ms));
    assert!((300..=500).contains(&cfg.stop_ms));
    assert!((-60.0..=-50.0).contains(&cfg.energy_gate_dbfs));
}

#[test]
fn digital_silence_is_gated_and_silent() {
    let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
    let events = events_in_20ms_pushes(&mut vad, &[0; 8000]);
    assert!(events.is_empty());
    assert!(!vad.is_speaking());
    assert_eq!(vad.samples_seen(), 8000);
    assert_eq!(vad.stats().frames_inferred, 0);
    assert_eq!(vad.stats().frames_gated, 62); // 16000 samples / 256, less the partial frame
}

#[test]
fn an_utterance_gives_one_start_and_one_stop_stamped_at_the_true_boundaries() {
    let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
    let mut pcm = speech();
    pcm.extend([0; 4800]);
    let events = events_in_20ms_pushes(&mut vad, &pcm);
    let [(start_push, VadEvent::SpeechStarted { at: start }), (stop_push, VadEvent::SpeechStopped { at: stop })] =
        events[..]
    else {
        panic!("expected start then stop, got {events:?}");
    };
    // True speech: 500..1740 ms = samples 4000..13920.
    assert!(start.abs_diff(4000) <= 800, "onset at {start}");
    assert!(stop.abs_diff(13920) <= 800, "offset at {stop}");
    // Emitted when the hysteresis decides: after the start/stop windows.
    assert!(start_push * 160 >= start as usize + 80 * 8 - 160);
    assert!(stop_push * 160 >= stop as usize + 400 * 8 - 160);
    assert!(!vad.is_speaking());
}

#[test]
fn silence_inside_speech_is_measured_and_end_speech_makes_the_next_speech_a_new_onset() {
    let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
    let pcm = speech();
    // Up to the end of the words (1740 ms), then 240 ms of silence.
    for frame in pcm[..1760 * 8].chunks(160) {
        vad.push(frame);
    }
    assert!(vad.is_speaking());
    let during = vad.silence_ms();
    assert!(during < 100, "speech just ended: {during} ms");
    let mut events = Vec::new();
    for frame in [0i16; 240 * 8].chunks(160) {
        events.extend(vad.push(frame));
    }
    assert!(
        events.is_empty() && vad.is_speaking(),
        "stop window not full"
    );
    let silent = vad.silence_ms();
    assert!((150..=300).contains(&silent), "silence so far {silent} ms");
    vad.end_speech();
    assert!(!vad.is_speaking());
    assert_eq!(vad.silence_ms(), 0);
    // More silence: no stop event for speech already ended; then the same
    // utterance again starts anew.
    let mut later = events_in_20ms_pushes(&mut vad, &[0i16; 8000]);
    assert!(later.is_empty(), "{later:?}");
    later = events_in_20ms_pushes(&mut vad, &pcm);
    assert!(matches!(
        later.first(),
        Some((_, VadEvent::SpeechStarted { .. }))
    ));
}

#[test]
fn one_long_push_gives_the_same_events_as_20ms_pushes() {
    let mut pcm = speech();
    pcm.extend([0; 4800]);
    let mut framed = Vad::new(VadConfig::default()).expect("default config is valid");
    let expected: Vec<VadEvent> = events_in_20ms_pushes(&mut framed, &pcm)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let mut whole = Vad::new(VadConfig::default()).expect("default config is valid");
    let first = whole.push(&pcm);
    let rest: Vec<VadEvent> = std::iter::from_fn(|| whole.next_event()).collect();
    let got: Vec<VadEvent> = first.into_iter().chain(rest).collect();
    assert_eq!(got, expected);
    assert_eq!(whole.stats(), framed.stats());
}

#[test]
fn reset_makes_a_fresh_detector() {
    let pcm = speech();
    let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
    let first = events_in_20ms_pushes(&mut vad, &pcm);
    vad.reset();
    assert_eq!(vad.samples_seen(), 0);
    assert_eq!(vad.stats(), VadStats::default());
    let again = events_in_20ms_pushes(&mut vad, &pcm);
    assert_eq!(first, again);
}

#[test]
fn hysteresis_needs_the_full_window_and_tolerates_short_gaps() {
    let cfg = VadConfig {
        start_ms: 80,
        stop_ms: 160,
        ..VadConfig::default()
    };
    let mut h = Hysteresis::new(&cfg);
    let speech = [true, true, false, true, true, true];
    let flips: Vec<Option<u64>> = speech
        .iter()
        .enumerate()
        .map(|(i, &s)| h.feed(i as u64, s, None))
        .collect();
    assert_eq!(
        flips,
        [None, None, None, None, Some(0), None],
        "one-frame gap tolerated"
    );
    let mut h = Hysteresis::new(&cfg);
    let broken = [
        true, true, false, false, false, true, true, true, true, true,
    ];
    let flips: Vec<Option<u64>> = broken
        .iter()
        .enumerate()
        .map(|(i, &s)| h.feed(i as u64, s, None))
        .collect();
    assert_eq!(flips[..9], [None; 9], "a three-frame gap restarts the run");
    assert_eq!(flips[9], Some(5));
    for i in 10..19 {
        assert_eq!(h.feed(i, false, None), None, "frame {i}");
    }
    assert_eq!(h.feed(19, false, None), Some(10));
}

#[test]
fn the_start_window_counts_from_the_back_dated_onset_after_two_speech_frames() {
    let cfg = VadConfig {
        start_ms: 80, // 5 frames
        ..VadConfig::default()
    };
    let mut h = Hysteresis::new(&cfg);
    // Energy rose at frame 10; earshot first says speech at frame 13.
    let flips: Vec<Option<u64>> = (13..20).map(|i| h.feed(i, true, Some(10))).collect();
    // Frame 14: two earshot frames, 5 frames since the onset: confirmed.
    assert_eq!(flips, [None, Some(13), None, None, None, None, None]);
    // Without a back-dated onset the window is earshot's own: frame 17.
    let mut h = Hysteresis::new(&cfg);
    let flips: Vec<Option<u64>> = (13..20).map(|i| h.feed(i, true, None)).collect();
    assert_eq!(flips, [None, None, None, None, Some(13), None, None]);
}

#[test]
fn vad_is_send_and_small() {
    fn assert_send<T: Send>() {}
    assert_send::<Vad>();
    assert!(
        std::mem::size_of::<Vad>() < 1024,
        "{} bytes inline",
        std::mem::size_of::<Vad>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_audio_never_panics_and_events_alternate(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..700), 0..12),
        loud in any::<bool>(),
    ) {
        let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
        let mut events = Vec::new();
        let mut pushed = 0u64;
        for chunk in &chunks {
            let chunk: Vec<i16> = if loud { chunk.clone() } else { chunk.iter().map(|s| s / 512).collect() };
            pushed += chunk.len() as u64;
            events.extend(vad.push(&chunk));
            events.extend(std::iter::from_fn(|| vad.next_event()));
            prop_assert!((0.0..=1.0).contains(&vad.last_probability()));
        }
        prop_assert_eq!(vad.samples_seen(), pushed);
        let mut last_at = 0;
        for (i, event) in events.iter().enumerate() {
            let (at, is_start) = match *event {
                VadEvent::SpeechStarted { at } => (at, true),
                VadEvent::SpeechStopped { at } => (at, false),
            };
            prop_assert_eq!(is_start, i % 2 == 0, "events alternate, starting with a start");
            prop_assert!(at >= last_at && at <= pushed);
            last_at = at;
        }
    }
}

proptest! {
    #[test]
    fn any_config_is_accepted_or_rejected_without_panicking(
        threshold in any::<f32>(),
        start_ms in any::<u32>(),
        stop_ms in any::<u32>(),
        energy_gate_dbfs in any::<f32>(),
    ) {
        let cfg = VadConfig { threshold, start_ms, stop_ms, energy_gate_dbfs };
        if let Ok(mut vad) = Vad::new(cfg) {
            prop_assert!(vad.push(&[1000; 160]).is_none());
        }
    }
}
