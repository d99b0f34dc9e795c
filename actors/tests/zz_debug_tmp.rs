use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_actors::call::*;
#[test]
fn dbg() {
    let cfg = Arc::new(CallConfig { idle_reprompt_ms: 86_400_000, idle_hangup_ms: 86_400_000, max_call_ms: 86_400_000, ..CallConfig::default() });
    let t0 = Instant::now();
    let mut call = Call::new(cfg, t0);
    call.handle_input(t0, Input::Start(StartInfo::default()));
    let mut audio = Vec::new();
    for id in ["address", "reschedule", "leaking_tap"] {
        audio.extend(std::fs::read(format!("{}/../tests/fixtures/speech/{id}.ulaw", env!("CARGO_MANIFEST_DIR"))).unwrap());
    }
    let mut now = t0; let mut at = 0;
    for i in 0..20000 {
        now += Duration::from_millis(20);
        let frame = &audio[at..at + 160];
        at = (at + 160) % (audio.len() - audio.len() % 160);
        call.handle_input(now, Input::Media { timestamp_ms: 0, ulaw: frame });
        if call.poll_timeout().is_some_and(|t| t <= now) { call.handle_timeout(now); }
        while let Some(o) = call.poll_output() {
            match o { Output::Trace(k) => { if !matches!(k, switchboard_actors::trace::TraceKind::MarkSent{..}) {eprintln!("{i} {:?}", k)} }, Output::Finished(t) => eprintln!("{i} FINISHED {:?}", t.end_reason), _ => {} }
        }
        if call.is_finished() { eprintln!("finished at {i}"); break; }
    }
}
