//! The per-socket FrameGuard in virtual time: order rules, size, binary
//! frames, floods, unknown events, per-call tokens, and the rate limiter's
//! bound as a property.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::twilio::{
    call_token, FrameError, FrameGuard, GuardConfig, IgnoreReason, Inbound, RateLimiter,
    TwilioStream, Verdict, WireKind,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn stream() -> TwilioStream {
    TwilioStream::new("AC1", "CA1", "MZ1")
}

fn accepted(v: &Verdict<Inbound<'_>>) -> bool {
    matches!(v, Verdict::Accept(_))
}

#[test]
fn normal_call_is_accepted_frame_by_frame() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    let mut tw = stream();
    assert!(accepted(&guard.screen_text(t0, &tw.connected())));
    assert!(accepted(&guard.screen_text(t0, &tw.start(BTreeMap::new()))));
    for i in 0..3000u64 {
        let frame = tw.media(i * 20, &[0xff; 160]);
        let v = guard.screen_text(t0 + ms(i * 20), &frame);
        assert!(accepted(&v), "frame {i}: {v:?}");
    }
    assert!(accepted(&guard.screen_text(t0 + ms(60_000), &tw.dtmf('0'))));
    assert!(accepted(
        &guard.screen_text(t0 + ms(60_001), &tw.mark("m1"))
    ));
    assert!(accepted(&guard.screen_text(t0 + ms(60_002), &tw.stop())));
    assert_eq!(guard.closed(), None);
}

#[test]
fn media_before_start_closes() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    let frame = stream().media(0, &[0; 160]);
    let v = guard.screen_text(t0, &frame);
    assert_eq!(v, Verdict::Close(FrameError::MediaBeforeStart));
    // Once closed, always closed.
    let frame = stream().start(BTreeMap::new());
    let v = guard.screen_text(t0, &frame);
    assert_eq!(v, Verdict::Close(FrameError::MediaBeforeStart));
}

#[test]
fn marks_and_dtmf_before_start_are_ignored_and_counted() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    let mut tw = stream();
    let frame = tw.mark("x");
    let v = guard.screen_text(t0, &frame);
    assert_eq!(
        v,
        Verdict::Ignore {
            reason: IgnoreReason::BeforeStart,
            count: 1
        }
    );
    let frame = tw.dtmf('1');
    let v = guard.screen_text(t0, &frame);
    assert_eq!(
        v,
        Verdict::Ignore {
            reason: IgnoreReason::BeforeStart,
            count: 2
        }
    );
}

#[test]
fn unknown_events_are_counted_and_ignored() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    for n in 1..=3 {
        let v = guard.screen_text(t0, r#"{"event":"novel","streamSid":"MZ1"}"#);
        assert_eq!(
            v,
            Verdict::Ignore {
                reason: IgnoreReason::UnknownEvent,
                count: n
            }
        );
    }
    assert_eq!(guard.ignored(IgnoreReason::UnknownEvent), 3);
    assert!(accepted(
        &guard.screen_text(t0, &stream().start(BTreeMap::new()))
    ));
}

#[test]
fn binary_and_oversized_frames_close() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    assert_eq!(
        guard.admit(t0, WireKind::Binary, 10),
        Verdict::Close(FrameError::BinaryFrame)
    );
    let mut guard = FrameGuard::new(GuardConfig::default());
    let big = " ".repeat(64 * 1024 + 1);
    assert_eq!(
        guard.screen_text(t0, &big),
        Verdict::Close(FrameError::TooLarge {
            len: 65537,
            max: 65536
        })
    );
}

#[test]
fn malformed_frame_closes_with_its_parse_error() {
    let mut guard = FrameGuard::new(GuardConfig::default());
    let v = guard.screen_text(Instant::now(), "{not json");
    assert!(
        matches!(v, Verdict::Close(FrameError::MalformedJson { .. })),
        "{v:?}"
    );
}

#[test]
fn second_start_and_foreign_stream_sid_close() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    let mut tw = stream();
    assert!(accepted(&guard.screen_text(t0, &tw.start(BTreeMap::new()))));
    assert_eq!(
        guard.screen_text(t0, &tw.start(BTreeMap::new())),
        Verdict::Close(FrameError::DuplicateStart)
    );

    let mut guard = FrameGuard::new(GuardConfig::default());
    assert!(accepted(&guard.screen_text(t0, &tw.start(BTreeMap::new()))));
    let other = TwilioStream::new("AC1", "CA1", "MZ2").media(0, &[0; 160]);
    assert_eq!(
        guard.screen_text(t0, &other),
        Verdict::Close(FrameError::BadValue("streamSid"))
    );
}

