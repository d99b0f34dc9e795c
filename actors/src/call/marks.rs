//! The [`MarkLedger`]: every Twilio mark the call sent, with the audio and
//! text position it ends, until Twilio echoes it.
//!
//! Twilio echoes a mark when the audio queued before it has played, so the
//! echoes are the truth of what the caller heard. After a `clear` Twilio
//! echoes every pending mark at once: those echoes mean "dropped", not
//! "played", so `clear` flags every pending entry as cleared first.

use std::collections::VecDeque;

/// Marks kept while waiting for echoes; a peer that never echoes must not
/// grow the ledger without bound (10 marks/s = 100 s of audio).
const MAX_PENDING: usize = 1000;

/// One mark sent to Twilio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkEntry {
    pub name: String,
    /// The reply whose audio this mark ends.
    pub reply_id: u64,
    /// Audio of the reply before this mark, in 8 kHz samples.
    pub reply_pos: u64,
    /// Position in the playback run (see [`Pacer`](super::pacer::Pacer)),
    /// used to re-anchor the playback estimate when the echo arrives.
    pub run_pos: u64,
    /// Byte offset in the reply text the audio has reached (interpolated).
    pub text_offset: usize,
    /// The last mark of its reply: its echo means the whole reply was heard.
    pub last: bool,
    /// A `clear` was sent after this mark: its echo means dropped, not played.
    pub cleared: bool,
}

/// Marks awaiting their echo, in the order sent.
#[derive(Debug, Default)]
pub struct MarkLedger {
    pending: VecDeque<MarkEntry>,
}

impl MarkLedger {
    pub fn record(&mut self, entry: MarkEntry) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(entry);
    }

    /// Twilio echoed `name`. Echoes come in order, so any older entry whose
    /// echo is missing is settled too; returns the settled entries, oldest
    /// first (empty for an unknown or repeated name).
    pub fn echo(&mut self, name: &str) -> Vec<MarkEntry> {
        match self.pending.iter().position(|m| m.name == name) {
            Some(i) => self.pending.drain(..=i).collect(),
            None => Vec::new(),
        }
    }

    /// A `clear` went out: whatever is pending will not be played.
    pub fn clear(&mut self) {
        for m in &mut self.pending {
            m.cleared = true;
        }
    }

    /// Marks still waiting for an echo that may mean "played".
    pub fn pending_live(&self) -> usize {
        self.pending.iter().filter(|m| !m.cleared).count()
    }

    /// Settles every live pending mark as if echoed (echo lost).
    pub fn settle_all(&mut self) -> Vec<MarkEntry> {
        let live: Vec<MarkEntry> = self
            .pending
            .iter()
            .filter(|m| !m.cleared)
            .cloned()
            .collect();
        self.pending.retain(|m| m.cleared);
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(name: &str, pos: u64) -> MarkEntry {
        MarkEntry {
            name: name.into(),
            reply_id: 1,
            reply_pos: pos,
            run_pos: pos,
            text_offset: 0,
            last: false,
            cleared: false,
        }
    }

    #[test]
    fn an_echo_settles_it_and_every_older_mark() {
        let mut l = MarkLedger::default();
        for (i, n) in ["a", "b", "c"].iter().enumerate() {
            l.record(mark(n, i as u64 * 800));
        }
        let settled = l.echo("b");
        assert_eq!(
            settled.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(l.echo("b").is_empty(), "a repeated echo settles nothing");
        assert_eq!(l.pending_live(), 1);
    }

    #[test]
    fn echoes_after_clear_are_flagged_cleared() {
        let mut l = MarkLedger::default();
        l.record(mark("a", 800));
        l.clear();
        l.record(mark("b", 0));
        let a = l.echo("a");
        assert!(a[0].cleared);
        assert!(!l.echo("b")[0].cleared);
    }

    #[test]
    fn unknown_echoes_are_ignored() {
        let mut l = MarkLedger::default();
        l.record(mark("a", 800));
        assert!(l.echo("zzz").is_empty());
        assert_eq!(l.pending_live(), 1);
    }
}
