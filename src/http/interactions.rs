//! A call's transcript as seed 004 shows it: one interaction per utterance,
//! with the speaker, the text, when it was said, and for the agent what the
//! caller actually heard and what barge-in cut off. Built from the final
//! trace, or for a live call from its event timeline so far.

use serde::Serialize;
use switchboard_actors::trace::{
    CallTrace, Interruption, SupervisorActionRecord, TraceEvent, TraceKind, Turn,
};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub turn_index: u32,
    /// caller, agent or supervisor.
    pub speaker: &'static str,
    pub text: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asr_confidence: Option<f32>,
    /// Agent only: what the caller heard of `text` (marks echoed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard_text: Option<String>,
    /// Agent only: what barge-in cut off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_text: Option<String>,
    pub interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_used: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario_name: Option<String>,
    /// Agent only: caller's end of speech to first audio out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_time_ms: Option<f64>,
}

/// The transcript of `trace`; `events` fill in a live call's turns.
pub fn interactions_of(trace: &CallTrace, events: &[TraceEvent]) -> Vec<Interaction> {
    let (mut turns, mut cuts, mut actions) = (
        trace.turns.clone(),
        trace.interruptions.clone(),
        trace.supervisor_actions.clone(),
    );
    if turns.is_empty() {
        for e in events {
            match &e.kind {
                TraceKind::TurnCompleted { turn } => turns.push((**turn).clone()),
                TraceKind::BargeIn { interruption } => cuts.push(interruption.clone()),
                TraceKind::Supervisor { action } => actions.push(action.clone()),
                _ => {}
            }
        }
    }
    let mut out: Vec<Interaction> = turns
        .iter()
        .flat_map(|t| turn_interactions(t, &cuts))
        .collect();
    out.extend(actions.iter().map(supervisor_interaction));
    // Stable: a turn's caller line stays before its agent line.
    out.sort_by_key(|i| i.timestamp);
    out
}

fn turn_interactions(t: &Turn, cuts: &[Interruption]) -> Vec<Interaction> {
    let mut out = Vec::with_capacity(2);
    let base = Interaction {
        turn_index: t.turn_index,
        speaker: "caller",
        text: t.user_input.text.clone(),
        timestamp: t.timestamp,
        asr_confidence: t.user_input.asr_confidence,
        heard_text: None,
        cut_text: None,
        interrupted: false,
        tier_used: None,
        scenario_name: None,
        response_time_ms: None,
    };
    if !t.user_input.text.is_empty() {
        out.push(base.clone());
    }
    let reply = &t.ai_brain.response_text;
    if reply.is_empty() && !t.flags.interrupted {
        return out;
    }
    let cut = cuts.iter().find(|c| c.turn_index == t.turn_index);
    let interrupted = t.flags.interrupted || cut.is_some();
    let heard = t
        .heard_text
        .clone()
        .or_else(|| cut.map(|c| c.heard_text.clone()));
    let cut_text = cut.map(|c| c.cut_text.clone()).or_else(|| {
        let h = heard.as_deref()?;
        (interrupted && reply.starts_with(h)).then(|| reply[h.len()..].to_owned())
    });
    let delay = t
        .timing
        .total_turn_time_ms
        .and_then(|ms| chrono::Duration::try_milliseconds(ms as i64));
    out.push(Interaction {
        speaker: "agent",
        text: reply.clone(),
        timestamp: t.timestamp + delay.unwrap_or_default(),
        asr_confidence: None,
        heard_text: heard,
        cut_text: cut_text.filter(|c| !c.is_empty()),
        interrupted,
        tier_used: t.ai_brain.tier_used,
        scenario_name: t.ai_brain.scenario_name.clone(),
        response_time_ms: t.timing.total_turn_time_ms,
        ..base
    });
    out
}

fn supervisor_interaction(a: &SupervisorActionRecord) -> Interaction {
    Interaction {
        turn_index: 0,
        speaker: "supervisor",
        text: match &a.detail {
            Some(d) => format!("{}: {d}", a.action),
            None => a.action.clone(),
        },
        timestamp: a.at,
        asr_confidence: None,
        heard_text: None,
        cut_text: None,
        interrupted: false,
        tier_used: None,
        scenario_name: None,
        response_time_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barged_in_reply_shows_heard_and_cut_text() {
        let mut t = CallTrace::default();
        let mut turn = Turn {
            turn_index: 1,
            ..Default::default()
        };
        turn.user_input.text = "what are your hours".into();
        turn.ai_brain.response_text = "We open at nine and close at five.".into();
        turn.timing.total_turn_time_ms = Some(800.0);
        turn.flags.interrupted = true;
        turn.heard_text = Some("We open at nine".into());
        t.turns.push(turn);
        let out = interactions_of(&t, &[]);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].speaker, out[1].speaker), ("caller", "agent"));
        assert_eq!(out[1].cut_text.as_deref(), Some(" and close at five."));
        assert!(out[1].interrupted);
        assert_eq!(
            out[1].timestamp - out[0].timestamp,
            chrono::Duration::milliseconds(800)
        );
    }
}
