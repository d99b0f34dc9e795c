//! A simulated phone line around the sans-IO `Call`, in virtual time: the
//! caller's audio (speech fixtures from tests/fixtures), Twilio's playback
//! buffer with mark echoes and `clear`, a fake TTS that answers every
//! request with 24 kHz (or any rate) audio of a known length per character,
//! and a scripted STT that answers `SttFinalize` with a final transcript.

#![allow(dead_code)] // each test binary uses a different part

use serde_json::Value;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_actors::call::{
    Call, CallConfig, CallState, Input, LiveEvent, Outbound, Output, StartInfo,
};
use switchboard_actors::ids::{CallSid, StreamSid, TenantId};
use switchboard_actors::providers::{SttEvent, TtsEvent};
use switchboard_actors::trace::{CallTrace, TraceKind};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The mu-law bytes of speech fixture `id` (tests/fixtures/speech/<id>.ulaw).
pub fn speech(id: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("speech/{id}.ulaw")))
        .expect("speech fixtures are committed (tests/fixtures/make_fixtures.sh)")
}

/// Only the voiced part of fixture `id` (lead-in and tail cut off).
pub fn speech_core(id: &str) -> Vec<u8> {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("utterances.json")).expect("manifest"),
    )
    .expect("manifest is JSON");
    let u = manifest["utterances"]
        .as_array()
        .expect("utterances list")
        .iter()
        .find(|u| u["id"] == id)
        .expect("fixture listed");
    let start = u["speech_start_ms"].as_u64().expect("start") as usize * 8;
    let end = u["speech_end_ms"].as_u64().expect("end") as usize * 8;
    speech(id)[start..end].to_vec()
}

/// A config for tests: short greeting, defaults otherwise.
pub fn test_config() -> CallConfig {
    CallConfig {
        greeting: "Hi, I am an AI assistant.".into(),
        ..CallConfig::default()
    }
}

/// What the simulated Twilio has buffered for playback.
#[derive(Debug)]
enum Play {
    Audio(u64),
    Mark(String),
}

pub struct Sim {
    pub call: Call,
    pub t0: Instant,
    pub now: Instant,
    /// Every output of the call, in order.
    pub log: Vec<Output>,
    /// Index in `log` up to which a test has looked (see `take_new`).
    pub seen: usize,
    /// Caller audio still to send, mu-law.
    pub inbound: VecDeque<u8>,
    next_media: Instant,
    media_ts: u64,
    // ---- Twilio
    buffer: VecDeque<Play>,
    /// Sub-sample playback carry, microseconds.
    play_carry_us: u64,
    pub echo_marks: bool,
    /// Largest buffered audio seen right after the call sent something, ms.
    pub max_lead_ms: f64,
    /// Instants at which media frames went out.
    pub frame_times: Vec<Instant>,
    /// Audio played to the caller, ms.
    pub played_ms: f64,
    pub closed: bool,
    // ---- TTS
    pub auto_tts: bool,
    pub tts_ms_per_char: u64,
    pub tts_rate: u32,
    // ---- STT
    /// Final transcript sent when the call asks STT to finalize.
    pub final_on_finalize: Option<(String, f32)>,
    pub timeouts_handled: usize,
    /// Inputs to feed after the current outputs are drained.
    pending: VecDeque<PendingInput>,
}

enum PendingInput {
    Tts(TtsEvent),
    Stt(SttEvent),
    Mark(String),
}

impl Sim {
    /// A call that has received `start` at t0.
    pub fn new(cfg: CallConfig) -> Self {
        cfg.validate().expect("test config is valid");
        let t0 = Instant::now();
        let call = Call::new(Arc::new(cfg), t0);
        let mut sim = Self::around(call, t0);
        let start = StartInfo {
            call_sid: CallSid::new("CA123"),
            stream_sid: StreamSid::new("MZ123"),
            account_sid: "AC1".into(),
            tenant: TenantId::new("acme"),
            caller: Some("+15550001111".into()),
            called: Some("+15550002222".into()),
            direction: Some("inbound".into()),
            started_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("valid"),
            ..StartInfo::default()
        };
        sim.input(Input::Start(start));
        sim
    }

    /// Wraps an existing machine (e.g. a restored one) at instant `now`.
    pub fn around(call: Call, now: Instant) -> Self {
        Self {
            call,
            t0: now,
            now,
            log: Vec::new(),
            seen: 0,
            inbound: VecDeque::new(),
            next_media: now + ms(20),
            media_ts: 0,
            buffer: VecDeque::new(),
            play_carry_us: 0,
            echo_marks: true,
            max_lead_ms: 0.0,
            frame_times: Vec::new(),
            played_ms: 0.0,
            closed: false,
            auto_tts: true,
            tts_ms_per_char: 50,
            tts_rate: 24_000,
            final_on_finalize: None,
            timeouts_handled: 0,
            pending: VecDeque::new(),
        }
    }

