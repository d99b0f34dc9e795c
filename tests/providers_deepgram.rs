//! The Deepgram client against the STT mock over loopback: what the client
//! sends (binary mu-law, Token auth, the listen query, KeepAlive,
//! Finalize, CloseStream), and transcripts that follow the audio: interim
//! words only once their audio arrived, then a final with the fixture text.

use std::sync::Arc;
use std::time::Duration;
use switchboard::mocks::fixtures::{FixtureSet, FRAME_BYTES};
use switchboard::mocks::stt::{self, SttMockConfig, SttMockState};
use switchboard::mocks::MockServer;
use switchboard::providers::{DeepgramStt, SttConfig};
use switchboard_actors::ids::CallSid;
use switchboard_actors::providers::{Stt, SttEvent, SttStream};
use tokio::sync::mpsc;

fn client(url: &str, keepalive_ms: u64) -> DeepgramStt {
    let cfg = SttConfig {
        base_url: url.into(),
        api_key_env: String::new(),
        keepalive_ms,
        endpointing_ms: 300,
        utterance_end_ms: 1000,
        ..Default::default()
    };
    DeepgramStt::with_key(cfg, Some("dg-key".into()))
}

fn open(stt: &DeepgramStt) -> (Box<dyn SttStream>, mpsc::UnboundedReceiver<SttEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = stt.open(
        &CallSid::new("CA1"),
        Arc::new(move |ev| {
            let _ = tx.send(ev);
        }),
    );
    (stream, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<SttEvent>) -> SttEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event in time")
        .expect("sender alive")
}

