//! The Router actor: answers [`RouteRequest`]s. Tiers 1 and 2 are answered
//! inline (microseconds); a tier-3 question runs in its own task against the
//! LlmPool and comes back as [`RouterMsg::Tier3Finished`], so one slow LLM
//! never holds up another call's routing. Scenario files are reloaded on an
//! admin call or when the mtime poll sees a change; a bad set is rejected
//! whole and the old one stays live.
//!
//! Tier-3 rescues are kept as learning-task candidates (seed 003) in a
//! bounded in-memory list, read with [`RouterMsg::Tier3Candidates`]; there
//! is no persistent learning store yet.

use super::catalog::{fingerprint, Catalog, Fingerprint};
use super::config::RouterConfig;
use super::decision::RouteDecision;
use super::engine::{TenantRouter, Thresholds};
use super::tier3::{build_request, parse_pick, Tier3Miss};
use crate::call::RouteRequest;
use crate::ids::{CallSid, TenantId};
use crate::llm_pool::{complete_text, LlmPoolMsg, Priority, TextError, TextJob};
use crate::providers::EventSink;
use crate::slot::Slot;
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub struct Router;

pub struct RouterArgs {
    pub config: RouterConfig,
    /// Needed for tier 3; without it tier 3 is off. A [`Slot`] so a
    /// restarted pool is used without re-wiring the router.
    pub llm_pool: Option<Slot<LlmPoolMsg>>,
}

pub struct RouterState {
    config: RouterConfig,
    llm_pool: Option<Slot<LlmPoolMsg>>,
    /// The live scenario set; tier-3 tasks hold their own clone, so a swap
    /// never changes the scenarios under a question in flight.
    catalog: Arc<Catalog>,
    /// Bumped on every successful load.
    generation: u64,
    /// The files as of the last load attempt (good or bad), so a bad file
    /// is reported once, not on every poll.
    fingerprint: Fingerprint,
    last_reload_error: Option<String>,
    /// Stamps the poll timer's messages; stale ones are dropped.
    watch_generation: u64,
    watcher: Option<JoinHandle<()>>,
    candidates: VecDeque<Tier3Candidate>,
    /// Request ids of the router's own LLM jobs (unique per router).
    next_llm_request: u64,
}

