//! Tier 1: trigger phrases, regexes and negative triggers, scored per
//! scenario against normalised text.
//!
//! Score of a scenario with at least one hit:
//! `0.6 + 0.4 * coverage + 0.1 * (hits - 1)`, capped at 1, where `coverage`
//! is the share of the utterance's content words (stop words left out)
//! covered by the best matching phrase (a regex hit counts as 0.5). So
//! "gas smell" alone scores 1.0 and "help, my kitchen is flooding" 0.73,
//! while "hi" in front of a question with five content words scores 0.67
//! and stays under the default 0.7 threshold. A negative trigger vetoes the
//! scenario outright.
//!
//! Phrases are matched word by word through an index keyed by their first
//! word, so their cost grows with the utterance, not with the number of
//! scenarios. Regexes run one by one: each has a literal prefilter (a memchr
//! scan for "cancel" in `\bcancel\b.*`), which rejects a miss in tens of
//! nanoseconds. One `RegexSet` of the 200 bench patterns was measured 15x
//! slower (285 µs against 17 µs per utterance, `benches/router.rs`): with a
//! `.*` in most patterns its lazy DFA keeps blowing its cache.

use super::scenario::Scenario;
use super::text::{is_stopword, words};
use regex::Regex;
use std::collections::HashMap;

struct Phrase {
    /// Word ids after the first (the first is the index key).
    rest: Vec<u32>,
    /// Content words in the phrase (at least 1).
    weight: usize,
    scenario: u32,
    negative: bool,
}

/// Compiled tier-1 rules of one tenant.
pub struct RuleIndex {
    vocab: HashMap<String, u32>,
    by_first_word: HashMap<u32, Vec<Phrase>>,
    regexes: Vec<Regex>,
    regex_scenario: Vec<u32>,
    scenarios: usize,
}

/// What tier 1 found in one utterance.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RuleEval {
    /// Best non-vetoed scenario and its score.
    pub best: Option<(usize, f32)>,
    /// Scenarios a negative trigger ruled out (tier 2 honours them too).
    pub vetoed: Vec<usize>,
}

#[derive(Clone, Copy, Default)]
struct Tally {
    hits: u32,
    coverage: f32,
    vetoed: bool,
}

impl RuleIndex {
    /// Compile; regexes were validated when parsing, so an error here is
    /// unexpected (kept typed rather than a panic all the same).
    pub fn build(scenarios: &[Scenario]) -> Result<Self, regex::Error> {
        let mut index = RuleIndex {
            vocab: HashMap::new(),
            by_first_word: HashMap::new(),
            regexes: Vec::new(),
            regex_scenario: Vec::new(),
            scenarios: scenarios.len(),
        };
        for (i, s) in scenarios.iter().enumerate() {
            for p in &s.triggers {
                index.add_phrase(p, i as u32, false);
            }
            for p in &s.negative_triggers {
                index.add_phrase(p, i as u32, true);
            }
            for r in &s.regexes {
                index.regexes.push(Regex::new(r)?);
                index.regex_scenario.push(i as u32);
            }
        }
        Ok(index)
    }

    fn add_phrase(&mut self, normalised: &str, scenario: u32, negative: bool) {
        let weight = words(normalised).filter(|w| !is_stopword(w)).count().max(1);
        let mut ids = words(normalised).map(|w| self.word_id(w));
        let Some(first) = ids.next() else { return };
        let rest: Vec<u32> = ids.collect();
        let phrase = Phrase {
            rest,
            weight,
            scenario,
            negative,
        };
        self.by_first_word.entry(first).or_default().push(phrase);
    }

    fn word_id(&mut self, word: &str) -> u32 {
        let next = self.vocab.len() as u32;
        *self.vocab.entry(word.to_owned()).or_insert(next)
    }

    /// Score every scenario against `normalised` text (see [`normalise`](super::text::normalise)).
    pub fn evaluate(&self, normalised: &str) -> RuleEval {
        let mut content = 0usize;
        let ids: Vec<u32> = words(normalised)
            .inspect(|w| content += usize::from(!is_stopword(w)))
            .map(|w| self.vocab.get(w).copied().unwrap_or(u32::MAX))
            .collect();
        let total = content.max(1) as f32;
        let mut tally = vec![Tally::default(); self.scenarios];
        for (pos, id) in ids.iter().enumerate() {
            for p in self.by_first_word.get(id).into_iter().flatten() {
                if ids[pos + 1..].starts_with(&p.rest) {
                    let t = &mut tally[p.scenario as usize];
                    if p.negative {
                        t.vetoed = true;
                    } else {
                        t.hits += 1;
                        t.coverage = t.coverage.max(p.weight as f32 / total);
                    }
                }
            }
        }
        for (re, &scenario) in self.regexes.iter().zip(&self.regex_scenario) {
            let t = &mut tally[scenario as usize];
            if !t.vetoed && re.is_match(normalised) {
                t.hits += 1;
                t.coverage = t.coverage.max(0.5);
            }
        }
        summarise(&tally)
    }
}

fn summarise(tally: &[Tally]) -> RuleEval {
    let mut eval = RuleEval::default();
    for (i, t) in tally.iter().enumerate() {
        if t.vetoed {
            eval.vetoed.push(i);
            continue;
        }
        if t.hits == 0 {
            continue;
        }
        let score = score(t.hits, t.coverage);
        // Strictly greater: on a tie the scenario listed first wins.
        if eval.best.is_none_or(|(_, b)| score > b) {
            eval.best = Some((i, score));
        }
    }
    eval
}

/// The tier-1 score formula of the module doc.
pub fn score(hits: u32, coverage: f32) -> f32 {
    (0.6 + 0.4 * coverage.clamp(0.0, 1.0) + 0.1 * hits.saturating_sub(1) as f32).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::scenario::parse_file;
    use proptest::prelude::*;
    use std::path::Path;

    fn index() -> RuleIndex {
        let text = r#"
[[scenario]]
id = "gas"
name = "Gas"
type = "SYSTEM_ACK"
triggers = ["smell gas", "gas leak"]
negative_triggers = ["gas bill"]
quick_reply = "Leave the house."
[[scenario]]
id = "billing"
name = "Billing"
type = "INFO_FAQ"
regexes = ['\bbill\b']
"#;
        RuleIndex::build(
            &parse_file(Path::new("t.toml"), text)
                .expect("valid")
                .scenarios,
        )
        .expect("compiles")
    }

    #[test]
    fn phrase_matches_whole_words_only() {
        let i = index();
        assert_eq!(i.evaluate("i smell gas").best.map(|b| b.0), Some(0));
        assert_eq!(i.evaluate("i smell gasoline").best, None);
    }

    #[test]
    fn negative_trigger_vetoes_and_another_scenario_can_win() {
        let e = index().evaluate("question about my gas bill and a gas leak");
        assert_eq!(e.vetoed, vec![0]);
        assert_eq!(e.best.map(|b| b.0), Some(1));
    }

    proptest! {
        #[test]
        fn score_is_within_unit_range_and_grows_with_evidence(hits in 1u32..20, cov in 0.0f32..1.5) {
            let s = score(hits, cov);
            prop_assert!((0.6..=1.0).contains(&s));
            prop_assert!(score(hits + 1, cov) >= s);
            prop_assert!(score(hits, (cov + 0.1).min(1.0)) >= s);
        }

        #[test]
        fn evaluate_never_panics_on_any_text(text in ".{0,120}") {
            let i = index();
            let e = i.evaluate(&crate::router::normalise(&text));
            if let Some((_, s)) = e.best { prop_assert!(s <= 1.0); }
        }
    }
}
