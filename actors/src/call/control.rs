//! Call-level rules: supervisor commands, escalation, DTMF, voicemail, idle
//! callers, maximum length, the hang-up flow, timers, and checkpoints.
//! `impl Call`, see `machine`.
//!
//! Every ending goes the same way: stop the bot, say the last words
//! (goodbye, voicemail message or hand-off notice), wait until the caller
//! heard them (their last mark echoed, or a deadline), then `Close` +
//! `Hangup` (or `Escalate`), then `Finished` with the trace, exactly once.

use super::config::CallConfig;
use super::inbound::Interrupter;
use super::io::{Checkpoint, Command, LiveEvent, Outbound, Output, SupervisorCommand};
use super::machine::{Call, Ending};
use super::outbound::ReplyKind;
use crate::providers::{ChatMessage, Role};
use crate::trace::{Outcome, RestartRecord, SupervisorActionRecord, TraceKind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the last words of a call may take before the line is closed anyway.
pub(super) const ENDING_DEADLINE: Duration = Duration::from_secs(30);

impl Call {
    /// Rebuilds a call after its actor restarted: the conversation is kept,
    /// the turn state is back to Listening, no greeting again.
    pub fn restore(
        cfg: Arc<CallConfig>,
        cp: Checkpoint,
        now: Instant,
        reason: &str,
        attempt: u32,
    ) -> Self {
        let mut c = Call::new(cfg, now);
        c.media = cp.media_ms * 8;
        c.vad_base = c.media;
        c.started = now
            .checked_sub(Duration::from_millis(cp.media_ms))
            .unwrap_or(now);
        // Ids of the previous incarnation may still be in flight somewhere:
        // start far above them so a late event can never match.
        c.next_id = u64::from(attempt) << 40;
        c.trace = cp.trace;
        c.context = cp.context;
        c.greeted = cp.greeted;
        c.paused = cp.paused;
        c.taken_over = cp.taken_over;
        if let Some(t) = cp.last_turn {
            if !c.trace.turns.iter().any(|x| x.turn_index == t.turn_index) {
                c.trace.turns.push(t);
            }
        }
        c.turns = c
            .trace
            .turns
            .iter()
            .map(|t| t.turn_index)
            .max()
            .unwrap_or(0);
        c.start = Some(cp.start);
        let restart = RestartRecord {
            at: c.wall(now),
            reason: reason.to_owned(),
            attempt,
        };
        c.trace.restarts.push(restart.clone());
        c.trace_kind(TraceKind::Restarted { restart });
        let call_id = c.sid();
        c.live(LiveEvent::ActorRestarted {
            call_id,
            attempt,
            reason: reason.to_owned(),
        });
        c.last_state = c.state();
        c
    }

    /// What survives a restart: the conversation so far.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            start: self.start.clone().unwrap_or_default(),
            trace: self.trace.clone(),
            context: self.context.clone(),
            media_ms: self.media_ms(),
            greeted: self.greeted,
            paused: self.paused,
            taken_over: self.taken_over,
            last_turn: self.draft.as_ref().map(|d| d.turn.clone()),
        }
    }

    // ------------------------------------------------------------ turns

    /// Closes the turn being answered into the trace.
    pub(super) fn finalize_turn(&mut self, _now: Instant) {
        let Some(mut d) = self.draft.take() else {
            return;
        };
        if let Some(r) = d
            .reply_id
            .and_then(|id| self.replies.iter().find(|r| r.id == id))
        {
            d.turn.ai_brain.response_text.clone_from(&r.text);
            if d.turn.heard_text.is_none() {
                d.turn.heard_text = Some(r.split_heard().0);
            }
        }
        let turn = d.turn;
        self.trace.turns.push(turn.clone());
        let call_id = self.sid();
        self.live(LiveEvent::InteractionAdded {
            call_id: call_id.clone(),
            speaker: "user".into(),
            text: turn.user_input.text.clone(),
            heard_text: None,
        });
        if !turn.ai_brain.response_text.is_empty() {
            self.live(LiveEvent::InteractionAdded {
                call_id,
                speaker: "bot".into(),
                text: turn.ai_brain.response_text.clone(),
                heard_text: turn.heard_text.clone(),
            });
        }
        self.trace_kind(TraceKind::TurnCompleted {
            turn: Box::new(turn),
        });
    }

    // ------------------------------------------------------------ timers

    pub(super) fn on_timers(&mut self, now: Instant) {
        if self
            .utterance
            .as_ref()
            .and_then(|u| u.endpoint_deadline)
            .is_some_and(|d| d <= now)
        {
            self.on_endpoint_timeout(now);
        }
        if self.echo_deadline().is_some_and(|d| d <= now) {
            self.settle_lost_echoes(now);
        }
        self.on_idle_timer(now);
        let max = self.started + Duration::from_millis(self.cfg.max_call_ms);
        if self.ending.is_none() && max <= now {
            let text = self.cfg.max_call_goodbye_text.clone();
            self.begin_ending(now, ReplyKind::Goodbye, &text, "max_call_length");
        }
        self.on_ending_timers(now);
    }

    fn on_idle_timer(&mut self, now: Instant) {
        let Some(since) = self.idle_since else {
            return;
        };
        let wait = if self.reprompted {
            self.cfg.idle_hangup_ms
        } else {
            self.cfg.idle_reprompt_ms
        };
        if since + Duration::from_millis(wait) > now {
            return;
        }
        self.idle_since = None;
        if self.reprompted {
            let text = self.cfg.idle_goodbye_text.clone();
            self.begin_ending(now, ReplyKind::Goodbye, &text, "idle_caller");
        } else {
            let text = self.cfg.idle_reprompt_text.clone();
            self.speak(ReplyKind::Reprompt, &text);
        }
    }

    fn on_ending_timers(&mut self, now: Instant) {
        let Some(e) = self.ending.as_ref() else {
            return;
        };
        if e.escalated_wait.is_some_and(|d| d <= now) {
            return self.finish(now, Outcome::EscalatedToHuman, "escalated");
        }
        if e.escalated_wait.is_none() && e.deadline <= now {
            let escalating = e.escalation.is_some();
            self.trace_kind(TraceKind::Note {
                message: "last words not confirmed heard in time".into(),
            });
            if escalating {
                self.hand_over(now);
            } else {
                self.hang_up(now);
            }
        }
    }

    // ------------------------------------------------------------ caller events

    pub(super) fn on_dtmf(&mut self, now: Instant, digit: char) {
        self.trace_kind(TraceKind::Dtmf {
            digit: digit.to_string(),
        });
        if digit == '0' && self.cfg.escalation.dtmf_zero_enabled {
            self.escalate(now, "dtmf", None, Some("caller pressed 0".into()));
        }
    }

    pub(super) fn on_stop(&mut self, now: Instant) {
        let (outcome, reason) = if self.trace.escalation.is_some() {
            (Outcome::EscalatedToHuman, "escalated")
        } else {
            (Outcome::CallerHungUp, "caller_hung_up")
        };
        self.finish(now, outcome, reason);
    }

    /// Voicemail keywords in a transcript early in the call; true if found.
    pub(super) fn check_voicemail_keywords(&mut self, now: Instant, text: &str) -> bool {
        let vm = &self.cfg.voicemail;
        let in_window = vm.keyword_window_ms == 0 || self.media_ms() <= vm.keyword_window_ms;
        if !vm.enabled || !in_window || self.ending.is_some() {
            return false;
        }
        let Some(k) = self.phrases.voicemail.find_in(text) else {
            return false;
        };
        self.voicemail(now, &format!("keyword \"{k}\""));
        true
    }

    /// An answering machine: leave the message once its greeting is over
    /// (so it is recorded after the beep), then hang up.
    pub(super) fn voicemail(&mut self, now: Instant, why: &str) {
        self.trace_kind(TraceKind::Note {
            message: format!("voicemail detected: {why}"),
        });
        self.begin_ending(now, ReplyKind::Voicemail, "", "voicemail");
        self.voicemail_pending = true;
    }

    /// Speaks the pending voicemail message once the machine stopped talking.
    pub(super) fn leave_voicemail(&mut self) {
        if self.voicemail_pending && !self.vad.is_speaking() {
            self.voicemail_pending = false;
            let text = self.cfg.voicemail.message.clone();
            self.speak(ReplyKind::Voicemail, &text);
        }
    }

    // ------------------------------------------------------------ supervisor

    pub(super) fn on_command(&mut self, now: Instant, cmd: Command) {
        let (action, detail) = describe(&cmd.command);
        let record = SupervisorActionRecord {
            at: self.wall(now),
            who: cmd.who.clone(),
            action: action.into(),
            detail,
        };
        self.trace.supervisor_actions.push(record.clone());
        self.trace_kind(TraceKind::Supervisor { action: record });
        let call_id = self.sid();
        self.live(LiveEvent::SupervisorAction {
            call_id,
            who: cmd.who,
            action: action.into(),
        });
        if self.ending.is_some() {
            return; // the call is already closing; the command is only recorded
        }
        match cmd.command {
            SupervisorCommand::Say { text, now: true } => {
                self.stop_bot(now);
                self.speak(ReplyKind::Say, &text);
            }
            SupervisorCommand::Say { text, now: false } => {
                self.speak(ReplyKind::Say, &text);
            }
            SupervisorCommand::Instruct { text } => {
                let msg = format!("Supervisor instruction: {text}");
                self.context.push(ChatMessage::new(Role::System, msg));
            }
            SupervisorCommand::Pause => {
                if !self.paused {
                    self.paused = true;
                    self.stop_bot(now);
                    let text = self.cfg.hold_text.clone();
                    self.speak(ReplyKind::Hold, &text);
                }
            }
            SupervisorCommand::Resume => self.paused = false,
            SupervisorCommand::Takeover => {
                self.taken_over = true;
                self.stop_bot(now);
            }
            SupervisorCommand::Escalate { target, reason } => {
                self.escalate(now, "supervisor", Some(target), Some(reason));
            }
            SupervisorCommand::End { reason } => {
                let text = self.cfg.goodbye_text.clone();
                let reason = reason.unwrap_or_else(|| "supervisor_end".into());
                self.begin_ending(now, ReplyKind::Goodbye, &text, &reason);
            }
        }
    }

    /// Cuts the bot off (not a barge-in) and closes the turn it answered.
    fn stop_bot(&mut self, now: Instant) {
        self.interrupt(now, Interrupter::Engine);
        self.finalize_turn(now);
    }

    // ------------------------------------------------------------ endings

    /// Stops everything and says the last words; the line closes once heard.
    pub(super) fn begin_ending(&mut self, now: Instant, kind: ReplyKind, text: &str, reason: &str) {
        if self.ending.is_some() {
            return;
        }
        self.stop_bot(now);
        self.utterance = None;
        self.ending = Some(Ending {
            reason: reason.to_owned(),
            outcome: self.trace.final_outcome,
            deadline: now + ENDING_DEADLINE,
            escalation: None,
            escalated_wait: None,
        });
        if !text.is_empty() {
            self.speak(kind, text);
        }
    }

    /// The last words were heard: close the socket, hang up, finish.
    pub(super) fn hang_up(&mut self, now: Instant) {
        let (reason, outcome) = self
            .ending
            .as_ref()
            .map(|e| (e.reason.clone(), e.outcome))
            .unwrap_or_else(|| ("hangup".into(), self.trace.final_outcome));
        self.emit(Output::Twilio(Outbound::Close {
            reason: reason.clone(),
        }));
        self.emit(Output::Hangup {
            reason: reason.clone(),
        });
        self.finish(now, outcome, &reason);
    }

    /// The call is over: cancel what runs, seal the trace, emit `Finished`.
    pub(super) fn finish(&mut self, now: Instant, outcome: Outcome, reason: &str) {
        if self.finished {
            return;
        }
        self.cancel_llm();
        for r in std::mem::take(&mut self.replies) {
            for id in r.unfinished_tts() {
                self.emit(Output::TtsCancel { id });
            }
        }
        self.route_id = None;
        self.finalize_turn(now);
        let outcome = if self.trace.escalation.is_some() {
            Outcome::EscalatedToHuman
        } else {
            outcome
        };
        self.finished = true;
        self.trace.final_outcome = outcome;
        self.trace.end_reason = Some(reason.to_owned());
        self.trace.ended_at = Some(self.wall(now));
        self.trace.status = crate::trace::CallStatus::Ended;
        self.trace.recompute_stats();
        self.trace_kind(TraceKind::CallEnded {
            outcome,
            reason: reason.to_owned(),
        });
        let call_id = self.sid();
        self.live(LiveEvent::CallEnded {
            call_id,
            outcome: outcome.as_str().into(),
            reason: reason.to_owned(),
        });
        let trace = Box::new(self.trace.clone());
        self.emit(Output::Finished(trace));
    }
}

fn describe(c: &SupervisorCommand) -> (&'static str, Option<String>) {
    match c {
        SupervisorCommand::Say { text, now: true } => ("say_now", Some(text.clone())),
        SupervisorCommand::Say { text, now: false } => ("say_next", Some(text.clone())),
        SupervisorCommand::Instruct { text } => ("instruct", Some(text.clone())),
        SupervisorCommand::Pause => ("pause", None),
        SupervisorCommand::Resume => ("resume", None),
        SupervisorCommand::Takeover => ("takeover", None),
        SupervisorCommand::Escalate { target, reason } => {
            ("escalate", Some(format!("{target}: {reason}")))
        }
        SupervisorCommand::End { reason } => ("end", reason.clone()),
    }
}
