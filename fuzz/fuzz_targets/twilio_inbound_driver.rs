//! Drives one simulated socket from fuzz input and checks invariants.
//!
//! Input format: frames separated by 0x1E. The first byte of a frame is the
//! time since the previous frame in units of 100 µs; the rest is the frame.
//! Valid UTF-8 goes in as a text frame, anything else as a binary frame.

use std::time::{Duration, Instant};
use switchboard::twilio::{
    parse_server_frame, FrameGuard, GuardConfig, Inbound, Verdict, WireKind, MAX_PAYLOAD_BYTES,
};

pub const SEPARATOR: u8 = 0x1e;

pub fn run(data: &[u8]) {
    let mut guard = FrameGuard::new(GuardConfig {
        burst: 20,
        rate_per_sec: 100,
        ..GuardConfig::default()
    });
    let mut now = Instant::now();
    let mut fixed = [0u8; MAX_PAYLOAD_BYTES];
    let mut reused = Vec::new();
    for frame in data.split(|b| *b == SEPARATOR) {
        let Some((gap, body)) = frame.split_first() else {
            continue;
        };
        now += Duration::from_micros(u64::from(*gap) * 100);
        let was_closed = guard.closed().is_some();
        let verdict = match std::str::from_utf8(body) {
            Ok(text) => {
                let _ = parse_server_frame(text);
                let verdict = guard.screen_text(now, text);
                if let Verdict::Accept(Inbound::Media(m)) = &verdict {
                    check_decode(m, &mut fixed, &mut reused);
                }
                verdict.is_close()
            }
            Err(_) => matches!(
                guard.admit(now, WireKind::Binary, body.len()),
                Verdict::Close(_)
            ),
        };
        assert!(!was_closed || verdict, "a closed guard must keep closing");
    }
}

fn check_decode(m: &switchboard::twilio::Media<'_>, fixed: &mut [u8], reused: &mut Vec<u8>) {
    let a = m.decode_payload(fixed);
    let b = m.decode_payload_into(reused).map(|()| reused.len());
    assert_eq!(a, b, "slice and Vec decoding agree");
    if let Ok(n) = a {
        assert!(n <= MAX_PAYLOAD_BYTES);
        assert_eq!(&fixed[..n], &reused[..]);
    }
}
