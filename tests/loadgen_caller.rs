//! The simulated Twilio caller against a fake engine on loopback, in paused
//! tokio time: what it puts on the wire and what it measures.
//!
//! With paused time the clock jumps to the next timer whenever the runtime
//! idles, so a message can reach the other side up to one 20 ms tick later
//! in virtual time; bounds below allow for that.

mod loadgen_common;

use loadgen_common::*;
use switchboard::loadgen::run_with;
use switchboard::loadgen::script::Step;

fn say() -> Step {
    Step::Say {
        utterance: "hello".into(),
    }
}

fn wait_reply() -> Step {
    Step::WaitForReply { timeout_ms: 5000 }
}

#[tokio::test(start_paused = true)]
async fn frames_have_twilio_sequence_chunk_and_timestamp_spacing() {
    let engine = FakeEngine::start(Behavior {
        greeting_ms: 200,
        reply_ms: 400,
        ..Behavior::default()
    })
    .await;
    let steps = vec![
        Step::WaitForGreeting { timeout_ms: 5000 },
        say(),
        wait_reply(),
        Step::Dtmf { digit: "5".into() },
        Step::HangUp,
    ];
    let report = run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    assert_eq!(report.calls.completed, 1, "{}", report.table());
    let msgs = engine.caller_messages();
    assert_eq!(msgs[0].1["event"], "connected");
    assert!(msgs[0].1.get("sequenceNumber").is_none());
    assert_eq!(msgs[1].1["event"], "start");
    assert_eq!(msgs[1].1["start"]["customParameters"]["token"], "tok-1");
    for (i, (_, m)) in msgs[1..].iter().enumerate() {
        assert_eq!(m["sequenceNumber"], (i + 1).to_string(), "message {m}");
    }
    let media: Vec<_> = msgs.iter().filter(|(_, m)| m["event"] == "media").collect();
    for (i, (_, m)) in media.iter().enumerate() {
        assert_eq!(m["media"]["chunk"], (i + 1).to_string());
        assert_eq!(m["media"]["timestamp"], (i * 20).to_string());
        assert_eq!(m["media"]["track"], "inbound");
    }
    // Real time: N frames take (N - 1) * 20 ms of virtual time, within a tick.
    let span = ms(media[0].0, media[media.len() - 1].0);
    let expected = (media.len() as i64 - 1) * 20;
    assert!((span - expected).abs() <= 20, "span {span} vs {expected}");
    let names = event_names(&msgs);
    assert_eq!(names["dtmf"], 1);
    let dtmf = msgs
        .iter()
        .find(|(_, m)| m["event"] == "dtmf")
        .expect("dtmf sent");
    assert_eq!(dtmf.1["dtmf"]["digit"], "5");
    assert_eq!(msgs.last().expect("messages").1["event"], "stop");
}

#[tokio::test(start_paused = true)]
async fn marks_are_echoed_only_after_their_audio_played() {
    let engine = FakeEngine::start(Behavior {
        greeting_ms: 1000,
        ..Behavior::default()
    })
    .await;
    let steps = vec![Step::WaitForGreeting { timeout_ms: 5000 }, Step::HangUp];
    let report = run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let sent = engine.sent_at("mark:greeting").expect("greeting mark sent");
    let (echoed, _) = engine
        .caller_messages()
        .into_iter()
        .find(|(_, m)| m["event"] == "mark" && m["mark"]["name"] == "greeting")
        .expect("mark echoed");
    let held = ms(sent, echoed);
    assert!((1000..=1040).contains(&held), "echo after {held} ms");
    assert_eq!(report.marks_echoed, 1);
    let greeting = report.call_records[0]
        .greeting_ms
        .expect("greeting measured");
    assert!(greeting <= 40.0, "greeting latency {greeting}");
}

