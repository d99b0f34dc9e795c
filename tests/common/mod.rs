//! Shared harness of the end-to-end tests: the real engine (HTTP, actors,
//! sled in a temp dir, mock providers through the real clients) on
//! 127.0.0.1:0, and a simulated Twilio phone on a real WebSocket that plays
//! bot audio in real time, echoes marks as Twilio does and records every
//! frame it receives with its arrival time.

#![allow(dead_code)] // each test binary uses part of the harness

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::app::App;
use switchboard::config::Config;
use switchboard::loadgen::playback::{Playback, PlaybackConfig};
use switchboard::twilio::{self, ServerFrame, TwilioStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub const AUTH_TOKEN: &str = "test-twilio-auth-token";
pub const ADMIN_KEY: &str = "admin-secret-key-123";
pub const SUPERVISOR_KEY: &str = "supervisor-secret-123";
pub const VIEWER_KEY: &str = "viewer-secret-key-123";

/// A fresh store directory under the system temp dir.
pub fn temp_store(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-e2e-{name}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The defaults for a test engine: mock providers, signatures on with a
/// known token, three API keys, a temp store. `tweak` adjusts the rest.
pub fn test_config(name: &str, tweak: impl FnOnce(&mut Config)) -> Config {
    let env = vec![
        (
            "SWITCHBOARD__SERVER__BIND".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (
            "SWITCHBOARD__ENGINE__DEBUG_ROUTES".to_owned(),
            "true".to_owned(),
        ),
    ];
    let mut config = Config::load(None, env).expect("test config is valid");
    config.store.path = temp_store(name);
    config.router.scenarios_dir =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/scenarios"));
    config.providers.mock.stt.fixtures_dir = Some(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures"
    )));
    tweak(&mut config);
    config
}

/// Start the engine; the Twilio token and API keys come through the
/// environment as in production (set once per test process).
pub async fn start(name: &str, tweak: impl FnOnce(&mut Config)) -> App {
    set_env_once();
    let config = test_config(name, tweak);
    App::start(config).await.expect("engine starts")
}

fn set_env_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Set before any engine reads them, while tests of this binary
        // only read the same values.
        std::env::set_var("TWILIO_AUTH_TOKEN", AUTH_TOKEN);
        std::env::set_var(
            "SWITCHBOARD_API_KEYS",
            format!(
                "ops:admin:{ADMIN_KEY},sup:supervisor:{SUPERVISOR_KEY},watcher:viewer:{VIEWER_KEY}"
            ),
        );
    });
}

