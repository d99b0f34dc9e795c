//! Composition: the one place that turns a [`Config`] into a running
//! engine — providers (real, or the built-in mocks through the real
//! clients), the sled store, the actor tree on the current tokio runtime,
//! and the HTTP server on its own actix system thread (DEPENDENCIES.md
//! pitfall 1: actors must not live on an actix worker).

use crate::config::{Config, ProviderMode};
use crate::http::state::AppState;
use crate::metrics::Metrics;
use crate::mocks::MockSet;
use crate::providers::{DeepgramStt, HttpTts, OpenAiChat, TwilioRest, TwilioRestConfig};
use crate::twilio::{Dial, DialTarget};
use actix_web::{web, HttpServer};
use anyhow::Context;
use futures_util::future::BoxFuture;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_actors::call::{Escalator, NoEscalator};
use switchboard_actors::engine::{Engine, EngineArgs, EngineHandle};
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::providers::{Chat, Stt, Tts};
use switchboard_actors::store::Store;
use switchboard_actors::trace::Escalation;
use switchboard_actors::trace_sink::TraceSinkMsg;

/// A running engine: actors on the caller's runtime, HTTP on its thread.
pub struct App {
    pub addr: SocketAddr,
    pub config: Arc<Config>,
    pub engine: EngineHandle,
    pub metrics: Arc<Metrics>,
    /// The in-process mock providers (provider mode "mock").
    pub mocks: Option<MockSet>,
    twilio_auth_token: Option<String>,
    janitor: tokio::task::JoinHandle<()>,
    server: actix_web::dev::ServerHandle,
    http_thread: Option<std::thread::JoinHandle<()>>,
}

/// The outside services, already built (tests inject their own).
pub struct Providers {
    pub chat: Vec<Arc<dyn Chat>>,
    pub stt: Arc<dyn Stt>,
    pub tts: Arc<dyn Tts>,
    pub escalator: Arc<dyn Escalator>,
    pub mocks: Option<MockSet>,
}

/// How a shutdown went.
#[derive(Debug)]
pub struct ShutdownReport {
    /// Calls still up when the grace period ran out (closed by force).
    pub calls_cut: usize,
    pub took: Duration,
}

impl App {
    /// Build providers from the config and start everything.
    pub async fn start(config: Config) -> anyhow::Result<App> {
        let providers = build_providers(&config).await?;
        Self::start_with(config, providers).await
    }

