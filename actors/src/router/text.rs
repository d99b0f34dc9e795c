//! Text normalisation shared by tier 1 and tier 2: both tiers must see the
//! same words, or a trigger that matches in one would miss in the other.

/// Lowercase, drop apostrophes (so "what's" and "whats" agree, since STT
/// output is inconsistent about them), turn every other non-alphanumeric
/// character into a space, and collapse runs of spaces.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if ch == '\'' || ch == '\u{2019}' {
            continue;
        }
        if ch.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(ch.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Words of already-normalised text.
pub fn words(normalised: &str) -> impl Iterator<Item = &str> {
    normalised.split(' ').filter(|w| !w.is_empty())
}

/// A crude suffix stripper for tier 2: "booking", "booked" and "books" all
/// become "book". Good enough for TF-IDF over short utterances; a real
/// stemmer or embeddings can replace the whole index behind
/// [`SemanticIndex`](super::semantic::SemanticIndex).
pub fn stem(word: &str) -> &str {
    for suffix in ["ings", "ing", "ies", "ed", "es", "s"] {
        if word.len() > suffix.len() + 2 && word.ends_with(suffix) {
            return &word[..word.len() - suffix.len()];
        }
    }
    word
}

/// Words too common to say anything about which scenario fits.
pub fn is_stopword(word: &str) -> bool {
    const STOP: &[&str] = &[
        "a", "an", "the", "i", "im", "me", "my", "you", "your", "we", "our", "us", "it", "its",
        "is", "are", "was", "be", "to", "of", "and", "or", "in", "on", "at", "for", "with", "do",
        "does", "can", "could", "would", "please", "uh", "um", "so", "that", "this", "just",
        "have", "has", "like", "id", "ill", "will", "what", "if", "about", "get",
    ];
    STOP.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_lowercases_strips_punctuation_and_apostrophes() {
        assert_eq!(
            normalise("  What's YOUR price?!  for a boiler-service "),
            "whats your price for a boiler service"
        );
        assert_eq!(normalise("..."), "");
    }

    #[test]
    fn stem_folds_common_suffixes() {
        assert_eq!(stem("booking"), "book");
        assert_eq!(stem("booked"), "book");
        assert_eq!(stem("gas"), "gas");
    }
}