#[test]
fn frames_after_stop_are_ignored() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    let mut tw = stream();
    assert!(accepted(&guard.screen_text(t0, &tw.start(BTreeMap::new()))));
    assert!(accepted(&guard.screen_text(t0, &tw.stop())));
    let frame = tw.media(0, &[0; 160]);
    let v = guard.screen_text(t0, &frame);
    assert_eq!(
        v,
        Verdict::Ignore {
            reason: IgnoreReason::AfterStop,
            count: 1
        }
    );
}

#[test]
fn per_call_token_is_checked_on_start() {
    let t0 = Instant::now();
    let secret: Arc<[u8]> = Arc::from(&b"s3cret"[..]);
    let config = GuardConfig {
        token_secret: Some(secret),
        ..GuardConfig::default()
    };
    let good = BTreeMap::from([("token".to_string(), call_token(b"s3cret", "CA1"))]);
    let wrong = BTreeMap::from([("token".to_string(), call_token(b"s3cret", "CA2"))]);
    for (params, expect_ok) in [(good, true), (wrong, false), (BTreeMap::new(), false)] {
        let mut guard = FrameGuard::new(config.clone());
        let frame = stream().start(params);
        let v = guard.screen_text(t0, &frame);
        if expect_ok {
            assert!(accepted(&v), "{v:?}");
        } else {
            assert_eq!(v, Verdict::Close(FrameError::BadToken));
        }
    }
}

#[test]
fn flood_closes_after_the_burst_is_spent() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    // 2000 frames/s: 4x the limit. The burst of 500 lasts 500/(2000-500) s.
    let mut closed_at = None;
    for i in 0..2000u64 {
        if let Verdict::Close(e) =
            guard.admit(t0 + Duration::from_micros(i * 500), WireKind::Text, 300)
        {
            closed_at = Some((i, e));
            break;
        }
    }
    let (i, e) = closed_at.expect("a 2000 frames/s flood must close");
    assert!((600..=700).contains(&i), "closed at frame {i}");
    assert!(
        matches!(e, FrameError::Flood { limit: 500, rate } if rate > 500),
        "{e:?}"
    );
}

#[test]
fn catch_up_burst_after_a_network_stall_is_tolerated() {
    let t0 = Instant::now();
    let mut guard = FrameGuard::new(GuardConfig::default());
    // 5 s of silence on the wire, then 250 buffered frames at once, then normal pace.
    for i in 0..250u64 {
        assert_eq!(
            guard.admit(
                t0 + ms(5000) + Duration::from_micros(i),
                WireKind::Text,
                300
            ),
            Verdict::Accept(())
        );
    }
    for i in 0..500u64 {
        assert_eq!(
            guard.admit(t0 + ms(5001 + i * 20), WireKind::Text, 300),
            Verdict::Accept(())
        );
    }
}

proptest! {
    #[test]
    fn limiter_never_exceeds_rate_times_span_plus_burst(
        rate in 1u32..2000,
        burst in 1u32..200,
        gaps in prop::collection::vec(0u64..5_000_000, 1..600),
    ) {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(rate, burst);
        let mut now = t0;
        let mut accepted_at = Vec::new();
        for gap in gaps {
            now += Duration::from_nanos(gap);
            if limiter.try_acquire(now) {
                accepted_at.push(now);
            }
        }
        // Every window [a, b] between two accepted frames.
        for (i, a) in accepted_at.iter().enumerate() {
            for (j, b) in accepted_at.iter().enumerate().skip(i) {
                let count = (j - i + 1) as u128;
                let span_ns = b.duration_since(*a).as_nanos();
                prop_assert!(
                    count <= u128::from(burst) || (count - u128::from(burst)) * 1_000_000_000 <= span_ns * u128::from(rate),
                    "{count} accepted in {span_ns} ns at rate {rate} burst {burst}"
                );
            }
        }
    }

    #[test]
    fn limiter_accepts_a_full_burst_and_a_steady_rate(rate in 1u32..2000, burst in 1u32..200) {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(rate, burst);
        for _ in 0..burst {
            prop_assert!(limiter.try_acquire(t0));
        }
        prop_assert!(!limiter.try_acquire(t0));
        // After the bucket refills, frames at exactly the rate always pass.
        let interval = Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(rate)));
        let start = t0 + interval * (burst + 1);
        for k in 0..50u32 {
            prop_assert!(limiter.try_acquire(start + interval * k));
        }
    }
}

#[test]
fn start_with_a_format_the_engine_cannot_decode_closes() {
    let start = stream().start(BTreeMap::new()).replace("8000", "16000");
    let mut guard = FrameGuard::new(GuardConfig::default());
    let v = guard.screen_text(Instant::now(), &start);
    assert_eq!(v, Verdict::Close(FrameError::BadValue("start.mediaFormat")));
}
