//! A sans-IO Server-Sent Events parser (the WHATWG event-stream format):
//! bytes in, whole events out. It keeps partial lines across network chunks,
//! accepts `\n`, `\r\n` and `\r` line ends (even a `\r\n` split across two
//! chunks), skips comment lines, joins multi-line `data:` fields with `\n`,
//! and caps the line length so a broken server cannot grow it without bound.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server named the event type.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("SSE line longer than {0} bytes")]
    LineTooLong(usize),
}

/// Incremental parser state.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of the line not yet terminated (kept as bytes: a UTF-8
    /// character may be split across chunks).
    line: Vec<u8>,
    /// Data lines of the event being built.
    data: String,
    /// Whether any `data:` field arrived (an event with empty data is still
    /// an event, one with no data field is not).
    has_data: bool,
    event: Option<String>,
    /// The previous chunk ended in `\r`: a leading `\n` belongs to it.
    after_cr: bool,
    max_line: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_max_line(1 << 20)
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: None,
            after_cr: false,
            max_line,
        }
    }

    /// Feeds one network chunk; complete events are appended to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_line_bytes(&bytes[..pos])?;
            let crlf = bytes[pos] == b'\r' && bytes.get(pos + 1) == Some(&b'\n');
            if bytes[pos] == b'\r' && pos + 1 == bytes.len() {
                self.after_cr = true;
            }
            bytes = &bytes[pos + if crlf { 2 } else { 1 }..];
            let line = std::mem::take(&mut self.line);
            self.handle_line(&String::from_utf8_lossy(&line), out);
        }
        self.push_line_bytes(bytes)
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(SseError::LineTooLong(self.max_line));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn handle_line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return; // comment, e.g. a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {} // id, retry and unknown fields do not matter to us
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).expect("test lines are short");
        }
        out
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: s.to_owned(),
        }
    }

    #[test]
    fn comments_are_skipped_and_multiline_data_joined() {
        let out = parse_all(&[b": ping\n\ndata: a\ndata:b\n\n"]);
        assert_eq!(out, vec![data("a\nb")]);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_end() {
        let out = parse_all(&[b"data: x\r", b"\n\r", b"\ndata: y\r\r"]);
        assert_eq!(out, vec![data("x"), data("y")]);
    }

    #[test]
    fn event_field_is_kept_and_reset() {
        let out = parse_all(&[b"event: error\ndata: {}\n\ndata: 1\n\n"]);
        assert_eq!(out[0].event.as_deref(), Some("error"));
        assert_eq!(out[1], data("1"));
    }

    #[test]
    fn incomplete_event_is_not_dispatched() {
        assert!(parse_all(&[b"data: half"]).is_empty());
    }

    #[test]
    fn overlong_line_is_an_error() {
        let mut p = SseParser::with_max_line(8);
        let mut out = Vec::new();
        assert!(p.feed(b"data: 0123456789", &mut out).is_err());
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(cut_a in 0usize..60, cut_b in 0usize..60) {
            let stream: &[u8] = b"data: {\"a\":1}\r\n\r\n: c\n\ndata: \xc3\xa9t\xc3\xa9\n\ndata: [DONE]\n\n";
            let whole = parse_all(&[stream]);
            let (a, b) = (cut_a.min(stream.len()), cut_b.min(stream.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            let split = parse_all(&[&stream[..lo], &stream[lo..hi], &stream[hi..]]);
            prop_assert_eq!(whole.len(), 3);
            prop_assert_eq!(split, whole);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut p = SseParser::with_max_line(64);
            let mut out = Vec::new();
            let _ = p.feed(&bytes, &mut out);
        }
    }
}
