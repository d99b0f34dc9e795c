//! Outbound playback: pacing frames within the lead, marks every ~100 ms,
//! and what the echoed marks say was heard. `impl Call`, see `machine`.
//!
//! `pump` runs after every input: it sends the head reply's frames while the
//! [`Pacer`](super::pacer::Pacer) allows, a mark each `mark_every_ms`, and an
//! end mark after a reply's last frame. Echoes (`on_mark`) move the playback
//! estimate and each reply's heard position; a reply whose end mark is
//! echoed completes (`reply_heard`), which is what moves the call on after a
//! goodbye, a hand-off notice or a turn's answer.

use super::io::{Outbound, Output};
use super::machine::{Call, Pause};
use super::marks::MarkEntry;
use super::outbound::{Reply, ReplyKind, FRAME_BYTES};
use crate::trace::TraceKind;
use std::time::{Duration, Instant};

impl Call {
    // ------------------------------------------------------------ pacing

    /// Sends what the lead allows, a mark every ~`mark_every_ms`, and an
    /// end mark after each reply's last frame.
    pub(super) fn pump(&mut self, now: Instant) {
        if self.barge_pause.is_some() {
            return; // caller speech over the bot: wait until it is resolved
        }
        let every = self.cfg.mark_every_ms * 8;
        // Hysteresis: top the lead up only once it has dropped by
        // `refill_ms`, so frames leave in batches of ~100 ms rather than
        // one per inbound frame or timer (fewer wake-ups and socket writes).
        let low_water = self.cfg.lead_ms.saturating_sub(self.cfg.refill_ms) * 8;
        let may_send = self.pacer.lead(now) <= low_water;
        // Consecutive frames leave as one media message of up to
        // `max_media_ms`, cut at every mark (Twilio plays a message's audio
        // in order and echoes a mark once what precedes it has played).
        let max_chunk = (self.cfg.max_media_ms * 8) as usize;
        let mut chunk = Vec::new();
        while let Some(i) = self.replies.iter().position(|r| !r.fully_sent) {
            if self.replies[i].drained() {
                if self.replies[i].sent == 0 {
                    // Nothing was synthesised (TTS failed): nothing to hear.
                    let r = self.replies.remove(i).expect("index from position");
                    self.reply_heard(now, r);
                    continue;
                }
                self.send_media(&mut chunk);
                self.send_mark(i, true);
                self.replies[i].fully_sent = true;
                continue;
            }
            if !may_send
                || !self
                    .pacer
                    .can_send(now, FRAME_BYTES as u64, self.cfg.lead_ms)
            {
                break;
            }
            let run_pos = self.pacer.sent_end() as i64;
            let r = &mut self.replies[i];
            let n = r.pop_frame_into(&mut chunk) as u64;
            if n == 0 {
                break; // waiting for TTS
            }
            r.run_offset.get_or_insert(run_pos - (r.sent - n) as i64);
            let first = r.sent == n;
            let kind = r.kind;
            self.pacer.on_send(now, n);
            let r = &mut self.replies[i];
            let due = r.sent - r.last_mark_pos >= every && !r.drained();
            if first {
                self.turn_stage(now, kind, |t| &mut t.first_audio_out_ms);
                self.turn_stage(now, kind, |t| &mut t.total_turn_time_ms);
            }
            if due {
                self.send_media(&mut chunk);
                self.send_mark(i, false);
            } else if chunk.len() >= max_chunk {
                self.send_media(&mut chunk);
            }
        }
        self.send_media(&mut chunk);
    }

    /// Caller speech began over the bot: stop Twilio's playback at once
    /// (`clear`) but keep the replies, LLM and TTS, so that a backchannel or
    /// a cough costs a short pause rather than the answer. Each reply is
    /// rewound to where playback stopped; sending resumes from there
    /// (`resume_playback`) unless the speech becomes an interruption.
    pub(super) fn pause_for_caller(&mut self, now: Instant) {
        if !self.cfg.barge_in_pause || self.barge_pause.is_some() || self.pacer.lead(now) == 0 {
            return;
        }
        let played = self.pacer.position(now) as i64;
        for r in self.replies.iter_mut() {
            if let Some(off) = r.run_offset {
                r.rewind((played - off).max(0) as u64);
            }
        }
        self.emit(Output::Twilio(Outbound::Clear));
        self.trace_kind(TraceKind::Clear);
        self.ledger.clear();
        self.pacer.reset();
        // What the bot had left to say, to tell later whether the caller
        // would have outlasted it (unknown while TTS is still running).
        let left: Option<u64> = self.replies.iter().map(Reply::unsent).sum();
        self.barge_pause = Some(Pause {
            since: now,
            media: self.media,
            left: left.unwrap_or(u64::MAX),
        });
    }

