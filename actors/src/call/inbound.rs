//! The caller's side: inbound audio, VAD, transcripts, the end of a turn and
//! barge-in. `impl Call`, see `machine`.
//!
//! Flow per 20 ms frame: mu-law is batched to STT (only while the VAD hears
//! speech, with a pre-roll, when `stt_gate` is on) and decoded for the VAD;
//! a VAD onset opens an [`Utterance`] (a barge-in *candidate* while the bot
//! talks or thinks); the offset asks STT to finalize and arms the endpoint
//! timer; the turn ends on the first STT final after the offset, or at the
//! endpoint timeout with whatever text there is. A candidate that lasts past
//! `interrupt_min_ms` (with enough words, and not only backchannels) stops
//! the bot: `clear`, cancel LLM and TTS, truncate the context to the heard
//! text, and the candidate becomes the next turn.

use super::io::{Outbound, Output};
use super::machine::Call;
use super::outbound::ReplyKind;
use super::phrases;
use super::sentiment;
use super::turn::{TurnDraft, Utterance};
use crate::providers::{ChatMessage, Role, SttEvent};
use crate::trace::{Interruption, TraceKind};
use std::time::{Duration, Instant};
use switchboard_codecs::g711::ulaw_decode_into;
use switchboard_codecs::vad::VadEvent;

/// Twilio's clock may run this far ahead of the bytes received (jitter)
/// before media time follows it: 60 ms, in 8 kHz samples.
const MAX_CLOCK_SLIP: u64 = 480;
/// A larger jump is not a gap but a bogus timestamp: 10 s.
const MAX_CLOCK_JUMP: u64 = 80_000;
/// With the bot paused for caller speech, speech this long interrupts even
/// before STT has transcribed any of it (ms).
const PAUSED_WORDLESS_INTERRUPT_MS: u64 = 1500;

/// Who stopped the bot mid-reply.
pub(super) enum Interrupter {
    /// The caller spoke over it, from this media sample on.
    Caller { onset: u64 },
    /// A supervisor command, an escalation or the end of the call.
    Engine,
}

impl Call {
    pub(super) fn on_media(&mut self, now: Instant, timestamp_ms: u64, ulaw: &[u8]) {
        self.follow_twilio_clock(timestamp_ms);
        self.media += ulaw.len() as u64;
        self.forward_to_stt(ulaw);
        self.pcm.resize(ulaw.len(), 0);
        let n = ulaw_decode_into(ulaw, &mut self.pcm);
        let mut event = self.vad.push(&self.pcm[..n]);
        while let Some(ev) = event {
            self.on_vad(now, ev);
            event = self.vad.next_event();
        }
        self.check_early_end(now);
        self.check_long_speech(now);
        self.check_barge_in(now);
    }

    /// Media time counts the bytes received; when Twilio's timestamp shows
    /// frames were lost (or the actor restarted late), media time jumps
    /// ahead with it, so onsets, reaction times and the trace stay on the
    /// stream's clock. Backward or absurd jumps are ignored.
    fn follow_twilio_clock(&mut self, timestamp_ms: u64) {
        self.twilio_ts = timestamp_ms;
        let twilio = timestamp_ms.saturating_mul(8);
        let gap = twilio.saturating_sub(self.media);
        if gap > MAX_CLOCK_SLIP && gap <= MAX_CLOCK_JUMP {
            self.media += gap;
            // The VAD counts only samples pushed; keep its events on media time.
            self.vad_base += gap;
        }
    }

    fn forward_to_stt(&mut self, ulaw: &[u8]) {
        if self.cfg.stt_gate && !self.stt_open {
            // Shut: remember the last `stt_preroll_ms` for the next onset.
            // Whole 160-byte frames leave the ring, so what STT gets stays
            // frame-aligned.
            let max = (self.cfg.stt_preroll_ms * 8) as usize;
            self.stt_preroll.extend(ulaw);
            let excess = self.stt_preroll.len().saturating_sub(max);
            let excess = excess.div_ceil(160) * 160;
            self.stt_preroll.drain(..excess.min(self.stt_preroll.len()));
            return;
        }
        self.stt_buf.extend_from_slice(ulaw);
        if self.stt_buf.len() as u64 >= self.cfg.stt_batch_ms * 8 {
            self.flush_stt();
        }
    }

