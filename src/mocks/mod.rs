//! Mock providers that speak the real protocols, so the engine's real
//! clients are what run in tests, the demo and the load test:
//!
//! - [`stt`]: a Deepgram-style live STT WebSocket that recognises the speech
//!   fixtures by their audio ([`recognizer`], [`fixtures`]);
//! - [`chat`]: an OpenAI-compatible chat completions SSE server;
//! - [`tts`]: an OpenAI-compatible `/v1/audio/speech` returning speech-like
//!   24 kHz PCM ([`synth`]);
//! - [`twilio_api`]: the Twilio REST Calls update endpoint.
//!
//! Each `start` binds (127.0.0.1:0 unless told otherwise), spawns its server
//! on the current tokio runtime and returns a [`MockServer`] with the URL,
//! the shared state (counters, recorded requests, failure plans) and a
//! shutdown. HTTP mocks use the small hand-written server in [`http`].

pub mod chat;
pub mod chat_reply;
pub mod fixtures;
pub mod http;
pub mod recognizer;
pub mod stt;
pub mod synth;
pub mod tts;
pub mod twilio_api;

use std::net::SocketAddr;

/// Requests, texts and per-connection message logs kept for inspection;
/// beyond this only counters grow, so long load tests stay small.
pub const MAX_RECORDED: usize = 1000;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running mock server.
pub struct MockServer<S> {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port` (or `ws://` for the STT mock).
    pub url: String,
    /// Counters, recorded requests and failure plans.
    pub state: Arc<S>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl<S> MockServer<S> {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn state(&self) -> &Arc<S> {
        &self.state
    }

    /// Stops accepting and ends open connections.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await; // the accept loop ends on the signal
        }
    }
}

impl<S> Drop for MockServer<S> {
    fn drop(&mut self) {
        // Nobody may be listening any more: ignoring the send error is fine.
        let _ = self.shutdown.send(true);
    }
}

impl<S> MockServer<S> {
    pub(crate) fn from_parts(
        addr: SocketAddr,
        url: String,
        state: Arc<S>,
        shutdown: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            addr,
            url,
            state,
            shutdown,
            task: Some(task),
        }
    }
}

/// Binds `addr` and serves HTTP with `handler` on the current runtime.
pub(crate) async fn start_http<S, H, F>(
    addr: SocketAddr,
    scheme: &str,
    state: Arc<S>,
    handler: H,
) -> std::io::Result<MockServer<S>>
where
    H: Fn(http::Request, http::ResponseWriter, http::ClientWatch) -> F
        + Send
        + Sync
        + Clone
        + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(http::serve(listener, rx, handler));
    Ok(MockServer::from_parts(
        addr,
        format!("{scheme}://{addr}"),
        state,
        tx,
        task,
    ))
}

pub(crate) fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// All four mocks, as `switchboard mock-providers` and the demo run them.
pub struct MockSet {
    pub stt: MockServer<stt::SttMockState>,
    pub chat: MockServer<chat::ChatMockState>,
    pub tts: MockServer<tts::TtsMockState>,
    pub twilio: MockServer<twilio_api::TwilioMockState>,
}

/// Settings of all four mocks (`[providers.mock]` in config).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    pub stt: stt::SttMockConfig,
    pub chat: chat::ChatMockConfig,
    pub tts: tts::TtsMockConfig,
    pub twilio: twilio_api::TwilioMockConfig,
}

/// Where the mocks listen (printed by `switchboard mock-providers`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MockUrls {
    pub stt: String,
    pub chat: String,
    pub tts: String,
    pub twilio: String,
    /// Credentials the Twilio mock accepts.
    pub twilio_account_sid: String,
    pub twilio_auth_token: String,
}

impl MockSet {
    /// Starts all four on the current runtime at the addresses in `cfg`
    /// (127.0.0.1 with a free port unless configured).
    pub async fn start(cfg: &MockConfig) -> std::io::Result<MockSet> {
        Ok(MockSet {
            stt: stt::start(cfg.stt.clone()).await?,
            chat: chat::start(cfg.chat.clone()).await?,
            tts: tts::start(cfg.tts.clone()).await?,
            twilio: twilio_api::start(cfg.twilio.clone()).await?,
        })
    }

    /// Like [`MockSet::start`], but every mock binds `host` (an IP address)
    /// with the port of its configured address.
    pub async fn start_on(cfg: &MockConfig, host: &str) -> std::io::Result<MockSet> {
        let ip: std::net::IpAddr = host.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not an IP address: {host:?}"),
            )
        })?;
        let mut cfg = cfg.clone();
        cfg.stt.bind.set_ip(ip);
        cfg.chat.bind.set_ip(ip);
        cfg.tts.bind.set_ip(ip);
        cfg.twilio.bind.set_ip(ip);
        Self::start(&cfg).await
    }

    /// `ws://…` for [`crate::providers::SttConfig::base_url`].
    pub fn stt_url(&self) -> String {
        self.stt.url.clone()
    }

    /// `http://…` for [`crate::providers::ChatEndpointConfig::base_url`].
    pub fn chat_url(&self) -> String {
        self.chat.url.clone()
    }

    /// `http://…` for [`crate::providers::TtsConfig::base_url`].
    pub fn tts_url(&self) -> String {
        self.tts.url.clone()
    }

    /// `http://…` for [`crate::providers::TwilioRestConfig::base_url`].
    pub fn twilio_url(&self) -> String {
        self.twilio.url.clone()
    }

    /// A Twilio REST client with the credentials the Twilio mock accepts.
    pub fn twilio_client(
        &self,
    ) -> Result<crate::providers::TwilioRest, crate::providers::TwilioRestError> {
        let cfg = crate::providers::TwilioRestConfig {
            base_url: self.twilio_url(),
            ..Default::default()
        };
        let creds = self.twilio.state.credentials();
        crate::providers::TwilioRest::with_credentials(cfg, &creds.0, &creds.1)
    }

    pub fn urls(&self) -> MockUrls {
        let (sid, token) = self.twilio.state.credentials();
        MockUrls {
            stt: self.stt_url(),
            chat: self.chat_url(),
            tts: self.tts_url(),
            twilio: self.twilio_url(),
            twilio_account_sid: sid,
            twilio_auth_token: token,
        }
    }

    /// One line per mock.
    pub fn describe(&self) -> String {
        format!(
            "STT (Deepgram) {}\nchat (OpenAI)  {}\nTTS (OpenAI)   {}\nTwilio REST    {}",
            self.stt.url, self.chat.url, self.tts.url, self.twilio.url
        )
    }

    pub async fn shutdown(self) {
        self.stt.shutdown().await;
        self.chat.shutdown().await;
        self.tts.shutdown().await;
        self.twilio.shutdown().await;
    }
}
