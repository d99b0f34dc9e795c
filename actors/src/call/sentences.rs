//! Cuts a streamed LLM reply into speakable chunks.
//!
//! Tokens arrive a few characters at a time; TTS wants whole sentences (a
//! voice reads "3.5" and "Dr. Smith" badly when split). Each chunk is sent
//! to TTS the moment it is complete, so the caller hears the first sentence
//! while the LLM is still writing the second: that is where the latency of a
//! reply is won. Very long sentences are cut at a comma or a space so that
//! a run-on reply does not hold the first audio back.

/// Words that end with a period without ending a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "no", "approx", "inc",
    "ltd", "co", "mt", "ft", "a.m", "p.m",
];

/// Accumulates streamed text and yields finished chunks.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    /// Text received and not yet emitted.
    buf: String,
    /// Longest chunk before a forced cut, in bytes.
    max_chars: usize,
}

impl SentenceSplitter {
    /// `max_chars`: a sentence longer than this is cut at a comma or space.
    pub fn new(max_chars: usize) -> Self {
        Self {
            buf: String::new(),
            max_chars: max_chars.max(16),
        }
    }

    /// Adds streamed text; returns the chunks it completed, in order.
    pub fn push(&mut self, token: &str) -> Vec<String> {
        self.buf.push_str(token);
        let mut out = Vec::new();
        while let Some(cut) = self.next_cut() {
            let rest = self.buf.split_off(cut);
            let chunk = std::mem::replace(&mut self.buf, rest);
            let chunk = chunk.trim();
            if !chunk.is_empty() {
                out.push(chunk.to_owned());
            }
        }
        out
    }

    /// End of stream: whatever is left, if anything speakable.
    pub fn flush(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }

    /// Discards buffered text (barge-in).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Byte index just after the first complete chunk, if there is one.
    fn next_cut(&self) -> Option<usize> {
        let bytes = self.buf.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' && !self.buf[..i].trim().is_empty() {
                return Some(i + 1);
            }
            // A terminator only counts once the next character is known to be
            // whitespace: "3." may still become "3.5".
            let terminator = matches!(b, b'.' | b'!' | b'?' | b';' | b':');
            let next_is_space = bytes.get(i + 1).is_some_and(|c| c.is_ascii_whitespace());
            if terminator && next_is_space && !self.is_abbreviation(i) {
                return Some(i + 1);
            }
        }
        (self.buf.len() > self.max_chars).then(|| self.forced_cut())
    }

    /// Whether the period at `dot` ends a known abbreviation or an initial.
    fn is_abbreviation(&self, dot: usize) -> bool {
        if self.buf.as_bytes()[dot] != b'.' {
            return false;
        }
        let word_start = self.buf[..dot]
            .rfind(|c: char| c.is_whitespace())
            .map_or(0, |i| i + 1);
        let word = self.buf[word_start..dot].to_ascii_lowercase();
        let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
        let single_initial = word.len() == 1 && word.chars().all(|c| c.is_alphabetic());
        single_initial || ABBREVIATIONS.contains(&word)
    }

    /// Cut point for an over-long sentence: after the last comma, else the
    /// last space, inside the limit; else at the limit (on a char boundary).
    fn forced_cut(&self) -> usize {
        let mut limit = self.max_chars.min(self.buf.len());
        while !self.buf.is_char_boundary(limit) {
            limit -= 1;
        }
        let head = &self.buf[..limit];
        head.rfind(',')
            .map(|i| i + 1)
            .or_else(|| head.rfind(' ').map(|i| i + 1))
            .filter(|&i| i > 0)
            .unwrap_or(limit.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tokens: &[&str]) -> (Vec<String>, Option<String>) {
        let mut s = SentenceSplitter::new(160);
        let mut out = Vec::new();
        for t in tokens {
            out.extend(s.push(t));
        }
        (out, s.flush())
    }

    #[test]
    fn sentences_are_emitted_as_soon_as_the_next_token_shows_a_space() {
        let mut s = SentenceSplitter::new(160);
        assert!(s.push("Hello there").is_empty());
        assert!(
            s.push(".").is_empty(),
            "a period alone may be a decimal point"
        );
        assert_eq!(s.push(" How"), vec!["Hello there."]);
        assert_eq!(s.push(" are you? I"), vec!["How are you?"]);
        assert_eq!(s.flush().as_deref(), Some("I"));
    }

    #[test]
    fn decimals_and_abbreviations_do_not_end_sentences() {
        let (out, rest) = feed(&["It costs 3", ".5 dollars, says Dr", ". Smith. Bye"]);
        assert_eq!(out, vec!["It costs 3.5 dollars, says Dr. Smith."]);
        assert_eq!(rest.as_deref(), Some("Bye"));
    }

    #[test]
    fn over_long_sentences_are_cut_at_a_comma() {
        let mut s = SentenceSplitter::new(40);
        let out = s.push("We are open from nine in the morning, until six in the evening and on");
        assert_eq!(out[0], "We are open from nine in the morning,");
    }

    #[test]
    fn whitespace_only_text_yields_nothing() {
        let (out, rest) = feed(&["  ", "\n", " "]);
        assert!(out.is_empty());
        assert_eq!(rest, None);
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let mut s = SentenceSplitter::new(16);
        let out = s.push("ééééééééééééééééééééé");
        assert!(!out.is_empty());
        assert!(out.iter().all(|c| c.chars().all(|ch| ch == 'é')));
    }
}
