//! The media stream of one simulated call: `connected`, `start`, then one
//! 20 ms tick drives everything — the next audio frame (speech or silence,
//! Twilio always streams), the script's steps, and the marks whose audio has
//! played. Server messages feed the [`Playback`] model in between ticks.
//!
//! Turn latency is measured from the send instant of the frame holding the
//! utterance's last speech sample (`speech_end_ms`) to the first bot audio of
//! the next reply; barge-in reaction from the send instant of the frame
//! holding the first speech sample to the `clear`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::caller::{CallOutcome, CallRecord, CallerEnv, CallerSocket};
use super::fixtures::{Utterance, FRAME_MS};
use super::playback::{Echo, MediaEffect, Playback};
use super::script::{Script, Step};
use super::wire::{self, ServerMessage, StreamIds};

/// Why the caller speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SpeechKind {
    /// A turn: the bot should answer it.
    Turn,
    /// An interruption: the bot should `clear`, then answer.
    BargeIn,
    /// A backchannel over bot audio: the bot should keep talking.
    Backchannel,
}

/// An utterance being streamed.
struct Speech {
    utterance: Arc<Utterance>,
    next: usize,
    kind: SpeechKind,
}

/// Where the current step stands.
enum StepState {
    /// Start the next step on this tick.
    Next,
    /// Streaming an utterance; done when it has all been sent.
    Speaking,
    WaitReply {
        deadline: Instant,
        seen: bool,
    },
    Pause {
        until: Instant,
    },
    /// Waiting for bot audio, then `after` more, before barging in.
    BargeWait {
        utterance: Arc<Utterance>,
        after: Duration,
        deadline: Instant,
        kind: SpeechKind,
    },
}

/// A live simulated media stream.
pub struct Session<'a> {
    env: &'a CallerEnv,
    ws: CallerSocket,
    ids: StreamIds,
    steps: &'a [Step],
    rec: &'a mut CallRecord,
    /// Last sequence number used (Twilio numbers every message from 1).
    seq: u64,
    /// Last media chunk number used (from 1).
    chunk: u64,
    stream_start: Instant,
    playback: Playback,
    speech: Option<Speech>,
    step: usize,
    state: StepState,
    /// When the bot's latest reply started.
    reply_started_at: Option<Instant>,
    /// Caller end of speech still waiting for the bot's reply.
    awaiting_reply_since: Option<Instant>,
    /// Caller speech onset over bot audio still waiting for `clear`.
    barge_onset: Option<Instant>,
    /// When the engine cleared the bot's audio for a backchannel.
    backchannel_clear: Option<Instant>,
    greeting_pending: bool,
    echoes: Vec<Echo>,
    /// Messages to write on the next flush.
    outbox: Vec<String>,
    finished: Option<CallOutcome>,
}

impl<'a> Session<'a> {
    pub fn new(
        env: &'a CallerEnv,
        ws: CallerSocket,
        ids: StreamIds,
        script: &'a Script,
        rec: &'a mut CallRecord,
    ) -> Self {
        let now = Instant::now();
        Session {
            env,
            ws,
            ids,
            steps: &script.steps,
            rec,
            seq: 0,
            chunk: 0,
            stream_start: now,
            playback: Playback::new(now.into_std(), env.playback),
            speech: None,
            step: 0,
            state: StepState::Next,
            reply_started_at: None,
            awaiting_reply_since: None,
            barge_onset: None,
            backchannel_clear: None,
            greeting_pending: true,
            echoes: Vec::new(),
            outbox: Vec::with_capacity(8),
            finished: None,
        }
    }

    /// Streams the script to its end; the outcome lands in the record.
    pub async fn run(mut self, params: &[(String, String)]) {
        self.send_now(wire::connected()).await;
        let seq = self.next_seq();
        self.send_now(wire::start(seq, &self.ids, params)).await;
        self.stream_start = Instant::now();
        let mut ticks =
            tokio::time::interval_at(self.stream_start, Duration::from_millis(FRAME_MS));
        // Catch up missed ticks at once: frames sent late are counted, and the
        // stream keeps Twilio's 50 frames per second on average.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        while self.finished.is_none() {
            tokio::select! {
                msg = self.ws.next() => self.on_socket(msg).await,
                at = ticks.tick() => self.on_tick(at).await,
            }
        }
        if self.barge_onset.is_some() {
            self.rec.barge_in_missed += 1;
        }
        self.rec.outcome = self.finished.take().expect("loop ends only when finished");
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    async fn on_tick(&mut self, scheduled: Instant) {
        let now = Instant::now();
        if now.saturating_duration_since(scheduled) > self.env.late_send_threshold {
            self.rec.caller_late_frames += 1;
        }
        if self.env.run_deadline.is_some_and(|d| now >= d) {
            return self.hang_up(CallOutcome::Deadline).await;
        }
        self.advance_steps(now).await;
        if self.finished.is_some() {
            return;
        }
        self.send_frame(now);
        // A reply that ends here is seen by WaitReply through bot_speaking().
        self.playback.poll(now.into_std(), &mut self.echoes);
        self.queue_echoes();
        self.flush().await;
    }