    pub async fn start_with(mut config: Config, providers: Providers) -> anyhow::Result<App> {
        // Everything that can refuse to start is checked before a port is bound.
        let twilio_auth_token = secret(&config.twilio.auth_token_env);
        if config.twilio.validate_signatures && twilio_auth_token.is_none() {
            anyhow::bail!(
                "twilio.validate_signatures is on but {} is not set (set it, or turn validation off for local development)",
                config.twilio.auth_token_env
            );
        }
        let keys = crate::http::auth::ApiKeys::from_config(&config.auth)?;
        let listener = TcpListener::bind(&config.server.bind)
            .with_context(|| format!("binding {}", config.server.bind))?;
        let addr = listener.local_addr()?;
        if config.server.bind.ends_with(":0") {
            // A free port was asked for (tests, demo, in-process load tests):
            // the public URL, which signatures cover, is that address.
            config.server.public_url = format!("http://{addr}");
        }
        let config = Arc::new(config);
        let store = Store::open(&config.store).context("opening the trace store")?;
        // Calls that were live when a previous run died cannot come back.
        match store.close_orphaned_live(chrono::Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                closed = n,
                "closed traces of calls left live by a previous run"
            ),
            Err(e) => tracing::warn!("could not close orphaned live traces: {e}"),
        }
        let janitor = switchboard_actors::store::spawn_janitor(
            store.clone(),
            Duration::from_secs(3600),
            1000,
        );
        let args = EngineArgs {
            store,
            sink_max_batch: config.sink.max_batch,
            sink_max_delay_ms: config.sink.max_delay_ms,
            llm_endpoints: providers.chat,
            llm: config.llm.clone(),
            router: config.router.clone(),
            call: Arc::new(config.call.clone()),
            tenant_calls: Arc::new(
                config
                    .tenant_calls
                    .iter()
                    .map(|(t, c)| (TenantId::new(t.as_str()), Arc::new(c.clone())))
                    .collect(),
            ),
            stt: providers.stt,
            tts: providers.tts,
            escalator: providers.escalator,
            policy: config.engine.restart.clone(),
            max_calls: config.engine.max_calls,
        };
        let engine = Engine::start(args)
            .await
            .context("starting the actor tree")?;
        let metrics = Arc::new(Metrics::default());
        let state = web::Data::new(AppState {
            config: config.clone(),
            engine: engine.clone(),
            metrics: metrics.clone(),
            twilio_auth_token: twilio_auth_token.clone(),
            call_token_secret: secret(&config.twilio.call_token_secret_env)
                .unwrap_or_else(random_secret)
                .into_bytes(),
            started: Instant::now(),
        });
        let trace_api = web::Data::new(
            crate::http::traces::TraceApi::new(
                engine.store.clone(),
                keys,
                Some(Arc::new(LiveCallsFromRegistry(engine.clone()))),
            )
            .with_sink(engine.trace_sink.clone()),
        );
        let (server, http_thread) = serve_http(listener, config.clone(), state, trace_api)?;
        tracing::info!(%addr, "switchboard listening");
        Ok(App {
            addr,
            config,
            engine,
            metrics,
            mocks: providers.mocks,
            twilio_auth_token,
            janitor,
            server,
            http_thread: Some(http_thread),
        })
    }

    /// The Twilio auth token webhooks are signed with, when set.
    pub fn twilio_auth_token(&self) -> Option<String> {
        self.twilio_auth_token.clone()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting calls, end live ones politely within `grace`, flush
    /// the trace store, stop HTTP and the actors.
    pub async fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        let began = Instant::now();
        let mut calls_cut = 0;
        if let Some(sup) = self.engine.supervisor.get() {
            let wait = grace + Duration::from_secs(2);
            calls_cut = ractor::call_t!(
                sup,
                |reply| switchboard_actors::supervisor::SupervisorMsg::Drain { grace, reply },
                wait.as_millis() as u64
            )
            .unwrap_or(0);
        }
        if let Some(sink) = self.engine.trace_sink.get() {
            // Confirmed writes are already durable; this flushes the rest.
            let _ = ractor::call_t!(sink, TraceSinkMsg::Flush, 10_000);
        }
        self.janitor.abort();
        self.server.stop(true).await;
        if let Some(t) = self.http_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        // Wait for the tree to stop so the store is closed when this returns.
        let _ = self
            .engine
            .engine
            .stop_and_wait(Some("shutdown".to_owned()), Some(Duration::from_secs(10)))
            .await;
        ShutdownReport {
            calls_cut,
            took: began.elapsed(),
        }
    }
}

fn serve_http(
    listener: TcpListener,
    config: Arc<Config>,
    state: web::Data<AppState>,
    trace_api: web::Data<crate::http::traces::TraceApi>,
) -> anyhow::Result<(actix_web::dev::ServerHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = config.server.workers;
    let max_body = config.server.max_body_bytes;
    let thread = std::thread::Builder::new()
        .name("http".to_owned())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(state.clone())
                        .app_data(trace_api.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .app_data(web::JsonConfig::default().limit(max_body))
                        .configure(crate::http::configure)
                })
                .workers(workers)
                .disable_signals()
                .shutdown_timeout(5)
                .listen(listener);
                match server {
                    Ok(server) => {
                        let server = server.run();
                        let _ = tx.send(Ok(server.handle()));
                        if let Err(e) = server.await {
                            tracing::error!("http server: {e}");
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })?;
    let handle = rx.recv().context("http thread died at start")??;
    Ok((handle, thread))
}

fn secret(env: &str) -> Option<String> {
    std::env::var(env).ok().filter(|v| !v.is_empty())
}

fn random_secret() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

