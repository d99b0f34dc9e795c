//! `[call]` section of the engine config: everything one call's behaviour
//! depends on (texts, turn-taking thresholds, pacing, escalation rules).
//! Composed into the engine config at the root, validated before any port
//! is bound, shared read-only by every call through an `Arc`.

use super::phrases::PhraseList;
use serde::Deserialize;
use switchboard_codecs::vad::VadConfig;

/// Longest duration any setting may have, ms (24 h).
const MAX_MS: u64 = 86_400_000;

/// Behaviour of every call. All durations are milliseconds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallConfig {
    /// First words of the call; must say it is an AI (seed 002: within 10 s).
    pub greeting: String,
    /// System prompt of free conversation.
    pub system_prompt: String,
    pub vad: VadSettings,
    /// Outbound audio sent ahead of playback, at most.
    pub lead_ms: u64,
    /// Top the lead up once it has dropped by this much (batches wake-ups).
    pub refill_ms: u64,
    /// Largest media message sent to Twilio: consecutive 20 ms frames are
    /// joined up to this (and cut at every mark), so a refill of the lead
    /// is one socket write instead of five. 20 sends single frames.
    pub max_media_ms: u64,
    /// A Twilio mark after about this much audio.
    pub mark_every_ms: u64,
    /// End the turn at STT's `speech_final` once the VAD has heard this much
    /// silence, rather than waiting for its whole stop window (`vad.stop_ms`);
    /// 0 waits for the VAD.
    pub early_end_ms: u64,
    /// Pause the bot (`clear`) as soon as the VAD hears the caller over it,
    /// and resume from where it stopped if the speech turns out not to be
    /// an interruption (shorter than `interrupt_min_ms`, a backchannel,
    /// noise). False: the bot talks on until the interruption is confirmed.
    pub barge_in_pause: bool,
    /// Caller speech must last this long to interrupt the bot.
    pub interrupt_min_ms: u64,
    /// Also need this many words in the interim transcript (0 = off).
    pub min_interrupt_words: usize,
    /// Utterances made only of these never interrupt.
    pub backchannels: Vec<String>,
    /// After speech stops, end the turn without an STT final after this long.
    pub endpoint_timeout_ms: u64,
    /// Silence in Listening before a re-prompt.
    pub idle_reprompt_ms: u64,
    pub idle_reprompt_text: String,
    /// Silence after the re-prompt before giving up.
    pub idle_hangup_ms: u64,
    pub idle_goodbye_text: String,
    /// Longest call; then a polite goodbye.
    pub max_call_ms: u64,
    pub max_call_goodbye_text: String,
    /// Goodbye for `End` commands and other endings.
    pub goodbye_text: String,
    pub voicemail: VoicemailConfig,
    /// Spoken when a supervisor pauses the AI.
    pub hold_text: String,
    pub escalation: EscalationConfig,
    /// Inbound audio is forwarded to STT in batches this long.
    pub stt_batch_ms: u64,
    /// Forward audio to STT only while the VAD hears speech (from
    /// `stt_preroll_ms` before its onset to its offset). STT is billed and
    /// processed per second of audio; callers are silent most of a call.
    pub stt_gate: bool,
    /// Audio kept while the gate is shut and sent ahead of each onset, so
    /// STT hears the word the VAD needed its start window to confirm.
    pub stt_preroll_ms: u64,
    pub tts_voice: String,
    /// TTS requests synthesising at once per call (the sentence playing and
    /// the ones after it); later sentences wait for their turn.
    pub tts_ahead: usize,
    /// Said when the LLM fails or returns nothing.
    pub fallback_text: String,
    /// After the last audio should have played, wait this long for its mark
    /// before assuming it was heard (Twilio lost the echo).
    pub mark_grace_ms: u64,
    /// After `Escalate` was emitted, wait this long for Twilio's `stop`.
    pub escalation_stop_timeout_ms: u64,
    /// A streamed sentence longer than this is cut for TTS.
    pub max_sentence_chars: usize,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            greeting: "Hello! You're speaking with an AI assistant. \
                       I can help you, or connect you with a person at any time. \
                       How can I help you today?"
                .into(),
            system_prompt: "You are a helpful, concise phone assistant. You are an AI and say so \
                            if asked. Answer in one to three short spoken sentences, without \
                            lists or markdown. Offer to connect the caller with a human when \
                            you cannot help."
                .into(),
            vad: VadSettings::default(),
            lead_ms: 300,
            refill_ms: 100,
            max_media_ms: 100,
            mark_every_ms: 100,
            early_end_ms: 250,
            barge_in_pause: true,
            interrupt_min_ms: 300,
            min_interrupt_words: 0,
            backchannels: [
                "uh-huh", "uh huh", "mm-hmm", "mhm", "mm", "hmm", "yeah", "yes", "yep", "okay",
                "ok", "right", "sure", "i see", "got it", "alright", "oh",
            ]
            .map(String::from)
            .to_vec(),
            endpoint_timeout_ms: 1200,
            idle_reprompt_ms: 8000,
            idle_reprompt_text: "Are you still there?".into(),
            idle_hangup_ms: 7000,
            idle_goodbye_text: "I haven't heard anything, so I'll end the call now. Goodbye!"
                .into(),
            max_call_ms: 5 * 60 * 1000,
            max_call_goodbye_text: "We've reached the time limit for this call. Thank you for \
                                    calling, goodbye!"
                .into(),
            goodbye_text: "Thank you for calling. Goodbye!".into(),
            voicemail: VoicemailConfig::default(),
            hold_text: "Please hold for a moment.".into(),
            escalation: EscalationConfig::default(),
            stt_batch_ms: 60,
            stt_gate: true,
            stt_preroll_ms: 300,
            tts_voice: "default".into(),
            tts_ahead: 2,
            fallback_text: "Sorry, I didn't catch that. Could you say it again?".into(),
            mark_grace_ms: 2000,
            escalation_stop_timeout_ms: 15_000,
            max_sentence_chars: 160,
        }
    }
}

