//! TwiML the voice webhook answers with, and the webhook form parameters.

use switchboard::twilio::twiml::{
    connect_stream, dial, escape_xml, hangup, reject_politely, MAX_PARAMETER_CHARS,
};
use switchboard::twilio::webhook::{CallStatus, Direction, StreamEvent};
use switchboard::twilio::{
    compute_signature, form_pairs, validate, ConnectStream, Dial, DialTarget, StatusCallback,
    StreamStatusCallback, TwimlError, VoiceWebhook,
};

const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

#[test]
fn connect_stream_with_parameters_and_status_callback() {
    let xml = ConnectStream::for_host("engine.example.com")
        .expect("valid host")
        .parameter("tenant", "acme & co")
        .and_then(|s| s.parameter("token", "ab\"c<"))
        .expect("short parameters")
        .status_callback("https://engine.example.com/twilio/stream-status?x=1&y=2")
        .to_xml();
    assert_eq!(
        xml,
        format!(
            "{XML_DECL}<Response><Connect><Stream url=\"wss://engine.example.com/twilio/media\" \
             statusCallback=\"https://engine.example.com/twilio/stream-status?x=1&amp;y=2\" \
             statusCallbackMethod=\"POST\"><Parameter name=\"tenant\" value=\"acme &amp; co\"/>\
             <Parameter name=\"token\" value=\"ab&quot;c&lt;\"/></Stream></Connect></Response>"
        )
    );
}

#[test]
fn stream_url_must_be_wss_without_query() {
    assert!(matches!(
        ConnectStream::new("https://h/twilio/media"),
        Err(TwimlError::BadStreamUrl(_))
    ));
    assert!(matches!(
        ConnectStream::new("wss://h/m?token=1"),
        Err(TwimlError::QueryInStreamUrl(_))
    ));
    assert!(ConnectStream::new("/twilio/media").is_ok());
}

#[test]
fn parameter_name_and_value_must_stay_under_500_chars() {
    let s = ConnectStream::new("wss://h/m").expect("valid url");
    let ok = "v".repeat(MAX_PARAMETER_CHARS - 1 - "n".len());
    let s = s.parameter("n", &ok).expect("499 chars fit");
    let too_long = "é".repeat(MAX_PARAMETER_CHARS - 1);
    assert_eq!(
        s.parameter("n", &too_long).err(),
        Some(TwimlError::ParameterTooLong {
            name: "n".into(),
            chars: 500
        })
    );
}

#[test]
fn xml_escaping_drops_forbidden_control_characters() {
    assert_eq!(
        escape_xml("a<b>&'\"\u{0}\u{8}\tz"),
        "a&lt;b&gt;&amp;&apos;&quot;\tz"
    );
}

#[test]
fn polite_rejection_says_then_hangs_up() {
    assert_eq!(
        reject_politely("Sorry, all lines are busy. Please call back <soon>."),
        format!("{XML_DECL}<Response><Say>Sorry, all lines are busy. Please call back &lt;soon&gt;.</Say><Hangup/></Response>")
    );
    assert_eq!(
        hangup(),
        format!("{XML_DECL}<Response><Hangup/></Response>")
    );
}

#[test]
fn dial_a_number_or_an_agent_client() {
    let mut dial = Dial::new(DialTarget::Number("+15551234567".into()));
    dial.announce = Some("Connecting you to a person.".into());
    dial.caller_id = Some("+15550000000".into());
    dial.timeout_secs = Some(20);
    assert_eq!(
        dial.to_xml(),
        format!("{XML_DECL}<Response><Say>Connecting you to a person.</Say><Dial callerId=\"+15550000000\" timeout=\"20\"><Number>+15551234567</Number></Dial></Response>")
    );
    let agent = Dial::new(DialTarget::Client("agent<1>".into())).to_xml();
    assert_eq!(
        agent,
        format!("{XML_DECL}<Response><Dial><Client>agent&lt;1&gt;</Client></Dial></Response>")
    );
}

