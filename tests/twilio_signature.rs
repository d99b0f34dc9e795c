//! X-Twilio-Signature: the twilio-python test vectors of PROTOCOLS.md 2.1,
//! the JSON-body and WebSocket-upgrade variants, and per-call tokens.

use switchboard::twilio::{
    call_token, compute_signature, validate, validate_json_body, validate_ws_upgrade,
    verify_call_token,
};

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn call_params() -> Vec<(String, String)> {
    // Deliberately not in sorted order: the signer must sort.
    pairs(&[
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("Caller", "+14158675309"),
    ])
}

#[test]
fn vector_url_as_given() {
    assert_eq!(
        compute_signature(TOKEN, URL, &call_params()),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert!(validate(
        TOKEN,
        URL,
        &call_params(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ));
}

#[test]
fn vector_host_with_port_443() {
    let url = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        compute_signature(TOKEN, url, &call_params()),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
}

#[test]
fn signature_made_with_port_validates_against_url_without_it_and_back() {
    // Twilio is inconsistent about default ports; both spellings must pass.
    assert!(validate(
        TOKEN,
        URL,
        &call_params(),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert!(validate(
        TOKEN,
        with_port,
        &call_params(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ));
    assert!(validate(
        TOKEN,
        with_port,
        &call_params(),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
}

#[test]
fn vector_repeated_names_sorted_by_value() {
    let params = pairs(&[
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
    ]);
    assert_eq!(
        compute_signature(TOKEN, URL, &params),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    assert!(validate(
        TOKEN,
        URL,
        &params,
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    ));
}

#[test]
fn rejects_wrong_token_param_url_or_header() {
    let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    assert!(!validate("54321", URL, &call_params(), good));
    let mut tampered = call_params();
    tampered[2].1 = "9999".into();
    assert!(!validate(TOKEN, URL, &tampered, good));
    let mut extra = call_params();
    extra.push(("Extra".into(), "1".into()));
    assert!(!validate(TOKEN, URL, &extra, good));
    assert!(!validate(
        TOKEN,
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        &call_params(),
        good
    ));
    assert!(!validate(
        TOKEN,
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        &call_params(),
        good
    ));
    assert!(!validate(TOKEN, URL, &call_params(), ""));
    assert!(!validate(
        TOKEN,
        URL,
        &call_params(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8"
    ));
    assert!(!validate(
        TOKEN,
        URL,
        &call_params(),
        "rsoydt4t1cutdk1pdd93/vvr8b8="
    ));
}

#[test]
fn query_string_is_signed_as_sent_not_reencoded() {
    let raw = "https://h.example/voice?a=%20b";
    let sig = compute_signature(TOKEN, raw, &[]);
    assert!(validate(TOKEN, raw, &[], &sig));
    assert!(!validate(TOKEN, "https://h.example/voice?a=+b", &[], &sig));
}

#[test]
fn json_body_variant_checks_hash_and_url_signature() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let url = format!("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={hash}");
    let sig = compute_signature(TOKEN, &url, &[]);
    assert!(validate_json_body(TOKEN, &url, body, &sig));
    assert!(!validate_json_body(
        TOKEN,
        &url,
        b"{\"property\": \"other\"}",
        &sig
    ));
    let no_hash = compute_signature(TOKEN, URL, &[]);
    assert!(!validate_json_body(TOKEN, URL, body, &no_hash));
    assert!(!validate_json_body("54321", &url, body, &sig));
}

#[test]
fn websocket_upgrade_signs_the_wss_url_as_written_in_twiml() {
    let stream_url = "wss://engine.example.com/twilio/media";
    let sig = compute_signature(TOKEN, stream_url, &[]);
    assert!(validate_ws_upgrade(TOKEN, stream_url, &sig));
    assert!(validate_ws_upgrade(
        TOKEN,
        "wss://engine.example.com:443/twilio/media",
        &sig
    ));
    // A server that rebuilds the URL as https:// must fail.
    assert!(!validate_ws_upgrade(
        TOKEN,
        "https://engine.example.com/twilio/media",
        &sig
    ));
}

#[test]
fn call_token_verifies_only_for_its_call_and_secret() {
    let token = call_token(b"secret", "CA1");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(verify_call_token(b"secret", "CA1", &token));
    assert!(!verify_call_token(b"secret", "CA2", &token));
    assert!(!verify_call_token(b"other", "CA1", &token));
    assert!(!verify_call_token(b"secret", "CA1", &token[..31]));
    assert!(!verify_call_token(b"secret", "CA1", ""));
}
