//! A tiny fake Twilio-facing engine for the load generator's tests: a voice
//! webhook that answers TwiML and a media WebSocket that plays bot audio,
//! sends marks and clears, on one 127.0.0.1:0 listener. Everything it sees
//! and sends is logged with (tokio, possibly paused) timestamps.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use switchboard::loadgen::fixtures::{Fixtures, Utterance};
use switchboard::loadgen::script::{Plan, Script, Step};
use switchboard::loadgen::webhook::twilio_signature;
use switchboard::loadgen::LoadtestConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// How the webhook answers.
#[derive(Clone, Debug)]
pub enum WebhookReply {
    Stream,
    Hangup,
    Status(u16),
}

/// What the fake engine does.
#[derive(Clone, Debug)]
pub struct Behavior {
    pub webhook: WebhookReply,
    pub refuse_upgrade: bool,
    /// Audio sent right after `start`, then a mark named "greeting".
    pub greeting_ms: u64,
    /// Send `clear` this long after the greeting was sent.
    pub clear_after_ms: Option<u64>,
    /// Send `clear` when caller speech starts while bot audio plays.
    pub clear_on_speech: bool,
    /// Reply audio sent this long after caller speech stops, then mark "reply".
    pub reply_delay_ms: u64,
    pub reply_ms: u64,
    /// Split the reply in two halves with this much silence between them
    /// (beyond the first half's own playing time): an outbound gap.
    pub reply_gap_ms: u64,
    pub auth_token: Option<String>,
    /// Public base URL the webhook signature covers (default: the real one).
    pub public_url: Option<String>,
    /// Log nothing per message (load runs: the log would dominate).
    pub quiet: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            webhook: WebhookReply::Stream,
            refuse_upgrade: false,
            greeting_ms: 0,
            clear_after_ms: None,
            clear_on_speech: false,
            reply_delay_ms: 300,
            reply_ms: 0,
            reply_gap_ms: 0,
            auth_token: None,
            public_url: None,
            quiet: false,
        }
    }
}

/// One thing the fake engine saw or did.
#[derive(Clone, Debug)]
pub enum Seen {
    Webhook {
        form: Vec<(String, String)>,
        signature_ok: Option<bool>,
    },
    Upgrade {
        path: String,
        signature_ok: Option<bool>,
    },
    /// A message from the caller.
    Msg(Value),
    /// A message the engine sent: event name and mark name if any.
    Sent(String),
    Closed,
}

pub type Log = Arc<Mutex<Vec<(Instant, Seen)>>>;

pub const PUBLIC_WSS: &str = "wss://public.example/twilio/media";

pub struct FakeEngine {
    pub base: String,
    pub log: Log,
}

impl FakeEngine {
    pub async fn start(behavior: Behavior) -> FakeEngine {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound");
        let log: Log = Arc::default();
        let base = format!("http://{addr}");
        let (l, b, base2) = (log.clone(), behavior, base.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, b.clone(), l.clone(), base2.clone()));
            }
        });
        FakeEngine { base, log }
    }

    pub fn entries(&self) -> Vec<(Instant, Seen)> {
        self.log.lock().expect("log lock").clone()
    }

    /// Messages the caller sent, in order, with arrival times.
    pub fn caller_messages(&self) -> Vec<(Instant, Value)> {
        self.entries()
            .into_iter()
            .filter_map(|(t, s)| match s {
                Seen::Msg(v) => Some((t, v)),
                _ => None,
            })
            .collect()
    }

    /// When the engine sent an event (first match).
    pub fn sent_at(&self, what: &str) -> Option<Instant> {
        self.entries().into_iter().find_map(|(t, s)| match s {
            Seen::Sent(n) if n == what => Some(t),
            _ => None,
        })
    }
}

fn push(log: &Log, seen: Seen) {
    log.lock().expect("log lock").push((Instant::now(), seen));
}

async fn serve(stream: TcpStream, b: Behavior, log: Log, base: String) {
    let mut first = [0u8; 4];
    if stream.peek(&mut first).await.is_err() {
        return;
    }
    if &first == b"GET " {
        serve_ws(stream, b, log).await;
    } else {
        serve_webhook(stream, b, log, base).await;
    }
}

async fn serve_webhook(mut stream: TcpStream, b: Behavior, log: Log, base: String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (i + 4, len);
        }
    };
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let signature = head.lines().find_map(|l| {
        l.to_lowercase()
            .starts_with("x-twilio-signature:")
            .then(|| l[19..].trim().to_owned())
    });
    let signature_ok = b.auth_token.as_ref().map(|token| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let url = format!("{}/twilio/voice", b.public_url.as_deref().unwrap_or(&base));
        signature.as_deref() == Some(twilio_signature(token, &url, &pairs).as_str())
    });
    push(&log, Seen::Webhook { form, signature_ok });
    let (status, body) = match b.webhook {
        WebhookReply::Stream => (
            200,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{PUBLIC_WSS}"><Parameter name="token" value="tok-1"/></Stream></Connect></Response>"#
            ),
        ),
        WebhookReply::Hangup => (200, "<Response><Hangup/></Response>".to_owned()),
        WebhookReply::Status(s) => (s, String::new()),
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn silence_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode([0xFFu8; 160])
}

