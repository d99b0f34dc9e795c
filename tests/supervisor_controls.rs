//! Supervisor controls on a live call, over real HTTP against a call on a
//! real socket: say (now), instruct (reaches the LLM), pause/resume,
//! escalate (Twilio REST `<Dial>`), end, and the error answers.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

async fn act(
    app: &switchboard::app::App,
    key: Option<&str>,
    call: &str,
    action: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = http()
        .post(format!("{}/api/v1/calls/{call}/{action}", app.base_url()))
        .json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn clears(h: &[Heard]) -> usize {
    h.iter()
        .filter(|h| matches!(h, Heard::Clear { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_now_interrupts_and_instruct_reaches_the_llm() {
    let app = start("sup-say", quick).await;
    let phone = Phone::greeted(&app, "CAsup0001").await;

    let (status, state) = act(
        &app,
        Some(SUPERVISOR_KEY),
        "CAsup0001",
        "intervene",
        json!({"mode": "instruct", "text": "Mention promo code SPRING25."}),
    )
    .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["callId"], "CAsup0001");

    // A question the scenarios do not cover goes to the LLM with the instruction.
    let before = media_count(&phone.heard());
    phone.say(&fixture("address"));
    phone
        .wait_reply_done(before, Duration::from_millis(600), Duration::from_secs(20))
        .await;
    let requests = app.mocks.as_ref().unwrap().chat.state.requests();
    assert!(
        requests.iter().any(|r| r.to_string().contains("SPRING25")
            && r.to_string().to_lowercase().contains("elm street")),
        "the instruction and the question reached the LLM: {requests:?}"
    );

    // Say now, while the bot speaks: clear, then the supervisor's words.
    let before = media_count(&phone.heard());
    phone.say(&fixture("opening_hours"));
    phone
        .wait_for("reply audio", Duration::from_secs(15), |h| {
            media_count(h) > before + 5
        })
        .await;
    let clears_before = clears(&phone.heard());
    let (status, _) = act(
        &app,
        Some(SUPERVISOR_KEY),
        "CAsup0001",
        "intervene",
        json!({"mode": "say", "text": "A supervisor is joining this call.", "now": true}),
    )
    .await;
    assert_eq!(status, 200);
    phone
        .wait_for("clear", Duration::from_secs(5), |h| {
            clears(h) > clears_before
        })
        .await;
    let at_clear = media_count(&phone.heard());
    phone
        .wait_for("the supervisor's words", Duration::from_secs(10), |h| {
            media_count(h) > at_clear + 10
        })
        .await;

    phone.send(PhoneCmd::HangUp);
    let trace = ended_trace(&app, "CAsup0001").await;
    let actions: Vec<String> = trace["supervisorActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["who"].as_str().unwrap(),
                a["action"].as_str().unwrap()
            )
        })
        .collect();
    assert!(actions.iter().any(|a| a == "sup:instruct"), "{actions:?}");
    assert!(
        actions.iter().any(|a| a.starts_with("sup:say")),
        "{actions:?}"
    );

    // The call has ended now: 409. Unknown: 404.
    let (status, _) = act(&app, Some(SUPERVISOR_KEY), "CAsup0001", "end", json!({})).await;
    assert_eq!(status, 409);
    let (status, _) = act(&app, Some(SUPERVISOR_KEY), "CAnobody", "end", json!({})).await;
    assert_eq!(status, 404);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalate_redirects_through_twilio_rest_and_the_trace_says_so() {
    let app = start("sup-escalate", quick).await;
    let phone = Phone::greeted(&app, "CAsup0002").await;
    let before = media_count(&phone.heard());
    phone.say(&fixture("leaking_tap"));
    phone
        .wait_reply_done(before, Duration::from_millis(600), Duration::from_secs(20))
        .await;

    let (status, body) = act(
        &app,
        Some(SUPERVISOR_KEY),
        "CAsup0002",
        "escalate",
        json!({"target": "+15550009999", "reason": "wants a plumber today"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let twilio = &app.mocks.as_ref().unwrap().twilio.state;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let update = loop {
        if let Some(u) = twilio
            .updates()
            .into_iter()
            .find(|u| u.call_sid == "CAsup0002")
        {
            break u;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no Twilio REST update"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let twiml = update.field("Twiml").expect("Twiml field");
    assert!(
        twiml.contains("<Dial") && twiml.contains("+15550009999"),
        "{twiml}"
    );
    assert_eq!(twilio.unauthorized(), 0, "Basic auth accepted");

    // Twilio stops the stream once it runs the new TwiML.
    phone.send(PhoneCmd::HangUp);
    let trace = ended_trace(&app, "CAsup0002").await;
    assert_eq!(trace["finalOutcome"], "escalated_to_human", "{trace}");
    let summary = trace["escalation"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        summary.contains("tap") || summary.contains("leak"),
        "hand-off summary says what they wanted: {summary}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_end_and_error_answers() {
    let app = start("sup-pause", quick).await;
    let phone = Phone::greeted(&app, "CAsup0003").await;

    // Errors first: no key 401, viewer 403, bad bodies 400.
    let errors = [
        (None, "end", json!({}), 401),
        (Some(VIEWER_KEY), "end", json!({}), 403),
        (
            Some(SUPERVISOR_KEY),
            "intervene",
            json!({"mode": "dance"}),
            400,
        ),
        (
            Some(SUPERVISOR_KEY),
            "intervene",
            json!({"mode": "say"}),
            400,
        ),
        (Some(SUPERVISOR_KEY), "escalate", json!({"target": 5}), 400),
    ];
    for (key, action, body, status) in errors {
        let answer = act(&app, key, "CAsup0003", action, body.clone()).await.0;
        assert_eq!(answer, status, "{action} {body} with {key:?}");
    }

    // Pause: the hold line, then no answers.
    let (status, state) = act(
        &app,
        Some(SUPERVISOR_KEY),
        "CAsup0003",
        "intervene",
        json!({"mode": "pause"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(state["state"], "paused", "{state}");
    let before = media_count(&phone.heard());
    phone
        .wait_reply_done(before, Duration::from_millis(600), Duration::from_secs(10))
        .await; // hold line
    let after_hold = media_count(&phone.heard());
    phone.say(&fixture("opening_hours"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        media_count(&phone.heard()),
        after_hold,
        "paused: the AI does not answer"
    );

    // Resume: answers again.
    assert_eq!(
        act(
            &app,
            Some(SUPERVISOR_KEY),
            "CAsup0003",
            "intervene",
            json!({"mode": "resume"})
        )
        .await
        .0,
        200
    );
    phone.say(&fixture("boiler_service_cost"));
    phone
        .wait_reply_done(
            after_hold,
            Duration::from_millis(600),
            Duration::from_secs(20),
        )
        .await;

    // End: a goodbye, then the socket closes.
    let (status, _) = act(
        &app,
        Some(SUPERVISOR_KEY),
        "CAsup0003",
        "end",
        json!({"reason": "done"}),
    )
    .await;
    assert_eq!(status, 200);
    phone
        .wait_for("socket closed", Duration::from_secs(20), |h| {
            h.iter().any(|h| matches!(h, Heard::Closed { .. }))
        })
        .await;
    let trace = ended_trace(&app, "CAsup0003").await;
    assert!(
        trace["supervisorActions"].as_array().unwrap().len() >= 3,
        "{trace}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}