    pub fn input(&mut self, input: Input<'_>) {
        let now = self.now;
        self.call.handle_input(now, input);
        self.drain();
    }

    /// Queues caller speech (fixture bytes) to be sent in 20 ms frames.
    pub fn say(&mut self, ulaw: &[u8], final_text: Option<&str>) {
        self.inbound.extend(ulaw);
        self.final_on_finalize = final_text.map(|t| (t.to_owned(), 0.95));
    }

    /// Runs the line for `d` of virtual time.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    pub fn run_until(&mut self, end: Instant) {
        let mut guard = 0u32;
        loop {
            guard += 1;
            assert!(guard < 1_000_000, "simulation does not advance");
            let timer = self.call.poll_timeout();
            let t = timer
                .map_or(self.next_media, |t| t.min(self.next_media))
                .max(self.now);
            if t > end {
                self.advance_playback(end);
                self.now = end;
                self.feed_pending();
                return;
            }
            self.advance_playback(t);
            self.now = t;
            self.feed_pending();
            if timer.is_some_and(|x| x <= t) {
                self.timeouts_handled += 1;
                self.call.handle_timeout(t);
                self.drain();
            }
            if self.next_media <= t {
                self.send_media_frame();
                self.next_media += ms(20);
            }
            if self.call.is_finished() {
                self.now = end.min(self.now.max(t));
                return;
            }
        }
    }

    /// Runs until `pred` holds (checked every 20 ms), at most `max`.
    pub fn run_until_pred(&mut self, max: Duration, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + max;
        while self.now < end {
            if pred(self) {
                return true;
            }
            self.run(ms(20));
        }
        pred(self)
    }

    /// Lets everything queued play and be heard.
    pub fn settle(&mut self) {
        let ok = self.run_until_pred(ms(60_000), |s| {
            s.inbound.is_empty() && s.call.state() == CallState::Listening && s.buffer.is_empty()
        });
        assert!(ok, "call did not settle: {:?}", self.call.state());
    }

    fn send_media_frame(&mut self) {
        let n = self.inbound.len().min(160);
        let mut frame: Vec<u8> = self.inbound.drain(..n).collect();
        frame.resize(160, 0xFF); // mu-law digital silence
        let ts = self.media_ts;
        self.media_ts += 20;
        let now = self.now;
        self.call.handle_input(
            now,
            Input::Media {
                timestamp_ms: ts,
                ulaw: &frame,
            },
        );
        self.drain();
    }

    /// Twilio plays in real time from whatever it buffered; reaching a mark
    /// echoes it.
    fn advance_playback(&mut self, to: Instant) {
        let mut us = to.saturating_duration_since(self.now).as_micros() as u64 + self.play_carry_us;
        self.play_carry_us = 0;
        while let Some(front) = self.buffer.front_mut() {
            match front {
                Play::Mark(_) => {
                    let Some(Play::Mark(name)) = self.buffer.pop_front() else {
                        unreachable!()
                    };
                    if self.echo_marks {
                        self.pending.push_back(PendingInput::Mark(name));
                    }
                }
                Play::Audio(samples) => {
                    let avail = us * 8 / 1000;
                    if avail == 0 {
                        break;
                    }
                    let take = avail.min(*samples);
                    *samples -= take;
                    us -= take * 1000 / 8;
                    self.played_ms += take as f64 / 8.0;
                    if *samples == 0 {
                        self.buffer.pop_front();
                    }
                }
            }
        }
        if !self.buffer.is_empty() {
            self.play_carry_us = us;
        }
    }

    fn buffered_ms(&self) -> f64 {
        self.buffer
            .iter()
            .map(|p| match p {
                Play::Audio(n) => *n as f64 / 8.0,
                Play::Mark(_) => 0.0,
            })
            .sum()
    }

    /// Drains the call's outputs into the log, acting on them like the
    /// transport and the fake providers would.
    pub fn drain(&mut self) {
        while let Some(o) = self.call.poll_output() {
            match &o {
                Output::Twilio(Outbound::Media(bytes)) => {
                    let max = self.call.config().max_media_ms as usize * 8;
                    assert!(bytes.len() <= max, "media messages are at most {max} bytes");
                    self.buffer.push_back(Play::Audio(bytes.len() as u64));
                    // One entry per 20 ms frame carried.
                    for _ in 0..bytes.len().div_ceil(160) {
                        self.frame_times.push(self.now);
                    }
                    self.max_lead_ms = self.max_lead_ms.max(self.buffered_ms());
                }
                Output::Twilio(Outbound::Mark(name)) => {
                    self.buffer.push_back(Play::Mark(name.clone()));
                }
                Output::Twilio(Outbound::Clear) => {
                    // Twilio drops the audio and echoes every pending mark.
                    for p in std::mem::take(&mut self.buffer) {
                        if let Play::Mark(name) = p {
                            if self.echo_marks {
                                self.pending.push_back(PendingInput::Mark(name));
                            }
                        }
                    }
                }
                Output::Twilio(Outbound::Close { .. }) => self.closed = true,
                Output::Tts(req) if self.auto_tts => {
                    let total = req.text.chars().count() as u64 * self.tts_ms_per_char;
                    let rate = u64::from(self.tts_rate);
                    let mut samples = total * rate / 1000;
                    let chunk = rate / 10;
                    let mut phase = 0u64;
                    while samples > 0 {
                        let n = samples.min(chunk);
                        let pcm = (phase..phase + n)
                            .map(|i| ((i as f32 * 0.07).sin() * 6000.0) as i16)
                            .collect();
                        phase += n;
                        samples -= n;
                        self.pending.push_back(PendingInput::Tts(TtsEvent::Audio {
                            id: req.id,
                            pcm,
                            sample_rate: self.tts_rate,
                        }));
                    }
                    self.pending
                        .push_back(PendingInput::Tts(TtsEvent::Done { id: req.id }));
                }
                Output::SttFinalize => {
                    if let Some((text, confidence)) = self.final_on_finalize.take() {
                        self.pending
                            .push_back(PendingInput::Stt(SttEvent::Transcript {
                                text,
                                confidence,
                                is_final: true,
                                // Deepgram's answer to Finalize.
                                speech_final: false,
                                from_finalize: true,
                                start_s: 0.0,
                                duration_s: 1.0,
                            }));
                    }
                }
                _ => {}
            }
            self.log.push(o);
        }
        self.feed_pending();
    }

    fn feed_pending(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            let now = self.now;
            match p {
                PendingInput::Tts(ev) => self.call.handle_input(now, Input::Tts(ev)),
                PendingInput::Stt(ev) => self.call.handle_input(now, Input::Stt(ev)),
                PendingInput::Mark(name) => {
                    self.call.handle_input(now, Input::Mark { name: &name })
                }
            }
            self.drain();
        }
    }

    // ------------------------------------------------------------ queries

    /// Outputs logged since the last call.
    pub fn take_new(&mut self) -> &[Output] {
        let from = self.seen;
        self.seen = self.log.len();
        &self.log[from..]
    }

    pub fn traces(&self) -> impl Iterator<Item = &TraceKind> {
        self.log.iter().filter_map(|o| match o {
            Output::Trace(k) => Some(k),
            _ => None,
        })
    }

    pub fn events(&self) -> impl Iterator<Item = &LiveEvent> {
        self.log.iter().filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
    }

    pub fn tts_texts(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|o| match o {
                Output::Tts(r) => Some(r.text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, pred: impl Fn(&Output) -> bool) -> usize {
        self.log.iter().filter(|o| pred(o)).count()
    }

    /// The last route request's id and utterance.
    pub fn last_route(&self) -> Option<(u64, String)> {
        self.log.iter().rev().find_map(|o| match o {
            Output::Route(r) => Some((r.request_id, r.utterance.clone())),
            _ => None,
        })
    }

    pub fn finished_trace(&self) -> Option<&CallTrace> {
        self.log.iter().find_map(|o| match o {
            Output::Finished(t) => Some(t.as_ref()),
            _ => None,
        })
    }

    pub fn turns_completed(&self) -> Vec<switchboard_actors::trace::Turn> {
        self.traces()
            .filter_map(|k| match k {
                TraceKind::TurnCompleted { turn } => Some((**turn).clone()),
                _ => None,
            })
            .collect()
    }

    /// Plays caller speech and waits until the call routed it.
    pub fn say_and_route(&mut self, fixture: &str, text: &str) -> u64 {
        let before = self.last_route().map(|r| r.0);
        self.say(&speech(fixture), Some(text));
        let ok = self.run_until_pred(ms(15_000), |s| s.last_route().map(|r| r.0) != before);
        assert!(ok, "utterance {fixture} was never routed");
        self.last_route().expect("routed").0
    }
}