    /// Speech began: the pre-roll goes to STT at once, then audio flows.
    fn open_stt_gate(&mut self) {
        if self.stt_open || !self.cfg.stt_gate {
            return;
        }
        self.stt_open = true;
        self.stt_buf.extend(self.stt_preroll.drain(..));
        self.flush_stt();
    }

    fn flush_stt(&mut self) {
        if !self.stt_buf.is_empty() {
            let batch = std::mem::take(&mut self.stt_buf);
            self.emit(Output::SttAudio(batch));
        }
    }

    fn on_vad(&mut self, now: Instant, ev: VadEvent) {
        match ev {
            VadEvent::SpeechStarted { at } => {
                let onset = self.vad_base + at;
                self.trace_kind(TraceKind::SpeechStarted);
                self.open_stt_gate();
                match self.utterance.as_mut() {
                    Some(u) => u.resume(onset),
                    None => {
                        let candidate = self.bot_interruptible();
                        self.utterance = Some(Utterance::new(onset, candidate));
                        if candidate {
                            self.pause_for_caller(now);
                        }
                    }
                }
            }
            VadEvent::SpeechStopped { at } => {
                self.trace_kind(TraceKind::SpeechStopped);
                self.speech_stopped(now, self.vad_base + at, true);
            }
        }
    }

    /// The caller stopped speaking at media sample `offset`: STT gets the
    /// rest (and, with `finalize`, is asked to flush), the endpoint timer
    /// is armed, and the turn ends if STT already has it all.
    fn speech_stopped(&mut self, now: Instant, offset: u64, finalize: bool) {
        let behind = Duration::from_micros(self.media.saturating_sub(offset).saturating_mul(125));
        let endpoint = now + Duration::from_millis(self.cfg.endpoint_timeout_ms);
        // The silence up to here has gone to STT already, so its
        // endpointing has seen the pause: shut the gate.
        self.flush_stt();
        self.stt_open = false;
        let Some(u) = self.utterance.as_mut() else {
            return;
        };
        u.stopped = Some(offset);
        u.stopped_at = Some(now.checked_sub(behind).unwrap_or(now));
        u.endpoint_deadline = Some(endpoint);
        // STT may have endpointed first (its silence window is
        // shorter than ours): then the turn is complete now.
        if let Some(at) = u.speech_final_at {
            u.stt_complete = true;
            u.final_at.get_or_insert(at);
        }
        if finalize {
            self.emit(Output::SttFinalize);
        }
        self.check_end_of_turn(now);
    }

    /// STT endpointed (a `speech_final` with words) and the VAD has heard
    /// `early_end_ms` of silence since: both agree the caller is done, so
    /// the turn ends now instead of when the VAD's stop window fills.
    fn check_early_end(&mut self, now: Instant) {
        let min = self.cfg.early_end_ms;
        let agreed = min > 0
            && self.vad.is_speaking()
            && self.vad.silence_ms() >= min
            && self
                .utterance
                .as_ref()
                .is_some_and(|u| u.stopped.is_none() && u.speech_final_at.is_some());
        if !agreed {
            return;
        }
        let silence = self.vad.silence_ms() * 8;
        self.vad.end_speech();
        self.trace_kind(TraceKind::SpeechStopped);
        self.speech_stopped(now, self.media.saturating_sub(silence), false);
    }

