//! Call-level rules of the `Call` machine in virtual time: idle callers,
//! maximum length, DTMF, voicemail, automatic escalation, the caller hanging
//! up, restarts from a checkpoint, and `Finished` exactly once.

mod call_machine_support;

use call_machine_support::*;
use std::sync::Arc;
use switchboard_actors::call::{Call, CallConfig, CallState, Input, LiveEvent, Outbound, Output};
use switchboard_actors::llm_pool::LlmEvent;
use switchboard_actors::providers::Role;
use switchboard_actors::router::RouteDecision;
use switchboard_actors::trace::{Outcome, TraceKind};

fn finished_count(sim: &Sim) -> usize {
    sim.count(|o| matches!(o, Output::Finished(_)))
}

/// Hang-up order: Close, then Hangup, then Finished, once each.
fn assert_hung_up(sim: &Sim, reason: &str) {
    let pos = |f: &dyn Fn(&Output) -> bool| sim.log.iter().position(f);
    let close = pos(&|o| matches!(o, Output::Twilio(Outbound::Close { reason: r }) if r == reason))
        .expect("socket closed");
    let hangup = pos(&|o| matches!(o, Output::Hangup { .. })).expect("hung up");
    let fin = pos(&|o| matches!(o, Output::Finished(_))).expect("finished");
    assert!(close < hangup && hangup < fin);
    assert_eq!(finished_count(sim), 1);
    assert!(sim.call.is_finished());
    assert_eq!(sim.call.state(), CallState::Ended);
}

#[test]
fn an_idle_caller_is_reprompted_then_told_goodbye_and_hung_up() {
    let cfg = test_config();
    let (reprompt, goodbye) = (
        cfg.idle_reprompt_text.clone(),
        cfg.idle_goodbye_text.clone(),
    );
    let mut sim = Sim::new(cfg);
    sim.settle();
    sim.run(ms(7900));
    assert!(
        !sim.tts_texts().contains(&reprompt),
        "not before idle_reprompt_ms"
    );
    sim.run(ms(200));
    assert_eq!(sim.tts_texts().last(), Some(&reprompt));
    sim.settle();
    sim.run(ms(6900));
    assert!(!sim.call.is_finished());
    sim.run(ms(10_000));
    let texts = sim.tts_texts();
    assert!(texts.join(" ").contains(&goodbye), "{texts:?}");
    assert_hung_up(&sim, "idle_caller");
    let trace = sim.finished_trace().expect("trace");
    assert_eq!(trace.end_reason.as_deref(), Some("idle_caller"));
    assert_eq!(trace.final_outcome, Outcome::AiResolved);
    assert!(trace.ended_at.is_some() && trace.total_duration_ms.is_some());
}

#[test]
fn an_answer_resets_the_idle_clock() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.run(ms(5000));
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    sim.run(ms(5000)); // thinking for 5 s: not idle
    let reprompt = test_config().idle_reprompt_text;
    assert!(!sim.tts_texts().contains(&reprompt));
}

#[test]
fn the_maximum_call_length_ends_politely() {
    let cfg = CallConfig {
        max_call_ms: 12_000,
        idle_reprompt_ms: 60_000,
        ..test_config()
    };
    let goodbye = cfg.max_call_goodbye_text.clone();
    let mut sim = Sim::new(cfg);
    sim.settle();
    let t0 = sim.t0;
    sim.run_until(t0 + ms(11_900));
    assert!(!sim.tts_texts().join(" ").contains(&goodbye));
    sim.run(ms(10_000));
    assert!(sim.tts_texts().join(" ").contains(&goodbye));
    assert_hung_up(&sim, "max_call_length");
    assert_eq!(
        sim.finished_trace()
            .and_then(|t| t.end_reason.clone())
            .as_deref(),
        Some("max_call_length")
    );
}

#[test]
fn dtmf_zero_escalates_with_a_handoff_summary_after_telling_the_caller() {
    let cfg = test_config();
    let notice = cfg.escalation.notice_text.clone();
    let mut sim = Sim::new(cfg);
    sim.settle();
    let id = sim.say_and_route(
        "leaking_tap",
        "The kitchen tap has been leaking since yesterday.",
    );
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    sim.input(Input::Dtmf { digit: '0' });
    assert!(sim
        .traces()
        .any(|k| matches!(k, TraceKind::Dtmf { digit } if digit == "0")));
    assert!(
        sim.count(|o| matches!(o, Output::LlmCancel { .. })) == 1,
        "the answer is dropped"
    );
    assert!(sim.tts_texts().join(" ").contains(&notice));
    assert!(sim
        .events()
        .any(|e| matches!(e, LiveEvent::EscalationTriggered { trigger, .. } if trigger == "dtmf")));
    assert_eq!(
        sim.count(|o| matches!(o, Output::Escalate(_))),
        0,
        "not before the notice is heard"
    );
    sim.run(ms(10_000));
    let esc = sim
        .log
        .iter()
        .find_map(|o| match o {
            Output::Escalate(e) => Some(e.clone()),
            _ => None,
        })
        .expect("escalated");
    assert_eq!(esc.trigger, "dtmf");
    let summary = esc.summary.expect("summary");
    assert!(summary.contains("+15550001111"), "{summary}");
    assert!(summary.contains("kitchen tap"), "{summary}");
    assert!(summary.contains("Sentiment"), "{summary}");
    assert_eq!(
        sim.count(|o| matches!(o, Output::Hangup { .. })),
        0,
        "a transfer is no hang-up"
    );
    sim.input(Input::Stop);
    let trace = sim.finished_trace().expect("finished");
    assert_eq!(trace.final_outcome, Outcome::EscalatedToHuman);
    assert!(trace.escalation.is_some());
}

