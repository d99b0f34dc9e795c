//! Every shipped load-test script parses and speaks only utterances that
//! exist in the speech fixtures.

use std::path::Path;

use switchboard::loadgen::fixtures::Fixtures;
use switchboard::loadgen::script::{Plan, Step};

fn fixtures() -> Fixtures {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/utterances.json");
    Fixtures::load(&path).expect("speech fixtures load")
}

#[test]
fn shipped_scripts_load_and_use_known_utterances() {
    let fixtures = fixtures();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/loadtest");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("config/loadtest exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for (script, _) in &plan.scripts {
            for id in script.utterance_ids() {
                fixtures
                    .get(id)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            assert!(
                matches!(script.steps.last(), Some(Step::HangUp)),
                "{} should end with hang_up",
                script.name
            );
        }
        seen.push(plan.name);
    }
    for name in ["basic", "barge_in", "mixed", "demo"] {
        assert!(seen.iter().any(|n| n == name), "{name}.toml missing");
    }
}

#[test]
fn mixed_population_draws_every_script() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/loadtest/mixed.toml");
    let plan = Plan::load(&path).expect("mixed.toml loads");
    assert!(plan.scripts.len() >= 2);
    let total: u64 = plan.scripts.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut names: Vec<_> = (0..total).map(|d| plan.pick(d).name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), plan.scripts.len());
}

#[test]
fn fixture_frames_are_aligned_from_the_first_byte() {
    let fixtures = fixtures();
    for id in fixtures.ids() {
        let u = fixtures.get(id).expect("listed id");
        assert!(u.speech_end_ms > u.speech_start_ms, "{id}");
        assert!(u.speech_end_frame() < u.frames.len(), "{id}");
        assert!(
            u.frames.iter().all(|f| f.len() == 216),
            "{id}: 160-byte frames"
        );
    }
}
