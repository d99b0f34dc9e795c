//! The Router actor end to end with a fake LLM: tier 1, 2, 3 and no-match
//! decisions, garbage from the model, tier-3 learning candidates, and hot
//! reload (admin call and file watcher) that never lets a bad file in.

#[path = "llm_pool_support/mod.rs"]
mod support;

use ractor::{Actor, ActorRef};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use switchboard_actors::call::RouteRequest;
use switchboard_actors::ids::TenantId;
use switchboard_actors::llm_pool::LlmPoolConfig;
use switchboard_actors::router::{RouteDecision, Router, RouterArgs, RouterConfig, RouterMsg};
use switchboard_actors::slot::Slot;
use tokio::sync::mpsc;

/// A scenarios directory removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scenarios dir holding a copy of the shipped acme-plumbing file.
fn scenarios_dir(test: &str) -> TempDir {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-router-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/scenarios/acme-plumbing.toml");
    std::fs::copy(shipped, dir.join("acme-plumbing.toml")).expect("shipped file exists");
    TempDir(dir)
}

fn config(dir: &Path) -> RouterConfig {
    RouterConfig {
        scenarios_dir: dir.to_owned(),
        default_tenant: "acme-plumbing".into(),
        watch_interval_ms: 0,
        ..Default::default()
    }
}

async fn spawn_router(config: RouterConfig, llm: Option<Arc<FakeChat>>) -> ActorRef<RouterMsg> {
    let llm_pool = match llm {
        Some(chat) => Some(Slot::new(
            spawn_pool(&[&chat], LlmPoolConfig::default()).await,
        )),
        None => None,
    };
    let (router, _) = Actor::spawn(None, Router, RouterArgs { config, llm_pool })
        .await
        .expect("router starts on valid scenarios");
    router
}

async fn route(router: &ActorRef<RouterMsg>, request_id: u64, utterance: &str) -> RouteDecision {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reply = Arc::new(move |d: RouteDecision| {
        let _ = tx.send(d);
    });
    let req = RouteRequest {
        request_id,
        tenant: TenantId::new("acme-plumbing"),
        utterance: utterance.to_owned(),
        history: Vec::new(),
    };
    router
        .cast(RouterMsg::Route { req, reply })
        .expect("router is running");
    rx.recv()
        .await
        .expect("every route request gets a decision")
}

fn llm_answer(json: &str) -> Script {
    Script::Stream(vec![
        Step::Delay(300),
        Step::Text(json.to_owned()),
        Step::Usage(400, 20),
    ])
}

const ODD: &str = "my missus says the thingy under the stairs is making a racket again";

