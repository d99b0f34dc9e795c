//! Token and cost accounting: per call, per tenant, per model, plus the
//! pool's counters. Also the usage estimate used when a stream ends without
//! its usage chunk (cancelled, or the server never sent one).

use super::output::Progress;
use crate::ids::{CallSid, TenantId};
use crate::providers::{ChatRequest, TokenUsage};
use crate::trace::LlmCallRecord;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UsageTotals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

impl UsageTotals {
    fn add(&mut self, r: &LlmCallRecord) {
        self.requests += 1;
        self.prompt_tokens += r.prompt_tokens as u64;
        self.completion_tokens += r.completion_tokens as u64;
        self.cost_usd += r.cost_usd;
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EndpointStats {
    pub name: String,
    pub in_flight: usize,
    pub limit: usize,
    /// closed, open or half_open.
    pub breaker: &'static str,
    pub successes: u64,
    pub failures: u64,
}

/// A snapshot answered to [`LlmPoolMsg::Stats`](super::LlmPoolMsg::Stats).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PoolStats {
    pub per_call: BTreeMap<CallSid, UsageTotals>,
    pub per_tenant: BTreeMap<TenantId, UsageTotals>,
    pub per_model: BTreeMap<String, UsageTotals>,
    pub completed: u64,
    pub failed: u64,
    pub shed: u64,
    pub cancelled: u64,
    /// Backoff rounds taken.
    pub retries: u64,
    /// Attempts moved to another endpoint after a failure.
    pub failovers: u64,
    pub queued_live: usize,
    pub queued_background: usize,
    pub waiting_retry: usize,
    pub in_flight: usize,
    pub endpoints: Vec<EndpointStats>,
}

impl PoolStats {
    /// Account a finished (or cancelled) completion's cost line.
    pub fn record(&mut self, call: &CallSid, tenant: &TenantId, r: &LlmCallRecord) {
        self.per_call.entry(call.clone()).or_default().add(r);
        self.per_tenant.entry(tenant.clone()).or_default().add(r);
        self.per_model.entry(r.model.clone()).or_default().add(r);
    }
}

/// Usage when the server's count is missing: about four characters a token
/// for the prompt (plus a few per message for the chat framing), and the
/// larger of chunks seen and characters/4 for the completion.
pub fn estimate_usage(req: &ChatRequest, progress: Progress) -> TokenUsage {
    let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
    let prompt = prompt_chars.div_ceil(4) + 4 * req.messages.len();
    let completion = (progress.chunks as usize).max(progress.chars.div_ceil(4));
    TokenUsage {
        prompt_tokens: u32::try_from(prompt).unwrap_or(u32::MAX),
        completion_tokens: u32::try_from(completion).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{ChatMessage, Role};

    #[test]
    fn estimate_counts_prompt_chars_and_streamed_chunks() {
        let req = ChatRequest {
            messages: vec![ChatMessage::new(Role::User, "x".repeat(40))],
            ..Default::default()
        };
        let u = estimate_usage(
            &req,
            Progress {
                chunks: 7,
                chars: 12,
            },
        );
        assert_eq!(
            u,
            TokenUsage {
                prompt_tokens: 14,
                completion_tokens: 7
            }
        );
    }
}
