//! Fuzz-like coverage that runs in `cargo test`: the seed corpus of the
//! cargo-fuzz target (fuzz/corpus-seed/twilio_inbound) through the same
//! driver, then many random mutations of real frames, checking the driver's
//! invariants (no panic, closed stays closed, both decoders agree).

#[path = "../fuzz/fuzz_targets/twilio_inbound_driver.rs"]
mod driver;

use proptest::prelude::*;
use std::collections::BTreeMap;
use switchboard::twilio::TwilioStream;

fn seed_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus-seed/twilio_inbound")
}

#[test]
fn seed_corpus_runs_clean() {
    let mut seen = 0;
    for entry in std::fs::read_dir(seed_dir()).expect("seed corpus is checked in") {
        let path = entry.expect("readable dir entry").path();
        driver::run(&std::fs::read(&path).expect("readable seed"));
        seen += 1;
    }
    assert!(seen >= 15, "only {seen} seeds found");
}

/// A realistic session: the frames a simulated Twilio caller sends.
fn session() -> Vec<String> {
    let mut tw = TwilioStream::new("AC1", "CA1", "MZ1");
    let mut frames = vec![
        tw.connected(),
        tw.start(BTreeMap::from([("token".into(), "t".into())])),
    ];
    frames.extend((0..4).map(|i| tw.media(i * 20, &[0x7f; 160])));
    frames.extend([tw.dtmf('5'), tw.mark("m1"), tw.stop()]);
    frames
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes JSON cares about, plus anything at all.
    let byte = prop_oneof![
        prop::sample::select(b"{}[]\":,\\0123456789-+.eE \x00\x1fu=/".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Replace(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(frame: &mut Vec<u8>, edit: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        Edit::Insert(i, b) => frame.insert(at(i, frame.len() + 1), b),
        Edit::Delete(i) if !frame.is_empty() => {
            frame.remove(at(i, frame.len()));
        }
        Edit::Replace(i, b) if !frame.is_empty() => {
            let i = at(i, frame.len());
            frame[i] = b;
        }
        Edit::Truncate(i) => frame.truncate(at(i, frame.len() + 1)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_sessions_never_break_the_guard_or_parsers(
        edits in prop::collection::vec((0usize..9, edit()), 0..12),
        gaps in prop::collection::vec(any::<u8>(), 9),
    ) {
        let mut frames: Vec<Vec<u8>> = session().into_iter().map(String::into_bytes).collect();
        for (which, e) in &edits {
            apply(&mut frames[*which], e);
        }
        let mut data = Vec::new();
        for (frame, gap) in frames.iter().zip(&gaps) {
            data.push(*gap);
            data.extend(frame.iter().filter(|b| **b != driver::SEPARATOR));
            data.push(driver::SEPARATOR);
        }
        driver::run(&data);
    }

    #[test]
    fn random_bytes_never_break_the_driver(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        driver::run(&data);
    }
}
