//! What happens when an attempt ends, a cancel arrives or a job is given
//! up: retry and failover decisions, terminal events, cost accounting, and
//! the stats snapshot. Split from `actor` to keep each file readable.

use super::actor::{Job, LlmPoolMsg, LlmPoolState, Pick, Running};
use super::attempt::AttemptResult;
use super::config::Priority;
use super::retry::{classify, Disposition};
use super::stats::{estimate_usage, EndpointStats, PoolStats};
use super::LlmEvent;
use crate::ids::CallSid;
use crate::providers::{ChatError, TokenUsage};
use crate::trace::LlmCallRecord;
use ractor::ActorRef;
use std::time::Instant;

impl LlmPoolState {
    pub(super) fn attempt_ended(
        &mut self,
        id: u64,
        result: AttemptResult,
        me: &ActorRef<LlmPoolMsg>,
        now: Instant,
    ) {
        // Absent: the job was cancelled and already ended.
        let Some(Running {
            mut job, endpoint, ..
        }) = self.running.remove(&id)
        else {
            return;
        };
        let e = &mut self.endpoints[endpoint];
        e.in_flight -= 1;
        match result {
            AttemptResult::Completed { usage } => {
                e.breaker.on_success();
                e.successes += 1;
                let usage =
                    usage.unwrap_or_else(|| estimate_usage(&job.request, job.output.progress()));
                let record = self.account(&job, endpoint, usage, false);
                self.stats.completed += 1;
                let request_id = job.request_id;
                job.output.finish(LlmEvent::Done { request_id, record });
            }
            AttemptResult::Abandoned => e.breaker.on_abandon(now),
            AttemptResult::Failed { error, streamed } => {
                let disposition = classify(&error);
                if disposition != Disposition::Fatal {
                    e.breaker.on_failure(now);
                    e.failures += 1;
                }
                job.last_error = Some(format!("{}: {error}", e.chat.name()));
                self.after_failure(job, endpoint, error, disposition, streamed, me, now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn after_failure(
        &mut self,
        mut job: Job,
        endpoint: usize,
        error: ChatError,
        disposition: Disposition,
        streamed: bool,
        me: &ActorRef<LlmPoolMsg>,
        now: Instant,
    ) {
        if streamed {
            // The caller heard part of this answer: a retry would repeat it.
            let usage = estimate_usage(&job.request, job.output.progress());
            self.account(&job, endpoint, usage, false);
            let message = job.last_error.clone().unwrap_or_else(|| error.to_string());
            return self.fail(job, message);
        }
        match disposition {
            Disposition::Fatal => {
                let message = job.last_error.clone().unwrap_or_else(|| error.to_string());
                self.fail(job, message)
            }
            Disposition::Failover => {
                job.excluded[endpoint] = true;
                self.try_elsewhere(job, me, now)
            }
            Disposition::Retry { retry_after } => {
                job.retry_after = job.retry_after.max(retry_after);
                self.try_elsewhere(job, me, now)
            }
        }
    }

    fn try_elsewhere(&mut self, job: Job, me: &ActorRef<LlmPoolMsg>, now: Instant) {
        if let Pick::Endpoint(_) = self.pick(&job, now) {
            self.stats.failovers += 1;
        }
        self.place(job, me, now);
    }

    pub(super) fn cancel(&mut self, call: &CallSid, request_id: u64, now: Instant) {
        let matches = |j: &Job| &j.call == call && j.request_id == request_id;
        let running = self
            .running
            .iter()
            .find(|(_, r)| matches(&r.job))
            .map(|(id, _)| *id);
        if let Some(Running {
            job,
            endpoint,
            task,
        }) = running.and_then(|id| self.running.remove(&id))
        {
            // Abort first: the task drops the provider stream (and its HTTP
            // connection) at its next await; the gate stops any last token.
            task.abort();
            let e = &mut self.endpoints[endpoint];
            e.in_flight -= 1;
            e.breaker.on_abandon(now);
            let usage = estimate_usage(&job.request, job.output.progress());
            let record = self.account(&job, endpoint, usage, true);
            return self.end_cancelled(job, record);
        }
        let waiting = self
            .waiting
            .iter()
            .find(|(_, j)| matches(j))
            .map(|(id, _)| *id);
        let job = match waiting.and_then(|id| self.waiting.remove(&id)) {
            Some(job) => Some(job),
            None => self.queue.remove_first(matches),
        };
        if let Some(job) = job {
            // Never streamed: nothing was paid for.
            let record = self.record(&job, 0, TokenUsage::default(), true);
            self.end_cancelled(job, record);
        }
    }

    fn end_cancelled(&mut self, job: Job, record: LlmCallRecord) {
        self.stats.cancelled += 1;
        let request_id = job.request_id;
        job.output.finish(LlmEvent::Done { request_id, record });
    }

    pub(super) fn fail(&mut self, job: Job, message: String) {
        self.stats.failed += 1;
        let fallback = self.config.fallback_text.clone();
        let request_id = job.request_id;
        job.output.finish(LlmEvent::Failed {
            request_id,
            message,
            fallback,
        });
    }

    /// Build the cost line and add it to the totals.
    fn account(
        &mut self,
        job: &Job,
        endpoint: usize,
        usage: TokenUsage,
        cancelled: bool,
    ) -> LlmCallRecord {
        let record = self.record(job, endpoint, usage, cancelled);
        self.stats.record(&job.call, &job.tenant, &record);
        record
    }

    fn record(
        &self,
        job: &Job,
        endpoint: usize,
        usage: TokenUsage,
        cancelled: bool,
    ) -> LlmCallRecord {
        let chat = &self.endpoints[endpoint].chat;
        let model = job
            .request
            .model
            .clone()
            .unwrap_or_else(|| chat.model().to_owned());
        let cost_usd = self
            .config
            .price_for(&model)
            .cost_usd(usage.prompt_tokens, usage.completion_tokens);
        LlmCallRecord {
            timestamp: chrono::Utc::now(),
            model,
            provider: chat.name().to_owned(),
            purpose: job.purpose.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd,
            cancelled,
        }
    }

    pub(super) fn snapshot(&self, now: Instant) -> PoolStats {
        let mut stats = self.stats.clone();
        stats.queued_live = self.queue.len_of(Priority::Live);
        stats.queued_background = self.queue.len_of(Priority::Background);
        stats.waiting_retry = self.waiting.len();
        stats.in_flight = self.running.len();
        stats.endpoints = self
            .endpoints
            .iter()
            .map(|e| EndpointStats {
                name: e.chat.name().to_owned(),
                in_flight: e.in_flight,
                limit: e.limit,
                breaker: e.breaker.label(now),
                successes: e.successes,
                failures: e.failures,
            })
            .collect();
        stats
    }
}
