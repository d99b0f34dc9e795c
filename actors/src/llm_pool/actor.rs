//! The LlmPool actor: admission, priority queue, dispatch to endpoints,
//! retry/failover decisions, breakers and accounting. It never awaits a
//! provider: each attempt runs in its own task (see [`super::attempt`]) and
//! reports back with [`LlmPoolMsg::AttemptEnded`].

use super::attempt::{Attempt, AttemptResult};
use super::breaker::CircuitBreaker;
use super::config::{LlmPoolConfig, Priority};
use super::output::JobOutput;
use super::queue::{Admission, JobQueue};
use super::retry::{classify, retry_delay, Disposition};
use super::stats::{estimate_usage, EndpointStats, PoolStats};
use super::LlmEvent;
use crate::ids::{CallSid, TenantId};
use crate::providers::{Chat, ChatError, ChatRequest, EventSink, TokenUsage};
use crate::trace::LlmCallRecord;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

pub struct LlmPool;

pub struct LlmPoolArgs {
    /// In failover order: the first usable one serves.
    pub endpoints: Vec<Arc<dyn Chat>>,
    pub config: LlmPoolConfig,
}

/// A completion to stream to `events`.
pub struct CompletionJob {
    pub call: CallSid,
    pub tenant: TenantId,
    /// Echoed on every event; with `call`, the key of a cancel.
    pub request_id: u64,
    pub priority: Priority,
    /// tier3_match, llm_reply, summary ... (lands in the cost record).
    pub purpose: String,
    pub request: ChatRequest,
    pub events: EventSink<LlmEvent>,
}

pub enum LlmPoolMsg {
    Complete(CompletionJob),
    /// Barge-in: stop the completion now; its job ends with a cancelled record.
    Cancel {
        call: CallSid,
        request_id: u64,
    },
    Stats(RpcReplyPort<PoolStats>),
    /// The call ended: drop its per-call totals (keeps the map bounded).
    ForgetCall(CallSid),
    /// Internal: an attempt task finished.
    #[doc(hidden)]
    AttemptEnded {
        job: u64,
        result: AttemptResult,
    },
    /// Internal: a job's backoff elapsed.
    #[doc(hidden)]
    RetryDue {
        job: u64,
    },
}

struct Endpoint {
    chat: Arc<dyn Chat>,
    limit: usize,
    in_flight: usize,
    breaker: CircuitBreaker,
    successes: u64,
    failures: u64,
}

struct Job {
    id: u64,
    call: CallSid,
    tenant: TenantId,
    request_id: u64,
    priority: Priority,
    purpose: String,
    request: ChatRequest,
    output: Arc<JobOutput>,
    /// Endpoints tried in the current round (reset at each backoff round).
    tried: Vec<bool>,
    /// Endpoints that refused this request for good (Failover errors).
    excluded: Vec<bool>,
    retries: u32,
    retry_after: Option<Duration>,
    last_error: Option<String>,
}

struct Running {
    job: Job,
    endpoint: usize,
    task: AbortHandle,
}

pub struct LlmPoolState {
    config: LlmPoolConfig,
    endpoints: Vec<Endpoint>,
    queue: JobQueue<Job>,
    running: HashMap<u64, Running>,
    /// Jobs sleeping through a backoff.
    waiting: HashMap<u64, Job>,
    next_id: u64,
    stats: PoolStats,
}

/// Where a job can go right now.
enum Pick {
    Endpoint(usize),
    /// A usable endpoint exists but is at its limit: wait in the queue.
    Busy,
    /// No usable endpoint this round (all tried, refused or breaker-open).
    Exhausted,
}

fn now() -> Instant {
    // tokio's clock, so tests with paused time move breakers and backoff.
    tokio::time::Instant::now().into_std()
}

