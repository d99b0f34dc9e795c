//! The Twilio REST client against the Twilio API mock: Basic auth, the form
//! fields of escalation and hang-up, and Twilio's error answers.

use switchboard::mocks::twilio_api::{self, TwilioMockConfig};
use switchboard::providers::{TwilioRest, TwilioRestConfig, TwilioRestError};

fn config(url: &str) -> TwilioRestConfig {
    TwilioRestConfig {
        base_url: url.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn dial_sends_twiml_with_basic_auth_and_hang_up_sends_status_completed() {
    let mock_cfg = TwilioMockConfig::default();
    let mock = twilio_api::start(mock_cfg.clone())
        .await
        .expect("mock starts");
    let rest = TwilioRest::with_credentials(
        config(mock.url()),
        &mock_cfg.account_sid,
        &mock_cfg.auth_token,
    )
    .expect("client builds");
    let call = rest
        .dial("CA123", "+15551230000")
        .await
        .expect("dial accepted");
    assert_eq!(
        (call.sid.as_str(), call.status.as_str()),
        ("CA123", "in-progress")
    );
    let hung = rest.hang_up("CA123").await.expect("hang-up accepted");
    assert_eq!(hung.status, "completed");
    let updates = mock.state.updates();
    assert_eq!(
        updates[0].field("Twiml"),
        Some("<Response><Dial>+15551230000</Dial></Response>")
    );
    assert_eq!(
        updates[1].fields,
        vec![("Status".to_owned(), "completed".to_owned())]
    );
}

#[tokio::test]
async fn wrong_token_is_twilio_error_20003() {
    let mock_cfg = TwilioMockConfig::default();
    let mock = twilio_api::start(mock_cfg.clone())
        .await
        .expect("mock starts");
    let rest = TwilioRest::with_credentials(config(mock.url()), &mock_cfg.account_sid, "wrong")
        .expect("client builds");
    let err = rest.hang_up("CA123").await.expect_err("refused");
    assert!(
        matches!(
            err,
            TwilioRestError::Api {
                status: 401,
                code: Some(20003),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.state.unauthorized(), 1);
    assert!(mock.state.updates().is_empty());
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error() {
    let rest = TwilioRest::with_credentials(config("http://127.0.0.1:9"), "AC1", "t")
        .expect("client builds");
    assert!(matches!(
        rest.hang_up("CA1").await,
        Err(TwilioRestError::Connect(_))
    ));
}
