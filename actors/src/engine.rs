//! Engine: the root supervisor. It starts the TraceSink, the LlmPool, the
//! Router and the CallSupervisor, publishes their refs through [`Slot`]s,
//! and restarts any of them that fails (same arguments, new ref in the same
//! slot). Too many restarts of one child in the window stops the engine:
//! something is broken beyond what a restart fixes.

use crate::call::{CallConfig, CallDeps, Escalator};
use crate::events::EventHub;
use crate::llm_pool::{LlmPool, LlmPoolArgs, LlmPoolConfig, LlmPoolMsg};
use crate::providers::{Chat, Stt, Tts};
use crate::router::{Router, RouterArgs, RouterConfig, RouterMsg};
use crate::slot::Slot;
use crate::store::Store;
use crate::supervisor::{
    CallCounters, CallSupervisor, RestartPolicy, SupervisorArgs, SupervisorMsg,
};
use crate::trace_sink::{TraceSink, TraceSinkArgs, TraceSinkMsg};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// Everything the engine is built from; kept so children can be restarted
/// with the same arguments.
#[derive(Clone)]
pub struct EngineArgs {
    pub store: Store,
    pub sink_max_batch: usize,
    pub sink_max_delay_ms: u64,
    pub llm_endpoints: Vec<Arc<dyn Chat>>,
    pub llm: LlmPoolConfig,
    pub router: RouterConfig,
    pub call: Arc<CallConfig>,
    /// Per-tenant call settings that differ from `call`.
    pub tenant_calls: Arc<HashMap<crate::ids::TenantId, Arc<CallConfig>>>,
    pub stt: Arc<dyn Stt>,
    pub tts: Arc<dyn Tts>,
    pub escalator: Arc<dyn Escalator>,
    pub policy: RestartPolicy,
    pub max_calls: usize,
}

/// What the edges hold to talk to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    pub engine: ActorRef<EngineMsg>,
    pub supervisor: Slot<SupervisorMsg>,
    pub trace_sink: Slot<TraceSinkMsg>,
    pub router: Slot<RouterMsg>,
    pub llm_pool: Slot<LlmPoolMsg>,
    pub events: EventHub,
    pub counters: Arc<CallCounters>,
    pub store: Store,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Child {
    TraceSink,
    LlmPool,
    Router,
    Calls,
}

pub struct Engine;

pub struct EngineState {
    args: EngineArgs,
    slots: Slots,
    children: HashMap<ActorId, Child>,
    failures: HashMap<Child, VecDeque<Instant>>,
}

pub enum EngineMsg {
    /// Liveness check; the engine is otherwise driven by supervision events.
    Ping(ractor::RpcReplyPort<()>),
}

impl Engine {
    /// Start the tree on the current tokio runtime. The slots are created
    /// here and filled by the engine's `pre_start`, so the returned handle
    /// is live as soon as this resolves.
    pub async fn start(args: EngineArgs) -> Result<EngineHandle, ractor::SpawnErr> {
        let slots = Slots {
            supervisor: Slot::default(),
            trace_sink: Slot::default(),
            router: Slot::default(),
            llm_pool: Slot::default(),
            events: EventHub::default(),
            counters: Arc::new(CallCounters::default()),
        };
        let store = args.store.clone();
        let (engine, _) = Actor::spawn(None, Engine, (args, slots.clone())).await?;
        Ok(EngineHandle {
            engine,
            supervisor: slots.supervisor,
            trace_sink: slots.trace_sink,
            router: slots.router,
            llm_pool: slots.llm_pool,
            events: slots.events,
            counters: slots.counters,
            store,
        })
    }
}

/// The shared parts of an [`EngineHandle`], made before the engine exists.
#[derive(Clone)]
pub struct Slots {
    supervisor: Slot<SupervisorMsg>,
    trace_sink: Slot<TraceSinkMsg>,
    router: Slot<RouterMsg>,
    llm_pool: Slot<LlmPoolMsg>,
    events: EventHub,
    counters: Arc<CallCounters>,
}

impl Actor for Engine {
    type Msg = EngineMsg;
    type State = EngineState;
    type Arguments = (EngineArgs, Slots);