    /// The bot is talking or thinking in a way the caller may cut off.
    pub(super) fn bot_interruptible(&self) -> bool {
        if self.ending.is_some() {
            return false;
        }
        if self.route_id.is_some() || self.llm.is_some() {
            return true;
        }
        self.replies.front().is_some_and(|r| {
            matches!(
                r.kind,
                ReplyKind::Turn(_) | ReplyKind::Greeting | ReplyKind::Reprompt
            )
        })
    }

    pub(super) fn on_stt(&mut self, now: Instant, ev: SttEvent) {
        match ev {
            SttEvent::Transcript {
                text,
                confidence,
                is_final,
                speech_final,
                ..
            } => self.on_transcript(now, &text, confidence, is_final, speech_final),
            SttEvent::UtteranceEnd { .. } => {
                if let Some(u) = self.utterance.as_mut().filter(|u| u.stopped.is_some()) {
                    u.stt_complete = true;
                    u.final_at.get_or_insert(now);
                }
                self.check_end_of_turn(now);
            }
            SttEvent::Error { message } => self.trace_kind(TraceKind::Note {
                message: format!("STT error: {message}"),
            }),
            SttEvent::SpeechStarted { .. } | SttEvent::Closed => {}
        }
    }

    fn on_transcript(&mut self, now: Instant, text: &str, conf: f32, is_final: bool, end: bool) {
        if is_final && !text.trim().is_empty() {
            self.trace_kind(TraceKind::Transcript {
                text: text.to_owned(),
                is_final,
                confidence: conf,
            });
        }
        if self.check_voicemail_keywords(now, text) {
            return;
        }
        let Some(u) = self.utterance.as_mut() else {
            return; // no speech open: a late transcript of a finished turn
        };
        u.add_transcript(now, text, conf, is_final);
        if end && u.stopped.is_some() {
            u.stt_complete = true;
            u.final_at.get_or_insert(now);
        } else if end && is_final && !text.trim().is_empty() {
            u.speech_final_at = Some(now);
        }
        self.check_barge_in(now);
        self.check_early_end(now);
        self.check_end_of_turn(now);
    }

    /// Ends the turn once the caller stopped and STT has it all.
    fn check_end_of_turn(&mut self, now: Instant) {
        self.settle_paused_candidate(now);
        self.promote_candidate();
        let done = self
            .utterance
            .as_ref()
            .is_some_and(|u| !u.candidate && u.stopped.is_some() && u.stt_complete);
        if done {
            self.end_turn(now);
        }
    }

    /// The bot is paused for a candidate that has now ended and been
    /// transcribed without qualifying as an interruption by length: words
    /// other than a backchannel interrupt after all (the bot is silent
    /// already); a backchannel or noise is dropped and the bot resumes.
    fn settle_paused_candidate(&mut self, now: Instant) {
        let Some(pause) = self.barge_pause else {
            return;
        };
        let Some(u) = self
            .utterance
            .as_ref()
            .filter(|u| u.candidate && u.stopped.is_some() && u.stt_complete)
        else {
            return;
        };
        let text = u.text();
        // Had the bot talked on, would the caller have outlasted it? Then
        // even a "yes" was an answer, not feedback.
        let outlasted = u
            .stopped
            .is_some_and(|stopped| stopped.saturating_sub(pause.media) >= pause.left);
        let min_words = self.cfg.min_interrupt_words.max(1);
        let feedback =
            self.phrases.backchannels.covers(&text) || phrases::word_count(&text) < min_words;
        if text.trim().is_empty() || (feedback && !outlasted) {
            self.utterance = None; // `after` resumes playback
            return;
        }
        let onset = u.onset;
        self.interrupt(now, Interrupter::Caller { onset });
        if let Some(u) = self.utterance.as_mut() {
            u.candidate = false;
        }
    }

    /// A candidate whose bot fell silent on its own is an ordinary utterance
    /// (`end_turn` still drops it if it was only a backchannel).
    fn promote_candidate(&mut self) {
        if self.bot_interruptible() {
            return;
        }
        let media = self.media;
        if let Some(u) = self.utterance.as_mut().filter(|u| u.candidate) {
            u.candidate = false;
            u.promoted_at = Some(media);
        }
    }