/// Serde mirror of the codecs crate's [`VadConfig`] (which has no serde, as
/// codecs knows nothing about config files).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadSettings {
    pub threshold: f32,
    pub start_ms: u32,
    pub stop_ms: u32,
    pub energy_gate_dbfs: f32,
}

impl Default for VadSettings {
    fn default() -> Self {
        let d = VadConfig::default();
        Self {
            threshold: d.threshold,
            start_ms: d.start_ms,
            stop_ms: d.stop_ms,
            energy_gate_dbfs: d.energy_gate_dbfs,
        }
    }
}

impl VadSettings {
    pub fn to_vad_config(&self) -> VadConfig {
        VadConfig {
            threshold: self.threshold,
            start_ms: self.start_ms,
            stop_ms: self.stop_ms,
            energy_gate_dbfs: self.energy_gate_dbfs,
        }
    }
}

/// Answering machines: detected, a message left, the call ended.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoicemailConfig {
    pub enabled: bool,
    /// Phrases of voicemail greetings (seed 002).
    pub keywords: Vec<String>,
    /// Keywords count only this early in the call (0 = the whole call):
    /// later, "can I leave a message" is a caller's request.
    pub keyword_window_ms: u64,
    /// Uninterrupted speech longer than this is a machine.
    pub max_speech_ms: u64,
    pub message: String,
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keywords: [
                "leave a message",
                "leave your message",
                "after the beep",
                "after the tone",
                "voicemail",
                "mailbox",
                "not available to take your call",
            ]
            .map(String::from)
            .to_vec(),
            keyword_window_ms: 30_000,
            max_speech_ms: 15_000,
            message: "Hello, this is an AI assistant calling. Sorry we missed you; \
                      please call us back at your convenience. Goodbye."
                .into(),
        }
    }
}

/// When the AI hands the call to a human on its own; each trigger switchable.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// Where escalations go when no one names a target (number or agent).
    pub default_target: Option<String>,
    /// Told to the caller before the hand-off.
    pub notice_text: String,
    pub keywords_enabled: bool,
    pub keywords: Vec<String>,
    /// DTMF 0 asks for a human.
    pub dtmf_zero_enabled: bool,
    pub sentiment_enabled: bool,
    /// Mean sentiment of the last `sentiment_turns` turns below this.
    pub sentiment_threshold: f32,
    pub sentiment_turns: usize,
    pub low_confidence_enabled: bool,
    /// ASR confidence below this makes a turn low-confidence.
    pub low_confidence_threshold: f32,
    /// This many low-confidence turns in a row escalate.
    pub low_confidence_turns: usize,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            default_target: None,
            notice_text: "I'll connect you with a member of our team now. Please stay on the \
                          line."
                .into(),
            keywords_enabled: true,
            keywords: [
                "manager",
                "supervisor",
                "human",
                "real person",
                "speak to a person",
                "talk to a person",
                "representative",
                "operator",
                "agent",
            ]
            .map(String::from)
            .to_vec(),
            dtmf_zero_enabled: true,
            sentiment_enabled: true,
            sentiment_threshold: -0.5,
            sentiment_turns: 2,
            low_confidence_enabled: true,
            low_confidence_threshold: 0.5,
            low_confidence_turns: 3,
        }
    }
}

