//! The bot's side of a turn: the router's decision, the streamed LLM reply,
//! and TTS audio into replies. `impl Call`, see `machine`.
//!
//! Flow: `on_route` picks scenario text or starts an LLM request; LLM
//! tokens become sentences, each sentence a TTS request; TTS audio becomes
//! mu-law frames in the reply (see `outbound`), which `playback` paces out.

use super::io::{LlmRequest, Output};
use super::machine::{Call, LlmInFlight};
use super::outbound::{Reply, ReplyKind};
use super::sentences::SentenceSplitter;
use crate::llm_pool::LlmEvent;
use crate::providers::{ChatMessage, Role, TtsEvent, TtsRequest};
use crate::router::{ReplyStrategy, RouteDecision, ScenarioMatch};
use crate::trace::{LlmCallRecord, TraceKind, TurnTiming};
use std::time::Instant;

/// LLM requests remembered as cancelled (their cost records still arrive).
const CANCELLED_MEMORY: usize = 16;

impl Call {
    // ------------------------------------------------------------ speaking

    /// Queues `parts` (spoken one after another) as a new reply; returns its id.
    pub(super) fn speak_parts(&mut self, kind: ReplyKind, parts: &[&str]) -> u64 {
        let id = self.open_reply(kind);
        let mut splitter = SentenceSplitter::new(self.cfg.max_sentence_chars);
        for part in parts {
            let mut chunks = splitter.push(part);
            chunks.extend(splitter.flush());
            for chunk in chunks {
                self.add_sentence(id, &chunk);
            }
        }
        self.close_reply(id);
        id
    }

    pub(super) fn speak(&mut self, kind: ReplyKind, text: &str) -> u64 {
        self.speak_parts(kind, &[text])
    }

    /// A new, empty reply at the end of the queue, with its assistant
    /// message in the context.
    pub(super) fn open_reply(&mut self, kind: ReplyKind) -> u64 {
        let id = self.next_id();
        let mut reply = Reply::new(id, kind);
        self.context
            .push(ChatMessage::new(Role::Assistant, String::new()));
        reply.context_index = Some(self.context.len() - 1);
        self.replies.push_back(reply);
        self.activate_next();
        id
    }

    /// One sentence of reply `reply_id`, sent to TTS in its turn.
    pub(super) fn add_sentence(&mut self, reply_id: u64, text: &str) {
        let tts_id = self.next_id();
        let Some(r) = self.replies.iter_mut().find(|r| r.id == reply_id) else {
            return;
        };
        r.add_segment(tts_id, text);
        if let Some(msg) = r.context_index.and_then(|i| self.context.get_mut(i)) {
            msg.content.clone_from(&r.text);
        }
        self.request_tts();
    }

    /// Sends TTS requests, in playing order, while fewer than
    /// `tts_ahead` are synthesising. TTS runs faster than real time, so
    /// sentences requested all at once would sit in memory as raw audio
    /// (tens of kB per second at 24 kHz) long before they play; a bounded
    /// look-ahead keeps a call's memory to what is about to be heard.
    pub(super) fn request_tts(&mut self) {
        let mut in_flight: usize = self.replies.iter().map(Reply::tts_in_flight).sum();
        let mut requests = Vec::new();
        for r in self.replies.iter_mut() {
            while in_flight < self.cfg.tts_ahead {
                let Some((id, text)) = r.next_unrequested() else {
                    break;
                };
                requests.push((id, text.to_owned()));
                in_flight += 1;
            }
        }
        for (id, text) in requests {
            let voice = self.cfg.tts_voice.clone();
            self.emit(Output::Tts(TtsRequest { id, text, voice }));
        }
    }

    pub(super) fn close_reply(&mut self, reply_id: u64) {
        if let Some(r) = self.replies.iter_mut().find(|r| r.id == reply_id) {
            r.closed = true;
        }
        self.activate_next();
    }

    /// Hands the converter to the first reply not yet synthesised.
    pub(super) fn activate_next(&mut self) {
        for r in self.replies.iter_mut() {
            r.activate(&mut self.conv);
            if !r.synthesized() {
                break;
            }
        }
    }

    pub(super) fn reply_index(&self, id: u64) -> Option<usize> {
        self.replies.iter().position(|r| r.id == id)
    }

    // ------------------------------------------------------------ router

