//! Property tests of the Media Streams wire: every message the simulated
//! Twilio side builds parses back to itself, counters survive as strings for
//! their whole range, payloads round-trip through base64, and the parsers
//! never panic on arbitrary text.

use proptest::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
use switchboard::twilio::{
    parse_inbound, parse_server_frame, write_mark, write_media, Connected, Dtmf, FrameError,
    Inbound, Mark, Media, MediaFormat, ServerFrame, Start, Stop, Track,
};

fn text() -> impl Strategy<Value = String> {
    // Any unicode, including quotes, backslashes and control characters.
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9]{0,34}",
        "[\"\\\\\\x00-\\x1f/]{0,8}"
    ]
}

fn payload() -> impl Strategy<Value = (Vec<u8>, String)> {
    use base64::Engine as _;
    prop::collection::vec(any::<u8>(), 0..400).prop_map(|bytes| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        (bytes, b64)
    })
}

fn inbound() -> impl Strategy<Value = Inbound<'static>> {
    let sid = || text().prop_map(Cow::Owned);
    prop_oneof![
        (prop::option::of(text()), prop::option::of(text())).prop_map(|(p, v)| {
            Inbound::Connected(Connected {
                protocol: p.map(Cow::Owned),
                version: v.map(Cow::Owned),
            })
        }),
        (
            any::<u64>(),
            sid(),
            sid(),
            sid(),
            prop::collection::btree_map(text(), text(), 0..4),
            any::<u32>(),
            any::<u16>(),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(
                |(seq, s, a, c, params, rate, ch, tracks)| Inbound::Start(Start {
                    sequence_number: seq,
                    stream_sid: s,
                    account_sid: a,
                    call_sid: c,
                    tracks,
                    custom_parameters: params,
                    media_format: MediaFormat {
                        encoding: "audio/x-mulaw".into(),
                        sample_rate: rate,
                        channels: ch
                    },
                })
            ),
        (
            any::<u64>(),
            sid(),
            any::<bool>(),
            any::<u64>(),
            any::<u64>(),
            payload()
        )
            .prop_map(
                |(seq, s, inbound, chunk, ts, (_, b64))| Inbound::Media(Media {
                    sequence_number: seq,
                    stream_sid: s,
                    track: if inbound {
                        Track::Inbound
                    } else {
                        Track::Outbound
                    },
                    chunk,
                    timestamp_ms: ts,
                    payload: Cow::Owned(b64),
                })
            ),
        (
            any::<u64>(),
            sid(),
            prop::sample::select("0123456789*#ABCD".chars().collect::<Vec<_>>())
        )
            .prop_map(|(seq, s, digit)| Inbound::Dtmf(Dtmf {
                sequence_number: seq,
                stream_sid: s,
                digit
            })),
        (any::<u64>(), sid(), sid()).prop_map(|(seq, s, name)| Inbound::Mark(Mark {
            sequence_number: seq,
            stream_sid: s,
            name
        })),
        (
            any::<u64>(),
            sid(),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(|(seq, s, a, c)| {
                Inbound::Stop(Stop {
                    sequence_number: seq,
                    stream_sid: s,
                    account_sid: a.map(Cow::Owned),
                    call_sid: c.map(Cow::Owned),
                })
            }),
        "[a-z_]{1,12}"
            .prop_filter("known events are other variants", |e| {
                !["connected", "start", "media", "dtmf", "mark", "stop"].contains(&e.as_str())
            })
            .prop_map(|e| Inbound::Unknown {
                event: Cow::Owned(e)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_built_message_parses_back_to_itself(msg in inbound()) {
        let json = msg.to_json();
        prop_assert_eq!(parse_inbound(&json), Ok(msg));
    }

    #[test]
    fn media_payload_round_trips_through_base64((bytes, b64) in payload(), seq in any::<u64>()) {
        let msg = Inbound::Media(Media {
            sequence_number: seq, stream_sid: "MZ".into(), track: Track::Inbound,
            chunk: 1, timestamp_ms: 0, payload: Cow::Owned(b64),
        });
        let json = msg.to_json();
        let Ok(Inbound::Media(m)) = parse_inbound(&json) else { panic!("media parses") };
        let mut out = Vec::new();
        m.decode_payload_into(&mut out).expect("valid base64");
        prop_assert_eq!(&out, &bytes);
        let mut fixed = [0u8; 400];
        let n = m.decode_payload(&mut fixed).expect("fits");
        prop_assert_eq!(&fixed[..n], &bytes[..]);
    }

    #[test]
    fn counters_as_strings_round_trip_whole_u64_range(n in any::<u64>(), zeros in 0usize..5) {
        let seq = format!("\"{}{}\"", "0".repeat(zeros), n);
        let frame = format!(r#"{{"event":"mark","sequenceNumber":{seq},"streamSid":"MZ","mark":{{"name":"a"}}}}"#);
        let Ok(Inbound::Mark(m)) = parse_inbound(&frame) else { panic!("mark parses") };
        prop_assert_eq!(m.sequence_number, n);
    }

    #[test]
    fn counters_beyond_u64_or_not_digits_are_bad_numbers(s in "[0-9+\\- .eE]{0,30}") {
        let frame = format!(r#"{{"event":"mark","sequenceNumber":"{s}","streamSid":"MZ","mark":{{"name":"a"}}}}"#);
        let expected = s.parse::<u64>().ok().filter(|_| !s.starts_with('+'));
        match parse_inbound(&frame) {
            Ok(Inbound::Mark(m)) => prop_assert_eq!(Some(m.sequence_number), expected),
            Err(e) => {
                prop_assert_eq!(e, FrameError::BadNumber("sequenceNumber"));
                prop_assert_eq!(expected, None);
            }
            Ok(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn server_frames_round_trip(sid in text(), name in text(), audio in prop::collection::vec(any::<u8>(), 0..320)) {
        let mut out = String::new();
        write_mark(&mut out, &sid, &name);
        prop_assert_eq!(parse_server_frame(&out), Ok(ServerFrame::Mark { stream_sid: sid.clone().into(), name: name.into() }));
        write_media(&mut out, &sid, &audio);
        let frame = parse_server_frame(&out).expect("media parses");
        let mut decoded = Vec::new();
        frame.decode_payload_into(&mut decoded).expect("base64");
        prop_assert_eq!(decoded, audio);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_inbound(&s);
        let _ = parse_server_frame(&s);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let s = String::from_utf8_lossy(&bytes);
        if let Ok(Inbound::Media(m)) = parse_inbound(&s) {
            let _ = m.decode_payload_into(&mut Vec::new());
        }
        let _ = parse_server_frame(&s);
    }
}

#[test]
fn custom_parameters_null_or_absent_mean_none() {
    for params in [r#","customParameters":null"#, ""] {
        let frame = format!(
            r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZ","start":{{"accountSid":"AC","callSid":"CA","mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}{params}}}}}"#
        );
        let Ok(Inbound::Start(s)) = parse_inbound(&frame) else {
            panic!("start parses: {frame}")
        };
        assert_eq!(s.custom_parameters, BTreeMap::new());
    }
}