    /// The speech that paused the bot was not an interruption (too short, a
    /// backchannel, noise): playback goes on from where it stopped.
    pub(super) fn resume_playback(&mut self, now: Instant) {
        let Some(pause) = self.barge_pause.take() else {
            return;
        };
        let ms = now.saturating_duration_since(pause.since).as_millis();
        self.trace_kind(TraceKind::Note {
            message: format!("caller speech was not an interruption: resumed after {ms} ms"),
        });
    }

    fn send_media(&mut self, chunk: &mut Vec<u8>) {
        if !chunk.is_empty() {
            self.emit(Output::Twilio(Outbound::Media(std::mem::take(chunk))));
        }
    }

    fn send_mark(&mut self, i: usize, last: bool) {
        let r = &mut self.replies[i];
        let name = format!("r{}-{}", r.id, r.mark_seq);
        r.mark_seq += 1;
        r.last_mark_pos = r.sent;
        let text_offset = if last {
            r.text.len()
        } else {
            r.text_offset_at(r.sent)
        };
        let audio_ms = r.sent / 8;
        self.ledger.record(MarkEntry {
            name: name.clone(),
            reply_id: r.id,
            reply_pos: r.sent,
            run_pos: self.pacer.sent_end(),
            text_offset,
            last,
            cleared: false,
        });
        self.emit(Output::Twilio(Outbound::Mark(name.clone())));
        self.trace_kind(TraceKind::MarkSent {
            name,
            audio_ms,
            text_offset,
        });
    }

    /// When pacing next needs a wake-up: to refill the lead, or to stop
    /// waiting for echoes Twilio lost.
    pub(super) fn pacing_deadline(&self) -> Option<Instant> {
        let sending = self.replies.iter().find(|r| !r.fully_sent);
        if sending.is_some_and(Reply::has_frame) {
            return self.pacer.refill_at(self.cfg.lead_ms, self.cfg.refill_ms);
        }
        self.echo_deadline()
    }

    /// After playback should have ended plus grace, unechoed marks count as heard.
    pub(super) fn echo_deadline(&self) -> Option<Instant> {
        if self.ledger.pending_live() == 0 {
            return None;
        }
        let grace = Duration::from_millis(self.cfg.mark_grace_ms);
        self.pacer.drained_at().map(|t| t + grace)
    }

    // ------------------------------------------------------------ echoes

    pub(super) fn on_mark(&mut self, now: Instant, name: &str) {
        let settled = self.ledger.echo(name);
        self.trace_kind(TraceKind::MarkEchoed {
            name: name.to_owned(),
        });
        if let Some(m) = settled.last().filter(|m| !m.cleared) {
            self.pacer.on_echo(now, m.run_pos);
        }
        for m in settled.iter().filter(|m| !m.cleared) {
            self.mark_heard(now, m);
        }
    }

    /// Twilio stopped echoing: assume what was sent has played.
    pub(super) fn settle_lost_echoes(&mut self, now: Instant) {
        let settled = self.ledger.settle_all();
        if settled.is_empty() {
            return;
        }
        self.trace_kind(TraceKind::Note {
            message: format!("{} mark echoes lost; assumed heard", settled.len()),
        });
        for m in &settled {
            self.mark_heard(now, m);
        }
    }

    fn mark_heard(&mut self, now: Instant, m: &MarkEntry) {
        let Some(i) = self.reply_index(m.reply_id) else {
            return;
        };
        let r = &mut self.replies[i];
        r.heard_pos = r.heard_pos.max(m.reply_pos);
        r.forget_heard();
        let offset = if m.last {
            r.text.len()
        } else {
            r.text_offset_at(m.reply_pos)
        };
        r.heard_offset = r.heard_offset.max(offset);
        let kind = r.kind;
        self.turn_stage(now, kind, |t| &mut t.first_audio_heard_ms);
        if m.last {
            let r = self.replies.remove(i).expect("index from reply_index");
            self.reply_heard(now, r);
        }
    }

    /// A reply played to its end: what follows depends on what it was for.
    pub(super) fn reply_heard(&mut self, now: Instant, r: Reply) {
        match r.kind {
            ReplyKind::Turn(n) => {
                if let Some(d) = self.draft.as_mut().filter(|d| d.turn.turn_index == n) {
                    d.turn.ai_brain.response_text.clone_from(&r.text);
                    d.turn.heard_text = Some(r.text.clone());
                    self.finalize_turn(now);
                }
            }
            ReplyKind::Reprompt => {
                self.reprompted = true;
                self.idle_since = None; // the hang-up wait starts now
            }
            ReplyKind::Goodbye | ReplyKind::Voicemail => self.hang_up(now),
            ReplyKind::EscalationNotice => self.hand_over(now),
            ReplyKind::Greeting | ReplyKind::Say | ReplyKind::Hold => {}
        }
    }
}
