//! A convenience for callers that want the whole answer, not a stream (the
//! router's tier 3): submit a job, gather its tokens, wait for the end.

use super::actor::{CompletionJob, LlmPoolMsg};
use super::config::Priority;
use super::LlmEvent;
use crate::ids::{CallSid, TenantId};
use crate::providers::ChatRequest;
use crate::trace::LlmCallRecord;
use ractor::ActorRef;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// What a collected completion needs besides the request.
#[derive(Clone, Debug)]
pub struct TextJob {
    pub call: CallSid,
    pub tenant: TenantId,
    pub request_id: u64,
    pub priority: Priority,
    pub purpose: String,
    pub request: ChatRequest,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TextCompletion {
    pub text: String,
    pub record: LlmCallRecord,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error("the pool shed the request")]
    Shed,
    #[error("the completion failed: {0}")]
    Failed(String),
    /// Took longer than the deadline; the job was cancelled (its record, if
    /// the pool answered the cancel in time, says what it cost).
    #[error("timed out")]
    TimedOut { record: Option<LlmCallRecord> },
    #[error("the LLM pool is not running")]
    PoolGone,
}

/// Run `job` through the pool and return the full text, cancelling it if it
/// takes longer than `timeout`.
pub async fn complete_text(
    pool: &ActorRef<LlmPoolMsg>,
    job: TextJob,
    timeout: Duration,
) -> Result<TextCompletion, TextError> {
    let (tx, rx) = oneshot::channel::<LlmEvent>();
    let text = Arc::new(Mutex::new(String::new()));
    let tx = Mutex::new(Some(tx));
    let sink_text = Arc::clone(&text);
    let events = Arc::new(move |ev: LlmEvent| match ev {
        LlmEvent::Token { text, .. } => sink_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_str(&text),
        terminal => {
            if let Some(tx) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                // The waiter gave up (timeout): nobody to tell.
                let _ = tx.send(terminal);
            }
        }
    });
    let (call, request_id) = (job.call.clone(), job.request_id);
    let msg = LlmPoolMsg::Complete(CompletionJob {
        call: job.call,
        tenant: job.tenant,
        request_id: job.request_id,
        priority: job.priority,
        purpose: job.purpose,
        request: job.request,
        events,
    });
    pool.cast(msg).map_err(|_| TextError::PoolGone)?;
    let mut rx = rx;
    let terminal = match tokio::time::timeout(timeout, &mut rx).await {
        Ok(Ok(ev)) => ev,
        Ok(Err(_)) => return Err(TextError::PoolGone),
        Err(_) => {
            // Stop paying for an answer nobody waits for.
            let _ = pool.cast(LlmPoolMsg::Cancel { call, request_id });
            let record = match tokio::time::timeout(Duration::from_millis(200), rx).await {
                Ok(Ok(LlmEvent::Done { record, .. })) => Some(record),
                _ => None,
            };
            return Err(TextError::TimedOut { record });
        }
    };
    match terminal {
        LlmEvent::Done { record, .. } => {
            let text = std::mem::take(&mut *text.lock().unwrap_or_else(|p| p.into_inner()));
            Ok(TextCompletion { text, record })
        }
        LlmEvent::Shed { .. } => Err(TextError::Shed),
        LlmEvent::Failed { message, .. } => Err(TextError::Failed(message)),
        LlmEvent::Token { .. } => unreachable!("tokens never reach the terminal channel"),
    }
}