#[tokio::test(start_paused = true)]
async fn clear_echoes_pending_marks_at_once() {
    let engine = FakeEngine::start(Behavior {
        greeting_ms: 5000,
        clear_after_ms: Some(300),
        ..Behavior::default()
    })
    .await;
    let steps = vec![Step::WaitForGreeting { timeout_ms: 8000 }, Step::HangUp];
    run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let cleared = engine.sent_at("clear").expect("clear sent");
    let (echoed, _) = engine
        .caller_messages()
        .into_iter()
        .find(|(_, m)| m["event"] == "mark")
        .expect("mark echoed");
    let after_clear = ms(cleared, echoed);
    assert!(
        (0..=40).contains(&after_clear),
        "echo {after_clear} ms after clear"
    );
}

#[tokio::test(start_paused = true)]
async fn barge_in_starts_after_bot_audio_and_measures_the_clear() {
    let engine = FakeEngine::start(Behavior {
        greeting_ms: 5000,
        clear_on_speech: true,
        ..Behavior::default()
    })
    .await;
    let steps = vec![
        Step::BargeIn {
            utterance: "hello".into(),
            after_ms: 300,
            timeout_ms: 5000,
            expect_clear: true,
        },
        Step::HangUp,
    ];
    let report = run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let bot_start = engine.sent_at("greeting-audio").expect("greeting played");
    let silence = serde_json::Value::String(base64_silence());
    let (speech_at, _) = engine
        .caller_messages()
        .into_iter()
        .find(|(_, m)| m["event"] == "media" && m["media"]["payload"] != silence)
        .expect("caller spoke");
    let onset = ms(bot_start, speech_at);
    assert!(
        (300..=360).contains(&onset),
        "barge-in {onset} ms after bot audio"
    );
    let rec = &report.call_records[0];
    assert_eq!(rec.barge_in_ms.len(), 1, "{rec:?}");
    assert!(rec.barge_in_ms[0] <= 40.0, "reaction {:?}", rec.barge_in_ms);
    assert_eq!(rec.barge_in_missed, 0);
}

fn base64_silence() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([0xFFu8; 160])
}

#[tokio::test(start_paused = true)]
async fn turn_latency_runs_from_end_of_speech_to_first_reply_audio() {
    let engine = FakeEngine::start(Behavior {
        reply_ms: 400,
        reply_delay_ms: 300,
        ..Behavior::default()
    })
    .await;
    let steps = vec![say(), wait_reply(), say(), wait_reply(), Step::HangUp];
    let report = run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let rec = &report.call_records[0];
    assert_eq!(rec.turn_ms.len(), 2, "{rec:?}");
    // Last speech frame -> first silence frame (20) -> engine delay (300).
    for &t in &rec.turn_ms {
        assert!((300.0..=380.0).contains(&t), "turn {t}");
    }
    assert_eq!(rec.reply_timeouts, 0);
    assert_eq!(report.late_bot_frames, 0);
}