pub enum RouterMsg {
    Route {
        req: RouteRequest,
        reply: EventSink<RouteDecision>,
    },
    /// Admin: reload the scenario files now.
    Reload(RpcReplyPort<Result<ReloadReport, String>>),
    /// Tier-3 rescues waiting for the learning loop, oldest first.
    Tier3Candidates(RpcReplyPort<Vec<Tier3Candidate>>),
    Status(RpcReplyPort<RouterStatus>),
    /// Internal: the mtime poll timer.
    #[doc(hidden)]
    PollFiles {
        generation: u64,
    },
    /// Internal: a tier-3 task finished.
    #[doc(hidden)]
    Tier3Finished {
        decision: Box<RouteDecision>,
        reply: EventSink<RouteDecision>,
        candidate: Option<Box<Tier3Candidate>>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReloadReport {
    pub generation: u64,
    pub tenants: usize,
    pub scenarios: usize,
    pub files: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouterStatus {
    pub generation: u64,
    pub tenants: usize,
    pub scenarios: usize,
    pub last_reload_error: Option<String>,
    pub tier3_candidates: usize,
}

/// A tier-3 rescue: seed 003's LLMLearningTask, before it has a store.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier3Candidate {
    pub created_at: DateTime<Utc>,
    pub tenant: TenantId,
    /// The call's route request id (RouteRequest carries no CallSid yet).
    pub request_id: u64,
    pub primary_utterance: String,
    pub tier_path: String,
    pub tier1_score: Option<f32>,
    pub tier1_threshold: f32,
    pub tier2_score: Option<f32>,
    pub tier2_threshold: f32,
    pub tier3_confidence: f32,
    pub tier3_rationale: String,
    pub tier3_latency_ms: u64,
    pub tier3_tokens: u32,
    pub tier3_cost_usd: f64,
    pub chosen_scenario_id: String,
}

impl Actor for Router {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        me: ActorRef<RouterMsg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        args.config.validate()?;
        let fingerprint = fingerprint(&args.config.scenarios_dir);
        // A broken set at start-up is fatal: better no engine than one that
        // routes every call to free conversation.
        let catalog = Catalog::load_dir(&args.config.scenarios_dir)?;
        let mut state = RouterState {
            config: args.config,
            llm_pool: args.llm_pool,
            catalog: Arc::new(catalog),
            generation: 1,
            fingerprint,
            last_reload_error: None,
            watch_generation: 1,
            watcher: None,
            candidates: VecDeque::new(),
            next_llm_request: 1,
        };
        if state.config.watch_interval_ms > 0 {
            let period = Duration::from_millis(state.config.watch_interval_ms);
            let generation = state.watch_generation;
            state.watcher =
                Some(me.send_interval(period, move || RouterMsg::PollFiles { generation }));
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _me: ActorRef<RouterMsg>,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(w) = state.watcher.take() {
            w.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        me: ActorRef<RouterMsg>,
        msg: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RouterMsg::Route { req, reply } => state.route(req, reply, me),
            RouterMsg::Reload(reply) => {
                state.fingerprint = fingerprint(&state.config.scenarios_dir);
                // The admin may have stopped waiting; the reload stands anyway.
                let _ = reply.send(state.reload());
            }
            RouterMsg::Tier3Candidates(reply) => {
                let _ = reply.send(state.candidates.iter().cloned().collect());
            }
            RouterMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            RouterMsg::PollFiles { generation } => state.poll(generation),
            RouterMsg::Tier3Finished {
                decision,
                reply,
                candidate,
            } => {
                if let Some(c) = candidate {
                    state.remember(*c);
                }
                reply(*decision);
            }
        }
        Ok(())
    }
}

impl RouterState {
    fn thresholds(&self) -> Thresholds {
        Thresholds {
            tier1: self.config.tier1_threshold,
            tier2: self.config.tier2_threshold,
            tier3: self.config.tier3_threshold,
        }
    }

    fn route(
        &mut self,
        req: RouteRequest,
        reply: EventSink<RouteDecision>,
        me: ActorRef<RouterMsg>,
    ) {
        let started = Instant::now();
        let tenant = self
            .catalog
            .tenant(req.tenant.as_str(), &self.config.default_tenant)
            .cloned();
        let Some(tenant) = tenant else {
            let decision = RouteDecision {
                request_id: req.request_id,
                rationale: Some(format!("no scenarios for tenant '{}'", req.tenant)),
                elapsed_us: elapsed_us(started),
                ..RouteDecision::default()
            };
            return reply(decision);
        };
        let mut decision = tenant.route_fast(&req.utterance, &self.thresholds());
        decision.request_id = req.request_id;
        let wants_tier3 = decision.tier.is_none()
            && self.config.tier3_enabled
            && tenant.tier3
            && !req.utterance.trim().is_empty();
        // Between a pool crash and its restart the slot is empty: the turn
        // then goes to free conversation rather than waiting.
        let pool = self.llm_pool.as_ref().and_then(Slot::get);
        let pool = match pool {
            Some(pool) if wants_tier3 => pool,
            _ => {
                decision.elapsed_us = elapsed_us(started);
                return reply(decision);
            }
        };
        let question = Tier3Question {
            pool,
            tenant,
            req,
            decision,
            thresholds: self.thresholds(),
            timeout: self.config.tier3_timeout(),
            llm_request_id: self.next_llm_request,
            started,
        };
        self.next_llm_request += 1;
        tokio::spawn(async move {
            let (decision, candidate) = question.ask().await;
            let decision = Box::new(decision);
            let msg = RouterMsg::Tier3Finished {
                decision,
                reply,
                candidate,
            };
            // If the router stopped meanwhile, answer the call directly.
            if let Err(ractor::MessagingErr::SendErr(RouterMsg::Tier3Finished {
                decision,
                reply,
                ..
            })) = me.cast(msg)
            {
                reply(*decision);
            }
        });
    }

    fn reload(&mut self) -> Result<ReloadReport, String> {
        match Catalog::load_dir(&self.config.scenarios_dir) {
            Ok(catalog) => {
                self.catalog = Arc::new(catalog);
                self.generation += 1;
                self.last_reload_error = None;
                tracing::info!(generation = self.generation, "scenario templates reloaded");
                Ok(ReloadReport {
                    generation: self.generation,
                    tenants: self.catalog.tenant_count(),
                    scenarios: self.catalog.scenario_count(),
                    files: self.catalog.files.clone(),
                })
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(error = %message, "scenario reload rejected; the previous set stays live");
                self.last_reload_error = Some(message.clone());
                Err(message)
            }
        }
    }

    fn poll(&mut self, generation: u64) {
        if generation != self.watch_generation {
            return;
        }
        let now = fingerprint(&self.config.scenarios_dir);
        if now != self.fingerprint {
            self.fingerprint = now;
            // Errors are logged and kept in the status by reload().
            let _ = self.reload();
        }
    }

    fn remember(&mut self, candidate: Tier3Candidate) {
        if self.candidates.len() >= self.config.max_tier3_candidates {
            self.candidates.pop_front();
        }
        self.candidates.push_back(candidate);
    }

    fn status(&self) -> RouterStatus {
        RouterStatus {
            generation: self.generation,
            tenants: self.catalog.tenant_count(),
            scenarios: self.catalog.scenario_count(),
            last_reload_error: self.last_reload_error.clone(),
            tier3_candidates: self.candidates.len(),
        }
    }
}

fn elapsed_us(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Everything a tier-3 task needs, moved into it.
struct Tier3Question {
    pool: ActorRef<LlmPoolMsg>,
    tenant: Arc<TenantRouter>,
    req: RouteRequest,
    /// The tier 1-2 miss, with its scores.
    decision: RouteDecision,
    thresholds: Thresholds,
    timeout: Duration,
    llm_request_id: u64,
    started: Instant,
}

impl Tier3Question {
    async fn ask(self) -> (RouteDecision, Option<Box<Tier3Candidate>>) {
        let mut d = self.decision.clone();
        let job = TextJob {
            // One pseudo-call for all tier-3 jobs keeps the pool's per-call
            // map small; the tenant totals still carry the cost.
            call: CallSid::new("router-tier3"),
            tenant: self.req.tenant.clone(),
            request_id: self.llm_request_id,
            priority: Priority::Live,
            purpose: "tier3_match".to_owned(),
            request: build_request(
                &self.tenant.scenarios,
                &self.req.utterance,
                &self.req.history,
            ),
        };
        let asked = Instant::now();
        let pick = match complete_text(&self.pool, job, self.timeout).await {
            Ok(done) => {
                d.llm_call = Some(done.record);
                parse_pick(&done.text, &self.tenant.scenarios)
            }
            Err(TextError::TimedOut { record }) => {
                d.llm_call = record;
                Err(Tier3Miss::Llm("timed out".into()))
            }
            Err(e) => Err(Tier3Miss::Llm(e.to_string())),
        };
        let latency_ms = u64::try_from(asked.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut candidate = None;
        match pick {
            Ok(pick) if self.tenant.apply_tier3(&mut d, &pick, &self.thresholds) => {
                candidate = Some(Box::new(self.candidate(&d, &pick.rationale, latency_ms)));
            }
            Ok(pick) => {
                d.rationale = Some(format!("tier 3 below threshold: {}", pick.rationale));
            }
            Err(miss) => d.rationale = Some(format!("tier 3 miss: {miss}")),
        }
        d.elapsed_us = elapsed_us(self.started);
        (d, candidate)
    }

    fn candidate(&self, d: &RouteDecision, rationale: &str, latency_ms: u64) -> Tier3Candidate {
        let fmt = |s: Option<f32>| s.map_or("-".to_owned(), |s| format!("{s:.2}"));
        let llm = d.llm_call.clone().unwrap_or_default();
        Tier3Candidate {
            created_at: Utc::now(),
            tenant: self.req.tenant.clone(),
            request_id: self.req.request_id,
            primary_utterance: self.req.utterance.clone(),
            tier_path: format!(
                "T1 ({}) -> T2 ({}) -> T3",
                fmt(d.tier1_score),
                fmt(d.tier2_score)
            ),
            tier1_score: d.tier1_score,
            tier1_threshold: self.thresholds.tier1,
            tier2_score: d.tier2_score,
            tier2_threshold: self.thresholds.tier2,
            tier3_confidence: d.tier3_confidence.unwrap_or_default(),
            tier3_rationale: rationale.to_owned(),
            tier3_latency_ms: latency_ms,
            tier3_tokens: llm.prompt_tokens + llm.completion_tokens,
            tier3_cost_usd: llm.cost_usd,
            chosen_scenario_id: d
                .scenario
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
        }
    }
}
