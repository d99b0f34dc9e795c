//! Retries with backoff, retry-after, no retry on insufficient_quota or
//! after the first token, failover, and the per-endpoint circuit breaker.

#[path = "llm_pool_support/mod.rs"]
mod support;

use std::time::Duration;
use support::*;
use switchboard_actors::llm_pool::{BreakerConfig, LlmEvent, LlmPoolConfig, Priority, RetryPolicy};
use switchboard_actors::providers::ChatError;

fn config() -> LlmPoolConfig {
    LlmPoolConfig {
        retry: RetryPolicy {
            max_retries: 2,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn run_one(
    pool: &ractor::ActorRef<switchboard_actors::llm_pool::LlmPoolMsg>,
    id: u64,
) -> (Vec<String>, LlmEvent) {
    let (sink, mut rx) = collector();
    pool.cast(job("CA1", id, Priority::Live, "hi", sink))
        .unwrap();
    until_terminal(&mut rx).await
}

#[tokio::test(start_paused = true)]
async fn retry_after_a_503_then_success() {
    let chat =
        FakeChat::new("primary", reply(&["ok"])).then(Script::Refuse(status(503, None, None)));
    let pool = spawn_pool(&[&chat], config()).await;
    let (tokens, terminal) = run_one(&pool, 1).await;
    assert_eq!(tokens, ["ok"]);
    assert!(matches!(terminal, LlmEvent::Done { .. }), "{terminal:?}");
    let t = chat.open_times();
    assert_eq!(t.len(), 2);
    let waited = t[1] - t[0];
    // First backoff: 500 ms minus up to 25 % jitter.
    assert!(
        waited >= Duration::from_millis(375) && waited <= Duration::from_millis(500),
        "{waited:?}"
    );
    assert_eq!(stats(&pool).await.retries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_for_its_retry_after() {
    let limited = status(
        429,
        Some("rate_limit_exceeded"),
        Some(Duration::from_secs(3)),
    );
    let chat = FakeChat::new("primary", reply(&["ok"])).then(Script::Refuse(limited));
    let pool = spawn_pool(&[&chat], config()).await;
    let (_, terminal) = run_one(&pool, 1).await;
    assert!(matches!(terminal, LlmEvent::Done { .. }), "{terminal:?}");
    let t = chat.open_times();
    assert_eq!(t[1] - t[0], Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn no_retry_on_insufficient_quota() {
    let chat = FakeChat::new(
        "primary",
        Script::Refuse(status(429, Some("insufficient_quota"), None)),
    );
    let pool = spawn_pool(&[&chat], config()).await;
    let (_, terminal) = run_one(&pool, 1).await;
    let LlmEvent::Failed {
        message, fallback, ..
    } = terminal
    else {
        panic!("expected Failed, got {terminal:?}")
    };
    assert!(message.contains("429"), "{message}");
    assert_eq!(fallback, "One moment, please.");
    assert_eq!(chat.open_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_after_max_retries() {
    let chat = FakeChat::new("primary", Script::Refuse(status(500, None, None)));
    let pool = spawn_pool(&[&chat], config()).await;
    let (_, terminal) = run_one(&pool, 1).await;
    assert!(matches!(terminal, LlmEvent::Failed { .. }), "{terminal:?}");
    assert_eq!(chat.open_count(), 3, "one try and two retries");
}

#[tokio::test(start_paused = true)]
async fn no_retry_once_tokens_reached_the_caller() {
    let broken = Script::Stream(vec![
        Step::Token("Our"),
        Step::Error(ChatError::MidStream("reset".into())),
    ]);
    let chat = FakeChat::new("primary", reply(&["never"])).then(broken);
    let pool = spawn_pool(&[&chat], config()).await;
    let (tokens, terminal) = run_one(&pool, 1).await;
    assert_eq!(tokens, ["Our"]);
    assert!(matches!(terminal, LlmEvent::Failed { .. }), "{terminal:?}");
    assert_eq!(chat.open_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn failover_when_the_primary_is_down() {
    let primary = FakeChat::new(
        "primary",
        Script::Refuse(ChatError::Connect("refused".into())),
    );
    let secondary = FakeChat::new("secondary", reply(&["from", " backup"]));
    let pool = spawn_pool(&[&primary, &secondary], config()).await;
    let (tokens, terminal) = run_one(&pool, 1).await;
    assert_eq!(tokens, ["from", " backup"]);
    let LlmEvent::Done { record, .. } = terminal else {
        panic!("expected Done")
    };
    assert_eq!(record.provider, "secondary");
    assert_eq!(
        primary.open_times()[0],
        secondary.open_times()[0],
        "failover does not wait"
    );
    assert_eq!(stats(&pool).await.failovers, 1);
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_after_n_failures_and_half_opens_later() {
    let primary = FakeChat::new("primary", Script::Refuse(status(503, None, None)));
    let secondary = FakeChat::new("secondary", reply(&["ok"]));
    let config = LlmPoolConfig {
        breaker: BreakerConfig {
            failure_threshold: 2,
            open_ms: 10_000,
            half_open_probes: 1,
        },
        ..config()
    };
    let pool = spawn_pool(&[&primary, &secondary], config).await;
    for id in 1..=2 {
        assert!(matches!(run_one(&pool, id).await.1, LlmEvent::Done { .. }));
    }
    assert_eq!(primary.open_count(), 2);
    assert_eq!(stats(&pool).await.endpoints[0].breaker, "open");
    run_one(&pool, 3).await;
    assert_eq!(primary.open_count(), 2, "an open breaker skips the primary");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(stats(&pool).await.endpoints[0].breaker, "half_open");
    run_one(&pool, 4).await;
    assert_eq!(primary.open_count(), 3, "half-open lets one probe through");
    assert_eq!(
        stats(&pool).await.endpoints[0].breaker,
        "open",
        "the failed probe reopens it"
    );
    assert_eq!(secondary.open_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn all_breakers_open_fails_fast_with_the_fallback() {
    let primary = FakeChat::new("primary", Script::Refuse(status(503, None, None)));
    let config = LlmPoolConfig {
        breaker: BreakerConfig {
            failure_threshold: 1,
            open_ms: 60_000,
            half_open_probes: 1,
        },
        retry: RetryPolicy {
            max_retries: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let pool = spawn_pool(&[&primary], config).await;
    assert!(matches!(run_one(&pool, 1).await.1, LlmEvent::Failed { .. }));
    let (_, terminal) = run_one(&pool, 2).await;
    assert!(
        matches!(terminal, LlmEvent::Failed { ref fallback, .. } if fallback == "One moment, please.")
    );
    assert_eq!(primary.open_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_endpoint_times_out_and_fails_over() {
    let silent = FakeChat::new("primary", Script::Stream(vec![Step::Forever]));
    let secondary = FakeChat::new("secondary", reply(&["ok"]));
    let config = LlmPoolConfig {
        idle_timeout_ms: 2_000,
        ..config()
    };
    let pool = spawn_pool(&[&silent, &secondary], config).await;
    let (tokens, _) = run_one(&pool, 1).await;
    assert_eq!(tokens, ["ok"]);
    assert_eq!(
        secondary.open_times()[0] - silent.open_times()[0],
        Duration::from_secs(2)
    );
}
