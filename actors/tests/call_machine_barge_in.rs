//! Barge-in on the `Call` machine in virtual time, with real speech fixtures
//! through the real VAD: clear + cancel + truncation to exactly what the
//! echoed marks say was heard, backchannels ignored, the minimum-words rule,
//! and interrupting the bot while it is still thinking.

mod call_machine_support;

use call_machine_support::*;
use switchboard_actors::call::{CallConfig, CallState, Input, LiveEvent, Outbound, Output};
use switchboard_actors::llm_pool::LlmEvent;
use switchboard_actors::providers::{Role, SttEvent, TtsEvent};
use switchboard_actors::router::{ReplyStrategy, RouteDecision, ScenarioMatch, ScenarioType};
use switchboard_actors::trace::{Interruption, LlmCallRecord, TraceKind};

const REPLY: &str = "One two three four five six seven eight nine ten.";

fn full_reply(request_id: u64, text: &str) -> RouteDecision {
    RouteDecision {
        request_id,
        tier: Some(1),
        scenario: Some(ScenarioMatch {
            id: "count".into(),
            name: "Counting".into(),
            kind: ScenarioType::InfoFaq,
            strategy: ReplyStrategy::FullOnly,
            quick_reply: None,
            full_reply: Some(text.into()),
            escalate: false,
        }),
        ..RouteDecision::default()
    }
}

fn interim(text: &str) -> Input<'static> {
    Input::Stt(SttEvent::Transcript {
        text: text.into(),
        confidence: 0.9,
        is_final: false,
        speech_final: false,
        from_finalize: false,
        start_s: 0.0,
        duration_s: 0.5,
    })
}

/// The bot talks on until an interruption is confirmed (`barge_in_pause`
/// off): the tests of the heard/cut rule and of what an interruption
/// cancels use it; the pause-first default has its own tests below.
fn confirm_first() -> CallConfig {
    CallConfig {
        barge_in_pause: false,
        ..test_config()
    }
}

fn interruptions(sim: &Sim) -> Vec<Interruption> {
    sim.traces()
        .filter_map(|k| match k {
            TraceKind::BargeIn { interruption } => Some(interruption.clone()),
            _ => None,
        })
        .collect()
}

fn clears(sim: &Sim) -> usize {
    sim.count(|o| matches!(o, Output::Twilio(Outbound::Clear)))
}

/// The words of `text` that end at or before byte `offset`, and the rest:
/// the heard/cut rule stated independently of the machine.
fn expected_split(text: &str, offset: usize) -> (String, String) {
    let mut heard = Vec::new();
    let mut cut = Vec::new();
    let mut pos = 0;
    for word in text.split(' ') {
        let end = pos + word.len();
        if end <= offset {
            heard.push(word);
        } else {
            cut.push(word);
        }
        pos = end + 1;
    }
    (heard.join(" "), cut.join(" "))
}

/// A call in the middle of speaking `REPLY` (8 kHz TTS, 50 ms a character,
/// so the text offset of any audio position is exact).
fn speaking_sim(cfg: CallConfig) -> Sim {
    let mut sim = Sim::new(cfg);
    sim.tts_rate = 8000;
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(full_reply(id, REPLY)));
    assert_eq!(sim.call.state(), CallState::Speaking);
    sim
}

