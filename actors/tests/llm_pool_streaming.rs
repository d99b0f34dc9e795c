//! Tokens stream in order, cancel drops the provider stream at once, and
//! every completion ends with a cost record that lands in the pool's totals.

#[path = "llm_pool_support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;
use support::*;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::llm_pool::{LlmEvent, LlmPoolConfig, LlmPoolMsg, Priority};

#[tokio::test(start_paused = true)]
async fn tokens_stream_in_order_then_done_with_cost() {
    let chat = FakeChat::new("primary", reply(&["Hello", ", ", "how can", " I help?"]));
    let pool = spawn_pool(&[&chat], LlmPoolConfig::default()).await;
    let (sink, mut rx) = collector();
    pool.cast(job("CA1", 7, Priority::Live, "hi", sink))
        .unwrap();
    let (tokens, terminal) = until_terminal(&mut rx).await;
    assert_eq!(tokens, ["Hello", ", ", "how can", " I help?"]);
    let LlmEvent::Done { request_id, record } = terminal else {
        panic!("expected Done, got {terminal:?}")
    };
    assert_eq!(request_id, 7);
    assert_eq!((record.prompt_tokens, record.completion_tokens), (10, 4));
    assert_eq!(
        (
            record.model.as_str(),
            record.provider.as_str(),
            record.purpose.as_str()
        ),
        ("gpt-4o-mini", "primary", "llm_reply")
    );
    // gpt-4o-mini: 0.15 / 0.60 USD per million tokens.
    let expected = (10.0 * 0.15 + 4.0 * 0.60) / 1e6;
    assert!(
        (record.cost_usd - expected).abs() < 1e-12,
        "{}",
        record.cost_usd
    );
    assert!(!record.cancelled);

    let s = stats(&pool).await;
    assert_eq!(s.completed, 1);
    assert_eq!(s.per_call[&CallSid::new("CA1")].completion_tokens, 4);
    assert_eq!(s.per_tenant[&TenantId::new("acme")].requests, 1);
    assert!((s.per_model["gpt-4o-mini"].cost_usd - expected).abs() < 1e-12);
}

#[tokio::test(start_paused = true)]
async fn cancel_drops_a_never_ending_stream_and_ends_with_a_cancelled_record() {
    let script = Script::Stream(vec![
        Step::Token("Our prices"),
        Step::Token(" start"),
        Step::Forever,
    ]);
    let chat = FakeChat::new("primary", script);
    let pool = spawn_pool(&[&chat], LlmPoolConfig::default()).await;
    let (sink, mut rx) = collector();
    pool.cast(job("CA1", 1, Priority::Live, "prices?", sink))
        .unwrap();
    for expected in ["Our prices", " start"] {
        let ev = rx.recv().await.unwrap();
        assert_eq!(
            ev,
            LlmEvent::Token {
                request_id: 1,
                text: expected.into()
            }
        );
    }
    assert_eq!(chat.dropped_early.load(Ordering::SeqCst), 0);
    pool.cast(LlmPoolMsg::Cancel {
        call: CallSid::new("CA1"),
        request_id: 1,
    })
    .unwrap();
    let (tokens, terminal) = until_terminal(&mut rx).await;
    assert!(tokens.is_empty(), "no token after the cancel");
    let LlmEvent::Done { record, .. } = terminal else {
        panic!("expected Done, got {terminal:?}")
    };
    assert!(record.cancelled);
    assert_eq!(
        record.completion_tokens, 4,
        "estimated: max(2 chunks, 16 chars / 4)"
    );
    // Let the aborted task be dropped, then the fake sees its stream gone.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        chat.dropped_early.load(Ordering::SeqCst),
        1,
        "the stream was dropped"
    );
    let s = stats(&pool).await;
    assert_eq!((s.cancelled, s.in_flight), (1, 0));
    assert!(rx.try_recv().is_err(), "exactly one terminal event");
}

#[tokio::test(start_paused = true)]
async fn cancel_of_a_queued_job_ends_it_without_opening_a_stream() {
    let chat = FakeChat::new("primary", Script::Stream(vec![Step::Forever]));
    let config = LlmPoolConfig {
        max_concurrent_per_endpoint: 1,
        reserve_for_live: 0,
        ..Default::default()
    };
    let pool = spawn_pool(&[&chat], config).await;
    let (sink1, _rx1) = collector();
    let (sink2, mut rx2) = collector();
    pool.cast(job("CA1", 1, Priority::Live, "first", sink1))
        .unwrap();
    pool.cast(job("CA2", 2, Priority::Live, "second", sink2))
        .unwrap();
    pool.cast(LlmPoolMsg::Cancel {
        call: CallSid::new("CA2"),
        request_id: 2,
    })
    .unwrap();
    let (_, terminal) = until_terminal(&mut rx2).await;
    assert!(
        matches!(terminal, LlmEvent::Done { ref record, .. } if record.cancelled && record.completion_tokens == 0)
    );
    assert_eq!(
        chat.open_count(),
        1,
        "the queued job never reached the endpoint"
    );
}

#[tokio::test(start_paused = true)]
async fn missing_usage_chunk_is_estimated() {
    let chat = FakeChat::new(
        "primary",
        Script::Stream(vec![Step::Token("abcd"), Step::Token("efgh")]),
    );
    let pool = spawn_pool(&[&chat], LlmPoolConfig::default()).await;
    let (sink, mut rx) = collector();
    pool.cast(job("CA1", 1, Priority::Live, &"x".repeat(40), sink))
        .unwrap();
    let (_, terminal) = until_terminal(&mut rx).await;
    let LlmEvent::Done { record, .. } = terminal else {
        panic!("expected Done")
    };
    assert_eq!((record.prompt_tokens, record.completion_tokens), (14, 2));
}

#[tokio::test(start_paused = true)]
async fn forget_call_drops_per_call_totals_only() {
    let chat = FakeChat::new("primary", reply(&["ok"]));
    let pool = spawn_pool(&[&chat], LlmPoolConfig::default()).await;
    let (sink, mut rx) = collector();
    pool.cast(job("CA1", 1, Priority::Live, "hi", sink))
        .unwrap();
    until_terminal(&mut rx).await;
    pool.cast(LlmPoolMsg::ForgetCall(CallSid::new("CA1")))
        .unwrap();
    let s = stats(&pool).await;
    assert!(s.per_call.is_empty());
    assert_eq!(s.per_tenant[&TenantId::new("acme")].requests, 1);
}
