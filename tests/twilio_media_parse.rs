//! Parsing Twilio -> server Media Streams frames (PROTOCOLS.md 1.1): the
//! documented examples, every typed error, numbers written as strings, and
//! payload decoding; plus the server -> Twilio writers and their parser.

use std::borrow::Cow;
use switchboard::twilio::{
    parse_inbound, parse_server_frame, write_clear, write_mark, write_media, FrameError, Inbound,
    ServerFrame, Track, MAX_PAYLOAD_BYTES,
};

const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"ACxx","streamSid":"MZxx","callSid":"CAxx","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"token":"abc","tenant":"acme"}},"streamSid":"MZxx"}"#;

fn media_frame(seq: &str, chunk: &str, ts: &str, payload: &str) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":{seq},"media":{{"track":"inbound","chunk":{chunk},"timestamp":{ts},"payload":"{payload}"}},"streamSid":"MZxx"}}"#
    )
}

#[test]
fn connected_parses_without_stream_sid_or_sequence() {
    let msg = parse_inbound(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#);
    let Ok(Inbound::Connected(c)) = msg else {
        panic!("got {msg:?}")
    };
    assert_eq!(c.protocol.as_deref(), Some("Call"));
    assert_eq!(c.version.as_deref(), Some("1.0.0"));
}

#[test]
fn start_carries_ids_format_and_custom_parameters() {
    let Ok(Inbound::Start(s)) = parse_inbound(START) else {
        panic!("start did not parse")
    };
    assert_eq!(s.sequence_number, 1);
    assert_eq!(
        (&*s.stream_sid, &*s.call_sid, &*s.account_sid),
        ("MZxx", "CAxx", "ACxx")
    );
    assert!(s.media_format.is_mulaw_8k_mono());
    assert_eq!(
        s.custom_parameters.get("token").map(String::as_str),
        Some("abc")
    );
    assert_eq!(s.tracks, vec!["inbound".to_string()]);
}

#[test]
fn media_borrows_payload_and_parses_string_counters() {
    let text = media_frame(r#""4""#, r#""2""#, r#""5""#, "f39/fn5+");
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("media did not parse")
    };
    assert_eq!((m.sequence_number, m.chunk, m.timestamp_ms), (4, 2, 5));
    assert_eq!(m.track, Track::Inbound);
    assert!(
        matches!(m.payload, Cow::Borrowed("f39/fn5+")),
        "payload must borrow"
    );
    let mut buf = [0u8; 160];
    let n = m.decode_payload(&mut buf).expect("valid base64");
    assert_eq!(&buf[..n], &[0x7f, 0x7f, 0x7f, 0x7e, 0x7e, 0x7e]);
}

#[test]
fn dtmf_mark_and_stop_parse() {
    let dtmf = r#"{"event":"dtmf","streamSid":"MZxx","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#;
    let Ok(Inbound::Dtmf(d)) = parse_inbound(dtmf) else {
        panic!("dtmf")
    };
    assert_eq!((d.digit, d.sequence_number), ('1', 5));
    let mark =
        r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZxx","mark":{"name":"resp-7"}}"#;
    let Ok(Inbound::Mark(m)) = parse_inbound(mark) else {
        panic!("mark")
    };
    assert_eq!(m.name, "resp-7");
    let stop = r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZxx","stop":{"accountSid":"ACxx","callSid":"CAxx"}}"#;
    let Ok(Inbound::Stop(s)) = parse_inbound(stop) else {
        panic!("stop")
    };
    assert_eq!(s.call_sid.as_deref(), Some("CAxx"));
}

#[test]
fn unknown_event_is_not_an_error() {
    let msg = parse_inbound(r#"{"event":"transcription","streamSid":"MZ","x":{"y":1}}"#);
    assert_eq!(
        msg,
        Ok(Inbound::Unknown {
            event: "transcription".into()
        })
    );
}

#[test]
fn escaped_strings_are_accepted_as_owned() {
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, r"f39\/fn5+");
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("escaped media")
    };
    assert_eq!(m.payload, "f39/fn5+");
}

