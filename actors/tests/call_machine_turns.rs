//! The `Call` machine's ordinary turns in virtual time: greeting, a routed
//! scenario reply, a streamed LLM reply, pacing and marks, the endpoint
//! timeout and stale events.

mod call_machine_support;

use call_machine_support::*;
use switchboard_actors::call::{CallConfig, CallState, Input, LiveEvent, Outbound, Output};
use switchboard_actors::llm_pool::LlmEvent;
use switchboard_actors::providers::{Role, SttEvent, TtsEvent};
use switchboard_actors::router::{ReplyStrategy, RouteDecision, ScenarioMatch, ScenarioType};
use switchboard_actors::trace::{LlmCallRecord, TraceKind};

fn scenario(strategy: ReplyStrategy, quick: Option<&str>, full: Option<&str>) -> ScenarioMatch {
    ScenarioMatch {
        id: "hours".into(),
        name: "Opening hours".into(),
        kind: ScenarioType::InfoFaq,
        strategy,
        quick_reply: quick.map(Into::into),
        full_reply: full.map(Into::into),
        escalate: false,
    }
}

fn decision(request_id: u64, s: Option<ScenarioMatch>) -> RouteDecision {
    RouteDecision {
        request_id,
        tier: s.as_ref().map(|_| 1),
        tier1_score: Some(0.92),
        tier2_score: Some(0.4),
        scenario: s,
        elapsed_us: 850,
        ..RouteDecision::default()
    }
}

#[test]
fn start_greets_the_caller_with_the_ai_disclosure_and_listens_once_heard() {
    let mut sim = Sim::new(test_config());
    assert!(matches!(
        sim.traces().next(),
        Some(TraceKind::CallStarted { .. })
    ));
    assert!(sim.events().any(
        |e| matches!(e, LiveEvent::CallStarted { caller: Some(c), .. } if c == "+15550001111")
    ));
    assert_eq!(sim.tts_texts(), vec!["Hi, I am an AI assistant."]);
    assert_eq!(
        sim.call.state(),
        CallState::Speaking,
        "greeting audio is out"
    );
    sim.settle();
    assert_eq!(sim.call.state(), CallState::Listening);
    // 25 chars x 50 ms of greeting, all of it played.
    assert!(sim.played_ms >= 1250.0, "played {}", sim.played_ms);
}

#[test]
fn media_before_start_is_ignored() {
    let t0 = std::time::Instant::now();
    let mut call = switchboard_actors::call::Call::new(std::sync::Arc::new(test_config()), t0);
    call.handle_input(
        t0,
        Input::Media {
            timestamp_ms: 0,
            ulaw: &[0u8; 160],
        },
    );
    assert!(call.poll_output().is_none());
    assert_eq!(call.state(), CallState::Connecting);
    assert_eq!(call.poll_timeout(), None);
}

