//! Tier 2: how close an utterance is to each scenario's example utterances.
//!
//! [`SemanticIndex`] is the seam: today [`TfIdfIndex`] (TF-IDF cosine over
//! stemmed, stop-word-free words); an embedding index can replace it without
//! touching the router. Each example (and each trigger phrase, so near
//! variants of a trigger still land) is one document; a scenario's score is
//! its best document's cosine.

use super::scenario::Scenario;
use super::text::{is_stopword, normalise, stem, words};
use std::collections::HashMap;

/// Finds the scenario whose examples are most similar to `text`.
pub trait SemanticIndex: Send + Sync {
    /// `text` is the raw utterance; the index normalises it its own way.
    /// Returns the scenario index and a similarity in `0..=1`.
    fn best(&self, text: &str) -> Option<(usize, f32)>;
}

/// TF-IDF cosine with an inverted index: a query touches only the postings
/// of its own words.
pub struct TfIdfIndex {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// Per word: (document, weight in the L2-normalised document vector).
    postings: Vec<Vec<(u32, f32)>>,
    doc_scenario: Vec<u32>,
}

/// Stemmed content words of `text`, as (word, count).
fn terms(text: &str) -> Vec<(String, u32)> {
    let norm = normalise(text);
    let mut out: Vec<(String, u32)> = Vec::new();
    for w in words(&norm).filter(|w| !is_stopword(w)) {
        let w = stem(w);
        match out.iter_mut().find(|(t, _)| t == w) {
            Some((_, n)) => *n += 1,
            None => out.push((w.to_owned(), 1)),
        }
    }
    out
}

fn tf(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

impl TfIdfIndex {
    pub fn build(scenarios: &[Scenario]) -> Self {
        let docs: Vec<(u32, Vec<(String, u32)>)> = scenarios
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.examples
                    .iter()
                    .chain(&s.triggers)
                    .map(move |d| (i as u32, terms(d)))
            })
            .filter(|(_, t)| !t.is_empty())
            .collect();
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        for (_, t) in &docs {
            for (w, _) in t {
                let next = vocab.len() as u32;
                let id = *vocab.entry(w.clone()).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                df[id as usize] += 1;
            }
        }
        let n = docs.len() as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0)
            .collect();
        let mut postings = vec![Vec::new(); idf.len()];
        let mut doc_scenario = Vec::with_capacity(docs.len());
        for (doc, (scenario, t)) in docs.iter().enumerate() {
            doc_scenario.push(*scenario);
            let weights: Vec<(u32, f32)> = t
                .iter()
                .map(|(w, c)| {
                    let id = vocab[w];
                    (id, tf(*c) * idf[id as usize])
                })
                .collect();
            let norm = weights.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
            for (id, x) in weights {
                postings[id as usize].push((doc as u32, x / norm));
            }
        }
        TfIdfIndex {
            vocab,
            idf,
            postings,
            doc_scenario,
        }
    }
}

impl SemanticIndex for TfIdfIndex {
    fn best(&self, text: &str) -> Option<(usize, f32)> {
        // Words no example uses still count in the query's norm, as in
        // plain cosine: "book a table at the restaurant" shares only "book"
        // with the booking examples and must not look like a booking.
        let unseen_idf = ((self.doc_scenario.len() as f32) + 1.0).ln() + 1.0;
        let mut norm2 = 0f32;
        let mut query: Vec<(u32, f32)> = Vec::new();
        for (w, c) in terms(text) {
            match self.vocab.get(&w) {
                Some(&id) => {
                    let x = tf(c) * self.idf[id as usize];
                    norm2 += x * x;
                    query.push((id, x));
                }
                None => norm2 += (tf(c) * unseen_idf).powi(2),
            }
        }
        let norm = norm2.sqrt();
        if query.is_empty() {
            return None;
        }
        let mut dot = vec![0f32; self.doc_scenario.len()];
        for (id, q) in &query {
            for &(doc, x) in &self.postings[*id as usize] {
                dot[doc as usize] += q / norm * x;
            }
        }
        let (doc, score) =
            dot.iter().enumerate().fold(
                (0, 0f32),
                |best, (d, &s)| if s > best.1 { (d, s) } else { best },
            );
        (score > 0.0).then(|| (self.doc_scenario[doc] as usize, score.min(1.0)))
    }
}