    pub(super) fn on_route(&mut self, now: Instant, d: RouteDecision) {
        if self.route_id != Some(d.request_id) {
            return; // stale: a barge-in or a newer turn superseded it
        }
        self.route_id = None;
        if let Some(rec) = d.llm_call.clone() {
            self.record_llm_call(rec);
        }
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let since = draft.since_t0(now);
        draft.turn.timing.route_decided_ms = Some(since);
        draft.turn.timing.ai_brain_time_ms = Some(d.elapsed_us as f64 / 1000.0);
        let brain = &mut draft.turn.ai_brain;
        brain.tier_used = d.tier;
        brain.tier1_score = d.tier1_score;
        brain.tier2_score = d.tier2_score;
        brain.tier3_confidence = d.tier3_confidence;
        brain.rationale.clone_from(&d.rationale);
        draft.turn.flags.config_error = d.config_error;
        if let Some(s) = &d.scenario {
            brain.scenario_id = Some(s.id.clone());
            brain.scenario_name = Some(s.name.clone());
            brain.scenario_type_resolved = Some(s.kind.as_str().into());
            brain.reply_strategy_resolved = Some(s.strategy.as_str().into());
        }
        if self.ai_muted() {
            self.finalize_turn(now);
            return;
        }
        match d.scenario {
            Some(s) if s.escalate => {
                let reason = format!("scenario {}", s.name);
                self.escalate(now, "scenario", None, Some(reason));
            }
            Some(s) => self.answer_scenario(now, &s),
            None => self.start_llm(now),
        }
    }

    /// The AI must not answer (paused, taken over, or winding down).
    pub(super) fn ai_muted(&self) -> bool {
        self.paused || self.taken_over || self.ending.is_some()
    }

    fn answer_scenario(&mut self, now: Instant, s: &ScenarioMatch) {
        let (parts, used) = scenario_parts(s);
        if parts.is_empty() {
            return self.start_llm(now); // a scenario without text: the LLM phrases it
        }
        let index = self
            .draft
            .as_ref()
            .map_or(self.turns, |d| d.turn.turn_index);
        let id = self.speak_parts(ReplyKind::Turn(index), &parts);
        let text = self
            .replies
            .back()
            .map(|r| r.text.clone())
            .unwrap_or_default();
        if let Some(d) = self.draft.as_mut() {
            d.reply_id = Some(id);
            d.turn.ai_brain.response_strategy_used = Some(used.into());
            d.turn.ai_brain.response_text = text;
        }
    }

    // ------------------------------------------------------------ LLM

    pub(super) fn start_llm(&mut self, _now: Instant) {
        let id = self.next_id();
        self.emit(Output::Llm(LlmRequest {
            request_id: id,
            messages: self.context.clone(),
            purpose: "llm_reply",
        }));
        self.llm = Some(LlmInFlight {
            id,
            reply_id: None,
            got_token: false,
        });
        self.splitter.clear();
        if let Some(d) = self.draft.as_mut() {
            d.turn.ai_brain.response_strategy_used = Some("llm".into());
        }
    }

    pub(super) fn on_llm(&mut self, now: Instant, ev: LlmEvent) {
        match ev {
            LlmEvent::Token { request_id, text } => self.on_token(now, request_id, &text),
            LlmEvent::Done {
                request_id,
                mut record,
            } => {
                record.cancelled |= self.cancelled_llm.contains(&request_id);
                self.record_llm_call(record);
                if self.llm.as_ref().is_some_and(|l| l.id == request_id) {
                    if let Some(rest) = self.splitter.flush() {
                        self.llm_sentence(&rest);
                    }
                    self.finish_llm(None);
                }
            }
            LlmEvent::Shed {
                request_id,
                fallback,
            } => self.llm_failed(request_id, "shed by the LLM pool".into(), fallback),
            LlmEvent::Failed {
                request_id,
                message,
                fallback,
            } => self.llm_failed(request_id, message, fallback),
        }
    }

    fn on_token(&mut self, now: Instant, request_id: u64, text: &str) {
        let Some(llm) = self.llm.as_mut().filter(|l| l.id == request_id) else {
            return; // stale
        };
        if !llm.got_token {
            llm.got_token = true;
            if let Some(d) = self.draft.as_mut() {
                d.turn.timing.llm_first_token_ms = Some(d.since_t0(now));
            }
        }
        for sentence in self.splitter.push(text) {
            self.llm_sentence(&sentence);
        }
    }

    fn llm_failed(&mut self, request_id: u64, message: String, fallback: String) {
        if self.llm.as_ref().is_none_or(|l| l.id != request_id) {
            return;
        }
        self.trace_kind(TraceKind::Note {
            message: format!("LLM request {request_id} failed: {message}"),
        });
        let spoken_so_far = self.splitter.flush();
        if let Some(rest) = spoken_so_far {
            self.llm_sentence(&rest);
        }
        let fallback = if fallback.trim().is_empty() {
            self.cfg.fallback_text.clone()
        } else {
            fallback
        };
        self.finish_llm(Some(fallback));
    }