#[tokio::test(start_paused = true)]
async fn tier1_and_tier2_are_answered_without_the_llm() {
    let chat = FakeChat::new("llm", llm_answer("{}"));
    let dir = scenarios_dir("t12");
    let router = spawn_router(config(&dir), Some(chat.clone())).await;
    let d = route(&router, 1, "What are your opening hours?").await;
    assert_eq!((d.request_id, d.tier), (1, Some(1)));
    assert_eq!(d.scenario.as_ref().map(|s| s.id.as_str()), Some("hours"));
    assert!(d.tier1_score.unwrap() >= 0.7 && d.tier2_score.is_none() && d.llm_call.is_none());
    let d = route(&router, 2, "do you guys work on weekends at all").await;
    assert_eq!(d.tier, Some(2));
    assert!(d.tier1_score.is_some() && d.tier2_score.unwrap() >= 0.5);
    assert_eq!(chat.open_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn tier3_rescue_picks_a_scenario_and_becomes_a_learning_candidate() {
    let answer = r#"```json
{"scenarioId": "no-heating", "confidence": 0.85, "rationale": "noisy boiler under the stairs"}
```"#;
    let chat = FakeChat::new("llm", llm_answer(answer));
    let dir = scenarios_dir("t3");
    let router = spawn_router(config(&dir), Some(chat.clone())).await;
    let d = route(&router, 9, ODD).await;
    assert_eq!(d.tier, Some(3), "{d:?}");
    assert_eq!(
        d.scenario.as_ref().map(|s| s.id.as_str()),
        Some("no-heating")
    );
    assert_eq!(d.tier3_confidence, Some(0.85));
    assert!(
        d.tier1_score.is_some() && d.tier2_score.is_some(),
        "tiers 1 and 2 were tried first"
    );
    let llm = d.llm_call.as_ref().expect("the tier-3 call is recorded");
    assert_eq!(
        (
            llm.purpose.as_str(),
            llm.prompt_tokens,
            llm.completion_tokens
        ),
        ("tier3_match", 400, 20)
    );
    assert!(
        d.elapsed_us >= 300_000,
        "elapsed covers the LLM wait: {}",
        d.elapsed_us
    );
    let prompt = chat.opens.lock().unwrap()[0].1.messages[0].content.clone();
    assert!(
        prompt.contains("no-heating | No heating or hot water"),
        "prompt lists ids and names"
    );

    let candidates = ractor::call!(router, RouterMsg::Tier3Candidates).unwrap();
    assert_eq!(candidates.len(), 1);
    let c = &candidates[0];
    assert_eq!(
        (c.request_id, c.chosen_scenario_id.as_str(), c.tier3_tokens),
        (9, "no-heating", 420)
    );
    assert!(
        c.tier_path.starts_with("T1 (") && c.tier_path.ends_with("-> T3"),
        "{}",
        c.tier_path
    );
}

#[tokio::test(start_paused = true)]
async fn garbage_or_invalid_tier3_answers_are_misses_not_crashes() {
    let answers = [
        "Sure! I think it's the boiler one.",
        r#"{"scenarioId": "boiler-repair", "confidence": 0.9, "rationale": "made up id"}"#,
        r#"{"scenarioId": "no-heating", "confidence": 7, "rationale": "out of range"}"#,
        r#"{"scenarioId": "no-heating", "confidence": "high"}"#,
        r#"{"scenarioId": null, "confidence": 0.9, "rationale": "nothing fits"}"#,
        r#"{"scenarioId": "no-heating", "confidence": 0.2, "rationale": "unsure"}"#,
    ];
    let chat = FakeChat::new("llm", llm_answer("{}"));
    for a in answers {
        chat.then(llm_answer(a));
    }
    let dir = scenarios_dir("garbage");
    let router = spawn_router(config(&dir), Some(chat)).await;
    for (i, a) in answers.iter().enumerate() {
        let d = route(&router, i as u64, ODD).await;
        assert_eq!(
            (d.tier, d.scenario.is_some()),
            (None, false),
            "{a} -> {d:?}"
        );
        assert!(d.llm_call.is_some(), "the call was still paid for");
        assert!(d.rationale.unwrap().contains("tier 3"));
    }
    assert!(ractor::call!(router, RouterMsg::Tier3Candidates)
        .unwrap()
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn tier3_timeout_is_a_miss_and_cancels_the_llm_stream() {
    let chat = FakeChat::new("llm", Script::Stream(vec![Step::Token("{"), Step::Forever]));
    let dir = scenarios_dir("timeout");
    let cfg = RouterConfig {
        tier3_timeout_ms: 1_000,
        ..config(&dir)
    };
    let router = spawn_router(cfg, Some(chat.clone())).await;
    let d = route(&router, 1, ODD).await;
    assert_eq!(d.tier, None);
    assert!(d.rationale.as_deref().unwrap().contains("timed out"));
    assert!(d.llm_call.as_ref().is_some_and(|r| r.cancelled));
    assert_eq!(chat.dropped_early.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_tier3_question_does_not_hold_up_other_calls() {
    let chat = FakeChat::new(
        "llm",
        Script::Stream(vec![Step::Delay(2_000), Step::Text("{}".into())]),
    );
    let dir = scenarios_dir("nonblocking");
    let router = spawn_router(config(&dir), Some(chat)).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reply = Arc::new(move |d: RouteDecision| {
        let _ = tx.send(d);
    });
    let req = |id, text: &str| RouteRequest {
        request_id: id,
        tenant: TenantId::new("acme-plumbing"),
        utterance: text.to_owned(),
        history: Vec::new(),
    };
    router
        .cast(RouterMsg::Route {
            req: req(1, ODD),
            reply: reply.clone(),
        })
        .unwrap();
    router
        .cast(RouterMsg::Route {
            req: req(2, "hello"),
            reply,
        })
        .unwrap();
    assert_eq!(
        rx.recv().await.unwrap().request_id,
        2,
        "tier 1 answered while tier 3 waits"
    );
    assert_eq!(rx.recv().await.unwrap().request_id, 1);
}

#[tokio::test(start_paused = true)]
async fn no_match_without_tier3_is_free_conversation() {
    let dir = scenarios_dir("none");
    let chat = FakeChat::new(
        "llm",
        llm_answer(r#"{"scenarioId":"hours","confidence":1}"#),
    );
    let off = RouterConfig {
        tier3_enabled: false,
        ..config(&dir)
    };
    let router = spawn_router(off, Some(chat.clone())).await;
    let d = route(&router, 1, ODD).await;
    assert_eq!(
        (d.tier, d.scenario, d.tier3_confidence, d.llm_call),
        (None, None, None, None)
    );
    assert_eq!(chat.open_count(), 0, "tier 3 disabled: no LLM call");
    // No pool at all: same answer.
    let router = spawn_router(config(&dir), None).await;
    assert_eq!(route(&router, 2, ODD).await.tier, None);
}

const SMALL: &str = r#"
[[scenario]]
id = "greeting"
name = "Greeting"
type = "SMALL_TALK"
triggers = ["hello"]
quick_reply = "Hi!"
"#;

#[tokio::test(start_paused = true)]
async fn reload_swaps_a_good_set_and_rejects_a_bad_one() {
    let dir = scenarios_dir("reload");
    let router = spawn_router(config(&dir), None).await;
    let file = dir.join("acme-plumbing.toml");
    std::fs::write(&file, format!("{SMALL}\n[[scenario]]\nid = \"parking\"\nname = \"Parking\"\ntype = \"INFO_FAQ\"\ntriggers = [\"parking\"]\n")).unwrap();
    let report = ractor::call!(router, RouterMsg::Reload)
        .unwrap()
        .expect("good set loads");
    assert_eq!(
        (report.generation, report.tenants, report.scenarios),
        (2, 1, 2)
    );
    assert_eq!(
        route(&router, 1, "where is the parking")
            .await
            .scenario
            .unwrap()
            .id,
        "parking"
    );

    std::fs::write(&file, SMALL.replace("SMALL_TALK", "CHIT_CHAT")).unwrap();
    let err = ractor::call!(router, RouterMsg::Reload)
        .unwrap()
        .expect_err("bad type rejected");
    assert!(
        err.contains("acme-plumbing.toml") && err.contains("scenario 'greeting'"),
        "{err}"
    );
    assert_eq!(
        route(&router, 2, "where is the parking")
            .await
            .scenario
            .unwrap()
            .id,
        "parking",
        "old set stays live"
    );
    let status = ractor::call!(router, RouterMsg::Status).unwrap();
    assert_eq!(status.generation, 2);
    assert!(status.last_reload_error.is_some());
}

#[tokio::test(start_paused = true)]
async fn file_watcher_reloads_on_change_and_keeps_the_old_set_on_a_bad_file() {
    let dir = scenarios_dir("watch");
    let router = spawn_router(
        RouterConfig {
            watch_interval_ms: 2_000,
            ..config(&dir)
        },
        None,
    )
    .await;
    let file = dir.join("acme-plumbing.toml");
    std::fs::write(&file, "[[scenario]]\nid = \"broken\"\nregexes = ['(']\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let status = ractor::call!(router, RouterMsg::Status).unwrap();
    assert_eq!(status.generation, 1, "bad file not loaded");
    assert!(status
        .last_reload_error
        .is_some_and(|e| e.contains("acme-plumbing.toml")));
    assert_eq!(
        route(&router, 1, "I smell gas").await.scenario.unwrap().id,
        "emergency-gas",
        "old set live"
    );

    std::fs::write(&file, SMALL).unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let status = ractor::call!(router, RouterMsg::Status).unwrap();
    assert_eq!(
        (
            status.generation,
            status.scenarios,
            status.last_reload_error
        ),
        (2, 1, None)
    );
    assert_eq!(
        route(&router, 2, "I smell gas").await.tier,
        None,
        "new set live"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_set_at_start_up_refuses_to_start() {
    let dir = scenarios_dir("startup");
    std::fs::write(dir.join("acme-plumbing.toml"), "tenant = 3").unwrap();
    let result = Actor::spawn(
        None,
        Router,
        RouterArgs {
            config: config(&dir),
            llm_pool: None,
        },
    )
    .await;
    assert!(result.is_err());
}
