//! Word-level matching of transcripts against configured phrase lists
//! (backchannels, voicemail greetings, escalation keywords).
//!
//! Transcripts differ from config text in case, punctuation and hyphens
//! ("Uh-huh." vs "uh huh"), so both sides are normalised into lowercase
//! word sequences, and phrases match whole words only ("human" must not fire
//! on "humane").

/// Lowercase words of `text`; hyphens and punctuation separate words,
/// apostrophes are dropped ("don't" -> "dont").
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.replace('\'', "").to_lowercase())
        .filter(|w| !w.is_empty())
}

/// Number of words in `text`.
pub fn word_count(text: &str) -> usize {
    words(text).count()
}

/// A list of phrases, each a normalised word sequence.
#[derive(Clone, Debug, Default)]
pub struct PhraseList {
    phrases: Vec<Vec<String>>,
}

impl PhraseList {
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> Self {
        let mut phrases: Vec<Vec<String>> = phrases
            .iter()
            .map(|p| words(p.as_ref()).collect::<Vec<_>>())
            .filter(|p| !p.is_empty())
            .collect();
        // Longest first, so "uh huh" is consumed whole before "uh".
        phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Self { phrases }
    }

    /// The first phrase that occurs in `text` as whole words, joined by spaces.
    pub fn find_in(&self, text: &str) -> Option<String> {
        let ws: Vec<String> = words(text).collect();
        self.phrases
            .iter()
            .find(|p| ws.windows(p.len()).any(|w| w == p.as_slice()))
            .map(|p| p.join(" "))
    }

    /// True when `text` has words and every one of them belongs to a phrase
    /// of the list ("yeah okay uh-huh" with a backchannel list).
    pub fn covers(&self, text: &str) -> bool {
        let ws: Vec<String> = words(text).collect();
        if ws.is_empty() {
            return false;
        }
        let mut i = 0;
        'outer: while i < ws.len() {
            for p in &self.phrases {
                if ws[i..].starts_with(p) {
                    i += p.len();
                    continue 'outer;
                }
            }
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backchannels() -> PhraseList {
        PhraseList::new(&["uh-huh", "yeah", "mm-hmm", "okay", "right", "i see"])
    }

    #[test]
    fn backchannel_only_utterances_are_covered_whatever_the_spelling() {
        let b = backchannels();
        assert!(b.covers("Uh huh."));
        assert!(b.covers("Yeah, okay, mm-hmm"));
        assert!(b.covers("I see. Right."));
        assert!(!b.covers("Yeah but what about Tuesday"));
        assert!(!b.covers(""));
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let k = PhraseList::new(&["human", "real person", "leave a message"]);
        assert_eq!(
            k.find_in("Can I talk to a REAL person?").as_deref(),
            Some("real person")
        );
        assert_eq!(k.find_in("that is humane"), None);
        assert_eq!(
            k.find_in("Please leave a message after the beep")
                .as_deref(),
            Some("leave a message")
        );
    }

    #[test]
    fn words_are_counted_without_punctuation() {
        assert_eq!(word_count("Wait, stop - I don't want that!"), 6);
        assert_eq!(word_count("  ...  "), 0);
    }
}
