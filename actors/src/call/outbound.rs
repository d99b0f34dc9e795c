//! One spoken reply on its way out: its text in TTS segments, the audio
//! converted to 8 kHz mu-law, and how far the caller heard it.
//!
//! Data flow: the reply's text is cut into segments (a sentence each), each
//! a TTS request, synthesised concurrently. Audio must still play in text
//! order, so only the *head* segment (the first one not finished) is
//! converted straight into the send queue; later segments buffer their raw
//! audio until they become the head. One resampler is therefore in use at a
//! time, and its state never mixes two segments.

use super::phrases;
use std::collections::VecDeque;
use std::ops::Range;
use switchboard_codecs::g711::ulaw_encode_into;
use switchboard_codecs::resample::StreamResampler;

/// 20 ms of 8 kHz mu-law.
pub const FRAME_BYTES: usize = 160;
/// TTS sample rates accepted; audio at other rates is dropped.
const MIN_TTS_RATE: u32 = 8000;
const MAX_TTS_RATE: u32 = 192_000;
/// Speaking rate used to place marks in a segment whose audio is still
/// streaming (total length unknown): about 15 characters per second.
const SAMPLES_PER_CHAR_ESTIMATE: u64 = 520;

/// What a reply is for; decides what happens once it has been heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    Greeting,
    /// The answer to turn `n` (1-based).
    Turn(u32),
    Reprompt,
    /// A supervisor's `Say`.
    Say,
    Hold,
    Goodbye,
    EscalationNotice,
    Voicemail,
}

#[derive(Debug)]
struct Segment {
    tts_id: u64,
    /// Byte range of this segment in the reply text.
    text: Range<usize>,
    /// Reply audio position where this segment starts, once it is the head.
    audio_start: u64,
    /// 8 kHz samples converted so far.
    audio_len: u64,
    /// Its TTS request went out (see `next_unrequested`).
    requested: bool,
    done: bool,
    /// Raw audio that arrived before this segment became the head.
    pending: Vec<(u32, Vec<i16>)>,
}

/// A reply being synthesised, sent and heard.
#[derive(Debug)]
pub struct Reply {
    pub id: u64,
    pub kind: ReplyKind,
    pub text: String,
    segments: Vec<Segment>,
    /// Index of the first segment whose audio is not complete.
    head: usize,
    /// No more segments will be added (the LLM finished).
    pub closed: bool,
    /// This reply owns the converter: it is the first one not synthesised.
    /// Only the active reply converts audio, so a resampler never carries
    /// state from one reply into another.
    active: bool,
    /// Converted audio not yet known to be heard: sent audio stays until a
    /// mark confirms it, so a pause for caller speech can send it again.
    queue: VecDeque<u8>,
    /// Reply position of `queue[0]`.
    queue_base: u64,
    /// Audio converted so far (reply position of the queue's end), samples.
    queued_total: u64,
    /// Run position minus reply position of this reply's audio in the
    /// current run of Twilio's buffer (set at its first send after a clear).
    pub run_offset: Option<i64>,
    /// Audio sent to Twilio, samples.
    pub sent: u64,
    /// Reply position of the last mark sent.
    pub last_mark_pos: u64,
    pub mark_seq: u32,
    /// The end-of-reply mark went out: nothing more to send.
    pub fully_sent: bool,
    /// Highest reply position an echoed mark confirmed, samples.
    pub heard_pos: u64,
    /// Text offset the caller is known to have heard up to.
    pub heard_offset: usize,
    /// Index of this reply's assistant message in the LLM context.
    pub context_index: Option<usize>,
}

impl Reply {
    pub fn new(id: u64, kind: ReplyKind) -> Self {
        Self {
            id,
            kind,
            text: String::new(),
            segments: Vec::new(),
            head: 0,
            closed: false,
            active: false,
            queue: VecDeque::new(),
            queue_base: 0,
            queued_total: 0,
            run_offset: None,
            sent: 0,
            last_mark_pos: 0,
            mark_seq: 0,
            fully_sent: false,
            heard_pos: 0,
            heard_offset: 0,
            context_index: None,
        }
    }

    /// Appends `text` as a segment synthesised by TTS request `tts_id`.
    pub fn add_segment(&mut self, tts_id: u64, text: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let start = self.text.len();
        self.text.push_str(text);
        let audio_start = if self.segments.len() == self.head {
            self.queued_total
        } else {
            0
        };
        self.segments.push(Segment {
            tts_id,
            text: start..self.text.len(),
            audio_start,
            audio_len: 0,
            requested: false,
            done: false,
            pending: Vec::new(),
        });
    }