async fn serve_ws(stream: TcpStream, b: Behavior, log: Log) {
    let refuse = b.refuse_upgrade;
    let token = b.auth_token.clone();
    let log2 = log.clone();
    // tungstenite's callback signature fixes the large error type.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let sig = req
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok());
        let signature_ok = token
            .as_ref()
            .map(|t| sig == Some(twilio_signature(t, PUBLIC_WSS, &[]).as_str()));
        push(
            &log2,
            Seen::Upgrade {
                path: req.uri().path().to_owned(),
                signature_ok,
            },
        );
        if refuse {
            let mut r = ErrorResponse::new(Some("busy".into()));
            *r.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::FORBIDDEN;
            return Err(r);
        }
        Ok(resp)
    };
    // Small buffers: tungstenite zero-fills its whole read buffer per read.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024);
    let accepted = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config));
    let Ok(mut ws) = accepted.await else {
        return;
    };
    let silence = silence_b64();
    let speech_payload = base64::engine::general_purpose::STANDARD.encode([0x10u8; 160]);
    let mut playing_until = Instant::now();
    let mut in_speech = false;
    let mut actions: Vec<(Instant, &'static str)> = Vec::new();
    loop {
        actions.sort_by_key(|a| std::cmp::Reverse(a.0));
        let next = actions.last().map(|a| a.0);
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = sleep_until_opt(next) => {
                let (_, what) = actions.pop().expect("an action was due");
                match what {
                    "clear" => send(&mut ws, &log, "clear", r#"{"event":"clear","streamSid":"MZ"}"#).await,
                    "reply2" => {
                        let n = b.reply_ms / 40;
                        playing_until = play(&mut ws, &log, n, &speech_payload, "reply2").await;
                    }
                    _ if b.reply_gap_ms > 0 => {
                        let n = b.reply_ms / 40;
                        playing_until = play(&mut ws, &log, n, &speech_payload, "reply").await;
                        let gap = Duration::from_millis(b.reply_gap_ms);
                        actions.push((playing_until + gap, "reply2"));
                    }
                    _ => {
                        let n = b.reply_ms / 20;
                        playing_until = play(&mut ws, &log, n, &speech_payload, "reply").await;
                    }
                }
                continue;
            }
        };
        let Some(Ok(Message::Text(text))) = msg else {
            push(&log, Seen::Closed);
            return;
        };
        let v: Value = serde_json::from_str(&text).expect("caller sends JSON");
        if !b.quiet {
            push(&log, Seen::Msg(v.clone()));
        }
        match v["event"].as_str().unwrap_or("") {
            "start" if b.greeting_ms > 0 => {
                playing_until = play(
                    &mut ws,
                    &log,
                    b.greeting_ms / 20,
                    &speech_payload,
                    "greeting",
                )
                .await;
                if let Some(ms) = b.clear_after_ms {
                    actions.push((Instant::now() + Duration::from_millis(ms), "clear"));
                }
            }
            "media" => {
                let speech = v["media"]["payload"].as_str() != Some(silence.as_str());
                if speech && !in_speech && b.clear_on_speech && Instant::now() < playing_until {
                    send(
                        &mut ws,
                        &log,
                        "clear",
                        r#"{"event":"clear","streamSid":"MZ"}"#,
                    )
                    .await;
                    playing_until = Instant::now();
                }
                if !speech && in_speech && b.reply_ms > 0 {
                    actions.push((
                        Instant::now() + Duration::from_millis(b.reply_delay_ms),
                        "reply",
                    ));
                }
                in_speech = speech;
            }
            "stop" => {
                let _ = ws.close(None).await;
            }
            _ => {}
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

type ServerWs = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn send(ws: &mut ServerWs, log: &Log, what: &str, text: &str) {
    push(log, Seen::Sent(what.to_owned()));
    let _ = ws.send(Message::text(text.to_owned())).await;
}

/// Sends `frames` 20 ms media messages at once, then a mark `name`.
async fn play(ws: &mut ServerWs, log: &Log, frames: u64, payload: &str, name: &str) -> Instant {
    push(log, Seen::Sent(format!("{name}-audio")));
    for _ in 0..frames {
        let m =
            format!(r#"{{"event":"media","streamSid":"MZ","media":{{"payload":"{payload}"}}}}"#);
        let _ = ws.feed(Message::text(m)).await;
    }
    let _ = ws.flush().await;
    let mark = format!(r#"{{"event":"mark","streamSid":"MZ","mark":{{"name":"{name}"}}}}"#);
    send(ws, log, &format!("mark:{name}"), &mark).await;
    Instant::now() + Duration::from_millis(frames * 20)
}

/// A 200 ms utterance that is speech from its first to its last frame.
pub fn fixtures() -> Fixtures {
    let speech = vec![0x10u8; 160 * 10];
    Fixtures::from_utterances(vec![Utterance::from_ulaw(
        "hello",
        "hello",
        &speech,
        (0, 200),
    )])
}

pub fn plan(steps: Vec<Step>) -> Plan {
    Plan::single(Script {
        name: "test".into(),
        from: "+15550001".into(),
        to: "+15550002".into(),
        steps,
    })
}

pub fn config(calls: u64) -> LoadtestConfig {
    LoadtestConfig {
        calls,
        ramp_per_s: 100.0,
        concurrency: 100,
        ..LoadtestConfig::default()
    }
}

/// Milliseconds between two instants (signed).
pub fn ms(from: Instant, to: Instant) -> i64 {
    if to >= from {
        (to - from).as_millis() as i64
    } else {
        -((from - to).as_millis() as i64)
    }
}

pub fn event_names(msgs: &[(Instant, Value)]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (_, v) in msgs {
        *m.entry(v["event"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    m
}