    /// Runs steps until one has to wait for time or the bot.
    async fn advance_steps(&mut self, now: Instant) {
        for _ in 0..=self.steps.len() {
            if !self.step_done(now) {
                return;
            }
            let Some(step) = self.steps.get(self.step).cloned() else {
                return self.hang_up(CallOutcome::Completed).await;
            };
            self.step += 1;
            self.start_step(step, now).await;
            if self.finished.is_some() {
                return;
            }
        }
    }

    /// Whether the current step is over (and the state can move on).
    fn step_done(&mut self, now: Instant) -> bool {
        let speaking = self.playback.bot_speaking();
        match &mut self.state {
            StepState::Next => true,
            StepState::Speaking => self.speech.is_none(),
            StepState::Pause { until } => now >= *until,
            StepState::WaitReply { deadline, seen } => {
                *seen |= speaking;
                let reply_over = *seen && !speaking;
                let timed_out = now >= *deadline;
                if timed_out && !reply_over {
                    self.rec.reply_timeouts += 1;
                }
                reply_over || timed_out
            }
            StepState::BargeWait {
                utterance,
                after,
                deadline,
                kind,
            } => {
                let start = self
                    .reply_started_at
                    .filter(|_| speaking)
                    .map(|s| s + *after);
                if start.is_some_and(|s| now >= s) {
                    let (utterance, kind) = (utterance.clone(), *kind);
                    self.start_speech(utterance, kind);
                    self.state = StepState::Speaking;
                    return false;
                }
                if now >= *deadline {
                    self.rec.reply_timeouts += 1;
                    return true;
                }
                false
            }
        }
    }

    async fn start_step(&mut self, step: Step, now: Instant) {
        let ms = Duration::from_millis;
        self.state = StepState::Next;
        match step {
            Step::WaitForGreeting { timeout_ms } | Step::WaitForReply { timeout_ms } => {
                self.state = StepState::WaitReply {
                    deadline: now + ms(timeout_ms),
                    seen: self.playback.bot_speaking(),
                }
            }
            Step::Say { utterance } => match self.env.fixtures.get(&utterance) {
                Ok(u) => {
                    self.start_speech(u.clone(), SpeechKind::Turn);
                    self.state = StepState::Speaking;
                }
                Err(e) => self.finished = Some(CallOutcome::Failed(e.to_string())),
            },
            Step::Pause { ms: n } => self.state = StepState::Pause { until: now + ms(n) },
            Step::BargeIn {
                utterance,
                after_ms,
                timeout_ms,
                expect_clear,
            } => match self.env.fixtures.get(&utterance) {
                Ok(u) => {
                    self.state = StepState::BargeWait {
                        utterance: u.clone(),
                        after: ms(after_ms),
                        deadline: now + ms(timeout_ms),
                        kind: if expect_clear {
                            SpeechKind::BargeIn
                        } else {
                            SpeechKind::Backchannel
                        },
                    }
                }
                Err(e) => self.finished = Some(CallOutcome::Failed(e.to_string())),
            },
            Step::Dtmf { digit } => {
                let seq = self.next_seq();
                self.send_now(wire::dtmf(seq, &self.ids.stream_sid, &digit))
                    .await;
            }
            Step::HangUp => self.hang_up(CallOutcome::Completed).await,
        }
    }

    fn start_speech(&mut self, utterance: Arc<Utterance>, kind: SpeechKind) {
        self.greeting_pending = false;
        self.speech = Some(Speech {
            utterance,
            next: 0,
            kind,
        });
    }

    /// Queues this tick's frame: the next speech frame, or silence.
    fn send_frame(&mut self, now: Instant) {
        let env = self.env;
        let speech_frame = self.speech.as_mut().map(|sp| {
            sp.next += 1;
            (sp.utterance.clone(), sp.next - 1, sp.kind)
        });
        if let Some((u, i, kind)) = &speech_frame {
            self.note_speech_frame(u, *i, *kind, now);
        }
        let payload: &str = match &speech_frame {
            Some((u, i, _)) => &u.frames[*i],
            None => env.fixtures.silence(),
        };
        self.chunk += 1;
        let seq = self.next_seq();
        let ts = (self.chunk - 1) * FRAME_MS;
        let mut text = String::with_capacity(payload.len() + 160);
        wire::media_into(
            &mut text,
            seq,
            &self.ids.stream_sid,
            self.chunk,
            ts,
            payload,
        );
        self.rec.frames_sent += 1;
        self.outbox.push(text);
    }

    /// Marks the onset and end of speech as their frames go out.
    fn note_speech_frame(&mut self, u: &Utterance, i: usize, kind: SpeechKind, now: Instant) {
        if i == u.speech_start_frame()
            && kind == SpeechKind::BargeIn
            && self.playback.bot_speaking()
            && self.barge_onset.replace(now).is_some()
        {
            self.rec.barge_in_missed += 1;
        }
        if i == u.speech_end_frame() && kind != SpeechKind::Backchannel {
            self.awaiting_reply_since = Some(now);
        }
        if i + 1 >= u.frames.len() {
            self.speech = None;
        }
    }