    /// The endpoint timer fired: end the turn with what there is.
    pub(super) fn on_endpoint_timeout(&mut self, now: Instant) {
        let Some(u) = self.utterance.as_ref() else {
            return;
        };
        if u.endpoint_deadline.is_some_and(|d| d <= now) {
            if u.candidate && self.bot_interruptible() {
                self.utterance = None; // speech too short or too little to interrupt
                return;
            }
            self.promote_candidate();
            self.end_turn(now);
        }
    }

    /// The caller's turn is over: record it, then route it (or escalate, or
    /// only transcribe it while the AI is paused).
    fn end_turn(&mut self, now: Instant) {
        let Some(u) = self.utterance.take() else {
            return;
        };
        let text = u.text();
        if text.trim().is_empty() {
            return; // noise: nothing to answer
        }
        if u.ended_under_bot() && self.phrases.backchannels.covers(&text) {
            // "uh-huh" over the bot's last words answers nothing; a "yes"
            // that outlasts the bot's voice is an answer and goes on.
            return;
        }
        self.finalize_turn(now);
        self.turns += 1;
        let t0 = u.stopped_at.unwrap_or(now);
        let mut draft = TurnDraft::new(self.turns, self.wall(t0), t0, text.clone(), u.confidence());
        draft.turn.timing.stt_final_ms = u.final_at.map(|f| draft.since_t0(f));
        let score = sentiment::score(&text);
        draft.turn.sentiment = Some(score);
        let low = u
            .confidence()
            .is_some_and(|c| c < self.cfg.escalation.low_confidence_threshold);
        draft.turn.flags.low_confidence = low;
        self.low_conf_streak = if low { self.low_conf_streak + 1 } else { 0 };
        self.draft = Some(draft);
        self.reprompted = false;
        self.context
            .push(ChatMessage::new(Role::User, text.clone()));
        let call_id = self.sid();
        self.live(super::io::LiveEvent::SentimentChanged { call_id, score });
        if self.ending.is_some() {
            return self.finalize_turn(now);
        }
        if self.check_turn_escalation(now, &text) {
            return;
        }
        if self.paused || self.taken_over {
            return self.finalize_turn(now);
        }
        let request_id = self.next_id();
        self.route_id = Some(request_id);
        let tenant = self
            .start
            .as_ref()
            .map(|s| s.tenant.clone())
            .unwrap_or_default();
        self.emit(Output::Route(super::io::RouteRequest {
            request_id,
            tenant,
            utterance: text,
            history: self.context.clone(),
        }));
    }

    /// Interrupts a candidate's bot if the barge-in rule says so.
    fn check_barge_in(&mut self, now: Instant) {
        let Some(u) = self.utterance.as_ref().filter(|u| u.candidate) else {
            return;
        };
        if !self.bot_interruptible() {
            return self.promote_candidate();
        }
        if u.speech_ms(self.media) < self.cfg.interrupt_min_ms {
            return;
        }
        let text = u.text();
        if !text.is_empty() && self.phrases.backchannels.covers(&text) {
            return; // "uh-huh" is listening, not interrupting
        }
        // Paused, the bot is silent already: no need to guess before STT
        // has said what the caller said (a short "uh-huh" is often not
        // transcribed within `interrupt_min_ms`), unless the caller goes on
        // talking without a transcript.
        if self.barge_pause.is_some()
            && text.trim().is_empty()
            && u.speech_ms(self.media) < PAUSED_WORDLESS_INTERRUPT_MS
        {
            return;
        }
        let min_words = self.cfg.min_interrupt_words;
        if min_words > 0 && phrases::word_count(&text) < min_words {
            return;
        }
        let onset = u.onset;
        self.interrupt(now, Interrupter::Caller { onset });
        if let Some(u) = self.utterance.as_mut() {
            u.candidate = false;
        }
        self.check_end_of_turn(now);
    }