#[test]
fn barge_in_clears_and_truncates_the_context_to_exactly_the_heard_words() {
    let mut sim = speaking_sim(confirm_first());
    sim.run(ms(500));
    // Speech starts 500 ms into the fixture: ~1 s into the reply.
    sim.say(
        &speech("wait_stop"),
        Some("Actually wait, stop, I have another question."),
    );
    let ok = sim.run_until_pred(ms(3000), |s| clears(s) > 0);
    assert!(ok, "no clear was sent");
    let i = interruptions(&sim).pop().expect("barge-in traced");
    assert!(
        (1000..=1400).contains(&i.heard_audio_ms),
        "heard {} ms",
        i.heard_audio_ms
    );
    // 50 ms per character: the text offset the marks reached.
    let offset = (i.heard_audio_ms / 50) as usize;
    let (heard, cut) = expected_split(REPLY, offset);
    assert!(!heard.is_empty() && !cut.is_empty());
    assert_eq!(i.heard_text, heard);
    assert_eq!(i.cut_text, cut);
    assert!(
        (300.0..420.0).contains(&i.reaction_ms),
        "reaction {} ms",
        i.reaction_ms
    );
    assert_eq!(i.turn_index, 1);
    assert!(sim
        .events()
        .any(|e| matches!(e, LiveEvent::BargeIn { heard_text, .. } if *heard_text == heard)));
    // The context keeps only what was heard.
    let cp = sim.call.checkpoint();
    let last_bot = cp
        .context
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .expect("assistant message");
    assert_eq!(last_bot.content, heard);
    // Nothing more of the cut reply goes out after the clear.
    let clear_at = sim
        .log
        .iter()
        .position(|o| matches!(o, Output::Twilio(Outbound::Clear)))
        .expect("clear");
    assert!(!sim.log[clear_at..]
        .iter()
        .any(|o| matches!(o, Output::Twilio(Outbound::Media(_)))));
    // The turn is closed as interrupted, with the heard text.
    let t = &sim.turns_completed()[0];
    assert!(t.flags.interrupted);
    assert_eq!(t.heard_text.as_deref(), Some(heard.as_str()));
    assert_eq!(t.ai_brain.response_text, REPLY);
    // The interruption becomes the next turn.
    let ok = sim.run_until_pred(ms(5000), |s| {
        s.last_route()
            .is_some_and(|r| r.1 == "Actually wait, stop, I have another question.")
    });
    assert!(ok, "the barge-in utterance was not routed");
    assert_eq!(sim.call.checkpoint().trace.interruptions.len(), 1);
}

#[test]
fn barge_in_cancels_a_streaming_llm_reply_and_its_tts() {
    let mut sim = Sim::new(confirm_first());
    sim.settle();
    let id = sim.say_and_route("leaking_tap", "The kitchen tap has been leaking.");
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let llm_id = sim
        .log
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Llm(r) => Some(r.request_id),
            _ => None,
        })
        .expect("llm request");
    sim.auto_tts = false;
    sim.input(Input::Llm(LlmEvent::Token {
        request_id: llm_id,
        text: "Let me check the schedule for you. ".into(),
    }));
    let tts_id = sim
        .log
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Tts(r) => Some(r.id),
            _ => None,
        })
        .expect("tts request");
    // Two seconds of audio arrive; TTS is still going.
    sim.input(Input::Tts(TtsEvent::Audio {
        id: tts_id,
        pcm: vec![3000; 48_000],
        sample_rate: 24_000,
    }));
    sim.run(ms(300));
    sim.say(&speech("wait_stop"), None);
    assert!(sim.run_until_pred(ms(3000), |s| clears(s) > 0));
    assert_eq!(
        sim.count(|o| matches!(o, Output::LlmCancel { request_id } if *request_id == llm_id)),
        1
    );
    assert_eq!(
        sim.count(|o| matches!(o, Output::TtsCancel { id } if *id == tts_id)),
        1
    );
    // Late events of the cancelled streams change nothing...
    let tts_before = sim.tts_texts().len();
    sim.input(Input::Llm(LlmEvent::Token {
        request_id: llm_id,
        text: "More words. And more. ".into(),
    }));
    sim.input(Input::Tts(TtsEvent::Audio {
        id: tts_id,
        pcm: vec![3000; 24_000],
        sample_rate: 24_000,
    }));
    assert_eq!(sim.tts_texts().len(), tts_before);
    // ...but the cancelled completion's cost is still recorded.
    sim.input(Input::Llm(LlmEvent::Done {
        request_id: llm_id,
        record: LlmCallRecord {
            completion_tokens: 9,
            ..LlmCallRecord::default()
        },
    }));
    let calls = sim.call.checkpoint().trace.llm_calls;
    assert!(calls.last().expect("recorded").cancelled);
}

