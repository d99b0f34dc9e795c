use super::*;
use crate::pcm::rms_dbfs;
use proptest::prelude::*;

fn sine(rate: u32, hz: f32, amplitude: f32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            (amplitude * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}

fn run_all(from: u32, to: u32, input: &[i16]) -> (Vec<i16>, usize) {
    let mut rs = StreamResampler::new(from, to).expect("supported pair");
    let delay = rs.delay_samples();
    let mut out = Vec::new();
    rs.process(input, &mut out);
    rs.flush(&mut out);
    (out, delay)
}

/// Estimated frequency from upward zero crossings.
fn frequency(pcm: &[i16], rate: u32) -> f32 {
    let crossings = pcm.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    crossings as f32 * rate as f32 / pcm.len() as f32
}

#[test]
fn unsupported_pairs_are_rejected_and_equal_rates_pass_through() {
    for (from, to) in [
        (8000, 44100),
        (44100, 8000),
        (16000, 48000),
        (0, 0),
        (8000, 24000),
    ] {
        assert!(
            matches!(
                StreamResampler::new(from, to),
                Err(ResampleError::UnsupportedRate { .. })
            ),
            "{from} -> {to}"
        );
    }
    let mut rs = StreamResampler::new(8000, 8000).expect("pass-through");
    let mut out = Vec::new();
    rs.process(&[1, 2, 3], &mut out);
    rs.flush(&mut out);
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(rs.delay_samples(), 0);
}

#[test]
fn supported_pairs_report_their_rates_and_a_small_delay() {
    for (from, to) in SUPPORTED {
        let rs = StreamResampler::new(from, to).expect("supported pair");
        assert_eq!((rs.from_hz(), rs.to_hz()), (from, to));
        let delay_ms = rs.delay_samples() as f32 * 1000.0 / to as f32;
        assert!(
            delay_ms > 0.0 && delay_ms <= 20.0,
            "{from}->{to}: {delay_ms} ms"
        );
    }
}

#[test]
fn sine_survives_8k_to_16k_to_8k_after_the_delay() {
    let input = sine(8000, 1000.0, 10000.0, 8000);
    let (up, up_delay) = run_all(8000, 16000, &input);
    assert_eq!(up.len(), up_delay + 16000);
    assert!((frequency(&up[4000..12000], 16000) - 1000.0).abs() < 5.0);
    let (down, down_delay) = run_all(16000, 8000, &up);
    let delay = up_delay / 2 + down_delay;
    let aligned = &down[delay..delay + input.len()];
    // Skip the edges, where the filters ring in and out.
    let (a, b) = (&input[400..7600], &aligned[400..7600]);
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .max()
        .expect("non-empty");
    assert!(worst < 50, "max deviation {worst} of 10000");
    assert!((rms_dbfs(a) - rms_dbfs(b)).abs() < 0.2);
    assert!((frequency(b, 8000) - 1000.0).abs() < 5.0);
}

#[test]
fn downsampling_24k_attenuates_6khz_and_keeps_1khz() {
    let pass = sine(24000, 1000.0, 10000.0, 24000);
    let stop = sine(24000, 6000.0, 10000.0, 24000);
    let (pass_out, delay) = run_all(24000, 8000, &pass);
    let (stop_out, _) = run_all(24000, 8000, &stop);
    let middle = delay + 400..delay + 7600;
    let kept = rms_dbfs(&pass_out[middle.clone()]) - rms_dbfs(&pass[1200..22800]);
    let attenuation = rms_dbfs(&stop[1200..22800]) - rms_dbfs(&stop_out[middle]);
    assert!(kept.abs() < 0.5, "1 kHz changed by {kept} dB");
    assert!(attenuation > 50.0, "6 kHz only {attenuation} dB down");
}

#[test]
fn downsampling_48k_attenuates_5khz() {
    let stop = sine(48000, 5000.0, 10000.0, 48000);
    let (out, delay) = run_all(48000, 8000, &stop);
    let attenuation = rms_dbfs(&stop) - rms_dbfs(&out[delay + 400..delay + 7600]);
    assert!(attenuation > 40.0, "5 kHz only {attenuation} dB down");
}

#[test]
fn flush_emits_delay_plus_content_and_resets() {
    let mut rs = StreamResampler::new(24000, 8000).expect("supported pair");
    let mut out = Vec::new();
    rs.process(&[1000; 1001], &mut out);
    assert!(rs.pending_input() > 0);
    rs.flush(&mut out);
    assert_eq!(out.len(), rs.delay_samples() + 334);
    assert_eq!(rs.pending_input(), 0);
    let mut again = Vec::new();
    rs.process(&[1000; 1001], &mut again);
    rs.flush(&mut again);
    assert_eq!(out, again, "flush must leave a fresh resampler");
    let mut empty = Vec::new();
    rs.flush(&mut empty);
    assert!(empty.is_empty());
}

#[test]
fn twenty_ms_chunks_give_twenty_ms_out() {
    let mut rs = StreamResampler::new(8000, 16000).expect("supported pair");
    let mut out = Vec::new();
    for _ in 0..10 {
        out.clear();
        rs.process(&[500; 160], &mut out);
        assert_eq!(out.len(), 320);
    }
}

/// The same resampler without the digital-silence shortcut, for comparison.
fn run_without_shortcut(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
    let mut rs = StreamResampler::new(from, to).expect("supported pair");
    let mut out = Vec::new();
    for chunk in input.chunks((from / 50) as usize) {
        if let Some(stage) = rs.stage.as_mut() {
            stage.silent_chunks = 0;
        }
        rs.process(chunk, &mut out);
    }
    rs.flush(&mut out);
    out
}

proptest! {
    #[test]
    fn silence_shortcut_gives_exactly_what_rubato_gives(
        pair in 0usize..4,
        bursts in proptest::collection::vec((0usize..2000, 0usize..2000), 1..5),
    ) {
        let (from, to) = SUPPORTED[pair];
        let mut input = Vec::new();
        for (zeros, signal) in bursts {
            input.extend(std::iter::repeat_n(0i16, zeros));
            input.extend((0..signal).map(|i| ((i * 7919) % 20000) as i16 - 10000));
        }
        let (with_shortcut, _) = run_all(from, to, &input);
        prop_assert_eq!(with_shortcut, run_without_shortcut(from, to, &input));
    }

    #[test]
    fn odd_chunk_sizes_give_the_same_output_as_one_chunk(
        pair in 0usize..4,
        samples in proptest::collection::vec(any::<i16>(), 0..3000),
        cuts in proptest::collection::vec(1usize..700, 1..20),
    ) {
        let (from, to) = SUPPORTED[pair];
        let (whole, _) = run_all(from, to, &samples);
        let mut rs = StreamResampler::new(from, to).expect("supported pair");
        let mut pieces = Vec::new();
        let mut rest = &samples[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*cut).min(rest.len());
            rs.process(&rest[..n], &mut pieces);
            rest = &rest[n..];
        }
        rs.flush(&mut pieces);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn any_pair_and_any_input_never_panics(
        from in prop_oneof![Just(0u32), Just(8000u32), Just(16000u32), Just(24000u32), Just(48000u32), any::<u32>()],
        to in prop_oneof![Just(0u32), Just(8000u32), Just(16000u32), any::<u32>()],
        samples in proptest::collection::vec(any::<i16>(), 0..2000),
    ) {
        if let Ok(mut rs) = StreamResampler::new(from, to) {
            let mut out = Vec::new();
            rs.process(&samples, &mut out);
            rs.flush(&mut out);
            rs.reset();
            prop_assert!(out.len() >= samples.len() * to as usize / from as usize);
        }
    }
}
