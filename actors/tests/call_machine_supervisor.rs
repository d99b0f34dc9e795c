//! Supervisor commands on a live `Call`, in virtual time: say now / next,
//! instruct, pause / resume, takeover, escalate and end, each traced.

mod call_machine_support;

use call_machine_support::*;
use switchboard_actors::call::{
    CallState, Command, Input, LiveEvent, Outbound, Output, SupervisorCommand,
};
use switchboard_actors::providers::Role;
use switchboard_actors::router::{ReplyStrategy, RouteDecision, ScenarioMatch, ScenarioType};
use switchboard_actors::trace::{Outcome, TraceKind};

fn command(sim: &mut Sim, c: SupervisorCommand) {
    sim.input(Input::Command(Command {
        who: "sup-1".into(),
        command: c,
    }));
}

fn reply(request_id: u64, text: &str) -> RouteDecision {
    RouteDecision {
        request_id,
        tier: Some(1),
        scenario: Some(ScenarioMatch {
            id: "s".into(),
            name: "S".into(),
            kind: ScenarioType::InfoFaq,
            strategy: ReplyStrategy::FullOnly,
            quick_reply: None,
            full_reply: Some(text.into()),
            escalate: false,
        }),
        ..RouteDecision::default()
    }
}

fn actions(sim: &Sim) -> Vec<String> {
    sim.traces()
        .filter_map(|k| match k {
            TraceKind::Supervisor { action } => Some(action.action.clone()),
            _ => None,
        })
        .collect()
}

const LONG: &str = "Here is a rather long answer about our many services and prices.";

#[test]
fn say_now_cuts_the_bot_off_and_speaks_at_once() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(reply(id, LONG)));
    sim.run(ms(400));
    command(
        &mut sim,
        SupervisorCommand::Say {
            text: "Sorry, a colleague here: we close early today.".into(),
            now: true,
        },
    );
    assert_eq!(
        sim.count(|o| matches!(o, Output::Twilio(Outbound::Clear))),
        1
    );
    let texts = sim.tts_texts();
    assert_eq!(
        texts[texts.len() - 2..].join(" "),
        "Sorry, a colleague here: we close early today."
    );
    sim.settle();
    assert_eq!(actions(&sim), ["say_now"]);
    assert!(sim
        .events()
        .any(|e| matches!(e, LiveEvent::SupervisorAction { who, action, .. } if who == "sup-1" && action == "say_now")));
    let cp = sim.call.checkpoint();
    assert_eq!(cp.trace.supervisor_actions[0].who, "sup-1");
    assert!(cp.trace.interruptions.is_empty(), "not a caller barge-in");
    assert!(cp.context.iter().any(|m| m.content.contains("close early")));
}