#[test]
fn a_backchannel_does_not_interrupt_the_bot() {
    let mut sim = speaking_sim(confirm_first());
    sim.run(ms(300));
    let started = |s: &Sim| {
        s.traces()
            .filter(|k| matches!(k, TraceKind::SpeechStarted))
            .count()
    };
    let before = started(&sim);
    sim.say(&speech("uh_huh"), Some("Uh-huh."));
    assert!(
        sim.run_until_pred(ms(2000), |s| started(s) > before),
        "VAD heard the caller"
    );
    // The STT's interim comes in early, before the interruption threshold.
    sim.input(interim("uh huh"));
    sim.settle();
    assert_eq!(clears(&sim), 0);
    assert!(interruptions(&sim).is_empty());
    let t = &sim.turns_completed()[0];
    assert!(!t.flags.interrupted);
    assert_eq!(t.heard_text.as_deref(), Some(REPLY));
    assert_eq!(
        sim.last_route().map(|r| r.1),
        Some("What are your opening hours?".into()),
        "a backchannel is not a turn"
    );
}

#[test]
fn with_min_interrupt_words_only_enough_words_interrupt() {
    let cfg = CallConfig {
        min_interrupt_words: 3,
        ..confirm_first()
    };
    let mut sim = speaking_sim(cfg);
    sim.run(ms(200));
    let started = |s: &Sim| {
        s.traces()
            .filter(|k| matches!(k, TraceKind::SpeechStarted))
            .count()
    };
    let before = started(&sim);
    sim.say(&speech("wait_stop"), None);
    assert!(sim.run_until_pred(ms(2000), |s| started(s) > before));
    sim.input(interim("actually"));
    sim.run(ms(700));
    assert_eq!(clears(&sim), 0, "one word is not enough");
    sim.input(interim("actually wait stop"));
    assert_eq!(clears(&sim), 1, "three words interrupt at once");
    assert_eq!(interruptions(&sim).len(), 1);
}

#[test]
fn speech_while_thinking_cancels_the_pending_route_and_becomes_the_next_turn() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let first = sim.say_and_route("opening_hours", "What are your opening hours?");
    assert_eq!(sim.call.state(), CallState::Thinking);
    sim.say(
        &speech("wait_stop"),
        Some("Actually wait, stop, I have another question."),
    );
    let ok = sim.run_until_pred(ms(5000), |s| s.last_route().is_some_and(|r| r.0 != first));
    assert!(ok, "the new utterance was routed");
    assert_eq!(clears(&sim), 0, "no audio was out, nothing to clear");
    let i = interruptions(&sim).pop().expect("barge-in while thinking");
    assert_eq!(i.heard_text, "");
    assert_eq!(i.heard_audio_ms, 0);
    // The old decision is stale now.
    let tts_before = sim.tts_texts().len();
    sim.input(Input::Route(full_reply(first, "Nine to five.")));
    assert_eq!(sim.tts_texts().len(), tts_before);
    let t = &sim.turns_completed()[0];
    assert!(t.flags.interrupted);
    assert_eq!(t.user_input.text, "What are your opening hours?");
}