#[test]
fn asking_for_a_real_person_escalates_on_the_keyword() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.say(&speech("real_person"), Some("Can I talk to a real person?"));
    sim.run(ms(4000));
    assert!(sim.last_route().is_none(), "escalation replaces routing");
    let turns = sim.turns_completed();
    assert!(turns[0].flags.escalated_this_turn);
    assert_eq!(
        turns[0].ai_brain.response_strategy_used.as_deref(),
        Some("escalation")
    );
    sim.run(ms(10_000));
    let esc = sim.log.iter().find_map(|o| match o {
        Output::Escalate(e) => Some(e.clone()),
        _ => None,
    });
    assert_eq!(esc.expect("escalated").trigger, "keyword");
}

#[test]
fn disabled_escalation_keywords_do_not_fire() {
    let mut cfg = test_config();
    cfg.escalation.keywords_enabled = false;
    let mut sim = Sim::new(cfg);
    sim.settle();
    let id = sim.say_and_route("real_person", "Can I talk to a real person?");
    assert!(id > 0);
    assert!(sim.call.checkpoint().trace.escalation.is_none());
}

#[test]
fn negative_sentiment_over_the_last_turns_escalates() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("leaking_tap", "This is terrible, I am so angry!");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let llm = sim.log.iter().rev().find_map(|o| match o {
        Output::Llm(r) => Some(r.request_id),
        _ => None,
    });
    sim.input(Input::Llm(LlmEvent::Token {
        request_id: llm.expect("llm"),
        text: "I'm sorry.".into(),
    }));
    sim.input(Input::Llm(LlmEvent::Done {
        request_id: llm.expect("llm"),
        record: Default::default(),
    }));
    sim.settle();
    assert!(
        sim.call.checkpoint().trace.escalation.is_none(),
        "one turn is not a trend"
    );
    sim.say(
        &speech("basement_flooding"),
        Some("This is ridiculous and useless, awful service!"),
    );
    sim.run(ms(5000));
    let esc = sim.call.checkpoint().trace.escalation.expect("escalated");
    assert_eq!(esc.trigger, "sentiment");
}

#[test]
fn repeated_low_confidence_turns_escalate() {
    let mut cfg = test_config();
    cfg.escalation.low_confidence_turns = 2;
    let mut sim = Sim::new(cfg);
    sim.settle();
    sim.say(&speech("address"), None);
    sim.final_on_finalize = Some(("my dress is forty".into(), 0.3));
    sim.run(ms(6000));
    let (id, _) = sim
        .last_route()
        .expect("first low-confidence turn is answered");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let llm = sim.log.iter().rev().find_map(|o| match o {
        Output::Llm(r) => Some(r.request_id),
        _ => None,
    });
    sim.input(Input::Llm(LlmEvent::Failed {
        request_id: llm.expect("llm request"),
        message: "down".into(),
        fallback: String::new(),
    }));
    sim.settle();
    sim.say(&speech("address"), None);
    sim.final_on_finalize = Some(("a dress forty two".into(), 0.2));
    sim.run(ms(6000));
    let esc = sim.call.checkpoint().trace.escalation.expect("escalated");
    assert_eq!(esc.trigger, "low_confidence");
    assert!(sim.turns_completed().iter().all(|t| t.flags.low_confidence));
}

#[test]
fn a_voicemail_keyword_leaves_the_message_after_the_greeting_then_hangs_up() {
    let cfg = test_config();
    let message = cfg.voicemail.message.clone();
    let mut sim = Sim::new(cfg);
    sim.settle();
    sim.say(&speech("book_tuesday"), None);
    sim.run(ms(1200)); // the machine is still talking
    sim.input(Input::Stt(
        switchboard_actors::providers::SttEvent::Transcript {
            text: "please leave a message after the beep".into(),
            confidence: 0.9,
            is_final: false,
            speech_final: false,
            from_finalize: false,
            start_s: 0.0,
            duration_s: 1.0,
        },
    ));
    assert!(
        !sim.tts_texts().join(" ").contains("call us back"),
        "not over the greeting"
    );
    sim.run(ms(30_000));
    assert!(sim.tts_texts().join(" ").contains(&message[..20]));
    assert_hung_up(&sim, "voicemail");
    assert!(sim.last_route().is_none());
}

