//! The capacity harness steps concurrency up against a (fake) engine and
//! stops at the first step that breaks the latency limit.

mod loadgen_common;

use loadgen_common::*;
use switchboard::loadgen::capacity::{results_markdown, run_steps, UrlTarget};
use switchboard::loadgen::script::Step;
use switchboard::loadgen::ProviderDelays;

fn steps() -> Vec<Step> {
    vec![
        Step::Say {
            utterance: "hello".into(),
        },
        Step::WaitForReply { timeout_ms: 5000 },
        Step::HangUp,
    ]
}

async fn engine() -> FakeEngine {
    FakeEngine::start(Behavior {
        reply_ms: 400,
        reply_delay_ms: 300,
        ..Behavior::default()
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn steps_run_in_order_while_the_target_holds() {
    let engine = engine().await;
    let target = UrlTarget {
        url: engine.base.clone(),
        pid: None,
    };
    let mut base = config(0);
    // The fake engine answers 300 ms after the first silent frame (20 ms
    // after the end of speech): treat all of it as "provider" delay.
    base.provider_delays = ProviderDelays {
        llm_first_token_ms: 320.0,
        ..ProviderDelays::default()
    };
    let results = run_steps(
        &target,
        &base,
        &plan(steps()),
        &fixtures(),
        &[2, 4],
        40.0,
        |_| {},
    )
    .await
    .expect("steps run");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.passed), "{results:?}");
    assert_eq!((results[0].completed, results[1].completed), (2, 4));
    let md = results_markdown(&results, "cmd", "notes");
    assert!(md.contains("Max sustained calls: 4"), "{md}");
}

#[tokio::test(start_paused = true)]
async fn the_first_step_over_the_limit_ends_the_run() {
    let engine = engine().await;
    let target = UrlTarget {
        url: engine.base.clone(),
        pid: None,
    };
    let results = run_steps(
        &target,
        &config(0),
        &plan(steps()),
        &fixtures(),
        &[2, 4, 8],
        20.0,
        |_| {},
    )
    .await
    .expect("steps run");
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(!results[0].passed);
    assert!(
        results[0].verdict.contains("engine-added p99"),
        "{}",
        results[0].verdict
    );
    let md = results_markdown(&results, "cmd", "notes");
    assert!(md.contains("No step held the target"));
}