const VOICE_BODY: &[u8] = b"AccountSid=AC123&ApiVersion=2010-04-01&CallSid=CA123&CallStatus=ringing&Called=%2B18005551212&Caller=%2B14158675309&Direction=inbound&From=%2B14158675309&FromCity=SAN+FRANCISCO&To=%2B18005551212&NewField=whatever";

#[test]
fn voice_webhook_parses_and_tolerates_unknown_fields() {
    let hook = VoiceWebhook::from_form(VOICE_BODY).expect("valid voice webhook");
    assert_eq!(hook.call_sid, "CA123");
    assert_eq!(hook.from.as_deref(), Some("+14158675309"));
    assert_eq!(hook.from_city.as_deref(), Some("SAN FRANCISCO"));
    assert_eq!(hook.call_status, Some(CallStatus::Ringing));
    assert_eq!(hook.direction, Some(Direction::Inbound));
    assert!(
        VoiceWebhook::from_form(b"AccountSid=AC1").is_err(),
        "CallSid is required"
    );
}

#[test]
fn form_pairs_feed_the_signature_check_including_unknown_fields() {
    let url = "https://engine.example.com/twilio/voice";
    let pairs = form_pairs(VOICE_BODY);
    assert_eq!(pairs.len(), 11);
    let sig = compute_signature("tok", url, &pairs);
    assert!(validate("tok", url, &form_pairs(VOICE_BODY), &sig));
    let without_new: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "NewField").collect();
    assert!(!validate("tok", url, &without_new, &sig));
}

#[test]
fn status_callback_and_unknown_status() {
    let cb = StatusCallback::from_form(
        b"CallSid=CA1&AccountSid=AC1&CallStatus=completed&CallDuration=42&Direction=outbound-api&SequenceNumber=3",
    )
    .expect("valid status callback");
    assert_eq!(cb.call_status, Some(CallStatus::Completed));
    assert!(cb.call_status.is_some_and(CallStatus::is_final));
    assert_eq!(cb.call_duration_secs(), Some(42));
    assert_eq!(cb.direction, Some(Direction::OutboundApi));
    let odd = StatusCallback::from_form(
        b"CallSid=CA1&AccountSid=AC1&CallStatus=teleported&CallDuration=x",
    )
    .expect("unknown status still parses");
    assert_eq!(odd.call_status, Some(CallStatus::Other));
    assert_eq!(odd.call_duration_secs(), None);
}

#[test]
fn stream_status_callback_events() {
    let cb = StreamStatusCallback::from_form(
        b"AccountSid=AC1&CallSid=CA1&StreamSid=MZ1&StreamName=call&StreamEvent=stream-error&StreamError=Handshake+failed&Timestamp=2026-11-23T14%3A00%3A00Z",
    )
    .expect("valid stream callback");
    assert_eq!(cb.stream_event, StreamEvent::StreamError);
    assert_eq!(cb.stream_error.as_deref(), Some("Handshake failed"));
    assert_eq!(cb.timestamp.as_deref(), Some("2026-11-23T14:00:00Z"));
}

#[test]
fn connect_stream_function_matches_the_builder() {
    let params = vec![
        ("token".to_string(), "t".to_string()),
        ("tenant".to_string(), "a".to_string()),
    ];
    let built = ConnectStream::new("wss://h/twilio/media")
        .and_then(|s| s.parameter("token", "t"))
        .and_then(|s| s.parameter("tenant", "a"))
        .expect("valid")
        .to_xml();
    assert_eq!(connect_stream("wss://h/twilio/media", &params), Ok(built));
    assert!(connect_stream("wss://h/m?x=1", &params).is_err());
}

#[test]
fn dial_function_picks_client_or_number() {
    assert_eq!(
        dial("client:alice"),
        Ok(Dial::new(DialTarget::Client("alice".into())).to_xml())
    );
    assert_eq!(
        dial(" +15551234567 "),
        Ok(Dial::new(DialTarget::Number("+15551234567".into())).to_xml())
    );
    assert_eq!(dial(""), Err(TwimlError::EmptyDialTarget));
    assert_eq!(dial("client:"), Err(TwimlError::EmptyDialTarget));
}
