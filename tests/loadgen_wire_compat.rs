//! The simulated caller and the engine's Twilio wire module agree: what the
//! caller sends parses as Twilio messages with the right fields, what the
//! engine writes parses on the caller's side, and both compute the same
//! signatures.

use std::collections::BTreeMap;

use switchboard::loadgen::webhook::twilio_signature;
use switchboard::loadgen::wire::{self, ServerMessage, StreamIds};
use switchboard::twilio::{self, Inbound};

fn ids() -> StreamIds {
    StreamIds {
        account_sid: "AC0123".into(),
        call_sid: "CA0123".into(),
        stream_sid: "MZ0123".into(),
    }
}

#[test]
fn caller_messages_parse_as_twilio_inbound() {
    let ids = ids();
    let params = vec![("token".to_owned(), "t-1".to_owned())];
    assert!(matches!(
        twilio::parse_inbound(&wire::connected()),
        Ok(Inbound::Connected(_))
    ));
    let start = wire::start(1, &ids, &params);
    let Ok(Inbound::Start(s)) = twilio::parse_inbound(&start) else {
        panic!("start did not parse: {start}");
    };
    assert_eq!((s.sequence_number, s.call_sid.as_ref()), (1, "CA0123"));
    let expected: BTreeMap<String, String> = params.into_iter().collect();
    assert_eq!(s.custom_parameters, expected);
    let mut out = String::new();
    wire::media_into(&mut out, 2, "MZ0123", 1, 0, "//8=");
    let Ok(Inbound::Media(m)) = twilio::parse_inbound(&out) else {
        panic!("media did not parse: {out}");
    };
    assert_eq!((m.sequence_number, m.chunk, m.timestamp_ms), (2, 1, 0));
    let dtmf = wire::dtmf(3, "MZ0123", "#");
    let Ok(Inbound::Dtmf(d)) = twilio::parse_inbound(&dtmf) else {
        panic!("dtmf did not parse");
    };
    assert_eq!(d.digit, '#');
    let mark = wire::mark(4, "MZ0123", "resp-1");
    let Ok(Inbound::Mark(k)) = twilio::parse_inbound(&mark) else {
        panic!("mark did not parse");
    };
    assert_eq!(k.name, "resp-1");
    assert!(matches!(
        twilio::parse_inbound(&wire::stop(5, &ids)),
        Ok(Inbound::Stop(_))
    ));
}

#[test]
fn engine_frames_parse_on_the_caller_side() {
    let mut out = String::new();
    twilio::write_media(&mut out, "MZ0123", &[0xFF; 160]);
    assert_eq!(
        wire::parse_server(&out).expect("media"),
        ServerMessage::Media { bytes: 160 }
    );
    out.clear();
    twilio::write_mark(&mut out, "MZ0123", "resp-\"7\"");
    assert_eq!(
        wire::parse_server(&out).expect("mark"),
        ServerMessage::Mark {
            name: "resp-\"7\"".into()
        }
    );
    out.clear();
    twilio::write_clear(&mut out, "MZ0123");
    assert_eq!(
        wire::parse_server(&out).expect("clear"),
        ServerMessage::Clear
    );
}

#[test]
fn both_sides_compute_the_same_signatures() {
    let url = "https://example.com/twilio/voice";
    let form = [("CallSid", "CA1"), ("From", "+1555"), ("To", "+1666")];
    let owned: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        twilio_signature("tok", url, &form),
        twilio::compute_signature("tok", url, &owned)
    );
    let wss = "wss://example.com/twilio/media";
    assert!(twilio::validate_ws_upgrade(
        "tok",
        wss,
        &twilio_signature("tok", wss, &[])
    ));
}