#[test]
fn a_mark_echoed_after_clear_counts_as_cleared_not_heard() {
    let mut sim = speaking_sim(confirm_first());
    // Twilio holds echoes back (as on a slow link) until after the clear.
    sim.echo_marks = false;
    sim.run(ms(500));
    sim.say(&speech("wait_stop"), None);
    assert!(sim.run_until_pred(ms(3000), |s| clears(s) > 0));
    let i = interruptions(&sim).pop().expect("barge-in");
    assert_eq!(
        i.heard_audio_ms, 0,
        "no echo before the clear: nothing known heard"
    );
    assert_eq!(i.heard_text, "");
    assert_eq!(i.cut_text, REPLY);
    // The late echoes of the cleared marks do not resurrect the reply.
    let names: Vec<String> = sim
        .traces()
        .filter_map(|k| match k {
            TraceKind::MarkSent { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    for name in &names {
        sim.input(Input::Mark { name });
    }
    assert_eq!(sim.turns_completed()[0].heard_text.as_deref(), Some(""));
}

/// When the fixture's speech starts (the manifest's `speech_start_ms`).
fn speech_start_ms(id: &str) -> u64 {
    let full = speech(id).len();
    let core = speech_core(id).len();
    // The core is cut from the start offset; the fixtures end in a tail of
    // silence, so read the offset from where the core sits in the file.
    let whole = speech(id);
    let start = whole
        .windows(core.min(64))
        .position(|w| w == &speech_core(id)[..core.min(64)])
        .expect("core inside the fixture");
    assert!(start + core <= full);
    start as u64 / 8
}

fn first_clear_at(sim: &Sim) -> Option<usize> {
    sim.log
        .iter()
        .position(|o| matches!(o, Output::Twilio(Outbound::Clear)))
}

#[test]
fn caller_speech_pauses_the_bot_within_the_vad_start_window_then_an_interruption_follows() {
    let mut sim = speaking_sim(test_config());
    sim.run(ms(500));
    let said_at = sim.now;
    let onset = said_at + ms(speech_start_ms("wait_stop"));
    sim.say(
        &speech("wait_stop"),
        Some("Actually wait, stop, I have another question."),
    );
    assert!(sim.run_until_pred(ms(3000), |s| clears(s) > 0));
    let paused_at = sim.now;
    let reaction = paused_at.saturating_duration_since(onset);
    // VAD start window 80 ms, checked every 20 ms frame; +40 ms is the target.
    assert!(reaction <= ms(120), "paused {reaction:?} after the onset");
    assert!(interruptions(&sim).is_empty(), "not yet an interruption");
    let sent_before = sim.frame_times.len();
    sim.run(ms(400));
    assert_eq!(
        sim.frame_times.len(),
        sent_before,
        "nothing sent while paused"
    );
    assert!(
        interruptions(&sim).is_empty(),
        "paused, the call waits for words before it interrupts"
    );
    sim.input(interim("actually wait"));
    let i = interruptions(&sim).pop().expect("then the interruption");
    assert_eq!(clears(&sim), 1, "the pause's clear was the only one");
    // What was heard is what played before the pause (1 s of reply, then
    // the fixture's lead-in of silence before the onset).
    assert!(
        (1000..=1700).contains(&i.heard_audio_ms),
        "heard {} ms",
        i.heard_audio_ms
    );
    assert!(i.reaction_ms >= 300.0, "{}", i.reaction_ms);
    let (heard, _) = expected_split(REPLY, (i.heard_audio_ms / 50) as usize);
    assert_eq!(i.heard_text, heard);
}

#[test]
fn a_backchannel_pauses_the_bot_which_then_resumes_where_it_stopped() {
    let mut sim = speaking_sim(test_config());
    sim.run(ms(300));
    sim.say(&speech("uh_huh"), Some("Uh-huh."));
    assert!(sim.run_until_pred(ms(2000), |s| clears(s) > 0), "paused");
    // The STT's interim comes in early, before the interruption threshold.
    sim.input(interim("uh huh"));
    let cleared = first_clear_at(&sim).expect("clear");
    sim.settle();
    assert_eq!(clears(&sim), 1);
    assert!(interruptions(&sim).is_empty());
    assert!(
        sim.log[cleared..]
            .iter()
            .any(|o| matches!(o, Output::Twilio(Outbound::Media(_)))),
        "audio again after the pause"
    );
    // Nothing of the reply was skipped: it all played once, give or take
    // the frame under the playhead at the pause.
    let reply_ms = REPLY.len() as f64 * 50.0;
    let greeting_ms = "Hi, I am an AI assistant.".len() as f64 * 50.0;
    let reply_played = sim.played_ms - greeting_ms;
    assert!(
        (reply_ms - 20.0..=reply_ms + 40.0).contains(&reply_played),
        "reply {reply_ms} ms, played {reply_played} ms"
    );
    let t = &sim.turns_completed()[0];
    assert!(!t.flags.interrupted);
    assert_eq!(t.heard_text.as_deref(), Some(REPLY));
    assert!(sim
        .traces()
        .any(|k| matches!(k, TraceKind::Note { message } if message.contains("resumed after"))));
}

#[test]
fn without_barge_in_pause_the_bot_talks_on_until_the_interruption_is_confirmed() {
    let mut sim = speaking_sim(confirm_first());
    sim.run(ms(500));
    let onset = sim.now + ms(speech_start_ms("wait_stop"));
    sim.say(&speech("wait_stop"), Some("Actually wait."));
    assert!(sim.run_until_pred(ms(3000), |s| clears(s) > 0));
    let reaction = sim.now.saturating_duration_since(onset);
    assert!(reaction >= ms(280), "cleared {reaction:?} after the onset");
}