/// `n` fixtures one after another (cycling through four), each as `audio`
/// gives it.
fn back_to_back(n: usize, audio: fn(&str) -> Vec<u8>) -> Vec<u8> {
    ["address", "reschedule", "leaking_tap", "book_tuesday"]
        .iter()
        .cycle()
        .take(n)
        .flat_map(|id| audio(id))
        .collect()
}

#[test]
fn long_uninterrupted_speech_is_taken_for_a_voicemail() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.say(&back_to_back(14, speech_core), None);
    sim.run(ms(14_000));
    assert!(!sim.call.is_finished());
    assert!(sim.call.state() != CallState::Ending, "not before 15 s");
    sim.run(ms(2500));
    assert_eq!(sim.call.state(), CallState::Ending);
    assert!(sim.traces().any(
        |k| matches!(k, TraceKind::Note { message } if message.contains("long uninterrupted"))
    ));
}

#[test]
fn the_caller_hanging_up_mid_reply_cancels_everything_and_finishes_once() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let llm = sim.log.iter().rev().find_map(|o| match o {
        Output::Llm(r) => Some(r.request_id),
        _ => None,
    });
    sim.input(Input::Llm(LlmEvent::Token {
        request_id: llm.expect("llm"),
        text: "We open at nine. And we".into(),
    }));
    sim.input(Input::Stop);
    assert_eq!(sim.count(|o| matches!(o, Output::LlmCancel { .. })), 1);
    assert_eq!(
        sim.count(|o| matches!(o, Output::Hangup { .. })),
        0,
        "the caller hung up"
    );
    let trace = sim.finished_trace().expect("finished").clone();
    assert_eq!(trace.final_outcome, Outcome::CallerHungUp);
    assert_eq!(trace.stats.total_turns, 1);
    assert!(sim
        .events()
        .any(|e| matches!(e, LiveEvent::CallEnded { outcome, .. } if outcome == "caller_hung_up")));
    // Anything after the end is ignored: no second Finished, no output.
    let n = sim.log.len();
    sim.input(Input::Stop);
    sim.input(Input::Dtmf { digit: '0' });
    sim.run(ms(60_000));
    assert_eq!(sim.log.len(), n);
    assert_eq!(finished_count(&sim), 1);
    assert_eq!(sim.call.poll_timeout(), None);
}

#[test]
fn a_restored_call_keeps_the_conversation_and_does_not_greet_again() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let cp = sim.call.checkpoint();
    assert_eq!(cp.last_turn.as_ref().map(|t| t.turn_index), Some(1));
    let now = sim.now;
    let call = Call::restore(
        Arc::new(test_config()),
        cp.clone(),
        now,
        "panic in handle",
        1,
    );
    assert_eq!(call.state(), CallState::Listening);
    assert_eq!(call.call_sid().map(|s| s.as_str()), Some("CA123"));
    let mut sim = Sim::around(call, now);
    sim.drain();
    assert!(sim.tts_texts().is_empty(), "no second greeting");
    assert!(sim
        .traces()
        .any(|k| matches!(k, TraceKind::Restarted { restart } if restart.attempt == 1)));
    assert!(sim
        .events()
        .any(|e| matches!(e, LiveEvent::ActorRestarted { attempt: 1, .. })));
    // The conversation goes on with the next turn number and the old context.
    let id = sim.say_and_route(
        "book_tuesday",
        "I'd like to book an appointment for Tuesday.",
    );
    let history = sim
        .log
        .iter()
        .find_map(|o| match o {
            Output::Route(r) if r.request_id == id => Some(r.history.clone()),
            _ => None,
        })
        .expect("routed");
    assert!(history
        .iter()
        .any(|m| m.role == Role::User && m.content == "What are your opening hours?"));
    sim.input(Input::Stop);
    let trace = sim.finished_trace().expect("finished");
    assert_eq!(trace.restarts.len(), 1);
    assert_eq!(trace.stats.restarts, 1);
    let indices: Vec<u32> = trace.turns.iter().map(|t| t.turn_index).collect();
    assert_eq!(indices, [1, 2]);
}

#[test]
fn long_talk_with_pauses_is_not_a_voicemail() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    // Whole fixtures keep their 0.5 s lead-in and 0.7 s tail: real pauses,
    // shorter than the endpoint timeout, so it stays one open utterance.
    sim.say(&back_to_back(7, speech), None);
    sim.run(ms(27_000));
    assert!(sim.call.state() != CallState::Ending);
    assert!(!sim
        .traces()
        .any(|k| matches!(k, TraceKind::Note { message } if message.contains("voicemail"))));
}