/// POST the voice webhook as Twilio would (signed). Returns status and body.
pub async fn voice_webhook(app: &App, call_sid: &str) -> (u16, String) {
    let url = format!(
        "{}/twilio/voice",
        app.config.server.public_url.trim_end_matches('/')
    );
    let params = vec![
        ("CallSid".to_owned(), call_sid.to_owned()),
        ("AccountSid".to_owned(), "ACtest".to_owned()),
        ("From".to_owned(), "+15550001111".to_owned()),
        ("To".to_owned(), "+15550002222".to_owned()),
        ("CallStatus".to_owned(), "ringing".to_owned()),
        ("Direction".to_owned(), "inbound".to_owned()),
    ];
    let sig = twilio::compute_signature(AUTH_TOKEN, &url, &params);
    let resp = reqwest::Client::new()
        .post(format!("{}/twilio/voice", app.base_url()))
        .header("x-twilio-signature", sig)
        .form(&params)
        .send()
        .await
        .expect("webhook answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// `<Parameter name value>` pairs of a TwiML answer.
pub fn twiml_parameters(twiml: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in twiml.split("<Parameter ").skip(1) {
        let attr = |name: &str| {
            let start = part.find(&format!("{name}=\""))? + name.len() + 2;
            let end = part[start..].find('"')? + start;
            Some(
                part[start..end]
                    .replace("&amp;", "&")
                    .replace("&quot;", "\""),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.insert(n, v);
        }
    }
    out
}

/// One frame the phone received, with when it arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    Media {
        bytes: usize,
        at: Instant,
    },
    Mark {
        name: String,
        at: Instant,
    },
    Clear {
        at: Instant,
    },
    Closed {
        code: Option<u16>,
        reason: String,
        at: Instant,
    },
}

/// What the phone sends next, besides its steady 20 ms audio.
#[derive(Debug)]
pub enum PhoneCmd {
    /// Speak this mu-law (queued after what is being spoken).
    Say(Vec<u8>),
    Dtmf(char),
    /// Hang up: `stop`, then close.
    HangUp,
    /// Send a raw text frame (malformed input tests).
    RawText(String),
    RawBinary(Vec<u8>),
}

/// A simulated Twilio phone on a real WebSocket.
pub struct Phone {
    pub call_sid: String,
    pub tx: mpsc::UnboundedSender<PhoneCmd>,
    pub heard: Arc<Mutex<Vec<Heard>>>,
    /// Marks echoed back to the engine.
    pub echoed: Arc<Mutex<Vec<String>>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Phone {
    /// Webhook, then the socket, `connected` and `start`.
    pub async fn call(app: &App, call_sid: &str) -> Phone {
        let (status, twiml) = voice_webhook(app, call_sid).await;
        assert_eq!(status, 200, "webhook: {twiml}");
        let params = twiml_parameters(&twiml);
        Self::connect(app, call_sid, params).await
    }

    /// [`Phone::call`], then wait until the greeting has played out.
    pub async fn greeted(app: &App, call_sid: &str) -> Phone {
        let phone = Self::call(app, call_sid).await;
        phone
            .wait_reply_done(0, Duration::from_millis(600), Duration::from_secs(15))
            .await;
        phone
    }

    /// Open the media socket (signed upgrade) and send `connected` + `start`.
    pub async fn connect(app: &App, call_sid: &str, params: BTreeMap<String, String>) -> Phone {
        let ws = open_socket(app).await;
        let (tx, rx) = mpsc::unbounded_channel();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let echoed = Arc::new(Mutex::new(Vec::new()));
        let stream = TwilioStream::new("ACtest", call_sid, &format!("MZ{call_sid}"));
        let task = tokio::spawn(run_phone(
            ws,
            stream,
            params,
            rx,
            heard.clone(),
            echoed.clone(),
        ));
        Phone {
            call_sid: call_sid.to_owned(),
            tx,
            heard,
            echoed,
            task,
        }
    }

    pub fn say(&self, ulaw: &[u8]) {
        let _ = self.tx.send(PhoneCmd::Say(ulaw.to_vec()));
    }

    pub fn send(&self, cmd: PhoneCmd) {
        let _ = self.tx.send(cmd);
    }

    pub fn heard(&self) -> Vec<Heard> {
        self.heard.lock().unwrap().clone()
    }

    pub fn media_bytes(&self) -> usize {
        self.heard()
            .iter()
            .map(|h| {
                if let Heard::Media { bytes, .. } = h {
                    *bytes
                } else {
                    0
                }
            })
            .sum()
    }

    pub fn closed(&self) -> Option<Heard> {
        self.heard()
            .into_iter()
            .find(|h| matches!(h, Heard::Closed { .. }))
    }

    /// Wait until `pred` holds on what was heard, or panic after `limit`.
    pub async fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&[Heard]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred(&self.heard()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; heard {:?}",
                summary(&self.heard())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait for bot audio, then for `quiet` without any: one whole reply.
    pub async fn wait_reply_done(&self, after: usize, quiet: Duration, limit: Duration) {
        self.wait_for("bot audio", limit, |h| media_count(h) > after)
            .await;
        let deadline = Instant::now() + limit;
        loop {
            let last = self.heard().iter().rev().find_map(|h| {
                if let Heard::Media { at, .. } = h {
                    Some(*at)
                } else {
                    None
                }
            });
            if last.is_some_and(|t| t.elapsed() >= quiet) {
                return;
            }
            assert!(Instant::now() < deadline, "reply never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn media_count(h: &[Heard]) -> usize {
    h.iter()
        .filter(|h| matches!(h, Heard::Media { .. }))
        .count()
}

/// Milliseconds of bot audio in `h` (media messages carry 20 ms frames,
/// joined up to `call.max_media_ms`).
pub fn media_ms(h: &[Heard]) -> usize {
    h.iter()
        .map(|h| match h {
            Heard::Media { bytes, .. } => bytes / 8,
            _ => 0,
        })
        .sum()
}

fn summary(h: &[Heard]) -> String {
    let media = media_count(h);
    let rest: Vec<String> = h
        .iter()
        .filter(|h| !matches!(h, Heard::Media { .. }))
        .map(|h| format!("{h:?}"))
        .take(20)
        .collect();
    format!("{media} media frames; {rest:?}")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect to `/twilio/media` with the upgrade signed as Twilio signs it.
pub async fn open_socket(app: &App) -> Ws {
    try_open_socket(app, true)
        .await
        .expect("media socket opens")
}

pub async fn try_open_socket(
    app: &App,
    sign: bool,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/twilio/media", app.addr).into_client_request()?;
    if sign {
        let sig = twilio::compute_signature(AUTH_TOKEN, &app.config.media_ws_url(), &[]);
        req.headers_mut().insert(
            "x-twilio-signature",
            sig.parse().expect("base64 is a valid header"),
        );
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn run_phone(
    mut ws: Ws,
    mut stream: TwilioStream,
    params: BTreeMap<String, String>,
    mut rx: mpsc::UnboundedReceiver<PhoneCmd>,
    heard: Arc<Mutex<Vec<Heard>>>,
    echoed: Arc<Mutex<Vec<String>>>,
) {
    let start = Instant::now();
    if ws.send(Message::text(stream.connected())).await.is_err()
        || ws.send(Message::text(stream.start(params))).await.is_err()
    {
        return;
    }
    let mut speech: std::collections::VecDeque<u8> = Default::default();
    let mut playback = Playback::new(Instant::now(), PlaybackConfig::default());
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent_frames = 0u64;
    let mut hung_up = false;
    let mut echoes = Vec::new();
    let mut payload = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick(), if !hung_up => {
                let frame: Vec<u8> = (0..160).map(|_| speech.pop_front().unwrap_or(0xFF)).collect();
                let ts = sent_frames * 20;
                sent_frames += 1;
                if let Err(e) = ws.send(Message::text(stream.media(ts, &frame))).await {
                    heard.lock().unwrap().push(Heard::Closed { code: None, reason: format!("send failed: {e}"), at: Instant::now() });
                    break;
                }
                echoes.clear();
                playback.poll(Instant::now(), &mut echoes);
                for e in echoes.drain(..) {
                    echoed.lock().unwrap().push(e.name.clone());
                    if ws.send(Message::text(stream.mark(&e.name))).await.is_err() { break; }
                }
            }
            cmd = rx.recv(), if !hung_up => match cmd {
                Some(PhoneCmd::Say(ulaw)) => speech.extend(ulaw),
                Some(PhoneCmd::Dtmf(d)) => { let _ = ws.send(Message::text(stream.dtmf(d))).await; }
                Some(PhoneCmd::RawText(t)) => { let _ = ws.send(Message::text(t)).await; }
                Some(PhoneCmd::RawBinary(b)) => { let _ = ws.send(Message::binary(b)).await; }
                Some(PhoneCmd::HangUp) | None => {
                    hung_up = true;
                    let _ = ws.send(Message::text(stream.stop())).await;
                    let _ = ws.close(None).await;
                    // Keep reading until the server closes, to see its frames.
                }
            },
            msg = ws.next() => {
                let now = Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        let Ok(frame) = twilio::parse_server_frame(&text) else { continue };
                        match frame {
                            ServerFrame::Media { .. } => {
                                let _ = frame.decode_payload_into(&mut payload);
                                playback.on_media(now, payload.len());
                                heard.lock().unwrap().push(Heard::Media { bytes: payload.len(), at: now });
                            }
                            ServerFrame::Mark { name, .. } => {
                                heard.lock().unwrap().push(Heard::Mark { name: name.to_string(), at: now });
                                if let Some(e) = playback.on_mark(now, name.to_string()) {
                                    echoed.lock().unwrap().push(e.name.clone());
                                    let _ = ws.send(Message::text(stream.mark(&e.name))).await;
                                }
                            }
                            ServerFrame::Clear { .. } => {
                                heard.lock().unwrap().push(Heard::Clear { at: now });
                                echoes.clear();
                                playback.on_clear(now, &mut echoes);
                                for e in echoes.drain(..) {
                                    echoed.lock().unwrap().push(e.name.clone());
                                    let _ = ws.send(Message::text(stream.mark(&e.name))).await;
                                }
                            }
                            ServerFrame::Unknown { .. } => {}
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame.map(|f| (Some(u16::from(f.code)), f.reason.to_string())).unwrap_or((None, String::new()));
                        heard.lock().unwrap().push(Heard::Closed { code, reason, at: now });
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        heard.lock().unwrap().push(Heard::Closed { code: None, reason: e.to_string(), at: now });
                        break;
                    }
                    None => {
                        heard.lock().unwrap().push(Heard::Closed { code: None, reason: "eof".to_owned(), at: now });
                        break;
                    }
                }
            }
        }
    }
    let _ = start;
}

/// Speech fixtures (8 kHz mu-law) by id.
pub fn fixture(id: &str) -> Vec<u8> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("utterances.json")).unwrap()).unwrap();
    let entry = index["utterances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("no fixture {id}"));
    std::fs::read(dir.join(entry["file"].as_str().unwrap())).unwrap()
}

/// An admin/supervisor/viewer HTTP request with a bearer key.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Short texts and fast mocks so real-time tests stay short.
pub fn quick(config: &mut Config) {
    config.call.greeting = "Hello, I'm an AI assistant. How can I help?".to_owned();
    config.providers.mock.tts.ms_per_char = 45;
}

/// GET an admin route with the admin key, as JSON.
pub async fn admin_get(app: &App, path: &str) -> (u16, serde_json::Value) {
    let resp = http()
        .get(format!("{}{path}", app.base_url()))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// Poll the admin API until the call's final trace is stored.
pub async fn ended_trace(app: &App, call: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, v) = admin_get(app, &format!("/admin/call-traces/{call}")).await;
        if status == 200 && v["status"] == "ended" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no ended trace for {call}: {status} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The engine's `/metrics` page (open by default).
pub async fn metrics_text(app: &App) -> String {
    http()
        .get(format!("{}/metrics", app.base_url()))
        .send()
        .await
        .expect("metrics answers")
        .text()
        .await
        .expect("metrics body")
}