    /// A complete sentence of the streamed reply: to TTS at once.
    fn llm_sentence(&mut self, sentence: &str) {
        let index = self
            .draft
            .as_ref()
            .map_or(self.turns, |d| d.turn.turn_index);
        let Some(llm) = self.llm.as_ref() else {
            return;
        };
        let reply_id = match llm.reply_id {
            Some(id) => id,
            None => {
                let id = self.open_reply(ReplyKind::Turn(index));
                if let Some(l) = self.llm.as_mut() {
                    l.reply_id = Some(id);
                }
                if let Some(d) = self.draft.as_mut() {
                    d.reply_id = Some(id);
                }
                id
            }
        };
        self.add_sentence(reply_id, sentence);
    }

    /// The completion is over; `fallback` is said if it produced nothing.
    fn finish_llm(&mut self, fallback: Option<String>) {
        let Some(llm) = self.llm.take() else {
            return;
        };
        let text = llm
            .reply_id
            .and_then(|id| self.replies.iter().find(|r| r.id == id))
            .map(|r| r.text.clone())
            .unwrap_or_default();
        let reply_id = match llm.reply_id {
            Some(id) if !text.trim().is_empty() => {
                self.close_reply(id);
                id
            }
            _ => {
                let index = self
                    .draft
                    .as_ref()
                    .map_or(self.turns, |d| d.turn.turn_index);
                let said = fallback.unwrap_or_else(|| self.cfg.fallback_text.clone());
                if let Some(d) = self.draft.as_mut() {
                    d.turn.flags.null_response = true;
                    d.turn.ai_brain.response_strategy_used = Some("fallback".into());
                }
                self.speak(ReplyKind::Turn(index), &said)
            }
        };
        let text = self
            .replies
            .iter()
            .find(|r| r.id == reply_id)
            .map(|r| r.text.clone());
        if let Some(d) = self.draft.as_mut() {
            d.reply_id = Some(reply_id);
            d.turn.ai_brain.response_text = text.unwrap_or_default();
        }
    }

    /// Cancels the completion in flight (barge-in, supervisor, hang-up).
    pub(super) fn cancel_llm(&mut self) {
        if let Some(llm) = self.llm.take() {
            if self.cancelled_llm.len() >= CANCELLED_MEMORY {
                self.cancelled_llm.remove(0);
            }
            self.cancelled_llm.push(llm.id);
            self.emit(Output::LlmCancel { request_id: llm.id });
        }
        self.splitter.clear();
    }

    pub(super) fn record_llm_call(&mut self, record: LlmCallRecord) {
        self.trace.llm_calls.push(record.clone());
        self.trace_kind(TraceKind::LlmCall { call: record });
    }

    // ------------------------------------------------------------ TTS

    pub(super) fn on_tts(&mut self, now: Instant, ev: TtsEvent) {
        match ev {
            TtsEvent::Audio {
                id,
                pcm,
                sample_rate,
            } => {
                let Some(r) = self.replies.iter_mut().find(|r| r.owns_tts(id)) else {
                    return; // stale: the reply was cut or finished
                };
                let kind = r.kind;
                if r.on_audio(id, sample_rate, &pcm, &mut self.conv) {
                    self.turn_stage(now, kind, |t| &mut t.tts_first_byte_ms);
                }
            }
            TtsEvent::Done { id } => {
                self.tts_done(id);
            }
            TtsEvent::Error { id, message } => {
                if self.tts_done(id) {
                    self.trace_kind(TraceKind::Note {
                        message: format!("TTS request {id} failed: {message}"),
                    });
                }
            }
        }
    }

    fn tts_done(&mut self, id: u64) -> bool {
        let Some(r) = self.replies.iter_mut().find(|r| r.owns_tts(id)) else {
            return false;
        };
        let known = r.on_done(id, &mut self.conv);
        self.activate_next();
        self.request_tts();
        known
    }

    /// Sets a stage timing of the turn `kind` answers, once.
    pub(super) fn turn_stage(
        &mut self,
        now: Instant,
        kind: ReplyKind,
        field: fn(&mut TurnTiming) -> &mut Option<f64>,
    ) {
        let ReplyKind::Turn(n) = kind else {
            return;
        };
        let Some(d) = self.draft.as_mut().filter(|d| d.turn.turn_index == n) else {
            return;
        };
        let since = d.since_t0(now);
        field(&mut d.turn.timing).get_or_insert(since);
    }
}

/// The texts a scenario speaks under its strategy, and the strategy used.
fn scenario_parts(s: &ScenarioMatch) -> (Vec<&str>, &'static str) {
    let quick = s.quick_reply.as_deref().filter(|t| !t.trim().is_empty());
    let full = s.full_reply.as_deref().filter(|t| !t.trim().is_empty());
    match (s.strategy, quick, full) {
        (ReplyStrategy::QuickOnly, Some(q), _) => (vec![q], "quick"),
        (ReplyStrategy::QuickThenFull, Some(q), Some(f)) => (vec![q, f], "quick_then_full"),
        (_, _, Some(f)) => (vec![f], "full"),
        (_, Some(q), None) => (vec![q], "quick"),
        (_, None, None) => (Vec::new(), "llm"),
    }
}