    pub fn owns_tts(&self, tts_id: u64) -> bool {
        self.segments.iter().any(|s| s.tts_id == tts_id)
    }

    /// TTS request ids still producing audio (to cancel on barge-in).
    pub fn unfinished_tts(&self) -> impl Iterator<Item = u64> + '_ {
        self.segments
            .iter()
            .filter(|s| s.requested && !s.done)
            .map(|s| s.tts_id)
    }

    /// TTS requests out and not finished.
    pub fn tts_in_flight(&self) -> usize {
        self.unfinished_tts().count()
    }

    /// The first segment whose TTS request has not gone out: marks it
    /// requested and returns its id and text. Segments are requested in
    /// order, so audio arrives roughly in the order it plays.
    pub fn next_unrequested(&mut self) -> Option<(u64, &str)> {
        let seg = self.segments.iter_mut().find(|s| !s.requested)?;
        seg.requested = true;
        Some((seg.tts_id, &self.text[seg.text.clone()]))
    }

    /// Audio for segment `tts_id`; false if the reply has no such live segment.
    pub fn on_audio(&mut self, tts_id: u64, rate: u32, pcm: &[i16], conv: &mut Converter) -> bool {
        let Some(i) = self.segments.iter().position(|s| s.tts_id == tts_id) else {
            return false;
        };
        if self.segments[i].done {
            return false;
        }
        if i == self.head && self.active {
            let n = conv.convert(rate, pcm, &mut self.queue);
            self.grow_head(n);
        } else {
            self.segments[i].pending.push((rate, pcm.to_vec()));
        }
        true
    }

    /// TTS finished segment `tts_id` (or failed: its text is simply not
    /// spoken); completes every finished segment at the head.
    pub fn on_done(&mut self, tts_id: u64, conv: &mut Converter) -> bool {
        let Some(seg) = self.segments.iter_mut().find(|s| s.tts_id == tts_id) else {
            return false;
        };
        seg.done = true;
        if self.active {
            self.advance(conv);
        }
        true
    }

    /// Takes over the converter (the replies before it are synthesised):
    /// converts what was buffered so far.
    pub fn activate(&mut self, conv: &mut Converter) {
        if self.active {
            return;
        }
        self.active = true;
        self.start_head(conv);
        self.advance(conv);
    }

    /// Moves the head past every finished segment, flushing the resampler
    /// at each segment's end.
    fn advance(&mut self, conv: &mut Converter) {
        while self.head < self.segments.len() && self.segments[self.head].done {
            let n = conv.finish(&mut self.queue);
            self.grow_head(n);
            self.head += 1;
            self.start_head(conv);
        }
    }

    /// The new head segment starts where the audio is; its buffered audio
    /// goes through the converter now.
    fn start_head(&mut self, conv: &mut Converter) {
        let Some(seg) = self.segments.get_mut(self.head) else {
            return;
        };
        seg.audio_start = self.queued_total;
        let pending = std::mem::take(&mut seg.pending);
        let mut n = 0;
        for (rate, pcm) in &pending {
            n += conv.convert(*rate, pcm, &mut self.queue);
        }
        self.grow_head(n);
    }

    fn grow_head(&mut self, samples: u64) {
        self.queued_total += samples;
        if let Some(seg) = self.segments.get_mut(self.head) {
            seg.audio_len += samples;
        }
    }

    /// Every segment synthesised and no more coming.
    pub fn synthesized(&self) -> bool {
        self.closed && self.head == self.segments.len()
    }

    /// The next frame to send: 20 ms, or the shorter tail of a complete reply.
    #[cfg(test)]
    pub fn pop_frame(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        (self.pop_frame_into(&mut out) > 0).then_some(out)
    }

    /// Copies the next frame (or the final tail) onto `out` and counts it
    /// as sent; returns its length, 0 while waiting for TTS.
    pub fn pop_frame_into(&mut self, out: &mut Vec<u8>) -> usize {
        let unsent = (self.queued_total - self.sent) as usize;
        let n = if unsent >= FRAME_BYTES {
            FRAME_BYTES
        } else if self.synthesized() {
            unsent
        } else {
            0
        };
        let from = (self.sent - self.queue_base) as usize;
        out.extend(self.queue.range(from..from + n));
        self.sent += n as u64;
        n
    }

    /// Audio still to send, once all of it is known (synthesised).
    pub fn unsent(&self) -> Option<u64> {
        self.synthesized().then(|| self.queued_total - self.sent)
    }

    /// A frame (or the final tail) is ready to send.
    pub fn has_frame(&self) -> bool {
        let unsent = self.queued_total - self.sent;
        unsent >= FRAME_BYTES as u64 || (self.synthesized() && unsent > 0)
    }

    /// Everything synthesised has been sent.
    pub fn drained(&self) -> bool {
        self.synthesized() && self.sent >= self.queued_total
    }

    /// A mark confirmed audio up to `heard_pos`: it will never be sent
    /// again, so it leaves memory.
    pub fn forget_heard(&mut self) {
        let upto = self.heard_pos.min(self.sent).max(self.queue_base);
        self.queue.drain(..(upto - self.queue_base) as usize);
        self.queue_base = upto;
    }

    /// Twilio's buffer was cleared with playback at reply position `pos`:
    /// sending resumes from there (a whole frame back, never before what a
    /// mark confirmed).
    pub fn rewind(&mut self, pos: u64) {
        let frame = FRAME_BYTES as u64;
        self.sent = (pos / frame * frame).max(self.queue_base).min(self.sent);
        let pos = self.sent;
        self.last_mark_pos = self.last_mark_pos.min(pos);
        // Its marks in the cleared buffer, the end mark included, are void:
        // what is left (if only the end mark) goes out again.
        self.fully_sent = false;
        self.run_offset = None;
    }

    /// Byte offset in `text` reached at reply audio position `pos`. The text
    /// offset is interpolated linearly from the audio position within the
    /// segment (one TTS request, a sentence) holding it: TTS gives no word
    /// timings, and within a sentence speech runs at a near constant rate.
    /// A segment still streaming has an unknown length, so it is estimated
    /// from a typical speaking rate (never less than what already arrived).
    pub fn text_offset_at(&self, pos: u64) -> usize {
        let mut offset = 0;
        for (i, seg) in self.segments.iter().enumerate() {
            if i > self.head || (i == self.head && seg.audio_len == 0) {
                break;
            }
            let chars = (seg.text.end - seg.text.start) as u64;
            let len = if seg.done {
                seg.audio_len
            } else {
                seg.audio_len.max(chars * SAMPLES_PER_CHAR_ESTIMATE)
            };
            if pos >= seg.audio_start + len {
                offset = seg.text.end;
                continue;
            }
            let into = pos.saturating_sub(seg.audio_start);
            let frac = into as f64 / len.max(1) as f64;
            offset = seg.text.start + ((chars as f64) * frac) as usize;
            break;
        }
        offset.min(self.text.len())
    }

    /// The words the caller heard in full, and the rest.
    pub fn split_heard(&self) -> (String, String) {
        split_at_word(&self.text, self.heard_offset)
    }

    /// Audio the caller heard, ms.
    pub fn heard_ms(&self) -> u64 {
        self.heard_pos / 8
    }
}