    /// Stops the bot: `clear` what Twilio buffered, cancel LLM and TTS, drop
    /// queued audio, truncate the context to what was heard, and close the
    /// turn being answered. A caller's barge-in is traced as an interruption.
    pub(super) fn interrupt(&mut self, now: Instant, who: Interrupter) {
        // A pause for this speech has already cleared Twilio's buffer.
        let paused = self.barge_pause.take().is_some();
        let audio_out = self.replies.iter().any(|r| r.sent > 0);
        if audio_out && !paused {
            self.emit(Output::Twilio(Outbound::Clear));
            self.trace_kind(TraceKind::Clear);
        }
        self.ledger.clear();
        self.pacer.reset();
        self.conv.reset();
        self.route_id = None;
        self.cancel_llm();
        let mut heard_all = Vec::new();
        let mut cut_all = Vec::new();
        let mut truncations = Vec::new();
        let mut heard_ms = 0;
        for r in std::mem::take(&mut self.replies) {
            for id in r.unfinished_tts() {
                self.emit(Output::TtsCancel { id });
            }
            let (heard, cut) = r.split_heard();
            heard_ms += r.heard_ms();
            truncations.extend(r.context_index.map(|i| (i, heard.clone())));
            if let ReplyKind::Turn(n) = r.kind {
                if let Some(d) = self.draft.as_mut().filter(|d| d.turn.turn_index == n) {
                    d.turn.ai_brain.response_text.clone_from(&r.text);
                    d.turn.heard_text = Some(heard.clone());
                }
            }
            heard_all.push(heard);
            cut_all.push(cut);
        }
        // Last first, so removing a message does not shift the ones to come.
        truncations.sort_by_key(|t| std::cmp::Reverse(t.0));
        for (i, heard) in truncations {
            self.truncate_context(i, &heard);
        }
        let Interrupter::Caller { onset } = who else {
            return; // the engine's caller decides what becomes of the turn
        };
        if let Some(d) = self.draft.as_mut() {
            d.turn.flags.interrupted = true;
        }
        let interruption = Interruption {
            at: self.wall(now),
            turn_index: self
                .draft
                .as_ref()
                .map_or(self.turns, |d| d.turn.turn_index),
            speech_onset_media_ms: onset / 8,
            reaction_ms: self.media.saturating_sub(onset) as f64 / 8.0,
            heard_text: join_nonempty(&heard_all),
            cut_text: join_nonempty(&cut_all),
            heard_audio_ms: heard_ms,
        };
        self.record_interruption(interruption);
        self.finalize_turn(now);
    }

    fn record_interruption(&mut self, i: Interruption) {
        self.trace.interruptions.push(i.clone());
        let call_id = self.sid();
        self.live(super::io::LiveEvent::BargeIn {
            call_id,
            heard_text: i.heard_text.clone(),
            cut_text: i.cut_text.clone(),
            reaction_ms: i.reaction_ms,
        });
        self.trace_kind(TraceKind::BargeIn { interruption: i });
    }

    /// The assistant message of a cut reply keeps only what was heard; a
    /// reply not heard at all leaves the context.
    fn truncate_context(&mut self, i: usize, heard: &str) {
        if i >= self.context.len() {
            return;
        }
        if heard.is_empty() {
            self.context.remove(i);
        } else {
            self.context[i].content = heard.to_owned();
        }
    }

    /// More than `max_speech_ms` of speech without a pause: a machine.
    fn check_long_speech(&mut self, now: Instant) {
        let vm = &self.cfg.voicemail;
        let long = self
            .utterance
            .as_ref()
            .is_some_and(|u| u.continuous_speech_ms(self.media) > vm.max_speech_ms);
        if vm.enabled && long && self.ending.is_none() {
            self.voicemail(now, "long uninterrupted speech");
        }
    }
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}