#[test]
fn a_full_turn_routes_speaks_the_scenario_and_traces_every_stage() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    assert_eq!(sim.call.state(), CallState::Thinking);
    assert!(sim.count(|o| matches!(o, Output::SttFinalize)) >= 1);
    let full = "We are open from nine to five, Monday to Friday.";
    sim.input(Input::Route(decision(
        id,
        Some(scenario(
            ReplyStrategy::FullOnly,
            Some("Nine to five."),
            Some(full),
        )),
    )));
    assert_eq!(sim.tts_texts().last().map(String::as_str), Some(full));
    sim.settle();
    let turns = sim.turns_completed();
    assert_eq!(turns.len(), 1);
    let t = &turns[0];
    assert_eq!(t.turn_index, 1);
    assert_eq!(t.user_input.text, "What are your opening hours?");
    assert_eq!(t.user_input.asr_confidence, Some(0.95));
    assert_eq!(t.ai_brain.tier_used, Some(1));
    assert_eq!(t.ai_brain.tier1_score, Some(0.92));
    assert_eq!(t.ai_brain.tier2_score, Some(0.4));
    assert_eq!(t.ai_brain.scenario_id.as_deref(), Some("hours"));
    assert_eq!(
        t.ai_brain.scenario_type_resolved.as_deref(),
        Some("INFO_FAQ")
    );
    assert_eq!(
        t.ai_brain.reply_strategy_resolved.as_deref(),
        Some("FULL_ONLY")
    );
    assert_eq!(t.ai_brain.response_strategy_used.as_deref(), Some("full"));
    assert_eq!(t.ai_brain.response_text, full);
    assert_eq!(t.heard_text.as_deref(), Some(full));
    assert!(!t.flags.interrupted);
    let tm = &t.timing;
    assert_eq!(tm.ai_brain_time_ms, Some(0.85));
    let stt = tm.stt_final_ms.expect("stt final timed");
    let route = tm.route_decided_ms.expect("route timed");
    let tts = tm.tts_first_byte_ms.expect("tts timed");
    let out = tm.first_audio_out_ms.expect("audio out timed");
    let heard = tm.first_audio_heard_ms.expect("heard timed");
    assert!(
        stt <= route && route <= tts && tts <= out && out < heard,
        "{tm:?}"
    );
    assert_eq!(tm.total_turn_time_ms, Some(out));
    // The VAD's stop_ms is the least the STT final can take after speech ended.
    assert!((300.0..700.0).contains(&stt), "stt final at {stt} ms");
    assert!(t.sentiment.is_some());
    // The context holds the exchange.
    let cp = sim.call.checkpoint();
    let roles: Vec<Role> = cp.context.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::System, Role::Assistant, Role::User, Role::Assistant]
    );
    assert_eq!(cp.context[3].content, full);
    // Live interactions for both speakers.
    let speakers: Vec<&str> = sim
        .events()
        .filter_map(|e| match e {
            LiveEvent::InteractionAdded { speaker, .. } => Some(speaker.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(speakers, ["user", "bot"]);
}

#[test]
fn quick_then_full_speaks_both_and_quick_only_speaks_the_quick_reply() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(decision(
        id,
        Some(scenario(
            ReplyStrategy::QuickThenFull,
            Some("Sure."),
            Some("Nine to five."),
        )),
    )));
    let texts = sim.tts_texts();
    assert_eq!(&texts[texts.len() - 2..], ["Sure.", "Nine to five."]);
    sim.settle();
    let id = sim.say_and_route(
        "boiler_service_cost",
        "How much does a boiler service cost?",
    );
    sim.input(Input::Route(decision(
        id,
        Some(scenario(
            ReplyStrategy::QuickOnly,
            Some("Ninety pounds."),
            Some("It is ninety."),
        )),
    )));
    assert_eq!(
        sim.tts_texts().last().map(String::as_str),
        Some("Ninety pounds.")
    );
    sim.settle();
    let turns = sim.turns_completed();
    assert_eq!(turns[0].ai_brain.response_text, "Sure. Nine to five.");
    assert_eq!(
        turns[0].ai_brain.response_strategy_used.as_deref(),
        Some("quick_then_full")
    );
    assert_eq!(
        turns[1].ai_brain.response_strategy_used.as_deref(),
        Some("quick")
    );
}