impl CallConfig {
    /// Checks what the machine relies on; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.vad
            .to_vad_config()
            .validate()
            .map_err(|e| format!("call.vad: {e}"))?;
        let nonzero = [
            ("lead_ms", self.lead_ms),
            ("mark_every_ms", self.mark_every_ms),
            ("endpoint_timeout_ms", self.endpoint_timeout_ms),
            ("idle_reprompt_ms", self.idle_reprompt_ms),
            ("idle_hangup_ms", self.idle_hangup_ms),
            ("max_call_ms", self.max_call_ms),
            ("stt_batch_ms", self.stt_batch_ms),
        ];
        for (field, v) in nonzero {
            if v == 0 {
                return Err(format!("call.{field} must be > 0"));
            }
        }
        let bounded = [
            ("refill_ms", self.refill_ms),
            ("interrupt_min_ms", self.interrupt_min_ms),
            ("early_end_ms", self.early_end_ms),
            ("mark_grace_ms", self.mark_grace_ms),
            (
                "escalation_stop_timeout_ms",
                self.escalation_stop_timeout_ms,
            ),
            (
                "voicemail.keyword_window_ms",
                self.voicemail.keyword_window_ms,
            ),
            ("voicemail.max_speech_ms", self.voicemail.max_speech_ms),
        ];
        for (field, v) in nonzero.into_iter().chain(bounded) {
            // Deadlines are `Instant + ms`; a day keeps that far from overflow.
            if v > MAX_MS {
                return Err(format!("call.{field} must be <= {MAX_MS} (24 h)"));
            }
        }
        if self.lead_ms < 20 {
            return Err("call.lead_ms must be at least one 20 ms frame".into());
        }
        if self.refill_ms == 0 || self.refill_ms > self.lead_ms {
            return Err("call.refill_ms must be in 1..=lead_ms".into());
        }
        if self.stt_batch_ms > 1000 {
            return Err("call.stt_batch_ms must be <= 1000".into());
        }
        if !(1..=16).contains(&self.tts_ahead) {
            return Err("call.tts_ahead must be in 1..=16".into());
        }
        if !(20..=1000).contains(&self.max_media_ms) {
            return Err("call.max_media_ms must be in 20..=1000".into());
        }
        if self.stt_preroll_ms > 2000 {
            return Err("call.stt_preroll_ms must be <= 2000".into());
        }
        for (field, text) in [
            ("greeting", &self.greeting),
            ("goodbye_text", &self.goodbye_text),
            ("fallback_text", &self.fallback_text),
            ("tts_voice", &self.tts_voice),
        ] {
            if text.trim().is_empty() {
                return Err(format!("call.{field} must not be empty"));
            }
        }
        let disclosure = PhraseList::new(&[
            "ai",
            "a i",
            "artificial intelligence",
            "virtual assistant",
            "automated assistant",
        ]);
        if disclosure.find_in(&self.greeting).is_none() {
            return Err("call.greeting must disclose that the caller speaks with an AI".into());
        }
        self.escalation.validate()?;
        if self.voicemail.enabled && self.voicemail.max_speech_ms < 1000 {
            return Err("call.voicemail.max_speech_ms must be >= 1000".into());
        }
        Ok(())
    }
}

impl EscalationConfig {
    fn validate(&self) -> Result<(), String> {
        if !(-1.0..=1.0).contains(&self.sentiment_threshold) {
            return Err("call.escalation.sentiment_threshold must be in -1..1".into());
        }
        if self.sentiment_enabled && self.sentiment_turns == 0 {
            return Err("call.escalation.sentiment_turns must be > 0".into());
        }
        if !(0.0..=1.0).contains(&self.low_confidence_threshold) {
            return Err("call.escalation.low_confidence_threshold must be in 0..1".into());
        }
        if self.low_confidence_enabled && self.low_confidence_turns == 0 {
            return Err("call.escalation.low_confidence_turns must be > 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_brief() {
        let c = CallConfig::default();
        c.validate().expect("defaults validate");
        assert_eq!(c.lead_ms, 300);
        assert_eq!(c.mark_every_ms, 100);
        assert_eq!(c.max_call_ms, 300_000);
        assert_eq!(c.voicemail.max_speech_ms, 15_000);
        assert!(c.greeting.contains("AI"));
    }

    #[test]
    fn a_partial_toml_section_fills_in_defaults() {
        let c: CallConfig = toml::from_str(
            "lead_ms = 200\n[vad]\nstop_ms = 300\n[escalation]\nsentiment_enabled = false\n",
        )
        .expect("valid toml");
        assert_eq!(c.lead_ms, 200);
        assert_eq!(c.vad.stop_ms, 300);
        assert_eq!(c.vad.start_ms, VadConfig::default().start_ms);
        assert!(!c.escalation.sentiment_enabled);
        assert!(c.escalation.keywords_enabled);
        c.validate().expect("still valid");
    }

    #[test]
    fn bad_values_are_rejected_with_the_field_name() {
        let c = CallConfig {
            refill_ms: 500,
            ..CallConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("refill_ms"));
        let c = CallConfig {
            greeting: "Hello, how can I help?".into(),
            ..CallConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("AI"));
        let mut c = CallConfig::default();
        c.vad.threshold = 2.0;
        assert!(c.validate().unwrap_err().contains("vad"));
    }

    #[test]
    fn durations_beyond_a_day_are_rejected() {
        let c = CallConfig {
            max_call_ms: u64::MAX,
            ..CallConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("max_call_ms"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<CallConfig>("lead_msec = 3").is_err());
    }
}
