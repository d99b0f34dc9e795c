//! The LlmPool actor: admission, priority queue, dispatch to endpoints,
//! retry/failover decisions, breakers and accounting. It never awaits a
//! provider: each attempt runs in its own task (see [`super::attempt`]) and
//! reports back with [`LlmPoolMsg::AttemptEnded`].

use super::attempt::{Attempt, AttemptResult};
use super::breaker::CircuitBreaker;
use super::config::{LlmPoolConfig, Priority};
use super::output::JobOutput;
use super::queue::{Admission, JobQueue};
use super::retry::retry_delay;
use super::stats::PoolStats;
use super::LlmEvent;
use crate::ids::{CallSid, TenantId};
use crate::providers::{Chat, ChatRequest, EventSink};
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

pub(super) struct Endpoint {
    pub(super) chat: Arc<dyn Chat>,
    pub(super) limit: usize,
    pub(super) in_flight: usize,
    pub(super) breaker: CircuitBreaker,
    pub(super) successes: u64,
    pub(super) failures: u64,
}

pub(super) struct Job {
    pub(super) id: u64,
    pub(super) call: CallSid,
    pub(super) tenant: TenantId,
    pub(super) request_id: u64,
    pub(super) priority: Priority,
    pub(super) purpose: String,
    pub(super) request: ChatRequest,
    pub(super) output: Arc<JobOutput>,
    /// Endpoints tried in the current round (reset at each backoff round).
    pub(super) tried: Vec<bool>,
    /// Endpoints that refused this request for good (Failover errors).
    pub(super) excluded: Vec<bool>,
    pub(super) retries: u32,
    pub(super) retry_after: Option<Duration>,
    pub(super) last_error: Option<String>,
}

pub(super) struct Running {
    pub(super) job: Job,
    pub(super) endpoint: usize,
    pub(super) task: AbortHandle,
}

pub struct LlmPoolState {
    pub(super) config: LlmPoolConfig,
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) queue: JobQueue<Job>,
    pub(super) running: HashMap<u64, Running>,
    /// Jobs sleeping through a backoff.
    pub(super) waiting: HashMap<u64, Job>,
    pub(super) next_id: u64,
    pub(super) stats: PoolStats,
}

/// Where a job can go right now.
pub(super) enum Pick {
    Endpoint(usize),
    /// A usable endpoint exists but is at its limit: wait in the queue.
    Busy,
    /// No usable endpoint this round (all tried, refused or breaker-open).
    Exhausted,
}

pub(super) fn now() -> Instant {
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
    pub(super) fn new_job(&mut self, job: CompletionJob) -> Job {
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

    pub(super) fn pick(&self, job: &Job, now: Instant) -> Pick {
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
    pub(super) fn admit(&mut self, job: Job, me: &ActorRef<LlmPoolMsg>, now: Instant) {
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
    pub(super) fn place(&mut self, job: Job, me: &ActorRef<LlmPoolMsg>, now: Instant) {
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
    pub(super) fn next_round(&mut self, mut job: Job, me: &ActorRef<LlmPoolMsg>) {
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

    pub(super) fn dispatch(
        &mut self,
        mut job: Job,
        i: usize,
        me: &ActorRef<LlmPoolMsg>,
        now: Instant,
    ) {
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
    pub(super) fn pump(&mut self, me: &ActorRef<LlmPoolMsg>, now: Instant) {
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
}
