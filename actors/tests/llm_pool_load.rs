//! Load shedding under a burst (every job still ends exactly once) and
//! live turns before background work.

#[path = "llm_pool_support/mod.rs"]
mod support;

use support::*;
use switchboard_actors::llm_pool::{LlmEvent, LlmPoolConfig, Priority};

#[tokio::test(start_paused = true)]
async fn burst_beyond_the_queue_bound_is_shed_at_once_and_every_job_ends_once() {
    let chat = FakeChat::new(
        "primary",
        Script::Stream(vec![
            Step::Delay(1_000),
            Step::Token("ok"),
            Step::Usage(5, 1),
        ]),
    );
    let config = LlmPoolConfig {
        max_concurrent_per_endpoint: 2,
        reserve_for_live: 0,
        queue_bound: 3,
        ..Default::default()
    };
    let pool = spawn_pool(&[&chat], config).await;
    let mut receivers = Vec::new();
    for id in 0..10 {
        let (sink, rx) = collector();
        pool.cast(job(&format!("CA{id}"), id, Priority::Live, "hi", sink))
            .unwrap();
        receivers.push(rx);
    }
    // Before any virtual time passes: 2 running, 3 queued, 5 shed.
    let s = stats(&pool).await;
    assert_eq!((s.in_flight, s.queued_live, s.shed), (2, 3, 5));
    let mut events: Vec<Vec<LlmEvent>> = vec![Vec::new(); receivers.len()];
    for (rx, seen) in receivers.iter_mut().zip(&mut events) {
        while let Ok(ev) = rx.try_recv() {
            seen.push(ev);
        }
    }
    let shed_now = events
        .iter()
        .filter(|e| matches!(e.as_slice(), [LlmEvent::Shed { .. }]))
        .count();
    assert_eq!(shed_now, 5, "shed jobs hear the fallback immediately");
    assert!(events.iter().flatten().all(
        |e| !matches!(e, LlmEvent::Shed { fallback, .. } if fallback != "One moment, please.")
    ));
    // Drain to the end: a channel closes when the pool drops the job.
    for (rx, seen) in receivers.iter_mut().zip(&mut events) {
        while let Some(ev) = rx.recv().await {
            seen.push(ev);
        }
    }
    for (id, seen) in events.iter().enumerate() {
        let terminals = seen.iter().filter(|e| is_terminal(e)).count();
        assert_eq!(terminals, 1, "job {id} ends exactly once: {seen:?}");
        assert!(
            is_terminal(seen.last().expect("at least one event")),
            "terminal comes last"
        );
    }
    let done = events
        .iter()
        .filter(|e| matches!(e.last(), Some(LlmEvent::Done { .. })))
        .count();
    assert_eq!(done, 5);
    assert_eq!(chat.open_count(), 5);
}

#[tokio::test(start_paused = true)]
async fn live_turns_go_before_queued_background_work() {
    let chat = FakeChat::new(
        "primary",
        Script::Stream(vec![Step::Delay(100), Step::Token("ok")]),
    );
    let config = LlmPoolConfig {
        max_concurrent_per_endpoint: 1,
        reserve_for_live: 0,
        ..Default::default()
    };
    let pool = spawn_pool(&[&chat], config).await;
    let mut receivers = Vec::new();
    for (id, (priority, text)) in [
        (Priority::Live, "first"),
        (Priority::Background, "summary-1"),
        (Priority::Background, "summary-2"),
        (Priority::Live, "live-turn"),
    ]
    .into_iter()
    .enumerate()
    {
        let (sink, rx) = collector();
        pool.cast(job("CA1", id as u64, priority, text, sink))
            .unwrap();
        receivers.push(rx);
    }
    for rx in &mut receivers {
        until_terminal(rx).await;
    }
    assert_eq!(
        chat.asked(),
        ["first", "live-turn", "summary-1", "summary-2"]
    );
}

#[tokio::test(start_paused = true)]
async fn background_work_leaves_reserved_slots_for_live_turns() {
    let chat = FakeChat::new(
        "primary",
        Script::Stream(vec![Step::Delay(100), Step::Token("ok")]),
    );
    let config = LlmPoolConfig {
        max_concurrent_per_endpoint: 2,
        reserve_for_live: 1,
        ..Default::default()
    };
    let pool = spawn_pool(&[&chat], config).await;
    let mut receivers = Vec::new();
    for (id, priority) in [Priority::Background, Priority::Background, Priority::Live]
        .into_iter()
        .enumerate()
    {
        let (sink, rx) = collector();
        pool.cast(job("CA1", id as u64, priority, "x", sink))
            .unwrap();
        receivers.push(rx);
    }
    let s = stats(&pool).await;
    assert_eq!(
        (s.in_flight, s.queued_background),
        (2, 1),
        "one background and the live turn run"
    );
    for rx in &mut receivers {
        until_terminal(rx).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_live_job_evicts_queued_background_work_when_the_queue_is_full() {
    let chat = FakeChat::new(
        "primary",
        Script::Stream(vec![Step::Delay(100), Step::Token("ok")]),
    );
    let config = LlmPoolConfig {
        max_concurrent_per_endpoint: 1,
        reserve_for_live: 0,
        queue_bound: 1,
        ..Default::default()
    };
    let pool = spawn_pool(&[&chat], config).await;
    let (s0, mut r0) = collector();
    let (s1, mut r1) = collector();
    let (s2, mut r2) = collector();
    pool.cast(job("CA1", 0, Priority::Live, "a", s0)).unwrap();
    pool.cast(job("CA1", 1, Priority::Background, "b", s1))
        .unwrap();
    pool.cast(job("CA1", 2, Priority::Live, "c", s2)).unwrap();
    assert!(matches!(
        until_terminal(&mut r1).await.1,
        LlmEvent::Shed { .. }
    ));
    assert!(matches!(
        until_terminal(&mut r0).await.1,
        LlmEvent::Done { .. }
    ));
    assert!(matches!(
        until_terminal(&mut r2).await.1,
        LlmEvent::Done { .. }
    ));
}
