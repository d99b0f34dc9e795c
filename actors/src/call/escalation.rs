//! Handing a call to a human: the automatic triggers (keywords, sentiment
//! trend, repeated low ASR confidence; each switchable), the escalation
//! itself (tell the caller, then `Escalate` once the notice was heard) and
//! the hand-off summary for the agent. `impl Call`, see `machine`.

use super::control::ENDING_DEADLINE;
use super::inbound::Interrupter;
use super::io::{LiveEvent, Output};
use super::machine::{Call, Ending};
use super::outbound::ReplyKind;
use crate::providers::Role;
use crate::trace::{Escalation, Outcome, TraceKind};
use std::time::{Duration, Instant};

/// Messages of the conversation quoted in a hand-off summary.
const SUMMARY_MESSAGES: usize = 6;

impl Call {
    // ------------------------------------------------------------ escalation

    /// Automatic escalation rules on a finished caller turn; true if one fired.
    pub(super) fn check_turn_escalation(&mut self, now: Instant, text: &str) -> bool {
        let e = &self.cfg.escalation;
        if self.taken_over || self.trace.escalation.is_some() {
            return false;
        }
        if e.keywords_enabled {
            if let Some(k) = self.phrases.escalation.find_in(text) {
                self.escalate(now, "keyword", None, Some(format!("caller said \"{k}\"")));
                return true;
            }
        }
        if e.sentiment_enabled {
            let recent: Vec<f32> = self
                .trace
                .turns
                .iter()
                .filter_map(|t| t.sentiment)
                .chain(self.draft.as_ref().and_then(|d| d.turn.sentiment))
                .collect();
            let n = e.sentiment_turns;
            if recent.len() >= n {
                let mean = recent[recent.len() - n..].iter().sum::<f32>() / n as f32;
                if mean < e.sentiment_threshold {
                    let reason = format!("mean sentiment {mean:.2} over the last {n} turns");
                    self.escalate(now, "sentiment", None, Some(reason));
                    return true;
                }
            }
        }
        if e.low_confidence_enabled && self.low_conf_streak >= e.low_confidence_turns {
            let reason = format!(
                "{} turns in a row with low ASR confidence",
                self.low_conf_streak
            );
            self.escalate(now, "low_confidence", None, Some(reason));
            return true;
        }
        false
    }

    /// Hands the call to a human: tell the caller, then `Escalate` once heard.
    pub(super) fn escalate(
        &mut self,
        now: Instant,
        trigger: &str,
        target: Option<String>,
        reason: Option<String>,
    ) {
        if self.trace.escalation.is_some() || self.ending.is_some() {
            return;
        }
        let esc = Escalation {
            at: self.wall(now),
            trigger: trigger.to_owned(),
            target: target.or_else(|| self.cfg.escalation.default_target.clone()),
            reason,
            summary: Some(self.handoff_summary(trigger)),
        };
        self.trace.escalation = Some(esc.clone());
        self.trace.final_outcome = Outcome::EscalatedToHuman;
        let call_id = self.sid();
        self.live(LiveEvent::EscalationTriggered {
            call_id,
            trigger: trigger.to_owned(),
            target: esc.target.clone(),
        });
        self.trace_kind(TraceKind::Escalated {
            escalation: esc.clone(),
        });
        self.interrupt(now, Interrupter::Engine);
        let notice = self.cfg.escalation.notice_text.clone();
        if let Some(d) = self.draft.as_mut() {
            d.turn.flags.escalated_this_turn = true;
            d.turn.ai_brain.response_strategy_used = Some("escalation".into());
            d.turn.ai_brain.response_text.clone_from(&notice);
        }
        self.finalize_turn(now);
        self.utterance = None;
        self.ending = Some(Ending {
            reason: "escalated".into(),
            outcome: Outcome::EscalatedToHuman,
            deadline: now + ENDING_DEADLINE,
            escalation: Some(esc),
            escalated_wait: None,
        });
        self.speak(ReplyKind::EscalationNotice, &notice);
    }

    /// The notice was heard: ask the actor to transfer, then wait for `stop`.
    pub(super) fn hand_over(&mut self, now: Instant) {
        let wait = Duration::from_millis(self.cfg.escalation_stop_timeout_ms);
        let Some(e) = self.ending.as_mut() else {
            return;
        };
        if e.escalated_wait.is_some() {
            return;
        }
        let Some(esc) = e.escalation.clone() else {
            return;
        };
        e.escalated_wait = Some(now + wait);
        self.emit(Output::Escalate(esc));
    }

    /// Who called, what they wanted, what was said, how they felt.
    fn handoff_summary(&self, trigger: &str) -> String {
        let caller = self
            .start
            .as_ref()
            .and_then(|s| s.caller.clone())
            .unwrap_or_else(|| "unknown number".into());
        let users: Vec<&str> = self
            .context
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        let wanted = users.first().copied().unwrap_or("(nothing said yet)");
        let sentiments: Vec<f32> = self
            .trace
            .turns
            .iter()
            .filter_map(|t| t.sentiment)
            .collect();
        let mean = if sentiments.is_empty() {
            0.0
        } else {
            sentiments.iter().sum::<f32>() / sentiments.len() as f32
        };
        let mood = match mean {
            m if m <= -0.3 => "negative",
            m if m >= 0.3 => "positive",
            _ => "neutral",
        };
        let recent: Vec<String> = self
            .context
            .iter()
            .filter(|m| m.role != Role::System && !m.content.is_empty())
            .rev()
            .take(SUMMARY_MESSAGES)
            .map(|m| {
                let who = if m.role == Role::User { "Caller" } else { "AI" };
                format!("{who}: {}", truncate(&m.content, 200))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(
            "Caller {caller} ({} turns). Wanted: {}. Escalated by {trigger}. \
             Sentiment: {mood} ({mean:.2}). Recent: {}",
            self.trace.turns.len() + usize::from(self.draft.is_some()),
            truncate(wanted, 200),
            recent.join(" | ")
        )
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