/// The provider set the config asks for. In mock mode the mock servers
/// start on loopback and the real clients talk to them.
pub async fn build_providers(config: &Config) -> anyhow::Result<Providers> {
    crate::providers::install_crypto_provider();
    let p = &config.providers;
    let (mocks, mut chat_cfgs, stt_cfg, tts_cfg) = match p.mode {
        ProviderMode::Real => (None, p.chat.clone(), p.stt.clone(), p.tts.clone()),
        ProviderMode::Mock => {
            let mocks = MockSet::start(&p.mock)
                .await
                .context("starting mock providers")?;
            // The mocks take no keys: clear the key variables so the real
            // clients do not warn about them.
            let mut chat = p.chat.first().cloned().unwrap_or_default();
            chat.base_url = mocks.chat_url();
            chat.api_key_env.clear();
            let mut stt = p.stt.clone();
            stt.base_url = mocks.stt_url();
            stt.api_key_env.clear();
            let mut tts = p.tts.clone();
            tts.base_url = mocks.tts_url();
            tts.api_key_env.clear();
            (Some(mocks), vec![chat], stt, tts)
        }
    };
    if chat_cfgs.is_empty() {
        chat_cfgs.push(Default::default());
    }
    let chat = chat_cfgs
        .iter()
        .map(|c| {
            OpenAiChat::new(c)
                .map(|c| Arc::new(c) as Arc<dyn Chat>)
                .map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stt: Arc<dyn Stt> = Arc::new(DeepgramStt::new(&stt_cfg));
    let tts: Arc<dyn Tts> = Arc::new(HttpTts::new(&tts_cfg));
    let escalator: Arc<dyn Escalator> = match twilio_rest(config, mocks.as_ref()) {
        Some(rest) => Arc::new(RestEscalator(rest)),
        None => Arc::new(NoEscalator),
    };
    Ok(Providers {
        chat,
        stt,
        tts,
        escalator,
        mocks,
    })
}

/// Twilio REST for escalation and hang-up: the mock's in mock mode, else
/// the real API when its credentials are in the environment.
fn twilio_rest(config: &Config, mocks: Option<&MockSet>) -> Option<TwilioRest> {
    let cfg = TwilioRestConfig {
        base_url: config.twilio.api_base_url.clone(),
        account_sid_env: config.twilio.account_sid_env.clone(),
        auth_token_env: config.twilio.auth_token_env.clone(),
        ..Default::default()
    };
    match mocks {
        Some(m) => m.twilio_client().ok(),
        None => match TwilioRest::new(&cfg) {
            Ok(rest) => Some(rest),
            Err(e) => {
                tracing::warn!("no Twilio REST client ({e}): escalation cannot redirect calls");
                None
            }
        },
    }
}

/// Escalation and hang-up through Twilio REST.
struct RestEscalator(TwilioRest);

impl Escalator for RestEscalator {
    fn escalate(&self, call: &CallSid, esc: &Escalation) -> BoxFuture<'static, Result<(), String>> {
        let rest = self.0.clone();
        let call = call.clone();
        let target = esc.target.clone().unwrap_or_default();
        Box::pin(async move {
            let target = if target.starts_with('+') || target.chars().all(|c| c.is_ascii_digit()) {
                DialTarget::Number(target)
            } else {
                DialTarget::Client(target)
            };
            let mut dial = Dial::new(target);
            dial.timeout_secs = Some(30);
            let twiml = dial.to_xml();
            rest.redirect(call.as_str(), &twiml)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn hang_up(&self, call: &CallSid) -> BoxFuture<'static, Result<(), String>> {
        let rest = self.0.clone();
        let call = call.clone();
        Box::pin(async move {
            rest.hang_up(call.as_str())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Live calls for the conversation API, from the supervisor's registry.
struct LiveCallsFromRegistry(EngineHandle);

impl crate::http::traces::LiveCalls for LiveCallsFromRegistry {
    fn live(&self) -> BoxFuture<'static, Vec<switchboard_actors::supervisor::LiveCall>> {
        let sup = self.0.supervisor.clone();
        Box::pin(async move {
            match sup.get() {
                Some(s) => ractor::call_t!(
                    s,
                    switchboard_actors::supervisor::SupervisorMsg::List,
                    2_000
                )
                .unwrap_or_default(),
                None => Vec::new(),
            }
        })
    }
}