    async fn pre_start(
        &self,
        myself: ActorRef<EngineMsg>,
        (args, slots): Self::Arguments,
    ) -> Result<EngineState, ActorProcessingErr> {
        let mut state = EngineState {
            args,
            slots,
            children: HashMap::new(),
            failures: HashMap::new(),
        };
        for child in [
            Child::TraceSink,
            Child::LlmPool,
            Child::Router,
            Child::Calls,
        ] {
            spawn_child(&myself, &mut state, child).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        _: ActorRef<EngineMsg>,
        msg: EngineMsg,
        _: &mut EngineState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            EngineMsg::Ping(reply) => {
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    /// Children stop before the engine is gone: calls first, then the
    /// router and pool, and the trace sink last, drained so every event it
    /// was sent is written.
    async fn post_stop(
        &self,
        _: ActorRef<EngineMsg>,
        state: &mut EngineState,
    ) -> Result<(), ActorProcessingErr> {
        let wait = Some(std::time::Duration::from_secs(5));
        state.children.clear(); // exits from here on are not failures
        if let Some(calls) = state.slots.supervisor.get() {
            let _ = calls
                .stop_and_wait(Some("engine stopping".to_owned()), wait)
                .await;
        }
        if let Some(router) = state.slots.router.get() {
            let _ = router.stop_and_wait(None, wait).await;
        }
        if let Some(pool) = state.slots.llm_pool.get() {
            let _ = pool.stop_and_wait(None, wait).await;
        }
        if let Some(sink) = state.slots.trace_sink.get() {
            let _ = sink.drain_and_wait(wait).await;
        }
        state.slots.supervisor.set(None);
        state.slots.router.set(None);
        state.slots.llm_pool.set(None);
        state.slots.trace_sink.set(None);
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<EngineMsg>,
        evt: SupervisionEvent,
        state: &mut EngineState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".to_owned()))
            }
            _ => return Ok(()),
        };
        let Some(child) = state.children.remove(&cell.get_id()) else {
            return Ok(());
        };
        if myself.get_status() != ractor::ActorStatus::Running {
            return Ok(()); // shutting down: children stop on purpose
        }
        tracing::error!(?child, "engine child exited: {why}; restarting");
        let history = state.failures.entry(child).or_default();
        if !RestartPolicy::default().allow(history, Instant::now()) {
            return Err(format!("{child:?} failed too often; stopping the engine").into());
        }
        spawn_child(&myself, state, child).await
    }
}

async fn spawn_child(
    myself: &ActorRef<EngineMsg>,
    state: &mut EngineState,
    child: Child,
) -> Result<(), ActorProcessingErr> {
    let a = &state.args;
    let h = &state.slots;
    let sup = myself.get_cell();
    let id = match child {
        Child::TraceSink => {
            let args = TraceSinkArgs {
                store: a.store.clone(),
                max_batch: a.sink_max_batch,
                max_delay_ms: a.sink_max_delay_ms,
            };
            let (r, _) = Actor::spawn_linked(None, TraceSink, args, sup).await?;
            h.trace_sink.set(Some(r.clone()));
            r.get_id()
        }
        Child::LlmPool => {
            let args = LlmPoolArgs {
                endpoints: a.llm_endpoints.clone(),
                config: a.llm.clone(),
            };
            let (r, _) = Actor::spawn_linked(None, LlmPool, args, sup).await?;
            h.llm_pool.set(Some(r.clone()));
            r.get_id()
        }
        Child::Router => {
            let args = RouterArgs {
                config: a.router.clone(),
                llm_pool: Some(h.llm_pool.clone()),
            };
            let (r, _) = Actor::spawn_linked(None, Router, args, sup).await?;
            h.router.set(Some(r.clone()));
            r.get_id()
        }
        Child::Calls => {
            let deps = CallDeps {
                config: a.call.clone(),
                tenant_configs: a.tenant_calls.clone(),
                stt: a.stt.clone(),
                tts: a.tts.clone(),
                router: h.router.clone(),
                llm_pool: h.llm_pool.clone(),
                trace_sink: h.trace_sink.clone(),
                events: h.events.clone(),
                escalator: a.escalator.clone(),
            };
            let args = SupervisorArgs {
                deps,
                policy: a.policy.clone(),
                max_calls: a.max_calls,
                counters: h.counters.clone(),
            };
            let (r, _) = Actor::spawn_linked(None, CallSupervisor, args, sup).await?;
            h.supervisor.set(Some(r.clone()));
            r.get_id()
        }
    };
    state.children.insert(id, child);
    Ok(())
}