async fn until<F: Fn(&SttMockState) -> bool>(mock: &MockServer<SttMockState>, what: &str, f: F) {
    let state = mock.state.clone();
    tokio::time::timeout(Duration::from_secs(20), async move {
        while !f(&state) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}

/// Sends `audio` as 20 ms frames, a little faster than real time.
async fn send_frames(stream: &mut Box<dyn SttStream>, audio: &[u8]) {
    for frame in audio.chunks(FRAME_BYTES) {
        stream.send_audio(frame);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn fixtures() -> FixtureSet {
    FixtureSet::load(&FixtureSet::default_dir()).expect("tests/fixtures is present")
}

#[tokio::test]
async fn interim_words_wait_for_their_audio_and_the_final_has_the_fixture_text() {
    let cfg = SttMockConfig {
        mid_utterance_timeout_ms: 60_000,
        result_latency_ms: 0,
        ..Default::default()
    };
    let mock = stt::start_with_fixtures(cfg, fixtures())
        .await
        .expect("mock starts");
    let set = fixtures();
    let fx = set.get("opening_hours").expect("fixture");
    let (mut stream, mut rx) = open(&client(mock.url(), 4000));
    // Audio up to the end of the second word only.
    let cut = (fx.words[1].end_ms as usize * 8).div_ceil(FRAME_BYTES) * FRAME_BYTES;
    send_frames(&mut stream, &fx.ulaw[..cut]).await;
    let mut interim = String::new();
    while interim.split_whitespace().count() < 2 {
        match next(&mut rx).await {
            SttEvent::Transcript { text, is_final, .. } => {
                assert!(!is_final, "no final before the utterance ended: {text}");
                interim = text;
            }
            SttEvent::SpeechStarted { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(interim, "What are");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        rx.try_recv().is_err(),
        "nothing more until more audio arrives"
    );
    send_frames(&mut stream, &fx.ulaw[cut..]).await;
    let final_text = loop {
        if let SttEvent::Transcript {
            text,
            is_final: true,
            speech_final,
            ..
        } = next(&mut rx).await
        {
            assert!(speech_final);
            break text;
        }
    };
    // No pause came between the halves, so one final covers it all.
    assert_eq!(final_text, fx.text);
    assert!(
        matches!(next(&mut rx).await, SttEvent::UtteranceEnd { last_word_end_s } if last_word_end_s > 1.5)
    );
}

#[tokio::test]
async fn whole_utterance_gives_the_full_text_final_and_the_client_sent_binary_frames_with_token_auth(
) {
    let cfg = SttMockConfig {
        api_key: Some("dg-key".into()),
        ..Default::default()
    };
    let mock = stt::start_with_fixtures(cfg, fixtures())
        .await
        .expect("mock starts");
    let set = fixtures();
    let fx = set.get("book_tuesday").expect("fixture");
    let (mut stream, mut rx) = open(&client(mock.url(), 4000));
    send_frames(&mut stream, &fx.ulaw).await;
    let text = loop {
        if let SttEvent::Transcript {
            text,
            is_final: true,
            ..
        } = next(&mut rx).await
        {
            break text;
        }
    };
    assert_eq!(text, fx.text);
    stream.close();
    loop {
        match next(&mut rx).await {
            SttEvent::Closed => break,
            SttEvent::Error { message } => panic!("clean close expected: {message}"),
            _ => {}
        }
    }
    until(&mock, "connection closed", |s| s.connections()[0].closed).await;
    let conn = &mock.state.connections()[0];
    assert_eq!(conn.authorization.as_deref(), Some("Token dg-key"));
    assert!(
        conn.query
            .contains("encoding=mulaw&sample_rate=8000&channels=1&interim_results=true"),
        "{}",
        conn.query
    );
    assert_eq!(conn.stats.bytes, fx.ulaw.len() as u64);
    assert!(conn.binary_messages >= 1);
    assert_eq!(
        conn.text_messages,
        vec![r#"{"type":"CloseStream"}"#.to_owned()]
    );
    assert!(conn.sent.last().is_some_and(|m| m.contains("\"Metadata\"")));
}

#[tokio::test]
async fn keepalive_is_sent_while_no_audio_flows() {
    let mock = stt::start_with_fixtures(SttMockConfig::default(), FixtureSet::default())
        .await
        .expect("mock starts");
    let (_stream, _rx) = open(&client(mock.url(), 50));
    until(&mock, "two KeepAlives", |s| {
        s.connections().first().is_some_and(|c| {
            c.text_messages
                .iter()
                .filter(|m| m.contains("KeepAlive"))
                .count()
                >= 2
        })
    })
    .await;
}

#[tokio::test]
async fn finalize_turns_what_was_heard_into_a_final_from_finalize() {
    let cfg = SttMockConfig {
        mid_utterance_timeout_ms: 60_000,
        ..Default::default()
    };
    let mock = stt::start_with_fixtures(cfg, fixtures())
        .await
        .expect("mock starts");
    let set = fixtures();
    let fx = set.get("opening_hours").expect("fixture");
    let (mut stream, mut rx) = open(&client(mock.url(), 4000));
    let cut = (fx.words[2].end_ms as usize * 8).div_ceil(FRAME_BYTES) * FRAME_BYTES;
    send_frames(&mut stream, &fx.ulaw[..cut]).await;
    stream.finalize();
    let text = loop {
        if let SttEvent::Transcript {
            text,
            is_final: true,
            speech_final,
            ..
        } = next(&mut rx).await
        {
            assert!(!speech_final);
            break text;
        }
    };
    assert_eq!(text, "What are your");
    until(&mock, "Finalize received", |s| {
        s.connections()[0]
            .sent
            .iter()
            .any(|m| m.contains("\"from_finalize\":true"))
    })
    .await;
}

#[tokio::test]
async fn unknown_speech_gets_no_transcript_and_is_counted() {
    let mock = stt::start_with_fixtures(SttMockConfig::default(), fixtures())
        .await
        .expect("mock starts");
    let stranger = FixtureSet::synthetic(&[("x", "nobody said this in the fixtures")]);
    let (mut stream, mut rx) = open(&client(mock.url(), 4000));
    send_frames(&mut stream, &stranger.utterances[0].ulaw).await;
    stream.close();
    loop {
        match next(&mut rx).await {
            SttEvent::Closed => break,
            SttEvent::Transcript { text, .. } => panic!("no transcript for unknown audio: {text}"),
            _ => {}
        }
    }
    until(&mock, "stats recorded", |s| s.connections()[0].closed).await;
    let stats = &mock.state.connections()[0].stats;
    assert!(stats.unknown_speech_frames > 10, "{stats:?}");
    assert_eq!(stats.finals, 0);
}

#[tokio::test]
async fn rejected_key_is_an_error_then_closed() {
    let cfg = SttMockConfig {
        api_key: Some("other".into()),
        ..Default::default()
    };
    let mock = stt::start_with_fixtures(cfg, FixtureSet::default())
        .await
        .expect("mock starts");
    let (_stream, mut rx) = open(&client(mock.url(), 4000));
    let ev = next(&mut rx).await;
    assert!(
        matches!(&ev, SttEvent::Error { message } if message.contains("401")),
        "{ev:?}"
    );
    assert_eq!(next(&mut rx).await, SttEvent::Closed);
}

#[tokio::test]
async fn audio_sent_before_the_connection_is_up_is_delivered() {
    let mock = stt::start_with_fixtures(SttMockConfig::default(), FixtureSet::default())
        .await
        .expect("mock starts");
    let (mut stream, _rx) = open(&client(mock.url(), 4000));
    for _ in 0..10 {
        stream.send_audio(&[0xFF; FRAME_BYTES]); // queued while connecting
    }
    until(&mock, "queued audio arrived", |s| {
        s.bytes_received.load(std::sync::atomic::Ordering::Relaxed) == 1600
    })
    .await;
}

#[tokio::test]
async fn a_stalled_connect_drops_the_oldest_audio_then_times_out() {
    // Accepts TCP but never answers the WebSocket handshake.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}", silent.local_addr().expect("addr"));
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let cfg = SttConfig {
        base_url: url,
        api_key_env: String::new(),
        connect_timeout_ms: 300,
        max_queued_ms: 100,
        ..Default::default()
    };
    let stt = DeepgramStt::with_key(cfg, None);
    let (mut stream, mut rx) = open(&stt);
    for _ in 0..20 {
        stream.send_audio(&[0xFF; FRAME_BYTES]);
    }
    let dropped = stt
        .counters()
        .audio_bytes_dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        dropped,
        20 * FRAME_BYTES as u64 - 800,
        "100 ms of mu-law is kept"
    );
    let ev = next(&mut rx).await;
    assert!(
        matches!(&ev, SttEvent::Error { message } if message.contains("timed out")),
        "{ev:?}"
    );
    assert_eq!(next(&mut rx).await, SttEvent::Closed);
}

#[tokio::test]
async fn an_idle_stream_is_closed_by_the_provider_with_net_0001() {
    let cfg = SttMockConfig {
        idle_timeout_ms: 200,
        ..Default::default()
    };
    let mock = stt::start_with_fixtures(cfg, FixtureSet::default())
        .await
        .expect("mock starts");
    let (_stream, mut rx) = open(&client(mock.url(), 60_000));
    let ev = next(&mut rx).await;
    assert!(
        matches!(&ev, SttEvent::Error { message } if message.contains("NET-0001")),
        "{ev:?}"
    );
    assert_eq!(next(&mut rx).await, SttEvent::Closed);
}
