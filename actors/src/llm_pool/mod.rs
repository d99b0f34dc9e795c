//! LlmPool: every LLM completion of the engine goes through here.
//!
//! A hand-written pool actor rather than a ractor `factory`: the factory's
//! workers are busy for a whole streamed completion and know nothing of
//! each other, while this pool must pick an endpoint per attempt from
//! shared state (per-endpoint concurrency, circuit breakers, failover order,
//! a job's retry history). One actor owns that state; each attempt runs as
//! a plain tokio task that streams tokens straight to the job's sink and
//! reports its verdict back as a message.
//!
//! Flow of a job: `Complete` -> admit (dispatch at once, or wait in the
//! bounded two-lane queue, or be shed with the fallback text) -> attempt
//! task on the first usable endpoint (breaker closed, slot free; background
//! work leaves `reserve_for_live` slots) -> tokens to the sink -> on error
//! before the first token: another endpoint now, or a backoff round honouring
//! `retry-after` (PROTOCOLS.md section 4) -> exactly one terminal event
//! (`Done` with its cost record, `Failed` or `Shed`; a cancel ends with a
//! `Done` whose record is marked cancelled).

mod actor;
mod attempt;
mod breaker;
mod collect;
mod config;
mod outcome;
mod output;
mod queue;
mod retry;
mod stats;

pub use actor::{CompletionJob, LlmPool, LlmPoolArgs, LlmPoolMsg, LlmPoolState};
pub use attempt::AttemptResult;
pub use breaker::{BreakerState, CircuitBreaker};
pub use collect::{complete_text, TextCompletion, TextError, TextJob};
pub use config::{BreakerConfig, LlmPoolConfig, ModelPrice, Priority, RetryPolicy};
pub use queue::{Admission, JobQueue};
pub use retry::{classify, retry_delay, Disposition};
pub use stats::{estimate_usage, EndpointStats, PoolStats, UsageTotals};

use crate::trace::LlmCallRecord;

/// What the pool streams back to the call that asked.
#[derive(Clone, Debug, PartialEq)]
pub enum LlmEvent {
    Token {
        request_id: u64,
        text: String,
    },
    /// The completion finished; `record` is its cost line for the trace.
    Done {
        request_id: u64,
        record: LlmCallRecord,
    },
    /// The pool was too busy: say `fallback` instead of waiting.
    Shed {
        request_id: u64,
        fallback: String,
    },
    /// Every endpoint failed; `fallback` is what to say.
    Failed {
        request_id: u64,
        message: String,
        fallback: String,
    },
}
