use super::*;
use proptest::prelude::*;

#[test]
fn ulaw_decode_matches_protocol_vectors() {
    let vectors: [(u8, i16); 9] = [
        (0x00, -32124),
        (0x0F, -16764),
        (0x70, -120),
        (0x7E, -8),
        (0x7F, 0),
        (0x80, 32124),
        (0xF0, 120),
        (0xFE, 8),
        (0xFF, 0),
    ];
    for (byte, value) in vectors {
        assert_eq!(ulaw_decode(byte), value, "decode {byte:#04x}");
    }
}

#[test]
fn ulaw_encode_matches_protocol_vectors() {
    let vectors: [(i16, u8); 9] = [
        (0, 0xFF),
        (8, 0xFE),
        (100, 0xF2),
        (-100, 0x72),
        (1000, 0xCE),
        (-1000, 0x4E),
        (32767, 0x80),
        (-32768, 0x00),
        (-1, 0x7F),
    ];
    for (sample, byte) in vectors {
        assert_eq!(ulaw_encode(sample), byte, "encode {sample}");
    }
}

#[test]
fn alaw_matches_protocol_vectors() {
    let decode: [(u8, i16); 6] = [
        (0xD5, 8),
        (0x55, -8),
        (0x80, 5504),
        (0x00, -5504),
        (0xAA, 32256),
        (0x2A, -32256),
    ];
    for (byte, value) in decode {
        assert_eq!(alaw_decode(byte), value, "decode {byte:#04x}");
    }
    let encode: [(i16, u8); 3] = [(0, 0xD5), (1000, 0xFA), (-1000, 0x7A)];
    for (sample, byte) in encode {
        assert_eq!(alaw_encode(sample), byte, "encode {sample}");
    }
}

#[test]
fn ulaw_round_trip_of_every_code_is_identity_except_negative_zero() {
    for code in 0..=255u8 {
        let back = ulaw_encode(ulaw_decode(code));
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(back, expected, "code {code:#04x}");
    }
}

#[test]
fn alaw_round_trip_of_every_code_is_identity() {
    for code in 0..=255u8 {
        assert_eq!(alaw_encode(alaw_decode(code)), code, "code {code:#04x}");
    }
}

#[test]
fn silence_codes_decode_to_near_zero() {
    assert_eq!(ulaw_decode(ULAW_SILENCE), 0);
    assert_eq!(alaw_decode(ALAW_SILENCE), 8);
}

#[test]
fn slice_helpers_stop_at_the_shorter_side() {
    let src = [0u8, 0x80, 0xFF, 0x7E];
    let mut short = [0i16; 2];
    assert_eq!(ulaw_decode_into(&src, &mut short), 2);
    assert_eq!(short, [-32124, 32124]);
    let mut long = [7i16; 6];
    assert_eq!(alaw_decode_into(&src, &mut long), 4);
    assert_eq!(long[4..], [7, 7]);
    let mut bytes = [0u8; 3];
    assert_eq!(ulaw_encode_into(&[0, -1, 8, 9], &mut bytes), 3);
    assert_eq!(bytes, [0xFF, 0x7F, 0xFE]);
    assert_eq!(alaw_encode_into(&[0, 1000], &mut bytes), 2);
    assert_eq!(bytes[..2], [0xD5, 0xFA]);
}

/// Width of the µ-law quantisation step that contains `value` (decoded scale).
fn ulaw_step(value: i32) -> i32 {
    let magnitude = value.abs().min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (31 - magnitude.leading_zeros()) as i32 - 7;
    8 << exponent
}

proptest! {
    #[test]
    fn ulaw_encode_decode_stays_within_one_step(sample in any::<i16>()) {
        let decoded = i32::from(ulaw_decode(ulaw_encode(sample)));
        let clipped = i32::from(sample).clamp(-ULAW_CLIP, ULAW_CLIP);
        let error = (decoded - clipped).abs();
        // The decoder returns the middle of the step, so half a step is the
        // bound; the clip region adds the distance from 32635 to 32124.
        let bound = ulaw_step(clipped) / 2 + if clipped.abs() > 32124 { 511 } else { 0 };
        prop_assert!(error <= bound, "sample {} -> {} (err {}, bound {})", sample, decoded, error, bound);
    }

    #[test]
    fn alaw_encode_decode_stays_within_one_step(sample in any::<i16>()) {
        let decoded = i32::from(alaw_decode(alaw_encode(sample)));
        let magnitude = i32::from(sample).abs();
        // Segments 0 and 1 have a step of 16; segment n >= 1 doubles it.
        let step = if magnitude < 512 { 16 } else { 16 << ((31 - magnitude.leading_zeros()) - 8) };
        let error = (decoded - i32::from(sample)).abs();
        prop_assert!(error <= step, "sample {} -> {} (err {}, step {})", sample, decoded, error, step);
    }

    #[test]
    fn slice_helpers_never_panic_and_match_scalar(bytes in proptest::collection::vec(any::<u8>(), 0..400), n in 0usize..400) {
        let mut pcm = vec![0i16; n];
        let count = ulaw_decode_into(&bytes, &mut pcm);
        prop_assert_eq!(count, bytes.len().min(n));
        for i in 0..count {
            prop_assert_eq!(pcm[i], ulaw_decode(bytes[i]));
        }
        let mut back = vec![0u8; bytes.len()];
        let encoded = alaw_encode_into(&pcm, &mut back);
        prop_assert_eq!(encoded, count);
        let count = alaw_decode_into(&bytes, &mut pcm);
        prop_assert_eq!(count, bytes.len().min(n));
        prop_assert_eq!(ulaw_encode_into(&pcm, &mut back), count);
    }
}
