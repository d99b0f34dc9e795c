//! The shipped sample scenarios (config/scenarios) route realistic caller
//! utterances to the right scenario and tier, with no LLM involved.

use std::path::Path;
use switchboard_actors::router::{Catalog, ReplyStrategy, RouteDecision, ScenarioType, Thresholds};

fn catalog() -> Catalog {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/scenarios");
    Catalog::load_dir(&dir).expect("the shipped scenario files are valid")
}

const TH: Thresholds = Thresholds {
    tier1: 0.7,
    tier2: 0.5,
    tier3: 0.6,
};

fn route(c: &Catalog, tenant: &str, utterance: &str) -> RouteDecision {
    c.tenant(tenant, "default")
        .expect("tenant or default exists")
        .route_fast(utterance, &TH)
}

fn expect(c: &Catalog, utterance: &str, tier: Option<u8>, scenario: Option<&str>) {
    let d = route(c, "acme-plumbing", utterance);
    let got = d.scenario.as_ref().map(|s| s.id.as_str());
    assert_eq!((d.tier, got), (tier, scenario), "{utterance:?} -> {d:?}");
}

#[test]
fn tier1_catches_trigger_phrases_and_regexes() {
    let c = catalog();
    expect(
        &c,
        "Hi, what are your opening hours?",
        Some(1),
        Some("hours"),
    );
    expect(
        &c,
        "How much is a boiler service?",
        Some(1),
        Some("pricing-boiler-service"),
    );
    expect(
        &c,
        "I need to cancel my appointment on Thursday",
        Some(1),
        Some("cancellation"),
    );
    expect(
        &c,
        "Help, my kitchen is flooding!",
        Some(1),
        Some("emergency-flooding"),
    );
    expect(
        &c,
        "I can smell gas in the hallway",
        Some(1),
        Some("emergency-gas"),
    );
    expect(&c, "Can I speak to a real person?", Some(1), Some("human"));
    expect(&c, "Hello!", Some(1), Some("greeting"));
    expect(&c, "Thanks, goodbye", Some(1), Some("thanks-goodbye"));
    expect(&c, "Are you open on Sunday?", Some(1), Some("hours"));
}

#[test]
fn tier2_catches_paraphrases_of_the_examples() {
    let c = catalog();
    expect(
        &c,
        "do you guys work on weekends at all",
        Some(2),
        Some("hours"),
    );
    expect(
        &c,
        "the radiators are not heating up properly",
        Some(2),
        Some("no-heating"),
    );
    expect(
        &c,
        "which areas do you go out to",
        Some(2),
        Some("service-area"),
    );
}

#[test]
fn unrelated_talk_is_free_conversation() {
    let c = catalog();
    let d = route(
        &c,
        "acme-plumbing",
        "what do you think about the football last night",
    );
    assert_eq!(d.tier, None, "{d:?}");
    assert!(
        d.tier1_score.is_some() && d.tier2_score.is_some(),
        "both tiers report a score"
    );
}

#[test]
fn negative_trigger_vetoes_a_scenario() {
    let c = catalog();
    // "payment" has a regex on "pay" but "how much" vetoes it.
    let d = route(&c, "acme-plumbing", "how much will I pay");
    assert_ne!(d.scenario.map(|s| s.id), Some("payment".to_owned()));
}

#[test]
fn decisions_carry_resolved_strategy_and_flags() {
    let c = catalog();
    let d = route(&c, "acme-plumbing", "I smell gas");
    let s = d.scenario.expect("gas scenario matched");
    assert_eq!(
        (s.kind, s.strategy, s.escalate),
        (ScenarioType::SystemAck, ReplyStrategy::QuickOnly, true)
    );
    assert!(!d.config_error);
    let d = route(&c, "acme-plumbing", "hello");
    assert_eq!(
        d.scenario.expect("greeting").strategy,
        ReplyStrategy::QuickOnly,
        "AUTO on SMALL_TALK"
    );
    let d = route(&c, "acme-plumbing", "what are your opening hours");
    assert_eq!(
        d.scenario.expect("hours").strategy,
        ReplyStrategy::QuickThenFull,
        "AUTO on INFO_FAQ"
    );
}

#[test]
fn unknown_tenant_uses_the_default_set() {
    let c = catalog();
    let d = route(&c, "nobody-inc", "can I talk to a human");
    assert_eq!(d.scenario.map(|s| s.id), Some("human".to_owned()));
}

/// Tier 2 sits behind a trait: an embedding index can replace TF-IDF.
#[test]
fn tier2_index_is_replaceable() {
    use switchboard_actors::router::{parse_file, SemanticIndex, TenantRouter};
    struct Always(usize);
    impl SemanticIndex for Always {
        fn best(&self, _: &str) -> Option<(usize, f32)> {
            Some((self.0, 0.93))
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/scenarios/acme-plumbing.toml");
    let text = std::fs::read_to_string(&dir).unwrap();
    let file = parse_file(&dir, &text).unwrap();
    let payment = file
        .scenarios
        .iter()
        .position(|s| s.id == "payment")
        .unwrap();
    let router = TenantRouter::with_semantic(file, Box::new(Always(payment))).unwrap();
    let d = router.route_fast("something no rule knows", &TH);
    assert_eq!((d.tier, d.tier2_score), (Some(2), Some(0.93)));
    let s = d.scenario.unwrap();
    assert_eq!(s.id, "payment");
    assert!(!d.config_error);
}

/// Seed 000's configError: QUICK_ONLY on an INFO_FAQ scenario is flagged.
#[test]
fn quick_only_info_faq_is_flagged_as_config_error() {
    use switchboard_actors::router::{parse_file, TenantRouter};
    let text = r#"
[[scenario]]
id = "prices"
name = "Prices"
type = "INFO_FAQ"
triggers = ["prices"]
quick_reply = "From 60 pounds."
reply_strategy = "QUICK_ONLY"
"#;
    let file = parse_file(Path::new("t.toml"), text).unwrap();
    let d = TenantRouter::compile(file)
        .unwrap()
        .route_fast("your prices", &TH);
    let s = d.scenario.clone().expect("prices matched");
    assert_eq!(
        (s.kind, s.strategy),
        (ScenarioType::InfoFaq, ReplyStrategy::QuickOnly)
    );
    assert!(d.config_error);
    let d = route(&catalog(), "acme-plumbing", "can I pay by card");
    assert!(!d.config_error, "the shipped samples are clean");
}