#[test]
fn no_scenario_streams_an_llm_reply_sentence_by_sentence() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route(
        "leaking_tap",
        "The kitchen tap has been leaking since yesterday.",
    );
    sim.input(Input::Route(decision(id, None)));
    let req = sim
        .log
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Llm(r) => Some(r.clone()),
            _ => None,
        })
        .expect("an LLM request");
    assert_eq!(req.messages[0].role, Role::System);
    assert_eq!(
        req.messages.last().map(|m| m.content.as_str()),
        Some("The kitchen tap has been leaking since yesterday.")
    );
    let tts_before = sim.tts_texts().len();
    for tok in [
        "I'm sorry",
        " to hear",
        " that.",
        " A plumber",
        " can come",
        " today.",
    ] {
        sim.input(Input::Llm(LlmEvent::Token {
            request_id: req.request_id,
            text: tok.into(),
        }));
    }
    // The first sentence went to TTS as soon as the next token showed it ended.
    assert_eq!(sim.tts_texts()[tts_before..], ["I'm sorry to hear that."]);
    let record = LlmCallRecord {
        model: "gpt-test".into(),
        purpose: "llm_reply".into(),
        prompt_tokens: 40,
        completion_tokens: 12,
        cost_usd: 0.001,
        ..LlmCallRecord::default()
    };
    sim.input(Input::Llm(LlmEvent::Done {
        request_id: req.request_id,
        record: record.clone(),
    }));
    assert_eq!(
        sim.tts_texts()[tts_before..],
        ["I'm sorry to hear that.", "A plumber can come today."]
    );
    sim.settle();
    let t = &sim.turns_completed()[0];
    assert_eq!(t.ai_brain.response_strategy_used.as_deref(), Some("llm"));
    assert_eq!(
        t.ai_brain.response_text,
        "I'm sorry to hear that. A plumber can come today."
    );
    assert!(t.timing.llm_first_token_ms.is_some());
    assert!(sim
        .traces()
        .any(|k| matches!(k, TraceKind::LlmCall { call } if call.model == "gpt-test")));
    assert_eq!(sim.call.checkpoint().trace.llm_calls, vec![record]);
}

#[test]
fn an_empty_or_failed_llm_reply_speaks_the_fallback_and_flags_a_null_response() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(decision(id, None)));
    let llm_id = |sim: &Sim| {
        sim.log.iter().rev().find_map(|o| match o {
            Output::Llm(r) => Some(r.request_id),
            _ => None,
        })
    };
    let first = llm_id(&sim).expect("llm request");
    sim.input(Input::Llm(LlmEvent::Done {
        request_id: first,
        record: LlmCallRecord::default(),
    }));
    let texts = sim.tts_texts();
    assert_eq!(
        texts[texts.len() - 2..].join(" "),
        test_config().fallback_text
    );
    sim.settle();
    let id = sim.say_and_route("boiler_service_cost", "How much is a boiler service?");
    sim.input(Input::Route(decision(id, None)));
    let second = llm_id(&sim).expect("llm request");
    assert_ne!(first, second);
    sim.input(Input::Llm(LlmEvent::Shed {
        request_id: second,
        fallback: "One moment, we are very busy.".into(),
    }));
    assert_eq!(
        sim.tts_texts().last().map(String::as_str),
        Some("One moment, we are very busy.")
    );
    sim.settle();
    let turns = sim.turns_completed();
    assert!(turns.iter().all(|t| t.flags.null_response));
    assert_eq!(
        turns[0].ai_brain.response_strategy_used.as_deref(),
        Some("fallback")
    );
}

#[test]
fn outbound_audio_stays_within_the_lead_with_a_mark_every_100_ms_and_batched_wakeups() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    let long = "This is a long answer that keeps on going for a good while so that pacing matters.";
    sim.max_lead_ms = 0.0;
    let frames_before = sim.frame_times.len();
    sim.input(Input::Route(decision(
        id,
        Some(scenario(ReplyStrategy::FullOnly, None, Some(long))),
    )));
    sim.settle();
    assert!(
        sim.max_lead_ms <= 300.0,
        "lead reached {} ms",
        sim.max_lead_ms
    );
    assert!(
        sim.max_lead_ms >= 280.0,
        "the lead is used: {} ms",
        sim.max_lead_ms
    );
    let sends = &sim.frame_times[frames_before..];
    let audio_ms = sends.len() as f64 * 20.0;
    assert!(audio_ms > 4000.0);
    // Marks: one per ~100 ms of audio, plus the end mark.
    let marks: Vec<(u64, usize)> = sim
        .traces()
        .filter_map(|k| match k {
            TraceKind::MarkSent {
                audio_ms,
                text_offset,
                ..
            } => Some((*audio_ms, *text_offset)),
            _ => None,
        })
        .collect();
    assert!(marks.len() as f64 >= audio_ms / 100.0 - 2.0);
    for w in marks.windows(2) {
        if w[1].0 > w[0].0 {
            assert!(w[1].0 - w[0].0 <= 100, "marks {w:?} too far apart");
            assert!(w[1].1 >= w[0].1, "text offsets go forward");
        }
    }
    // Frames leave in batches: far fewer distinct send instants than frames.
    let mut instants = sends.to_vec();
    instants.dedup();
    assert!(
        instants.len() * 3 < sends.len(),
        "{} send instants for {} frames",
        instants.len(),
        sends.len()
    );
    // Every mark was echoed and every frame played.
    assert!(
        sim.count(|o| matches!(o, Output::Trace(TraceKind::MarkEchoed { .. })))
            >= sim.count(|o| matches!(o, Output::Twilio(Outbound::Mark(_))))
    );
}