#[test]
fn malformed_json_is_typed() {
    for bad in [
        "",
        "{",
        "null",
        "[]",
        "42",
        r#"{"event":"media""#,
        r#"{"event":5}"#,
        "\u{0}",
    ] {
        assert!(
            matches!(parse_inbound(bad), Err(FrameError::MalformedJson { .. })),
            "{bad:?} gave {:?}",
            parse_inbound(bad)
        );
    }
    assert!(matches!(
        parse_inbound(r#"{"event":"media","media":{"payload":"x"},"media":{}}"#),
        Err(FrameError::MalformedJson { .. })
    ));
}

#[test]
fn missing_fields_are_named() {
    let cases = [
        (r#"{"streamSid":"MZ"}"#, "event"),
        (r#"{"event":"media","streamSid":"MZ"}"#, "sequenceNumber"),
        (
            r#"{"event":"media","sequenceNumber":"1","streamSid":"MZ"}"#,
            "media",
        ),
        (
            r#"{"event":"media","sequenceNumber":"1","streamSid":"MZ","media":{"track":"inbound","chunk":"1","timestamp":"0"}}"#,
            "media.payload",
        ),
        (
            r#"{"event":"media","sequenceNumber":"1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":""}}"#,
            "streamSid",
        ),
        (
            r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ","start":{"accountSid":"AC","callSid":"CA"}}"#,
            "start.mediaFormat",
        ),
        (
            r#"{"event":"mark","sequenceNumber":"1","streamSid":"MZ","mark":{}}"#,
            "mark.name",
        ),
        (
            r#"{"event":"dtmf","sequenceNumber":"1","streamSid":"MZ","dtmf":{}}"#,
            "dtmf.digit",
        ),
    ];
    for (text, field) in cases {
        assert_eq!(
            parse_inbound(text),
            Err(FrameError::MissingField(field)),
            "{text}"
        );
    }
}

#[test]
fn counters_must_be_plain_digits() {
    let bad = [
        r#""""#,
        r#""+1""#,
        r#""-1""#,
        r#"" 1""#,
        r#""1.0""#,
        r#""1e3""#,
        r#""0x1""#,
        r#""18446744073709551616""#,
        "-1",
        "1.5",
        "true",
        "[]",
        "{}",
        r#""١""#,
    ];
    for seq in bad {
        let text = media_frame(seq, r#""1""#, r#""0""#, "");
        assert_eq!(
            parse_inbound(&text),
            Err(FrameError::BadNumber("sequenceNumber")),
            "{seq}"
        );
    }
    // JSON null reads as absent.
    let text = media_frame("null", r#""1""#, r#""0""#, "");
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::MissingField("sequenceNumber"))
    );
    let text = media_frame(r#""1""#, r#""x""#, r#""0""#, "");
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::BadNumber("media.chunk"))
    );
    let text = media_frame(r#""1""#, r#""1""#, r#""""#, "");
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::BadNumber("media.timestamp"))
    );
}

#[test]
fn counters_accept_leading_zeros_json_numbers_and_u64_max() {
    let text = media_frame(r#""007""#, "3", r#""18446744073709551615""#, "");
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("edge numbers")
    };
    assert_eq!(
        (m.sequence_number, m.chunk, m.timestamp_ms),
        (7, 3, u64::MAX)
    );
}

#[test]
fn sample_rate_out_of_range_is_bad_number() {
    let text = START.replace("8000", "4294967296");
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::BadNumber("start.mediaFormat.sampleRate"))
    );
    let text = START.replace(r#""channels":1"#, r#""channels":65536"#);
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::BadNumber("start.mediaFormat.channels"))
    );
}

#[test]
fn bad_track_and_digit_are_bad_values() {
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, "").replace("inbound", "sideways");
    assert_eq!(
        parse_inbound(&text),
        Err(FrameError::BadValue("media.track"))
    );
    for digit in ["", "12", "E", "a", "é"] {
        let text = format!(
            r#"{{"event":"dtmf","sequenceNumber":"1","streamSid":"MZ","dtmf":{{"digit":"{digit}"}}}}"#
        );
        assert_eq!(
            parse_inbound(&text),
            Err(FrameError::BadValue("dtmf.digit")),
            "{digit}"
        );
    }
}