/// Splits `text` at `offset`, moved back to a word boundary so a word cut
/// in the middle counts as not heard.
pub fn split_at_word(text: &str, offset: usize) -> (String, String) {
    if offset >= text.len() {
        return (text.trim().to_owned(), String::new());
    }
    let mut cut = offset;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mid_word = !text[cut..].starts_with(char::is_whitespace)
        && !text[..cut].ends_with(char::is_whitespace);
    if mid_word {
        cut = text[..cut].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    }
    let heard = text[..cut].trim();
    let cut_text = text[cut..].trim();
    // A heard part made only of punctuation is nothing heard.
    if phrases::word_count(heard) == 0 {
        return (String::new(), text.trim().to_owned());
    }
    (heard.to_owned(), cut_text.to_owned())
}

/// TTS audio of any rate -> 8 kHz mu-law, streaming; one resampler per rate.
#[derive(Debug, Default)]
pub struct Converter {
    resamplers: Vec<StreamResampler>,
    /// Rate of the resampler holding state for the current segment.
    active: Option<u32>,
    pcm8k: Vec<i16>,
    ulaw: Vec<u8>,
}

impl Converter {
    /// Converts `pcm` at `rate` and appends mu-law to `out`; returns samples added.
    pub fn convert(&mut self, rate: u32, pcm: &[i16], out: &mut VecDeque<u8>) -> u64 {
        if !(MIN_TTS_RATE..=MAX_TTS_RATE).contains(&rate) {
            return 0; // a provider bug; upsampling 1 Hz audio would exhaust memory
        }
        self.pcm8k.clear();
        if self.active.is_some_and(|r| r != rate) {
            // A rate change inside a segment: close the old stream first.
            self.flush_active();
        }
        match self.resampler(rate) {
            Some(i) => {
                self.resamplers[i].process(pcm, &mut self.pcm8k);
                self.active = Some(rate);
            }
            None => linear_to_8k(rate, pcm, &mut self.pcm8k),
        }
        self.encode(out)
    }