#[test]
fn the_endpoint_timeout_ends_a_turn_without_an_stt_final() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.say(&speech("book_tuesday"), None);
    // An interim arrives mid-speech; no final ever does.
    sim.run(ms(1500));
    sim.input(Input::Stt(SttEvent::Transcript {
        text: "I'd like to book an appointment".into(),
        confidence: 0.8,
        is_final: false,
        speech_final: false,
        from_finalize: false,
        start_s: 0.0,
        duration_s: 1.0,
    }));
    let ok = sim.run_until_pred(ms(6000), |s| s.last_route().is_some());
    assert!(ok);
    let (_, utterance) = sim.last_route().expect("routed");
    assert_eq!(utterance, "I'd like to book an appointment");
    // Routed at the endpoint timeout after the VAD stop, not before.
    let stopped_at = sim
        .log
        .iter()
        .position(|o| matches!(o, Output::SttFinalize))
        .expect("finalize asked");
    let routed_at = sim
        .log
        .iter()
        .position(|o| matches!(o, Output::Route(_)))
        .expect("routed");
    assert!(stopped_at < routed_at);
}

#[test]
fn stale_route_llm_and_tts_events_are_dropped() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    let before = sim.log.len();
    sim.input(Input::Route(decision(
        id + 1000,
        Some(scenario(ReplyStrategy::FullOnly, None, Some("Wrong."))),
    )));
    sim.input(Input::Llm(LlmEvent::Token {
        request_id: 424242,
        text: "Nope. ".into(),
    }));
    sim.input(Input::Tts(TtsEvent::Audio {
        id: 777777,
        pcm: vec![1000; 2400],
        sample_rate: 24_000,
    }));
    sim.input(Input::Tts(TtsEvent::Done { id: 777777 }));
    assert!(
        sim.log[before..]
            .iter()
            .all(|o| !matches!(o, Output::Tts(_) | Output::Twilio(Outbound::Media(_)))),
        "stale events produced output: {:?}",
        &sim.log[before..]
    );
    assert_eq!(sim.call.state(), CallState::Thinking);
    // The real decision still works.
    sim.input(Input::Route(decision(
        id,
        Some(scenario(ReplyStrategy::FullOnly, None, Some("Right."))),
    )));
    assert_eq!(sim.tts_texts().last().map(String::as_str), Some("Right."));
}

#[test]
fn tts_audio_of_other_rates_is_converted_to_8k_frames() {
    for rate in [8000, 16_000, 48_000, 22_050] {
        let mut sim = Sim::new(test_config());
        sim.tts_rate = rate;
        sim.settle();
        // 25 chars x 50 ms = 1250 ms of greeting = 62.5 frames.
        let frames = sim.frame_times.len();
        assert!((62..=66).contains(&frames), "{rate} Hz: {frames} frames");
    }
}

