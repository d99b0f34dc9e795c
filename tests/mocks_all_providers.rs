//! All four mocks started together, as `switchboard mock-providers` and the
//! demo run them, each driven by the real client the engine uses: this is
//! also the wiring example for the engine.

use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use switchboard::mocks::fixtures::{FixtureSet, FRAME_BYTES};
use switchboard::mocks::{MockConfig, MockSet};
use switchboard::providers::{
    ChatEndpointConfig, DeepgramStt, HttpTts, OpenAiChat, SttConfig, TtsConfig, TwilioRest,
    TwilioRestConfig,
};
use switchboard_actors::ids::CallSid;
use switchboard_actors::providers::{
    Chat, ChatChunk, ChatMessage, ChatRequest, Role, Stt, SttEvent, Tts, TtsEvent, TtsRequest,
};
use tokio::sync::mpsc;

#[tokio::test]
async fn every_mock_answers_its_real_client() {
    let mocks = MockSet::start(&MockConfig::default())
        .await
        .expect("mocks start");
    assert_eq!(mocks.describe().lines().count(), 4);

    let chat = OpenAiChat::new(ChatEndpointConfig {
        base_url: mocks.chat.url.clone(),
        api_key_env: String::new(),
        ..Default::default()
    })
    .expect("chat client");
    let req = ChatRequest {
        messages: vec![ChatMessage::new(Role::User, "Can I book an appointment?")],
        ..Default::default()
    };
    let chunks: Vec<_> = chat.open(req).await.expect("chat opens").collect().await;
    assert!(chunks.iter().any(|c| matches!(c, Ok(ChatChunk::Usage(_)))));

    let tts = HttpTts::try_new(TtsConfig {
        base_url: mocks.tts.url.clone(),
        api_key_env: String::new(),
        ..Default::default()
    })
    .expect("tts client");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _h = tts.synthesize(
        TtsRequest {
            id: 1,
            text: "Sure.".into(),
            voice: String::new(),
        },
        Arc::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("tts in time")
        {
            Some(TtsEvent::Done { .. }) => break,
            Some(TtsEvent::Error { message, .. }) => panic!("{message}"),
            _ => {}
        }
    }

    let stt = DeepgramStt::new(SttConfig {
        base_url: mocks.stt.url.clone(),
        api_key_env: String::new(),
        ..Default::default()
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut stream = stt.open(
        &CallSid::new("CA1"),
        Arc::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    let set = FixtureSet::load(&FixtureSet::default_dir()).expect("fixtures");
    let fx = set.get("goodbye").expect("goodbye fixture");
    for frame in fx.ulaw.chunks(FRAME_BYTES) {
        stream.send_audio(frame);
    }
    let text = loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("stt in time")
        {
            Some(SttEvent::Transcript {
                text,
                is_final: true,
                ..
            }) => break text,
            Some(SttEvent::Error { message }) => panic!("{message}"),
            _ => {}
        }
    };
    assert_eq!(text, fx.text);

    let urls = mocks.urls();
    let rest = TwilioRest::with_credentials(
        TwilioRestConfig {
            base_url: urls.twilio,
            ..Default::default()
        },
        &urls.twilio_account_sid,
        &urls.twilio_auth_token,
    )
    .expect("rest client");
    assert_eq!(
        rest.hang_up("CA1").await.expect("hang-up").status,
        "completed"
    );
    let via_helper = mocks.twilio_client().expect("helper client");
    assert_eq!(
        via_helper
            .redirect("CA1", "<Response><Hangup/></Response>")
            .await
            .expect("redirect")
            .status,
        "in-progress"
    );
    mocks.shutdown().await;
}
