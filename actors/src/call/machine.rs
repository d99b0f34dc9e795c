//! The sans-IO [`Call`]: one phone call's turn-taking, barge-in, pacing and
//! trace, driven by [`Input`]s and drained of [`Output`]s. It never reads the
//! clock: every entry point takes `now`, and `poll_timeout` says when it
//! wants `handle_timeout`. The CallActor moves bytes and time; tests drive it
//! with virtual time.
//!
//! The behaviour is spread over sibling modules by concern, all `impl Call`:
//! `inbound` (caller audio, VAD, STT, end of turn, barge-in), `reply`
//! (router, LLM, TTS), `playback` (pacing, marks, what was heard),
//! `escalation` (triggers, hand-off) and `control` (supervisor commands,
//! endings, timers, checkpoints).

use super::config::CallConfig;
use super::io::{Input, LiveEvent, Output, StartInfo};
use super::marks::MarkLedger;
use super::outbound::{Converter, Reply, ReplyKind};
use super::pacer::Pacer;
use super::phrases::PhraseList;
use super::sentences::SentenceSplitter;
use super::turn::{TurnDraft, Utterance};
use crate::ids::CallSid;
use crate::providers::{ChatMessage, Role};
use crate::trace::{CallTrace, Escalation, Outcome, TraceKind};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_codecs::vad::Vad;

/// The call's state as the dashboard shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Waiting for Twilio's `start`.
    Connecting,
    Listening,
    UserSpeaking,
    Thinking,
    Speaking,
    /// A supervisor paused the AI.
    Paused,
    /// Saying goodbye (or handing over) before the line closes.
    Ending,
    Ended,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Connecting => "connecting",
            CallState::Listening => "listening",
            CallState::UserSpeaking => "user_speaking",
            CallState::Thinking => "thinking",
            CallState::Speaking => "speaking",
            CallState::Paused => "paused",
            CallState::Ending => "ending",
            CallState::Ended => "ended",
        }
    }
}

/// A completion streaming into the current reply.
#[derive(Debug)]
pub(super) struct LlmInFlight {
    pub id: u64,
    /// The reply its sentences go to, once the first sentence is complete.
    pub reply_id: Option<u64>,
    pub got_token: bool,
}

/// How the call is winding down.
#[derive(Debug)]
pub(super) struct Ending {
    pub reason: String,
    pub outcome: Outcome,
    /// Hard stop if the goodbye never plays (TTS dead, echoes lost).
    pub deadline: Instant,
    /// Handing over to a human: `Escalate` instead of hanging up.
    pub escalation: Option<Escalation>,
    /// `Escalate` was emitted; waiting for Twilio's `stop` until then.
    pub escalated_wait: Option<Instant>,
}

/// Phrase lists compiled once per call from the config.
#[derive(Debug)]
pub(super) struct Phrases {
    pub backchannels: PhraseList,
    pub voicemail: PhraseList,
    pub escalation: PhraseList,
}

/// The bot paused for caller speech over it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pause {
    pub since: Instant,
    /// Media time at the pause.
    pub media: u64,
    /// The bot's audio left to send then, samples (`u64::MAX` while TTS
    /// was still running): had it talked on, when it would have finished.
    pub left: u64,
}

/// One phone call's logic. `Send`; owned by its CallActor.
pub struct Call {
    pub(super) cfg: Arc<CallConfig>,
    pub(super) phrases: Phrases,
    /// Twilio's `start`, once it came.
    pub(super) start: Option<StartInfo>,
    /// The instant matching `StartInfo::started_at` (wall clock derives from it).
    pub(super) started: Instant,
    pub(super) trace: CallTrace,
    /// The LLM context: system prompt, turns, supervisor instructions.
    pub(super) context: Vec<ChatMessage>,
    pub(super) out: VecDeque<Output>,
    /// Ids of route, LLM and TTS requests and replies; unique per call.
    pub(super) next_id: u64,

    // ---- inbound
    pub(super) vad: Vad,
    /// Decoded inbound audio (reused buffer).
    pub(super) pcm: Vec<i16>,
    /// Mu-law waiting to be forwarded to STT in one batch.
    pub(super) stt_buf: Vec<u8>,
    /// Playback paused for caller speech over the bot (`pause_for_caller`).
    pub(super) barge_pause: Option<Pause>,
    /// With `stt_gate`: whether speech is open (audio flows to STT).
    pub(super) stt_open: bool,
    /// With `stt_gate`, while shut: the last `stt_preroll_ms` of audio.
    pub(super) stt_preroll: VecDeque<u8>,
    /// Inbound media time, 8 kHz samples since the stream started.
    pub(super) media: u64,
    /// Media time when the VAD was created (non-zero after a restore).
    pub(super) vad_base: u64,
    /// Twilio's last media timestamp, ms.
    pub(super) twilio_ts: u64,
    pub(super) utterance: Option<Utterance>,