    async fn on_socket(&mut self, msg: Option<Result<Message, WsError>>) {
        match msg {
            None | Some(Ok(Message::Close(_))) => self.end(CallOutcome::EndedByEngine),
            Some(Err(e)) => self.on_ws_error(e),
            Some(Ok(Message::Text(text))) => {
                self.on_text(&text);
                self.queue_echoes();
                self.flush().await;
            }
            Some(Ok(Message::Binary(_))) => self.rec.protocol_errors += 1,
            // Pings are answered by tungstenite on the next write.
            Some(Ok(_)) => {}
        }
    }

    fn on_text(&mut self, text: &str) {
        let now = Instant::now();
        let Ok(msg) = wire::parse_server(text) else {
            self.rec.protocol_errors += 1;
            return;
        };
        match msg {
            ServerMessage::Media { bytes } => self.on_media(now, bytes),
            ServerMessage::Mark { name } => {
                if let Some(echo) = self.playback.on_mark(now.into_std(), name) {
                    self.echoes.push(echo);
                }
            }
            ServerMessage::Clear => {
                self.playback.on_clear(now.into_std(), &mut self.echoes);
                if let Some(onset) = self.barge_onset.take() {
                    self.rec.barge_in_ms.push(ms_between(onset, now));
                } else if self
                    .speech
                    .as_ref()
                    .is_some_and(|sp| sp.kind == SpeechKind::Backchannel)
                {
                    self.backchannel_clear = Some(now);
                }
            }
            ServerMessage::Other => {}
        }
    }

    fn on_media(&mut self, now: Instant, bytes: usize) {
        self.rec.bot_audio_bytes += bytes as u64;
        if let Some(cleared) = self.backchannel_clear.take() {
            self.rec.backchannel_pause_ms.push(ms_between(cleared, now));
        }
        match self.playback.on_media(now.into_std(), bytes) {
            MediaEffect::ReplyStarted => {
                self.reply_started_at = Some(now);
                if let Some(eos) = self.awaiting_reply_since.take() {
                    let ms = ms_between(eos, now);
                    self.rec.turn_ms.push(ms);
                    self.env.live.record_turn(ms);
                } else if self.greeting_pending {
                    self.greeting_pending = false;
                    self.rec.greeting_ms = Some(ms_between(self.stream_start, now));
                }
            }
            MediaEffect::Gap(gap) => {
                self.rec.gap_ms.push(gap.as_secs_f32() * 1000.0);
                let frames = gap.as_millis().div_ceil(u128::from(FRAME_MS));
                self.rec.late_bot_frames += u32::try_from(frames).unwrap_or(u32::MAX);
            }
            MediaEffect::Continued => {}
        }
    }

    fn queue_echoes(&mut self) {
        let mut echoes = std::mem::take(&mut self.echoes);
        for echo in echoes.drain(..) {
            let seq = self.next_seq();
            self.outbox
                .push(wire::mark(seq, &self.ids.stream_sid, &echo.name));
            self.rec.marks_echoed += 1;
            self.rec.mark_held_ms.push(echo.held.as_secs_f32() * 1000.0);
        }
        self.echoes = echoes;
    }

    async fn send_now(&mut self, text: String) {
        self.outbox.push(text);
        self.flush().await;
    }

    /// Writes every queued message and flushes once.
    async fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let mut outbox = std::mem::take(&mut self.outbox);
        let mut result = Ok(());
        for text in outbox.drain(..) {
            result = self.ws.feed(Message::text(text)).await;
            if result.is_err() {
                break;
            }
        }
        self.outbox = outbox;
        if result.is_ok() {
            result = self.ws.flush().await;
        }
        if let Err(e) = result {
            self.on_ws_error(e);
        }
    }

    fn on_ws_error(&mut self, e: WsError) {
        match e {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.end(CallOutcome::EndedByEngine)
            }
            // The engine dropped the connection without a close frame.
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.end(CallOutcome::EndedByEngine)
            }
            other => self.end(CallOutcome::Failed(format!("socket: {other}"))),
        }
    }

    fn end(&mut self, outcome: CallOutcome) {
        if self.finished.is_none() {
            self.finished = Some(outcome);
        }
    }

    /// Sends `stop`, closes the socket and waits briefly for the close reply.
    async fn hang_up(&mut self, outcome: CallOutcome) {
        let seq = self.next_seq();
        let stop = wire::stop(seq, &self.ids);
        self.send_now(stop).await;
        self.end(outcome);
        // The server may already be gone; the call is over either way.
        let _ = self.ws.close(None).await;
        let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    }
}

fn ms_between(from: Instant, to: Instant) -> f32 {
    to.saturating_duration_since(from).as_secs_f32() * 1000.0
}
