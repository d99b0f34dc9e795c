//! Issue 4 end to end: one call whose questions are answered by tier 1
//! (rules), tier 2 (semantic match), and tier 3 (the LLM picks, or misses
//! into free conversation), each turn's trace showing its tier and scores; and a
//! barge-in that cancels a streaming completion, which the mock LLM server
//! sees as a closed stream (the HTTP stream is dropped at once).

mod common;

use common::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tier_answers_its_question() {
    let app = start("tiers", |c| {
        quick(c);
        c.twilio.default_tenant = "acme-plumbing".to_owned();
    })
    .await;
    let phone = Phone::greeted(&app, "CAtiers001").await;
    for id in ["opening_hours", "leaking_tap", "address"] {
        let before = media_count(&phone.heard());
        phone.say(&fixture(id));
        phone
            .wait_reply_done(before, Duration::from_millis(900), Duration::from_secs(30))
            .await;
    }

    phone.send(PhoneCmd::HangUp);

    let trace = ended_trace(&app, "CAtiers001").await;
    let turns = trace["turns"].as_array().unwrap();
    let tier_of = |needle: &str| {
        let t = turns
            .iter()
            .find(|t| {
                t["userInput"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(needle)
            })
            .unwrap_or_else(|| panic!("no turn for {needle:?}: {trace}"));
        (t["aiBrain"]["tierUsed"].as_u64(), t["aiBrain"].clone())
    };
    let (tier, brain) = tier_of("opening hours");
    assert_eq!(tier, Some(1), "{brain}");
    assert_eq!(brain["scenarioId"], "hours");
    let (tier, brain) = tier_of("kitchen tap");
    assert_eq!(tier, Some(2), "{brain}");
    assert_eq!(brain["scenarioId"], "leak-repair");
    assert!(
        brain["tier2Score"].as_f64().unwrap() >= 0.5 && brain["tier1Score"].as_f64().is_some(),
        "{brain}"
    );
    // Tiers 1-2 miss the address; tier 3 asks the LLM (through the real SSE
    // client and the mock server), whose pick or miss is in the trace.
    let (tier, brain) = tier_of("elm street");
    assert!(
        brain["rationale"].is_string(),
        "tier 3 ran and said why: {brain}"
    );
    match tier {
        Some(3) => assert!(brain["tier3Confidence"].as_f64().unwrap() >= 0.6, "{brain}"),
        None => assert_eq!(
            brain["responseStrategyUsed"], "llm",
            "a tier-3 miss is free conversation: {brain}"
        ),
        other => panic!("tiers 1-2 cannot match an address: {other:?} {brain}"),
    }
    let llm_calls = trace["llmCalls"].as_array().unwrap();
    assert!(
        llm_calls.iter().any(|c| c["purpose"] == "tier3_match"),
        "{llm_calls:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_closes_the_streaming_llm_completion() {
    let app = start("tiers-cancel", |c| {
        quick(c);
        // A slow LLM, so the reply is still streaming when the caller cuts in
        // (the default tenant has no tier 3: this goes straight to the LLM).
        c.providers.mock.chat.tokens_per_second = 5.0;
    })
    .await;
    let phone = Phone::greeted(&app, "CAtiers002").await;
    let before = media_count(&phone.heard());
    phone.say(&fixture("address"));
    phone
        .wait_for("LLM reply audio", Duration::from_secs(20), |h| {
            media_count(h) > before + 5
        })
        .await;
    phone.say(&fixture("wait_stop"));
    phone
        .wait_for("clear", Duration::from_secs(5), |h| {
            h.iter().any(|h| matches!(h, Heard::Clear { .. }))
        })
        .await;
    let chat = &app.mocks.as_ref().unwrap().chat.state;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while chat.streams_cancelled.load(Ordering::Relaxed) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the LLM stream was not closed by the barge-in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    phone.send(PhoneCmd::HangUp);
    let trace = ended_trace(&app, "CAtiers002").await;
    let llm_calls = trace["llmCalls"].as_array().unwrap();
    assert!(
        llm_calls.iter().any(|c| c["cancelled"] == true),
        "the cut completion is recorded as cancelled: {llm_calls:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}