    // ---- bot side
    pub(super) route_id: Option<u64>,
    pub(super) llm: Option<LlmInFlight>,
    /// LLM requests cancelled by barge-in, for their late cost records.
    pub(super) cancelled_llm: Vec<u64>,
    pub(super) splitter: SentenceSplitter,
    pub(super) draft: Option<TurnDraft>,
    pub(super) turns: u32,
    pub(super) replies: VecDeque<Reply>,
    pub(super) conv: Converter,
    pub(super) pacer: Pacer,
    pub(super) ledger: MarkLedger,

    // ---- call level
    pub(super) greeted: bool,
    pub(super) paused: bool,
    pub(super) taken_over: bool,
    pub(super) ending: Option<Ending>,
    /// Quiet since (Listening with nothing pending), for the idle rules.
    pub(super) idle_since: Option<Instant>,
    /// The idle re-prompt was heard and not answered yet.
    pub(super) reprompted: bool,
    /// Voicemail detected: the message waits for the machine's greeting to end.
    pub(super) voicemail_pending: bool,
    /// Consecutive turns with low ASR confidence.
    pub(super) low_conf_streak: usize,
    pub(super) finished: bool,
    pub(super) last_state: CallState,
}

impl Call {
    /// A call waiting for Twilio's `start`. `cfg` must have passed
    /// [`CallConfig::validate`] (the engine validates it at start-up).
    pub fn new(cfg: Arc<CallConfig>, now: Instant) -> Self {
        let vad = Vad::new(cfg.vad.to_vad_config())
            .expect("CallConfig::validate checked the VAD settings before any call");
        let phrases = Phrases {
            backchannels: PhraseList::new(&cfg.backchannels),
            voicemail: PhraseList::new(&cfg.voicemail.keywords),
            escalation: PhraseList::new(&cfg.escalation.keywords),
        };
        let context = vec![ChatMessage::new(Role::System, cfg.system_prompt.clone())];
        Self {
            splitter: SentenceSplitter::new(cfg.max_sentence_chars),
            cfg,
            phrases,
            start: None,
            started: now,
            trace: CallTrace::default(),
            context,
            out: VecDeque::new(),
            next_id: 1,
            vad,
            pcm: Vec::with_capacity(160),
            stt_buf: Vec::new(),
            barge_pause: None,
            stt_open: false,
            stt_preroll: VecDeque::new(),
            media: 0,
            vad_base: 0,
            twilio_ts: 0,
            utterance: None,
            route_id: None,
            llm: None,
            cancelled_llm: Vec::new(),
            draft: None,
            turns: 0,
            replies: VecDeque::new(),
            conv: Converter::default(),
            pacer: Pacer::default(),
            ledger: MarkLedger::default(),
            greeted: false,
            paused: false,
            taken_over: false,
            ending: None,
            idle_since: None,
            reprompted: false,
            voicemail_pending: false,
            low_conf_streak: 0,
            finished: false,
            last_state: CallState::Connecting,
        }
    }

    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.finished {
            return;
        }
        if self.start.is_none() && !matches!(input, Input::Start(_)) {
            // Nothing is meaningful before `start` (no stream id to answer on).
            return;
        }
        match input {
            Input::Start(info) => self.on_start(now, info),
            Input::Media { timestamp_ms, ulaw } => self.on_media(now, timestamp_ms, ulaw),
            Input::Mark { name } => self.on_mark(now, name),
            Input::Dtmf { digit } => self.on_dtmf(now, digit),
            Input::Stop => self.on_stop(now),
            Input::Stt(ev) => self.on_stt(now, ev),
            Input::Route(d) => self.on_route(now, d),
            Input::Llm(ev) => self.on_llm(now, ev),
            Input::Tts(ev) => self.on_tts(now, ev),
            Input::Command(cmd) => self.on_command(now, cmd),
        }
        self.after(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished || self.start.is_none() {
            return;
        }
        self.on_timers(now);
        self.after(now);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished || self.start.is_none() {
            return None;
        }
        self.next_deadline()
    }

    /// The settings this call runs with.
    pub fn config(&self) -> &CallConfig {
        &self.cfg
    }

