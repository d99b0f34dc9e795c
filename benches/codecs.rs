//! Per-20 ms-frame cost of the audio path (switchboard-codecs), the work a
//! call actor does for every inbound Twilio media message.
//!
//! Run: cargo bench --bench codecs -- --warm-up-time 1 --measurement-time 3
//! Latest figures: benches/RESULTS-codecs.md.

use std::hint::black_box;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use switchboard_codecs::g711::{ulaw_decode_into, ulaw_encode_into, ULAW_SILENCE};
use switchboard_codecs::resample::StreamResampler;
use switchboard_codecs::vad::{Vad, VadConfig};

/// "What are your opening hours?" at 8 kHz mu-law; speech spans 500..1740 ms.
static OPENING_HOURS: &[u8] = include_bytes!("../tests/fixtures/speech/opening_hours.ulaw");
/// 20 ms at 8 kHz.
const FRAME: usize = 160;

/// The speech part of the fixture as 20 ms mu-law frames.
fn speech_frames() -> Vec<[u8; FRAME]> {
    OPENING_HOURS[500 * 8..1740 * 8]
        .chunks_exact(FRAME)
        .map(|c| c.try_into().expect("chunks_exact yields FRAME bytes"))
        .collect()
}

fn decode(frame: &[u8; FRAME]) -> [i16; FRAME] {
    let mut pcm = [0i16; FRAME];
    ulaw_decode_into(frame, &mut pcm);
    pcm
}

fn g711(c: &mut Criterion) {
    let frame = speech_frames()[10];
    let pcm = decode(&frame);
    c.bench_function("ulaw_decode_20ms", |b| {
        let mut out = [0i16; FRAME];
        b.iter(|| ulaw_decode_into(black_box(&frame), &mut out))
    });
    c.bench_function("ulaw_encode_20ms", |b| {
        let mut out = [0u8; FRAME];
        b.iter(|| ulaw_encode_into(black_box(&pcm), &mut out))
    });
}

fn resample(c: &mut Criterion) {
    let pcm8: Vec<i16> = decode(&speech_frames()[10]).to_vec();
    c.bench_function("resample_8k_to_16k_20ms", |b| {
        let mut rs = StreamResampler::new(8000, 16000).expect("supported pair");
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            rs.process(black_box(&pcm8), &mut out);
        })
    });
    let pcm24: Vec<i16> = (0..480).map(|i| ((i * 97) % 2000) as i16 - 1000).collect();
    c.bench_function("resample_24k_to_8k_20ms", |b| {
        let mut rs = StreamResampler::new(24000, 8000).expect("supported pair");
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            rs.process(black_box(&pcm24), &mut out);
        })
    });
}

fn vad(c: &mut Criterion) {
    let frames: Vec<[i16; FRAME]> = speech_frames().iter().map(decode).collect();
    c.bench_function("vad_speech_20ms", |b| {
        let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % frames.len();
            vad.push(black_box(&frames[i]))
        })
    });
    // The network alone, per 16 ms frame: the floor under vad_speech_20ms,
    // which runs it 1.25 times per 20 ms (earshot wants 256 samples at 16 kHz).
    let frame256: Vec<i16> = (0..256).map(|i| frames[20][i % FRAME]).collect();
    c.bench_function("earshot_inference_16ms", |b| {
        let mut detector = earshot::Detector::default_boxed();
        b.iter(|| detector.predict_i16(black_box(&frame256)))
    });
    c.bench_function("vad_gated_silence_20ms", |b| {
        let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
        let silence = [0i16; FRAME];
        b.iter(|| vad.push(black_box(&silence)))
    });
}

/// Twilio media payload (base64 of 160 mu-law bytes) -> bytes -> 8 kHz PCM
/// -> VAD (which upsamples to 16 kHz and runs earshot inside).
fn inbound(c: &mut Criterion) {
    let payloads: Vec<String> = speech_frames().iter().map(|f| STANDARD.encode(f)).collect();
    let mut check = [0u8; FRAME];
    assert_eq!(
        STANDARD.decode_slice(&payloads[0], &mut check),
        Ok(FRAME),
        "payload fits the frame buffer"
    );
    c.bench_function("inbound_base64_ulaw_16k_vad_20ms", |b| {
        let mut vad = Vad::new(VadConfig::default()).expect("default config is valid");
        let mut bytes = [ULAW_SILENCE; FRAME];
        let mut pcm = [0i16; FRAME];
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % payloads.len();
            let n = STANDARD
                .decode_slice(black_box(payloads[i].as_bytes()), &mut bytes)
                .unwrap_or(0);
            let n = ulaw_decode_into(&bytes[..n], &mut pcm);
            vad.push(&pcm[..n])
        })
    });
}

criterion_group!(benches, g711, resample, vad, inbound);
criterion_main!(benches);
