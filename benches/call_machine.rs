//! Cost of the sans-IO `Call` machine per 20 ms frame, in virtual time:
//! - inbound silence: decode, VAD (energy-gated), STT batching, timers;
//! - inbound speech: the same with VAD inference and the turn machine
//!   (a speech fixture on a loop);
//! - outbound: 20 ms of 24 kHz TTS audio in, resampled to 8 kHz mu-law,
//!   paced out as a frame, a mark every 100 ms echoed back.
//!
//! Run: `cargo bench --bench call_machine -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_actors::call::{Call, CallConfig, Input, Outbound, Output, StartInfo};
use switchboard_actors::ids::{CallSid, StreamSid};
use switchboard_actors::providers::TtsEvent;

const FRAME: Duration = Duration::from_millis(20);

fn config() -> Arc<CallConfig> {
    Arc::new(CallConfig {
        // Keep the call alive and quiet for as long as criterion runs.
        idle_reprompt_ms: 86_400_000,
        idle_hangup_ms: 86_400_000,
        max_call_ms: 86_400_000,
        ..CallConfig::default()
    })
}

/// A call just started, and the id of its greeting's first TTS request.
fn started_call(t0: Instant) -> (Call, u64) {
    let mut call = Call::new(config(), t0);
    call.handle_input(
        t0,
        Input::Start(StartInfo {
            call_sid: CallSid::new("CAbench"),
            stream_sid: StreamSid::new("MZbench"),
            ..StartInfo::default()
        }),
    );
    let mut tts = None;
    while let Some(o) = call.poll_output() {
        if let Output::Tts(req) = o {
            tts.get_or_insert(req.id);
        }
    }
    (call, tts.expect("the greeting is synthesised"))
}

/// Drains outputs, echoing marks at once as an idle Twilio would; returns
/// the echoes to feed back.
fn drain(call: &mut Call, echoes: &mut Vec<String>) {
    while let Some(o) = call.poll_output() {
        if let Output::Twilio(Outbound::Mark(name)) = &o {
            echoes.push(name.clone());
        }
        black_box(o);
    }
}

fn inbound(c: &mut Criterion, name: &str, audio: Vec<u8>) {
    let t0 = Instant::now();
    let (mut call, _) = started_call(t0);
    let mut now = t0;
    let mut at = 0usize;
    let mut echoes = Vec::new();
    c.bench_function(name, |b| {
        b.iter(|| {
            now += FRAME;
            let frame = &audio[at..at + 160];
            at = (at + 160) % (audio.len() - audio.len() % 160);
            call.handle_input(
                now,
                Input::Media {
                    timestamp_ms: 0,
                    ulaw: frame,
                },
            );
            if call.poll_timeout().is_some_and(|t| t <= now) {
                call.handle_timeout(now);
            }
            drain(&mut call, &mut echoes);
            echoes.clear();
        })
    });
}

fn outbound(c: &mut Criterion) {
    let t0 = Instant::now();
    // The greeting's first sentence never finishes: each iteration brings
    // 20 ms more of its TTS audio.
    let (mut call, greeting_tts) = started_call(t0);
    let mut now = t0;
    let pcm: Vec<i16> = (0..480)
        .map(|i| ((i as f32 * 0.07).sin() * 6000.0) as i16)
        .collect();
    let mut echoes = Vec::new();
    c.bench_function("call_outbound_frame_24k_tts", |b| {
        b.iter(|| {
            now += FRAME;
            call.handle_input(
                now,
                Input::Tts(TtsEvent::Audio {
                    id: greeting_tts,
                    pcm: pcm.clone(),
                    sample_rate: 24_000,
                }),
            );
            call.handle_timeout(now);
            drain(&mut call, &mut echoes);
            for name in echoes.drain(..) {
                call.handle_input(now, Input::Mark { name: &name });
            }
            drain(&mut call, &mut echoes);
        })
    });
}

fn fixture(id: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/speech/{id}.ulaw",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).expect("speech fixtures are committed")
}

fn benches(c: &mut Criterion) {
    inbound(c, "call_inbound_frame_silence", vec![0xFF; 16_000]);
    let mut speech = Vec::new();
    for id in ["address", "reschedule", "leaking_tap"] {
        speech.extend(fixture(id));
    }
    inbound(c, "call_inbound_frame_speech", speech);
    outbound(c);
}

criterion_group!(call_machine, benches);
criterion_main!(call_machine);