    pub fn state(&self) -> CallState {
        if self.finished {
            CallState::Ended
        } else if self.start.is_none() {
            CallState::Connecting
        } else if self.ending.is_some() {
            CallState::Ending
        } else if self.paused {
            CallState::Paused
        } else if self.replies.iter().any(|r| r.sent > 0) {
            CallState::Speaking
        } else if self.route_id.is_some() || self.llm.is_some() || !self.replies.is_empty() {
            CallState::Thinking
        } else if self.utterance.as_ref().is_some_and(|u| !u.candidate) {
            CallState::UserSpeaking
        } else {
            CallState::Listening
        }
    }

    pub fn call_sid(&self) -> Option<&CallSid> {
        self.start.as_ref().map(|s| &s.call_sid)
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The trace so far (cheaper than a checkpoint for a dashboard snapshot).
    pub fn trace(&self) -> &CallTrace {
        &self.trace
    }

    // ------------------------------------------------------------ helpers

    /// Wall clock at `now`.
    pub(super) fn wall(&self, now: Instant) -> DateTime<Utc> {
        let since = now.saturating_duration_since(self.started);
        let started_at = self
            .start
            .as_ref()
            .map(|s| s.started_at)
            .unwrap_or_default();
        started_at + chrono::Duration::from_std(since).unwrap_or_default()
    }

    pub(super) fn media_ms(&self) -> u64 {
        self.media / 8
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn emit(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(super) fn trace_kind(&mut self, kind: TraceKind) {
        self.out.push_back(Output::Trace(kind));
    }

    pub(super) fn live(&mut self, ev: LiveEvent) {
        self.out.push_back(Output::Event(ev));
    }

    pub(super) fn sid(&self) -> CallSid {
        self.call_sid().cloned().unwrap_or_default()
    }

    fn on_start(&mut self, now: Instant, info: StartInfo) {
        if self.start.is_some() {
            return; // a second `start` on one stream is a protocol error; ignore it
        }
        self.started = now;
        self.trace = CallTrace {
            call_id: info.call_sid.clone(),
            company_id: info.tenant.clone(),
            channel: "voice".into(),
            caller_number: info.caller.clone(),
            called_number: info.called.clone(),
            direction: info.direction.clone(),
            stream_sid: Some(info.stream_sid.to_string()),
            started_at: info.started_at,
            ..CallTrace::default()
        };
        let caller = info.caller.clone();
        let stream_sid = info.stream_sid.to_string();
        self.live(LiveEvent::CallStarted {
            call_id: info.call_sid.clone(),
            tenant: info.tenant.clone(),
            caller: caller.clone(),
        });
        self.start = Some(info);
        self.trace_kind(TraceKind::CallStarted { caller, stream_sid });
        self.greeted = true;
        let greeting = self.cfg.greeting.clone();
        self.speak(ReplyKind::Greeting, &greeting);
    }

    /// Common tail of every entry point: send what pacing allows, keep the
    /// idle clock and the live state up to date.
    fn after(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        self.leave_voicemail();
        let candidate = self.utterance.as_ref().is_some_and(|u| u.candidate);
        if self.barge_pause.is_some() && !candidate {
            self.resume_playback(now);
        }
        self.pump(now);
        self.refresh_idle(now);
        let state = self.state();
        if state != self.last_state {
            self.last_state = state;
            let call_id = self.sid();
            self.live(LiveEvent::CallUpdated {
                call_id,
                state: state.as_str().into(),
            });
        }
    }

    fn refresh_idle(&mut self, now: Instant) {
        let quiet = self.state() == CallState::Listening && !self.taken_over;
        match (quiet, self.idle_since) {
            (true, None) => self.idle_since = Some(now),
            (false, Some(_)) => self.idle_since = None,
            _ => {}
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let ms = Duration::from_millis;
        let mut d: Vec<Instant> = Vec::with_capacity(6);
        if let Some(u) = &self.utterance {
            d.extend(u.endpoint_deadline);
        }
        if let Some(since) = self.idle_since {
            let wait = if self.reprompted {
                self.cfg.idle_hangup_ms
            } else {
                self.cfg.idle_reprompt_ms
            };
            d.push(since + ms(wait));
        }
        match &self.ending {
            None => d.push(self.started + ms(self.cfg.max_call_ms)),
            Some(e) => {
                d.push(e.deadline);
                d.extend(e.escalated_wait);
            }
        }
        d.extend(self.pacing_deadline());
        d.into_iter().min()
    }
}

/// The CallActor moves its `Call` between threads.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<Call>();
};