#[test]
fn inbound_audio_goes_to_stt_in_batches_and_media_time_follows_twilio_gaps() {
    let t0 = std::time::Instant::now();
    // Ungated, so that silence is forwarded too.
    let cfg = CallConfig {
        stt_gate: false,
        ..test_config()
    };
    let mut call = switchboard_actors::call::Call::new(std::sync::Arc::new(cfg), t0);
    call.handle_input(t0, Input::Start(Default::default()));
    while call.poll_output().is_some() {}
    let mut batches = Vec::new();
    for i in 0..6u64 {
        let now = t0 + ms(20 * (i + 1));
        call.handle_input(
            now,
            Input::Media {
                timestamp_ms: 20 * i,
                ulaw: &[0xFF; 160],
            },
        );
        while let Some(o) = call.poll_output() {
            if let Output::SttAudio(b) = o {
                batches.push(b.len());
            }
        }
    }
    assert_eq!(batches, [480, 480], "60 ms batches");
    assert_eq!(call.checkpoint().media_ms, 120);
    // Twilio's timestamp says 2 s of frames were lost: media time follows.
    call.handle_input(
        t0 + ms(2200),
        Input::Media {
            timestamp_ms: 2120,
            ulaw: &[0xFF; 160],
        },
    );
    assert_eq!(call.checkpoint().media_ms, 2140);
    // A bogus timestamp far in the future is ignored.
    call.handle_input(
        t0 + ms(2220),
        Input::Media {
            timestamp_ms: u64::MAX,
            ulaw: &[0xFF; 160],
        },
    );
    assert_eq!(call.checkpoint().media_ms, 2160);
}

#[test]
fn a_backchannel_as_the_bot_finishes_is_not_taken_for_a_turn() {
    let mut sim = Sim::new(test_config());
    // Speech starts 500 ms into the fixture, 100 ms before the greeting
    // (25 chars x 50 ms = 1250 ms, + 300 ms lead) has played out.
    sim.say(&speech("uh_huh"), Some("Uh-huh."));
    let heard = |s: &Sim| s.traces().any(|k| matches!(k, TraceKind::SpeechStarted));
    assert!(sim.run_until_pred(ms(1000), heard));
    assert_eq!(sim.call.state(), CallState::Speaking);
    sim.input(Input::Stt(SttEvent::Transcript {
        text: "uh huh".into(),
        confidence: 0.9,
        is_final: false,
        speech_final: false,
        from_finalize: false,
        start_s: 0.0,
        duration_s: 0.4,
    }));
    sim.run(ms(5000));
    assert!(sim.last_route().is_none(), "a backchannel answers nothing");
    assert!(sim.turns_completed().is_empty());
    assert_eq!(sim.call.state(), CallState::Listening);
}

#[test]
fn a_yes_that_outlasts_the_bot_is_an_answer() {
    let mut sim = Sim::new(test_config());
    // Speech runs from 0.5 s to 2.1 s; the greeting ends at ~1.3 s.
    sim.say(&speech("yes_that_works"), Some("Yes."));
    let heard = |s: &Sim| s.traces().any(|k| matches!(k, TraceKind::SpeechStarted));
    assert!(sim.run_until_pred(ms(1000), heard));
    sim.input(Input::Stt(SttEvent::Transcript {
        text: "yes".into(),
        confidence: 0.9,
        is_final: false,
        speech_final: false,
        from_finalize: false,
        start_s: 0.0,
        duration_s: 0.3,
    }));
    let ok = sim.run_until_pred(ms(5000), |s| s.last_route().is_some());
    assert!(ok, "the answer was dropped");
    assert_eq!(sim.last_route().map(|r| r.1).as_deref(), Some("Yes."));
    // The one clear is the pause at the caller's onset (`barge_in_pause`);
    // the caller outlasted what the greeting had left, so it is an answer.
    assert_eq!(
        sim.count(|o| matches!(o, Output::Twilio(Outbound::Clear))),
        1
    );
}

