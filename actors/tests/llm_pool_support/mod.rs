//! In-process fake chat endpoints and event collectors for the LlmPool and
//! Router tests. A fake plays scripts (chunks, delays, errors, a stream
//! that never ends) and records what it was asked and when its streams
//! were dropped.
#![allow(dead_code)]

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_actors::llm_pool::LlmEvent;
use switchboard_actors::providers::{
    Chat, ChatChunk, ChatError, ChatRequest, ChatStream, EventSink, TokenUsage,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub enum Step {
    Token(&'static str),
    Text(String),
    Usage(u32, u32),
    Delay(u64),
    Error(ChatError),
    /// Never yields again (a stream only cancel can stop).
    Forever,
}

#[derive(Clone, Debug)]
pub enum Script {
    Stream(Vec<Step>),
    /// `open` fails with this error.
    Refuse(ChatError),
}

pub struct FakeChat {
    name: String,
    model: String,
    scripts: Mutex<VecDeque<Script>>,
    /// Played when the scripted queue is empty.
    fallback: Script,
    pub opens: Mutex<Vec<(Instant, ChatRequest)>>,
    /// Streams dropped before they ended (cancelled or abandoned).
    pub dropped_early: Arc<AtomicUsize>,
}

impl FakeChat {
    pub fn new(name: &str, fallback: Script) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            model: "gpt-4o-mini".to_owned(),
            scripts: Mutex::new(VecDeque::new()),
            fallback,
            opens: Mutex::new(Vec::new()),
            dropped_early: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn then(self: &Arc<Self>, script: Script) -> Arc<Self> {
        self.scripts.lock().unwrap().push_back(script);
        Arc::clone(self)
    }

    pub fn open_count(&self) -> usize {
        self.opens.lock().unwrap().len()
    }

    pub fn open_times(&self) -> Vec<Instant> {
        self.opens.lock().unwrap().iter().map(|(t, _)| *t).collect()
    }

    /// The last user message of each request, in the order they were opened.
    pub fn asked(&self) -> Vec<String> {
        self.opens
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| {
                r.messages
                    .last()
                    .map(|m| m.content.clone())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Counts a stream dropped before its end.
struct DropProbe {
    ended: bool,
    counter: Arc<AtomicUsize>,
}

impl DropProbe {
    fn end(&mut self) {
        self.ended = true;
    }
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        if !self.ended {
            self.counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Chat for FakeChat {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn open(&self, req: ChatRequest) -> BoxFuture<'static, Result<ChatStream, ChatError>> {
        self.opens.lock().unwrap().push((Instant::now(), req));
        let script = self
            .scripts
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone());
        let counter = Arc::clone(&self.dropped_early);
        Box::pin(async move {
            let steps = match script {
                Script::Refuse(e) => return Err(e),
                Script::Stream(steps) => VecDeque::from(steps),
            };
            let probe = DropProbe {
                ended: false,
                counter,
            };
            let s = stream::unfold((steps, probe), |(mut steps, mut probe)| async move {
                loop {
                    let Some(step) = steps.pop_front() else {
                        probe.end();
                        return None;
                    };
                    let item = match step {
                        Step::Delay(ms) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            continue;
                        }
                        Step::Forever => std::future::pending().await,
                        Step::Token(t) => Ok(ChatChunk::Token(t.to_owned())),
                        Step::Text(t) => Ok(ChatChunk::Token(t)),
                        Step::Usage(p, c) => Ok(ChatChunk::Usage(TokenUsage {
                            prompt_tokens: p,
                            completion_tokens: c,
                        })),
                        Step::Error(e) => Err(e),
                    };
                    return Some((item, (steps, probe)));
                }
            });
            Ok(s.boxed())
        })
    }
}

pub fn status(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> ChatError {
    ChatError::Status {
        status,
        retry_after,
        code: code.map(str::to_owned),
        should_retry: None,
        message: format!("fake {status}"),
    }
}

pub fn reply(tokens: &[&'static str]) -> Script {
    let mut steps: Vec<Step> = tokens.iter().map(|t| Step::Token(t)).collect();
    steps.push(Step::Usage(10, tokens.len() as u32));
    Script::Stream(steps)
}

/// An EventSink that forwards into a channel, and the receiving end.
pub fn collector() -> (EventSink<LlmEvent>, mpsc::UnboundedReceiver<LlmEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    // The test may stop listening; events after that do not matter.
    let sink: EventSink<LlmEvent> = Arc::new(move |ev| {
        let _ = tx.send(ev);
    });
    (sink, rx)
}

pub fn is_terminal(ev: &LlmEvent) -> bool {
    !matches!(ev, LlmEvent::Token { .. })
}

/// Receive until the first terminal event; returns (tokens, terminal).
pub async fn until_terminal(rx: &mut mpsc::UnboundedReceiver<LlmEvent>) -> (Vec<String>, LlmEvent) {
    let mut tokens = Vec::new();
    loop {
        match rx
            .recv()
            .await
            .expect("the pool ends every job with a terminal event")
        {
            LlmEvent::Token { text, .. } => tokens.push(text),
            terminal => return (tokens, terminal),
        }
    }
}

use ractor::{Actor, ActorRef};
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::llm_pool::{
    CompletionJob, LlmPool, LlmPoolArgs, LlmPoolConfig, LlmPoolMsg, PoolStats, Priority,
};
use switchboard_actors::providers::{ChatMessage, Role};

pub async fn spawn_pool(
    endpoints: &[&Arc<FakeChat>],
    config: LlmPoolConfig,
) -> ActorRef<LlmPoolMsg> {
    let endpoints: Vec<Arc<dyn Chat>> = endpoints
        .iter()
        .map(|e| Arc::clone(*e) as Arc<dyn Chat>)
        .collect();
    let (pool, _) = Actor::spawn(None, LlmPool, LlmPoolArgs { endpoints, config })
        .await
        .expect("the pool starts with a valid config");
    pool
}

pub fn job(
    call: &str,
    request_id: u64,
    priority: Priority,
    text: &str,
    events: EventSink<LlmEvent>,
) -> LlmPoolMsg {
    LlmPoolMsg::Complete(CompletionJob {
        call: CallSid::new(call),
        tenant: TenantId::new("acme"),
        request_id,
        priority,
        purpose: "llm_reply".to_owned(),
        request: ChatRequest {
            messages: vec![ChatMessage::new(Role::User, text)],
            ..Default::default()
        },
        events,
    })
}

pub async fn stats(pool: &ActorRef<LlmPoolMsg>) -> PoolStats {
    ractor::call!(pool, LlmPoolMsg::Stats).expect("the pool answers Stats")
}
