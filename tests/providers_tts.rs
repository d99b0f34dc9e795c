//! The streaming TTS client against the TTS mock over loopback: PCM split
//! at odd byte boundaries, cancel drops the connection, errors reported.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use switchboard::mocks::tts::{self, TtsMockConfig};
use switchboard::providers::{HttpTts, TtsConfig};
use switchboard_actors::providers::{Tts, TtsEvent, TtsRequest};
use tokio::sync::mpsc;

fn client(url: &str) -> HttpTts {
    let cfg = TtsConfig {
        name: "mock".into(),
        base_url: url.into(),
        api_key_env: String::new(),
        ..Default::default()
    };
    HttpTts::with_key(cfg, Some("k".into()))
}

fn request(text: &str) -> TtsRequest {
    TtsRequest {
        id: 7,
        text: text.into(),
        voice: "nova".into(),
    }
}

fn sink() -> (
    Arc<dyn Fn(TtsEvent) + Send + Sync>,
    mpsc::UnboundedReceiver<TtsEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Arc::new(move |ev| {
            let _ = tx.send(ev);
        }),
        rx,
    )
}

async fn next(rx: &mut mpsc::UnboundedReceiver<TtsEvent>) -> TtsEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event in time")
        .expect("sender alive")
}

#[tokio::test]
async fn odd_sized_chunks_still_give_every_sample_then_done() {
    let mock = tts::start(TtsMockConfig {
        first_byte_ms: 0,
        chunk_bytes: 4801,
        realtime_factor: 0.0,
        ..Default::default()
    })
    .await
    .expect("mock starts");
    let text = "Our opening hours are eight to six.";
    let (events, mut rx) = sink();
    let _handle = client(mock.url()).synthesize(request(text), events);
    let expected = switchboard::mocks::synth::speech_like_pcm(text, 24_000, 65);
    let mut got = Vec::new();
    let mut audio_events = 0;
    loop {
        match next(&mut rx).await {
            TtsEvent::Audio {
                id,
                pcm,
                sample_rate,
            } => {
                assert_eq!((id, sample_rate), (7, 24_000));
                got.extend(pcm);
                audio_events += 1;
            }
            TtsEvent::Done { id } => break assert_eq!(id, 7),
            TtsEvent::Error { message, .. } => panic!("unexpected error {message}"),
        }
    }
    assert_eq!(got, expected, "samples rebuilt exactly across odd splits");
    assert!(audio_events > 1, "audio streamed in several chunks");
    assert_eq!(mock.state.texts(), vec![text.to_owned()]);
}

#[tokio::test]
async fn cancel_drops_the_connection_and_the_server_sees_it() {
    let mock = tts::start(TtsMockConfig {
        first_byte_ms: 0,
        realtime_factor: 1.0,
        ..Default::default()
    })
    .await
    .expect("mock starts");
    let (events, mut rx) = sink();
    let mut handle =
        client(mock.url()).synthesize(request(&"a long answer that goes on ".repeat(20)), events);
    assert!(matches!(next(&mut rx).await, TtsEvent::Audio { .. }));
    handle.cancel();
    let state = mock.state.clone();
    tokio::time::timeout(Duration::from_secs(10), async move {
        while state.cancelled.load(Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server saw the cancel");
    assert_eq!(mock.state.completed.load(Relaxed), 0);
    while let Ok(ev) = rx.try_recv() {
        assert!(
            matches!(ev, TtsEvent::Audio { .. }),
            "no Done or Error after cancel: {ev:?}"
        );
    }
}

#[tokio::test]
async fn server_error_becomes_an_error_event() {
    let mock = tts::start(TtsMockConfig {
        first_byte_ms: 0,
        ..Default::default()
    })
    .await
    .expect("mock starts");
    mock.state.fail_next(1);
    let (events, mut rx) = sink();
    let _handle = client(mock.url()).synthesize(request("hello"), events);
    let ev = next(&mut rx).await;
    assert!(
        matches!(&ev, TtsEvent::Error { id: 7, message } if message.contains("500")),
        "{ev:?}"
    );
}