#[test]
fn an_stt_final_that_beats_the_vad_stop_ends_the_turn_at_the_vad_stop() {
    // STT endpointing (300 ms) is often shorter than the VAD's silence
    // window (400 ms): the final then arrives while the VAD still hears the
    // caller, and the turn must end as soon as the VAD closes, not at the
    // endpoint timeout. (With `early_end_ms` it ends sooner still: see
    // stt_endpointing_and_vad_silence_agreeing_end_the_turn_before_the_stop_window.)
    let cfg = CallConfig {
        early_end_ms: 0,
        ..test_config()
    };
    let endpoint_timeout = ms(cfg.endpoint_timeout_ms);
    let mut sim = Sim::new(cfg);
    sim.settle();
    sim.say(&speech_core("opening_hours"), None);
    assert!(sim.run_until_pred(ms(10_000), |s| s.inbound.is_empty()));
    sim.input(speech_final("What are your opening hours?"));
    let final_at = sim.now;
    assert!(sim.last_route().is_none(), "the VAD has not closed yet");
    assert!(sim.run_until_pred(ms(3_000), |s| s.last_route().is_some()));
    let waited = sim.now - final_at;
    assert!(
        waited < ms(600) && waited < endpoint_timeout,
        "routed {waited:?} after the final: at the VAD stop, not the endpoint timeout"
    );
    let (_, text) = sim.last_route().unwrap();
    assert_eq!(text, "What are your opening hours?");
}