    /// End of a segment: the resampler's tail; returns samples added.
    pub fn finish(&mut self, out: &mut VecDeque<u8>) -> u64 {
        self.pcm8k.clear();
        self.flush_active();
        self.encode(out)
    }

    /// Forgets buffered audio (barge-in).
    pub fn reset(&mut self) {
        for r in &mut self.resamplers {
            r.reset();
        }
        self.active = None;
    }

    fn flush_active(&mut self) {
        if let Some(rate) = self.active.take() {
            if let Some(r) = self.resamplers.iter_mut().find(|r| r.from_hz() == rate) {
                r.flush(&mut self.pcm8k);
            }
        }
    }

    /// Index of the resampler for `rate`, built on first use; None if the
    /// rate is not supported.
    fn resampler(&mut self, rate: u32) -> Option<usize> {
        if let Some(i) = self.resamplers.iter().position(|r| r.from_hz() == rate) {
            return Some(i);
        }
        let r = StreamResampler::new(rate, 8000).ok()?;
        self.resamplers.push(r);
        Some(self.resamplers.len() - 1)
    }

    fn encode(&mut self, out: &mut VecDeque<u8>) -> u64 {
        self.ulaw.resize(self.pcm8k.len(), 0);
        let n = ulaw_encode_into(&self.pcm8k, &mut self.ulaw);
        out.extend(&self.ulaw[..n]);
        n as u64
    }
}

/// Fallback for a rate the codecs resampler does not support: linear
/// interpolation per chunk. No anti-aliasing filter, so it is only a safety
/// net for odd TTS providers; configure a supported rate.
fn linear_to_8k(rate: u32, pcm: &[i16], out: &mut Vec<i16>) {
    let n_out = (pcm.len() as u64 * 8000 / u64::from(rate)) as usize;
    let step = f64::from(rate) / 8000.0;
    for i in 0..n_out {
        let x = i as f64 * step;
        let j = x as usize;
        let a = f64::from(pcm[j.min(pcm.len() - 1)]);
        let b = f64::from(pcm[(j + 1).min(pcm.len() - 1)]);
        out.push((a + (b - a) * (x - j as f64)) as i16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, ms: u32) -> Vec<i16> {
        (0..rate * ms / 1000)
            .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
            .collect()
    }

    #[test]
    fn audio_of_later_segments_waits_for_the_head() {
        let mut conv = Converter::default();
        let mut r = Reply::new(1, ReplyKind::Turn(1));
        r.add_segment(10, "Hello there.");
        r.add_segment(11, "How are you?");
        r.closed = true;
        r.activate(&mut conv);
        assert!(r.on_audio(11, 24_000, &tone(24_000, 500), &mut conv));
        assert!(
            r.pop_frame().is_none(),
            "second sentence must not play first"
        );
        r.on_audio(10, 24_000, &tone(24_000, 1000), &mut conv);
        r.on_done(10, &mut conv);
        r.on_done(11, &mut conv);
        assert!(r.synthesized());
        let mut bytes = 0;
        while let Some(f) = r.pop_frame() {
            bytes += f.len();
        }
        // 1.5 s at 8 kHz plus the resampler delay of each segment.
        assert!((12_000..12_400).contains(&bytes), "{bytes}");
    }

    #[test]
    fn text_offsets_are_interpolated_within_each_segment() {
        let mut conv = Converter::default();
        let mut r = Reply::new(1, ReplyKind::Turn(1));
        r.add_segment(10, "abcd efgh");
        r.closed = true;
        r.activate(&mut conv);
        r.on_audio(10, 8000, &tone(8000, 1000), &mut conv);
        r.on_done(10, &mut conv);
        assert_eq!(r.text_offset_at(0), 0);
        assert_eq!(r.text_offset_at(4000), 4);
        assert_eq!(r.text_offset_at(8000), 9);
    }

    #[test]
    fn heard_text_stops_at_the_last_whole_word() {
        assert_eq!(
            split_at_word("Our hours are nine to five.", 11),
            ("Our hours".into(), "are nine to five.".into())
        );
        assert_eq!(
            split_at_word("Our hours", 3),
            ("Our".into(), "hours".into())
        );
        assert_eq!(
            split_at_word("Our hours", 0),
            ("".into(), "Our hours".into())
        );
        assert_eq!(
            split_at_word("Our hours", 99),
            ("Our hours".into(), "".into())
        );
    }

    #[test]
    fn unsupported_rates_fall_back_to_linear_interpolation() {
        let mut conv = Converter::default();
        let mut out = VecDeque::new();
        let n = conv.convert(22_050, &tone(22_050, 100), &mut out);
        assert_eq!(n, 800);
    }
}