impl Actor for LlmPool {
    type Msg = LlmPoolMsg;
    type State = LlmPoolState;
    type Arguments = LlmPoolArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<Self::Msg>,
        args: LlmPoolArgs,
    ) -> Result<LlmPoolState, ActorProcessingErr> {
        args.config.validate()?;
        if args.endpoints.is_empty() {
            return Err("llm_pool: no endpoints".into());
        }
        let endpoints = args
            .endpoints
            .into_iter()
            .map(|chat| Endpoint {
                limit: args.config.limit_for(chat.name()),
                chat,
                in_flight: 0,
                breaker: CircuitBreaker::new(args.config.breaker.clone()),
                successes: 0,
                failures: 0,
            })
            .collect();
        Ok(LlmPoolState {
            queue: JobQueue::new(args.config.queue_bound),
            config: args.config,
            endpoints,
            running: HashMap::new(),
            waiting: HashMap::new(),
            next_id: 1,
            stats: PoolStats::default(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<Self::Msg>,
        msg: LlmPoolMsg,
        state: &mut LlmPoolState,
    ) -> Result<(), ActorProcessingErr> {
        let now = now();
        match msg {
            LlmPoolMsg::Complete(job) => {
                let job = state.new_job(job);
                state.admit(job, &me, now);
            }
            LlmPoolMsg::Cancel { call, request_id } => state.cancel(&call, request_id, now),
            LlmPoolMsg::Stats(reply) => {
                // The asker may have timed out and gone; nothing to do then.
                let _ = reply.send(state.snapshot(now));
            }
            LlmPoolMsg::ForgetCall(call) => {
                state.stats.per_call.remove(&call);
            }
            LlmPoolMsg::AttemptEnded { job, result } => state.attempt_ended(job, result, &me, now),
            LlmPoolMsg::RetryDue { job } => {
                if let Some(job) = state.waiting.remove(&job) {
                    state.place(job, &me, now);
                }
            }
        }
        state.pump(&me, now);
        Ok(())
    }

    async fn post_stop(
        &self,
        _me: ActorRef<Self::Msg>,
        state: &mut LlmPoolState,
    ) -> Result<(), ActorProcessingErr> {
        // Every job still gets its one terminal event, even on shutdown.
        let running: Vec<Running> = state.running.drain().map(|(_, r)| r).collect();
        for r in running {
            r.task.abort();
            state.fail(r.job, "the LLM pool stopped".into());
        }
        let queued: Vec<Job> = state
            .queue
            .drain()
            .chain(state.waiting.drain().map(|(_, j)| j))
            .collect();
        for job in queued {
            state.fail(job, "the LLM pool stopped".into());
        }
        Ok(())
    }
}

impl LlmPoolState {
    fn new_job(&mut self, job: CompletionJob) -> Job {
        let id = self.next_id;
        self.next_id += 1;
        let n = self.endpoints.len();
        Job {
            id,
            call: job.call,
            tenant: job.tenant,
            request_id: job.request_id,
            priority: job.priority,
            purpose: job.purpose,
            request: job.request,
            output: Arc::new(JobOutput::new(job.events)),
            tried: vec![false; n],
            excluded: vec![false; n],
            retries: 0,
            retry_after: None,
            last_error: None,
        }
    }

    fn pick(&self, job: &Job, now: Instant) -> Pick {
        let mut busy = false;
        for (i, e) in self.endpoints.iter().enumerate() {
            if job.tried[i] || job.excluded[i] || !e.breaker.allows(now) {
                continue;
            }
            let cap = match job.priority {
                Priority::Live => e.limit,
                // Background work keeps at least one slot, or it would starve
                // on an endpoint whose limit is within the live reserve.
                Priority::Background => e.limit.saturating_sub(self.config.reserve_for_live).max(1),
            };
            if e.in_flight < cap {
                return Pick::Endpoint(i);
            }
            busy = true;
        }
        if busy {
            Pick::Busy
        } else {
            Pick::Exhausted
        }
    }

    /// A new job: straight to an endpoint when nothing of its priority (or
    /// higher) waits, else into the bounded queue.
    fn admit(&mut self, job: Job, me: &ActorRef<LlmPoolMsg>, now: Instant) {
        let ahead = match job.priority {
            Priority::Live => self.queue.len_of(Priority::Live),
            Priority::Background => self.queue.len(),
        };
        if ahead == 0 && !matches!(self.pick(&job, now), Pick::Busy) {
            return self.place(job, me, now);
        }
        let priority = job.priority;
        if let Admission::Shed(shed) = self.queue.push(job, priority) {
            self.stats.shed += 1;
            let fallback = self.config.fallback_text.clone();
            let request_id = shed.request_id;
            shed.output.finish(LlmEvent::Shed {
                request_id,
                fallback,
            });
        }
    }

    /// Send a job (not in the queue) where it can go now.
    fn place(&mut self, job: Job, me: &ActorRef<LlmPoolMsg>, now: Instant) {
        match self.pick(&job, now) {
            Pick::Endpoint(i) => self.dispatch(job, i, me, now),
            Pick::Busy => {
                let priority = job.priority;
                self.queue.push_front(job, priority);
            }
            Pick::Exhausted => self.next_round(job, me),
        }
    }

    /// Every usable endpoint failed this round: back off, or give up.
    fn next_round(&mut self, mut job: Job, me: &ActorRef<LlmPoolMsg>) {
        let any_left = job.excluded.iter().any(|x| !x);
        if !any_left || job.retries >= self.config.retry.max_retries {
            let message = job
                .last_error
                .clone()
                .unwrap_or_else(|| "no LLM endpoint available".into());
            return self.fail(job, message);
        }
        job.retries += 1;
        self.stats.retries += 1;
        let delay = retry_delay(
            &self.config.retry,
            job.retries,
            job.retry_after.take(),
            fastrand::f64(),
        );
        job.tried.iter_mut().for_each(|t| *t = false);
        let id = job.id;
        self.waiting.insert(id, job);
        // If the pool stops first the timer's send fails; post_stop has
        // already ended the job, so the failure is harmless.
        me.send_after(delay, move || LlmPoolMsg::RetryDue { job: id });
    }

    fn dispatch(&mut self, mut job: Job, i: usize, me: &ActorRef<LlmPoolMsg>, now: Instant) {
        let e = &mut self.endpoints[i];
        e.in_flight += 1;
        e.breaker.on_dispatch(now);
        job.tried[i] = true;
        let attempt = Attempt {
            endpoint: Arc::clone(&e.chat),
            request: job.request.clone(),
            request_id: job.request_id,
            output: Arc::clone(&job.output),
            open_timeout: self.config.open_timeout(),
            idle_timeout: self.config.idle_timeout(),
        };
        let (id, me) = (job.id, me.clone());
        let task = tokio::spawn(async move {
            let result = attempt.run().await;
            // The pool is gone only at shutdown, when post_stop ended the job.
            let _ = me.cast(LlmPoolMsg::AttemptEnded { job: id, result });
        });
        let task = task.abort_handle();
        self.running.insert(
            id,
            Running {
                job,
                endpoint: i,
                task,
            },
        );
    }

    /// Start queued jobs while endpoints have room: live lane first.
    fn pump(&mut self, me: &ActorRef<LlmPoolMsg>, now: Instant) {
        for priority in [Priority::Live, Priority::Background] {
            while let Some(job) = self.queue.front(priority) {
                if matches!(self.pick(job, now), Pick::Busy) {
                    break;
                }
                let job = self
                    .queue
                    .pop_front(priority)
                    .expect("front() just returned a job");
                self.place(job, me, now);
            }
        }
    }

    fn attempt_ended(
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

    fn cancel(&mut self, call: &CallSid, request_id: u64, now: Instant) {
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

    fn fail(&mut self, job: Job, message: String) {
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

    fn snapshot(&self, now: Instant) -> PoolStats {
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
