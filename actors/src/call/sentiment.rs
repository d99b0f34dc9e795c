//! A small lexicon sentiment scorer for callers' utterances.
//!
//! Good enough to notice an angry caller and trigger an escalation, cheap
//! enough to run on every turn of thousands of calls (no model, no
//! allocation beyond lowercasing). Scores follow VADER's normalisation:
//! the sum of word valences `s` maps to `s / sqrt(s^2 + 15)`, in -1..1.
//! A negator ("not", "never", "don't") within the three words before a word
//! flips and damps it; an intensifier ("very", "really") before it boosts it.

const POSITIVE: &[(&str, f32)] = &[
    ("good", 1.9),
    ("great", 3.1),
    ("excellent", 3.2),
    ("perfect", 2.7),
    ("thanks", 1.9),
    ("thank", 1.5),
    ("happy", 2.7),
    ("glad", 2.0),
    ("love", 3.2),
    ("nice", 1.8),
    ("helpful", 2.0),
    ("wonderful", 2.7),
    ("awesome", 3.1),
    ("fine", 0.8),
    ("appreciate", 2.0),
    ("amazing", 2.8),
    ("pleased", 2.0),
    ("yes", 0.6),
    ("sure", 0.8),
    ("fantastic", 2.6),
];

const NEGATIVE: &[(&str, f32)] = &[
    ("bad", -2.5),
    ("terrible", -2.9),
    ("awful", -2.9),
    ("horrible", -2.9),
    ("angry", -2.3),
    ("furious", -3.0),
    ("upset", -1.9),
    ("frustrated", -2.1),
    ("frustrating", -2.1),
    ("annoyed", -1.9),
    ("annoying", -1.9),
    ("hate", -2.7),
    ("useless", -2.2),
    ("ridiculous", -2.1),
    ("worst", -3.1),
    ("stupid", -2.4),
    ("problem", -1.6),
    ("wrong", -2.1),
    ("broken", -1.9),
    ("unacceptable", -2.6),
    ("disappointed", -2.3),
    ("complaint", -1.8),
    ("cancel", -1.2),
    ("refund", -0.8),
    ("never", -0.4),
    ("sucks", -2.6),
    ("damn", -1.8),
    ("waste", -1.8),
];

const NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "don't", "isnt", "isn't", "wasnt", "wasn't", "cant", "can't",
    "wont", "won't", "didnt", "didn't", "nothing", "neither",
];

const INTENSIFIERS: &[&str] = &[
    "very",
    "really",
    "so",
    "extremely",
    "totally",
    "absolutely",
    "completely",
    "incredibly",
];

/// Sentiment of `text` in -1 (angry) .. 1 (happy); 0 when no word is known.
pub fn score(text: &str) -> f32 {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut sum = 0.0f32;
    for (i, word) in words.iter().enumerate() {
        let Some(mut valence) = valence(word) else {
            continue;
        };
        let before = &words[i.saturating_sub(3)..i];
        if before
            .last()
            .is_some_and(|w| INTENSIFIERS.contains(&w.as_str()))
        {
            valence *= 1.3;
        }
        if before.iter().any(|w| NEGATORS.contains(&w.as_str())) {
            valence *= -0.74; // VADER's negation scalar
        }
        sum += valence;
    }
    // Exclamation marks add emphasis in the direction already taken.
    let bangs = text.matches('!').count().min(3) as f32;
    sum += sum.signum() * bangs * 0.3;
    if sum == 0.0 {
        return 0.0;
    }
    sum / (sum * sum + 15.0).sqrt()
}

fn valence(word: &str) -> Option<f32> {
    POSITIVE
        .iter()
        .chain(NEGATIVE)
        .find(|(w, _)| *w == word)
        .map(|&(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angry_callers_score_negative_and_happy_ones_positive() {
        assert!(score("This is ridiculous, I am so frustrated and angry!") < -0.6);
        assert!(score("Great, thank you so much, that was really helpful") > 0.6);
    }

    #[test]
    fn neutral_text_scores_zero() {
        assert_eq!(
            score("I would like to book an appointment for Tuesday"),
            0.0
        );
        assert_eq!(score(""), 0.0);
    }

    #[test]
    fn negation_flips_the_valence() {
        assert!(score("this is good") > 0.0);
        assert!(score("this is not good") < 0.0);
    }

    #[test]
    fn scores_stay_in_range() {
        let s = score(&"terrible ".repeat(200));
        assert!((-1.0..=1.0).contains(&s));
    }
}