#[test]
fn say_next_waits_for_the_current_reply() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    sim.input(Input::Route(reply(id, LONG)));
    sim.run(ms(300));
    command(
        &mut sim,
        SupervisorCommand::Say {
            text: "One more thing.".into(),
            now: false,
        },
    );
    assert_eq!(
        sim.count(|o| matches!(o, Output::Twilio(Outbound::Clear))),
        0
    );
    sim.settle();
    // The reply was heard whole, then the supervisor's words.
    let t = &sim.turns_completed()[0];
    assert_eq!(t.heard_text.as_deref(), Some(LONG));
    let marks: Vec<String> = sim
        .traces()
        .filter_map(|k| match k {
            TraceKind::MarkEchoed { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let reply_of = |m: &String| m.split('-').next().map(str::to_owned);
    let order: Vec<_> = marks
        .iter()
        .filter_map(reply_of)
        .fold(Vec::new(), |mut v, r| {
            if v.last() != Some(&r) {
                v.push(r);
            }
            v
        });
    assert_eq!(
        order.len(),
        3,
        "greeting, reply, then the supervisor's words: {order:?}"
    );
}

#[test]
fn instruct_adds_a_system_message_to_later_llm_requests() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    command(
        &mut sim,
        SupervisorCommand::Instruct {
            text: "Offer a 10% discount.".into(),
        },
    );
    let id = sim.say_and_route(
        "boiler_service_cost",
        "How much does a boiler service cost?",
    );
    sim.input(Input::Route(RouteDecision {
        request_id: id,
        ..RouteDecision::default()
    }));
    let req = sim
        .log
        .iter()
        .find_map(|o| match o {
            Output::Llm(r) => Some(r.clone()),
            _ => None,
        })
        .expect("llm request");
    assert!(req
        .messages
        .iter()
        .any(|m| m.role == Role::System && m.content.contains("10% discount")));
}

#[test]
fn pause_holds_the_caller_and_only_transcribes_until_resume() {
    let cfg = test_config();
    let hold = cfg.hold_text.clone();
    let mut sim = Sim::new(cfg);
    sim.settle();
    command(&mut sim, SupervisorCommand::Pause);
    assert!(sim.tts_texts().join(" ").contains(&hold));
    assert_eq!(sim.call.state(), CallState::Paused);
    sim.say(
        &speech("opening_hours"),
        Some("What are your opening hours?"),
    );
    sim.run(ms(5000));
    assert!(
        sim.last_route().is_none(),
        "the AI does not answer while paused"
    );
    let turns = sim.turns_completed();
    assert_eq!(turns.len(), 1, "the turn is still traced");
    assert_eq!(turns[0].user_input.text, "What are your opening hours?");
    assert_eq!(turns[0].ai_brain.response_text, "");
    sim.run(ms(30_000));
    assert!(!sim.call.is_finished(), "no idle hang-up on hold");
    command(&mut sim, SupervisorCommand::Resume);
    assert_eq!(sim.call.state(), CallState::Listening);
    sim.say_and_route(
        "book_tuesday",
        "I'd like to book an appointment for Tuesday.",
    );
    assert_eq!(actions(&sim), ["pause", "resume"]);
}

#[test]
fn takeover_mutes_the_ai_for_good_but_say_still_speaks() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    let id = sim.say_and_route("opening_hours", "What are your opening hours?");
    command(&mut sim, SupervisorCommand::Takeover);
    let tts = sim.tts_texts().len();
    sim.input(Input::Route(reply(id, "Nine to five.")));
    assert_eq!(
        sim.tts_texts().len(),
        tts,
        "a stale or muted answer is not spoken"
    );
    sim.say(
        &speech("book_tuesday"),
        Some("I'd like to book an appointment for Tuesday."),
    );
    sim.run(ms(6000));
    assert_eq!(
        sim.last_route().map(|r| r.0),
        Some(id),
        "no routing after takeover"
    );
    command(
        &mut sim,
        SupervisorCommand::Say {
            text: "This is Anna, I can book that.".into(),
            now: false,
        },
    );
    assert!(sim.tts_texts().join(" ").contains("This is Anna"));
    sim.run(ms(60_000));
    assert!(
        !sim.call.is_finished(),
        "no idle rules once a human took over"
    );
}

#[test]
fn escalate_tells_the_caller_then_hands_over_to_the_target() {
    let mut sim = Sim::new(test_config());
    sim.settle();
    command(
        &mut sim,
        SupervisorCommand::Escalate {
            target: "+15559990000".into(),
            reason: "VIP customer".into(),
        },
    );
    assert_eq!(sim.call.state(), CallState::Ending);
    sim.run(ms(10_000));
    let esc = sim
        .log
        .iter()
        .find_map(|o| match o {
            Output::Escalate(e) => Some(e.clone()),
            _ => None,
        })
        .expect("escalated");
    assert_eq!(esc.trigger, "supervisor");
    assert_eq!(esc.target.as_deref(), Some("+15559990000"));
    assert_eq!(esc.reason.as_deref(), Some("VIP customer"));
    // Twilio never stops the stream: give up waiting, still escalated.
    sim.run(ms(20_000));
    let trace = sim.finished_trace().expect("finished");
    assert_eq!(trace.final_outcome, Outcome::EscalatedToHuman);
    assert_eq!(trace.end_reason.as_deref(), Some("escalated"));
}

#[test]
fn end_says_goodbye_then_hangs_up() {
    let cfg = test_config();
    let goodbye = cfg.goodbye_text.clone();
    let mut sim = Sim::new(cfg);
    sim.settle();
    command(
        &mut sim,
        SupervisorCommand::End {
            reason: Some("resolved by supervisor".into()),
        },
    );
    assert!(sim.tts_texts().join(" ").contains(&goodbye[..10]));
    assert!(!sim.call.is_finished(), "not before the goodbye is heard");
    sim.run(ms(10_000));
    assert!(sim.closed);
    let trace = sim.finished_trace().expect("finished");
    assert_eq!(trace.end_reason.as_deref(), Some("resolved by supervisor"));
    assert_eq!(trace.final_outcome, Outcome::AiResolved);
    assert_eq!(trace.supervisor_actions.len(), 1);
    assert_eq!(trace.supervisor_actions[0].action, "end");
}