#[tokio::test(start_paused = true)]
async fn webhook_and_upgrade_carry_valid_signatures() {
    let token = "secret-token";
    let public = "https://voice.example.com";
    let engine = FakeEngine::start(Behavior {
        auth_token: Some(token.into()),
        public_url: Some(public.into()),
        ..Behavior::default()
    })
    .await;
    let mut cfg = config(1);
    cfg.auth_token = Some(token.into());
    cfg.public_url = Some(public.into());
    run_with(
        cfg,
        engine.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let entries = engine.entries();
    let webhook = entries.iter().find_map(|(_, s)| match s {
        Seen::Webhook { form, signature_ok } => Some((form.clone(), *signature_ok)),
        _ => None,
    });
    let (form, ok) = webhook.expect("webhook posted");
    assert_eq!(ok, Some(true));
    let field = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert!(field("CallSid").is_some_and(|s| s.starts_with("CA") && s.len() == 34));
    assert!(field("AccountSid").is_some_and(|s| s.starts_with("AC")));
    for name in ["From", "To", "CallStatus", "Direction", "ApiVersion"] {
        assert!(field(name).is_some(), "{name} missing");
    }
    let upgrade = entries.iter().find_map(|(_, s)| match s {
        Seen::Upgrade { path, signature_ok } => Some((path.clone(), *signature_ok)),
        _ => None,
    });
    assert_eq!(upgrade, Some(("/twilio/media".into(), Some(true))));
}

#[tokio::test(start_paused = true)]
async fn a_wrong_token_fails_the_signature_check() {
    let engine = FakeEngine::start(Behavior {
        auth_token: Some("right".into()),
        ..Behavior::default()
    })
    .await;
    let mut cfg = config(1);
    cfg.auth_token = Some("wrong".into());
    run_with(
        cfg,
        engine.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let checks: Vec<_> = engine
        .entries()
        .into_iter()
        .filter_map(|(_, s)| match s {
            Seen::Webhook { signature_ok, .. } | Seen::Upgrade { signature_ok, .. } => signature_ok,
            _ => None,
        })
        .collect();
    assert_eq!(checks, [false, false]);
}

#[tokio::test(start_paused = true)]
async fn run_duration_hangs_up_running_calls() {
    let engine = FakeEngine::start(Behavior::default()).await;
    let mut cfg = config(2);
    cfg.duration = Some(std::time::Duration::from_secs(2));
    let steps = vec![Step::Pause { ms: 60_000 }, Step::HangUp];
    let report = run_with(cfg, engine.base.clone(), plan(steps), fixtures(), |_| {})
        .await
        .expect("run");
    assert_eq!(report.calls.deadline, 2, "{}", report.table());
    let stops = event_names(&engine.caller_messages())["stop"];
    assert_eq!(stops, 2);
    assert!(report.duration_s < 10.0);
}

#[tokio::test(start_paused = true)]
async fn hangup_twiml_counts_as_rejected() {
    let engine = FakeEngine::start(Behavior {
        webhook: WebhookReply::Hangup,
        ..Behavior::default()
    })
    .await;
    let report = run_with(
        config(3),
        engine.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    assert_eq!((report.calls.rejected, report.calls.completed), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn refused_upgrade_and_busy_webhook_count_as_rejected() {
    let refused = FakeEngine::start(Behavior {
        refuse_upgrade: true,
        ..Behavior::default()
    })
    .await;
    let report = run_with(
        config(2),
        refused.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    assert_eq!(report.calls.rejected, 2, "{}", report.table());
    let busy = FakeEngine::start(Behavior {
        webhook: WebhookReply::Status(503),
        ..Behavior::default()
    })
    .await;
    let report = run_with(
        config(2),
        busy.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    assert_eq!(report.calls.rejected, 2);
    let error = FakeEngine::start(Behavior {
        webhook: WebhookReply::Status(500),
        ..Behavior::default()
    })
    .await;
    let report = run_with(
        config(1),
        error.base.clone(),
        plan(vec![Step::HangUp]),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    assert_eq!(report.calls.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn an_outbound_gap_inside_a_reply_counts_late_bot_frames() {
    let engine = FakeEngine::start(Behavior {
        reply_ms: 1000,
        reply_gap_ms: 200,
        ..Behavior::default()
    })
    .await;
    let steps = vec![say(), wait_reply(), Step::HangUp];
    let report = run_with(
        config(1),
        engine.base.clone(),
        plan(steps),
        fixtures(),
        |_| {},
    )
    .await
    .expect("run");
    let rec = &report.call_records[0];
    assert_eq!(rec.gap_ms.len(), 1, "{rec:?}");
    assert!(
        (180.0..=240.0).contains(&rec.gap_ms[0]),
        "gap {:?}",
        rec.gap_ms
    );
    assert!(report.late_bot_frames >= 9, "{}", report.late_bot_frames);
    assert_eq!(rec.turn_ms.len(), 1, "one reply, not two");
}
