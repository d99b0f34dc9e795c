//! Tier 1 + tier 2 routing cost per utterance with 200 scenarios (target:
//! under 50 µs), the work the Router does inline for every caller turn.
//!
//! Run: cargo bench --bench router -- --warm-up-time 1 --measurement-time 3
//!
//! Latest figures (2026-11-23, shared 2-vCPU machine, other builds running):
//! tier1_hit 16.8 µs, tier2_hit 17.7 µs, miss (both tiers in full) 19.8 µs.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use switchboard_actors::router::{parse_file, TenantRouter, Thresholds};

const NOUNS: &[&str] = &[
    "boiler",
    "radiator",
    "sink",
    "toilet",
    "shower",
    "bath",
    "tap",
    "drain",
    "pipe",
    "cylinder",
    "thermostat",
    "valve",
    "gutter",
    "roof",
    "fuse",
    "socket",
    "window",
    "door",
    "lock",
    "fence",
];
const VERBS: &[&str] = &[
    "repair", "install", "replace", "service", "inspect", "clean", "unblock", "quote", "move",
    "check",
];

/// 200 scenarios: every (verb, noun) pair, each with triggers, a regex,
/// a negative trigger and five examples, like a large real tenant.
fn generated_toml() -> String {
    let mut out = String::from("tenant = \"bench\"\n");
    for verb in VERBS {
        for noun in NOUNS {
            out.push_str(&format!(
                r#"
[[scenario]]
id = "{verb}-{noun}"
name = "{verb} {noun}"
type = "ACTION_FLOW"
triggers = ["{verb} my {noun}", "{verb} the {noun}", "{noun} {verb}", "need a {noun} {verb}"]
regexes = ['\b{verb}\w*\b.*\b{noun}s?\b']
negative_triggers = ["dont {verb} the {noun}"]
examples = [
  "can you {verb} my {noun} this week",
  "how much does it cost to {verb} a {noun}",
  "i need someone to {verb} the {noun} in the kitchen",
  "is it possible to get the {noun} {verb}ed tomorrow",
  "my {noun} needs a {verb} please",
]
quick_reply = "Sure, we can {verb} your {noun}."
"#
            ));
        }
    }
    out
}

fn bench_router(c: &mut Criterion) {
    let file = parse_file(Path::new("bench.toml"), &generated_toml())
        .expect("generated scenarios are valid");
    assert_eq!(file.scenarios.len(), 200);
    let router = TenantRouter::compile(file).expect("regexes compile");
    let th = Thresholds {
        tier1: 0.7,
        tier2: 0.5,
        tier3: 0.6,
    };
    let utterances = [
        // tier 1 hit
        "Hi, could you replace my boiler next Tuesday?",
        // tier 2 (paraphrase of an example)
        "what would it cost me to get a radiator inspected",
        // miss (free conversation): both tiers run in full
        "I was wondering whether you saw the match last night, it was brilliant honestly",
    ];
    for (name, u) in ["tier1_hit", "tier2_hit", "miss"].iter().zip(utterances) {
        let d = router.route_fast(u, &th);
        eprintln!(
            "{name}: tier {:?} scenario {:?}",
            d.tier,
            d.scenario.map(|s| s.id)
        );
        c.bench_function(&format!("router_tier1_2_200_scenarios/{name}"), |b| {
            b.iter(|| router.route_fast(black_box(u), &th))
        });
    }
}

criterion_group!(benches, bench_router);
criterion_main!(benches);
