//! The one place a job's events leave the pool. The attempt task streams
//! tokens through it and the pool actor ends it; the gate guarantees that
//! every job gets exactly one terminal event and no token after it, even
//! when a cancel races the stream on another thread.

use super::LlmEvent;
use crate::providers::EventSink;
use std::sync::Mutex;

#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Token chunks delivered (one chunk is about one token with OpenAI).
    pub chunks: u32,
    pub chars: usize,
}

struct Gate {
    open: bool,
    progress: Progress,
}

pub struct JobOutput {
    sink: EventSink<LlmEvent>,
    gate: Mutex<Gate>,
}

impl JobOutput {
    pub fn new(sink: EventSink<LlmEvent>) -> Self {
        Self {
            sink,
            gate: Mutex::new(Gate {
                open: true,
                progress: Progress::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        // A panic while holding the gate can only come from a sink that
        // panicked; the gate's two fields are still consistent, so go on.
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deliver a token; false once the job has ended (the stream should stop).
    pub fn token(&self, request_id: u64, text: String) -> bool {
        let mut gate = self.lock();
        if !gate.open {
            return false;
        }
        gate.progress.chunks += 1;
        gate.progress.chars += text.len();
        // Sinks are casts (non-blocking), so calling one under the lock is
        // cheap, and it is what orders tokens before the terminal event.
        (self.sink)(LlmEvent::Token { request_id, text });
        true
    }

    /// End the job with `event`; false (and nothing sent) if it had ended.
    pub fn finish(&self, event: LlmEvent) -> bool {
        let mut gate = self.lock();
        if !std::mem::replace(&mut gate.open, false) {
            return false;
        }
        (self.sink)(event);
        true
    }

    pub fn progress(&self) -> Progress {
        self.lock().progress
    }
}
