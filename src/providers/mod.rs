//! Real network clients of the speech and language providers, behind the
//! provider traits of `switchboard_actors::providers`:
//!
//! - [`OpenAiChat`]: OpenAI-compatible `/v1/chat/completions`, SSE streaming
//!   (OpenAI, vLLM, llama.cpp server, Ollama by base URL);
//! - [`DeepgramStt`]: Deepgram-style live transcription over a WebSocket;
//! - [`HttpTts`]: OpenAI-compatible `/v1/audio/speech` returning raw PCM;
//! - [`TwilioRest`]: updates a live Twilio call (escalation, hang-up).
//!
//! Every client reads its key from an environment variable named in config,
//! never from the config itself, and uses connect and read timeouts rather
//! than a total deadline (a total deadline kills long streams).

pub mod deepgram;
pub mod deepgram_wire;
pub mod openai_chat;
pub mod sse;
pub mod tts;
pub mod twilio_rest;

pub use deepgram::{DeepgramStt, SttConfig, SttCounters};
pub use openai_chat::{ChatEndpointConfig, OpenAiChat};
pub use tts::{HttpTts, TtsConfig};
pub use twilio_rest::{CallResource, CallUpdate, TwilioRest, TwilioRestConfig, TwilioRestError};

use std::sync::Once;

/// Installs rustls' aws-lc-rs CryptoProvider as the process default, once.
/// tokio-tungstenite panics on the first `wss://` without one; the clients
/// call this in their constructors, `main` may call it at start-up too.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another part of the process installed one first: fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Reads the key named by `env_name`; `None` when the name is empty (local
/// servers such as llama.cpp or Ollama need no key) or the variable is unset.
pub(crate) fn api_key_from_env(env_name: &str) -> Option<String> {
    if env_name.is_empty() {
        return None;
    }
    match std::env::var(env_name) {
        Ok(key) if !key.is_empty() => Some(key),
        _ => {
            tracing::warn!(
                env = env_name,
                "provider key variable is not set; sending no key"
            );
            None
        }
    }
}

/// Joins a base URL and an API path, tolerating a trailing `/` and a base
/// that already ends in `/v1` (`https://api.openai.com/v1` is common).
pub(crate) fn join_api_path(base: &str, path_after_v1: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/{}", path_after_v1.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::join_api_path;

    #[test]
    fn base_url_with_or_without_v1_gives_one_v1() {
        for base in [
            "http://h:1",
            "http://h:1/",
            "http://h:1/v1",
            "http://h:1/v1/",
        ] {
            assert_eq!(
                join_api_path(base, "chat/completions"),
                "http://h:1/v1/chat/completions"
            );
        }
    }
}
