//! Per-frame cost of the Twilio wire on the hot path: parsing one inbound
//! 20 ms media frame (216-char base64 payload) and decoding its payload,
//! screening it through the FrameGuard, and writing one outbound media frame.

use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use switchboard::twilio::{
    parse_inbound, write_media, FrameGuard, GuardConfig, Inbound, TwilioStream,
};

fn inbound_frame() -> String {
    let ulaw: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(37)).collect();
    let frame = TwilioStream::new(
        "AC0123456789abcdef0123456789abcdef",
        "CA0123456789abcdef0123456789abcdef",
        "MZ0123456789abcdef0123456789abcdef",
    )
    .media(123_460, &ulaw);
    let Ok(Inbound::Media(m)) = parse_inbound(&frame) else {
        unreachable!("TwilioStream builds valid media")
    };
    assert_eq!(m.payload.len(), 216, "a real-sized 20 ms frame");
    frame
}

fn parse_and_decode(c: &mut Criterion) {
    let frame = inbound_frame();
    let mut out = Vec::with_capacity(160);
    c.bench_function("twilio/parse_inbound_media+decode (216 b64 chars)", |b| {
        b.iter(|| {
            let Ok(Inbound::Media(m)) = parse_inbound(black_box(&frame)) else {
                unreachable!("bench frame is valid media")
            };
            m.decode_payload_into(&mut out)
                .expect("bench payload is valid base64");
            black_box(out.len())
        })
    });
}

fn guard_screen(c: &mut Criterion) {
    let frame = inbound_frame();
    let mut tw = TwilioStream::new(
        "AC0123456789abcdef0123456789abcdef",
        "CA0123456789abcdef0123456789abcdef",
        "MZ0123456789abcdef0123456789abcdef",
    );
    let mut guard = FrameGuard::new(GuardConfig::default());
    let mut now = Instant::now();
    let start = tw.start(BTreeMap::new());
    assert!(
        guard.screen_text(now, &start).is_accept(),
        "bench start is valid"
    );
    c.bench_function("twilio/guard_screen_text_media", |b| {
        b.iter(|| {
            // 20 ms apart, as a real call: the limiter never trips.
            now += Duration::from_millis(20);
            black_box(guard.screen_text(now, black_box(&frame)).is_accept())
        })
    });
}

fn write_outbound(c: &mut Criterion) {
    let ulaw = [0xffu8; 160];
    let mut out = String::with_capacity(512);
    c.bench_function("twilio/write_media (160 bytes)", |b| {
        b.iter(|| {
            write_media(
                &mut out,
                black_box("MZ0123456789abcdef0123456789abcdef"),
                black_box(&ulaw),
            );
            black_box(out.len())
        })
    });
}

criterion_group!(benches, parse_and_decode, guard_screen, write_outbound);
criterion_main!(benches);