#[test]
fn bad_base64_and_oversized_payloads_fail_on_decode() {
    let mut out = Vec::new();
    for bad in ["f39", "f3==f39/", "!!!!", "f39/f"] {
        let text = media_frame(r#""1""#, r#""1""#, r#""0""#, bad);
        let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
            panic!("parse")
        };
        assert!(m.decode_payload_into(&mut out).is_err(), "{bad} decoded");
    }
    let big = "A".repeat((MAX_PAYLOAD_BYTES + 3) / 3 * 4);
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, &big);
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("parse")
    };
    assert!(matches!(
        m.decode_payload_into(&mut out),
        Err(FrameError::TooLarge { .. })
    ));
    let exact = "A".repeat(MAX_PAYLOAD_BYTES / 3 * 4);
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, &exact);
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("parse")
    };
    m.decode_payload_into(&mut out)
        .expect("payload at the limit decodes");
    assert_eq!(out.len(), MAX_PAYLOAD_BYTES / 3 * 3);
}

#[test]
fn decode_into_small_slice_is_too_large_not_a_panic() {
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, "f39/fn5+");
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("parse")
    };
    let mut small = [0u8; 5];
    assert_eq!(
        m.decode_payload(&mut small),
        Err(FrameError::TooLarge { len: 6, max: 5 })
    );
}

#[test]
fn unpadded_base64_is_accepted() {
    let text = media_frame(r#""1""#, r#""1""#, r#""0""#, "f38");
    let Ok(Inbound::Media(m)) = parse_inbound(&text) else {
        panic!("parse")
    };
    let mut out = Vec::new();
    m.decode_payload_into(&mut out).expect("unpadded");
    assert_eq!(out, vec![0x7f, 0x7f]);
}

#[test]
fn writers_produce_the_documented_json() {
    let mut out = String::from("stale");
    write_media(&mut out, "MZ1", &[0xff, 0x7f, 0x00]);
    assert_eq!(
        out,
        r#"{"event":"media","streamSid":"MZ1","media":{"payload":"/38A"}}"#
    );
    write_mark(&mut out, "MZ1", "resp-7");
    assert_eq!(
        out,
        r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"resp-7"}}"#
    );
    write_clear(&mut out, "MZ1");
    assert_eq!(out, r#"{"event":"clear","streamSid":"MZ1"}"#);
}

#[test]
fn writers_escape_and_the_simulator_parser_reads_them_back() {
    let mut out = String::new();
    let name = "q\"uote\\ \n\u{1}é";
    write_mark(&mut out, "MZ\"", name);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["mark"]["name"], name);
    assert_eq!(
        parse_server_frame(&out),
        Ok(ServerFrame::Mark {
            stream_sid: "MZ\"".into(),
            name: name.into()
        })
    );
    write_media(&mut out, "MZ1", &[1, 2, 3, 4]);
    let frame = parse_server_frame(&out).expect("media");
    let mut audio = Vec::new();
    frame.decode_payload_into(&mut audio).expect("base64");
    assert_eq!(audio, vec![1, 2, 3, 4]);
    write_clear(&mut out, "MZ1");
    assert_eq!(
        parse_server_frame(&out),
        Ok(ServerFrame::Clear {
            stream_sid: "MZ1".into()
        })
    );
    assert_eq!(
        parse_server_frame(r#"{"event":"play","streamSid":"MZ1"}"#),
        Ok(ServerFrame::Unknown {
            event: "play".into()
        })
    );
    assert_eq!(
        parse_server_frame(r#"{"event":"mark","streamSid":"MZ1"}"#),
        Err(FrameError::MissingField("mark"))
    );
}

#[test]
fn close_reasons_fit_a_close_frame_and_codes_follow_rfc6455() {
    let long = FrameError::TooLarge {
        len: usize::MAX,
        max: usize::MAX,
    };
    assert!(long.close_reason().len() <= 123);
    assert_eq!(FrameError::BinaryFrame.close_code(), 1003);
    assert_eq!(FrameError::Protocol("bad utf-8".into()).close_code(), 1002);
    assert_eq!(FrameError::BadBase64.close_code(), 1007);
    assert_eq!(
        FrameError::Flood {
            rate: 900,
            limit: 500
        }
        .close_code(),
        1008
    );
    assert_eq!(long.close_code(), 1009);
    assert_eq!(
        FrameError::MissingField("media.payload").to_string(),
        "missing field media.payload"
    );
}