fn stt_bytes(sim: &Sim) -> Vec<u8> {
    sim.log
        .iter()
        .filter_map(|o| match o {
            Output::SttAudio(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

#[test]
fn a_gated_stt_stream_hears_the_whole_utterance_with_its_preroll_and_no_silence() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.run(ms(3000));
    assert!(stt_bytes(&sim).is_empty(), "silence is not sent to STT");
    sim.say(
        &speech("opening_hours"),
        Some("What are your opening hours?"),
    );
    sim.run(ms(4000));
    let sent = stt_bytes(&sim);
    let core = speech_core("opening_hours");
    assert!(
        sent.windows(core.len()).any(|w| w == core.as_slice()),
        "every voiced sample reached STT, in order"
    );
    let bound = core.len() + 8 * (300 + 400 + 200);
    assert!(
        sent.len() <= bound && sent.len() % 160 == 0,
        "speech, pre-roll and the stop window only, in whole frames: {} > {bound}",
        sent.len()
    );
    let before = sent.len();
    sim.run(ms(5000));
    assert_eq!(stt_bytes(&sim).len(), before, "shut again after the offset");
}

#[test]
fn an_ungated_stt_stream_hears_every_frame() {
    let cfg = CallConfig {
        stt_gate: false,
        ..test_config()
    };
    let mut sim = Sim::new(cfg);
    sim.run(ms(2000));
    // 100 frames of 20 ms went in; all but the last unfilled batch went on.
    let sent = stt_bytes(&sim).len();
    assert!(
        (97 * 160..=100 * 160).contains(&sent),
        "{sent} bytes of 16000"
    );
}

fn media_sizes(sim: &Sim) -> Vec<usize> {
    sim.log
        .iter()
        .filter_map(|o| match o {
            Output::Twilio(Outbound::Media(b)) => Some(b.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refill_of_the_lead_leaves_as_one_media_message_per_mark() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let sizes = media_sizes(&sim);
    let total: usize = sizes.iter().sum();
    // 1250 ms of greeting in 100 ms messages (the first fill and the tail
    // may be cut differently), not 63 single frames.
    assert!(sizes.len() <= 16, "{} messages: {sizes:?}", sizes.len());
    assert!(sizes.iter().all(|&n| n <= 800), "{sizes:?}");
    assert!((9_900..=10_400).contains(&total), "{total} bytes");
    // Every mark follows audio: the echo still means "played up to here".
    let mut last_was_media = false;
    for o in &sim.log {
        match o {
            Output::Twilio(Outbound::Media(_)) => last_was_media = true,
            Output::Twilio(Outbound::Mark(_)) => {
                assert!(last_was_media, "a mark right after another mark");
                last_was_media = false;
            }
            _ => {}
        }
    }
    let single = CallConfig {
        max_media_ms: 20,
        ..test_config()
    };
    let mut sim = Sim::new(single);
    sim.settle();
    let sizes = media_sizes(&sim);
    assert!(sizes.len() >= 62 && sizes.iter().all(|&n| n <= 160));
}

#[test]
fn later_sentences_wait_for_tts_in_playing_order_within_the_look_ahead() {
    use switchboard_actors::call::{Command, SupervisorCommand};
    let mut sim = Sim::new(test_config());
    sim.settle();
    sim.auto_tts = false;
    sim.take_new();
    sim.input(Input::Command(Command {
        who: "sup-1".into(),
        command: SupervisorCommand::Say {
            text: "One is first. Two comes next. Three follows. Four ends it.".into(),
            now: false,
        },
    }));
    let requested = |sim: &mut Sim| -> Vec<(u64, String)> {
        sim.take_new()
            .iter()
            .filter_map(|o| match o {
                Output::Tts(r) => Some((r.id, r.text.clone())),
                _ => None,
            })
            .collect()
    };
    let first = requested(&mut sim);
    let texts: Vec<&str> = first.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["One is first.", "Two comes next."], "tts_ahead = 2");
    for (id, _) in &first {
        sim.input(Input::Tts(TtsEvent::Audio {
            id: *id,
            pcm: vec![2000; 24_000],
            sample_rate: 24_000,
        }));
    }
    assert!(requested(&mut sim).is_empty(), "both still synthesising");
    sim.input(Input::Tts(TtsEvent::Done { id: first[1].0 }));
    let third = requested(&mut sim);
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].1, "Three follows.");
    sim.auto_tts = true;
    sim.input(Input::Tts(TtsEvent::Done { id: first[0].0 }));
    sim.input(Input::Tts(TtsEvent::Done { id: third[0].0 }));
    sim.settle();
    let last = sim.tts_texts();
    assert_eq!(last.last().map(String::as_str), Some("Four ends it."));
}

fn speech_final(text: &str) -> Input<'static> {
    Input::Stt(SttEvent::Transcript {
        text: text.into(),
        confidence: 0.93,
        is_final: true,
        speech_final: true,
        from_finalize: false,
        start_s: 0.0,
        duration_s: 1.2,
    })
}

/// A settled call to which the caller is saying the voiced part of
/// "opening_hours"; returns it and the speech's length in ms.
fn saying_opening_hours(cfg: CallConfig) -> (Sim, u64) {
    let mut sim = Sim::new(cfg);
    sim.settle();
    let core = speech_core("opening_hours");
    sim.say(&core, None);
    (sim, core.len() as u64 / 8)
}

fn speech_stops(sim: &Sim) -> usize {
    sim.traces()
        .filter(|k| matches!(k, TraceKind::SpeechStopped))
        .count()
}

#[test]
fn stt_endpointing_and_vad_silence_agreeing_end_the_turn_before_the_stop_window() {
    let (mut sim, speech_ms) = saying_opening_hours(test_config());
    // The words, then 300 ms of silence: the VAD's 400 ms window is not full.
    sim.run(ms(speech_ms + 300));
    assert!(sim.last_route().is_none(), "no turn yet");
    sim.input(speech_final("What are your opening hours?"));
    let (_, text) = sim.last_route().expect("the turn ended at once");
    assert_eq!(text, "What are your opening hours?");
    assert_eq!(speech_stops(&sim), 1, "the early end is traced as the stop");
    // The VAD's own stop window passing later changes nothing.
    sim.run(ms(600));
    assert_eq!(speech_stops(&sim), 1);
}

#[test]
fn an_stt_endpoint_while_the_vad_still_hears_speech_does_not_end_the_turn() {
    let (mut sim, speech_ms) = saying_opening_hours(test_config());
    sim.run(ms(speech_ms / 2));
    sim.input(speech_final("What are"));
    sim.run(ms(speech_ms / 2 + 100));
    assert!(sim.last_route().is_none(), "the caller is still talking");
    sim.run(ms(1500));
    assert!(sim.last_route().is_some(), "the VAD's stop ends it");
}

#[test]
fn with_early_end_off_the_turn_waits_for_the_vad_stop_window() {
    let (mut sim, speech_ms) = saying_opening_hours(CallConfig {
        early_end_ms: 0,
        ..test_config()
    });
    sim.run(ms(speech_ms + 300));
    sim.input(speech_final("What are your opening hours?"));
    assert!(sim.last_route().is_none());
    sim.run(ms(300));
    assert!(sim.last_route().is_some());
}
