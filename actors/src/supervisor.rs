//! CallSupervisor: admission control, the callSid -> CallActor registry, and
//! the restart policy.
//!
//! A CallActor that panics or errors is restarted from its last checkpoint
//! (the conversation so far, turn state back to Listening) and re-attached to
//! the same socket through its [`Slot`], so the caller stays on the line.
//! More than `max_restarts` within `window` ends the call politely. The
//! policy itself is the plain [`RestartPolicy`] below.

use crate::call::{
    CallActor, CallArgs, CallDeps, CallMsg, CallSnapshot, CallStart, Checkpoint, LiveEvent,
    Outbound, StartInfo, TransportTx,
};
use crate::ids::CallSid;
use crate::slot::Slot;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// N restarts within T, then give up (end the call politely).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    pub max_restarts: usize,
    pub window_secs: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window_secs: 60,
        }
    }
}

impl RestartPolicy {
    /// Record a failure at `now` in `history`; true when a restart is allowed.
    pub fn allow(&self, history: &mut VecDeque<Instant>, now: Instant) -> bool {
        let window = Duration::from_secs(self.window_secs);
        while history
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            history.pop_front();
        }
        if history.len() >= self.max_restarts {
            return false;
        }
        history.push_back(now);
        true
    }
}

/// Counters the HTTP edge reads without a round trip to the actor.
#[derive(Debug, Default)]
pub struct CallCounters {
    pub active: AtomicUsize,
    pub admitted: AtomicU64,
    pub rejected: AtomicU64,
    pub restarts: AtomicU64,
    pub gave_up: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("engine is at capacity ({0} calls)")]
    Full(usize),
    #[error("engine is shutting down")]
    Draining,
    #[error("call {0} is already connected")]
    Duplicate(CallSid),
    #[error("could not start the call actor: {0}")]
    Spawn(String),
}

pub struct CallSupervisor;

pub struct SupervisorArgs {
    pub deps: CallDeps,
    pub policy: RestartPolicy,
    pub max_calls: usize,
    pub counters: Arc<CallCounters>,
}

struct CallEntry {
    link: Slot<CallMsg>,
    transport: TransportTx,
    checkpoint: Option<Box<Checkpoint>>,
    failures: VecDeque<Instant>,
    attempt: u32,
    actor: ActorId,
}

pub struct SupervisorState {
    args: SupervisorArgs,
    calls: HashMap<CallSid, CallEntry>,
    by_actor: HashMap<ActorId, CallSid>,
    draining: bool,
    drain_waiters: Vec<RpcReplyPort<usize>>,
}

/// A live call as the registry sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveCall {
    pub call_id: CallSid,
    pub tenant: String,
    pub caller: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub restarts: u32,
}

pub enum SupervisorMsg {
    Admit {
        start: Box<StartInfo>,
        transport: TransportTx,
        reply: RpcReplyPort<Result<Slot<CallMsg>, AdmitError>>,
    },
    Checkpoint(CallSid, Box<Checkpoint>),
    Lookup(CallSid, RpcReplyPort<Option<Slot<CallMsg>>>),
    List(RpcReplyPort<Vec<LiveCall>>),
    /// Stop admitting, end every call politely, reply with how many calls
    /// were still up when `grace` ran out (0 = all ended in time).
    Drain {
        grace: Duration,
        reply: RpcReplyPort<usize>,
    },
    DrainDeadline,
}

impl Actor for CallSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        _: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            args,
            calls: HashMap::new(),
            by_actor: HashMap::new(),
            draining: false,
            drain_waiters: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Admit {
                start,
                transport,
                reply,
            } => {
                let result = admit(&myself, state, start, transport).await;
                let counter = if result.is_ok() {
                    &state.args.counters.admitted
                } else {
                    &state.args.counters.rejected
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // Ignored: the transport gave up (socket closed) meanwhile;
                // the call actor then gets Stop from the closed socket path.
                let _ = reply.send(result);
            }
            SupervisorMsg::Checkpoint(sid, cp) => {
                if let Some(entry) = state.calls.get_mut(&sid) {
                    entry.checkpoint = Some(cp);
                }
            }
            SupervisorMsg::Lookup(sid, reply) => {
                let _ = reply.send(state.calls.get(&sid).map(|e| e.link.clone()));
            }
            SupervisorMsg::List(reply) => {
                let _ = reply.send(list(state));
            }
            SupervisorMsg::Drain { grace, reply } => {
                state.draining = true;
                end_all(state);
                if state.calls.is_empty() {
                    let _ = reply.send(0);
                } else {
                    state.drain_waiters.push(reply);
                    myself.send_after(grace, || SupervisorMsg::DrainDeadline);
                }
            }
            SupervisorMsg::DrainDeadline => {
                let left = state.calls.len();
                for entry in state.calls.values() {
                    let _ = entry.transport.send(Outbound::Close {
                        reason: "engine shutting down".to_owned(),
                    });
                }
                for w in state.drain_waiters.drain(..) {
                    let _ = w.send(left);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        evt: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(sid) = state.by_actor.remove(&cell.get_id()) else {
                    return Ok(());
                };
                tracing::warn!(call = %sid, "call actor failed: {err}");
                restart(&myself, state, sid, err.to_string()).await;
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let Some(sid) = state.by_actor.remove(&cell.get_id()) else {
                    return Ok(());
                };
                if let Some(entry) = state.calls.remove(&sid) {
                    entry.link.set(None);
                    // Ignored: the transport may have closed already.
                    let _ = entry.transport.send(Outbound::Close {
                        reason: reason.unwrap_or_else(|| "call ended".to_owned()),
                    });
                    state.args.counters.active.fetch_sub(1, Ordering::Relaxed);
                }
                if state.calls.is_empty() {
                    for w in state.drain_waiters.drain(..) {
                        let _ = w.send(0);
                    }
                }
            }
            // Started and process-group events need nothing from us; the
            // default handler would stop the supervisor on a child's exit.
            _ => {}
        }
        Ok(())
    }
}

async fn admit(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    start: Box<StartInfo>,
    transport: TransportTx,
) -> Result<Slot<CallMsg>, AdmitError> {
    if state.draining {
        return Err(AdmitError::Draining);
    }
    if state.calls.len() >= state.args.max_calls {
        return Err(AdmitError::Full(state.args.max_calls));
    }
    let sid = start.call_sid.clone();
    if state.calls.contains_key(&sid) {
        return Err(AdmitError::Duplicate(sid));
    }
    let args = CallArgs {
        start: CallStart::Fresh(start),
        deps: state.args.deps.clone(),
        transport: transport.clone(),
        supervisor: myself.clone(),
    };
    let (actor, _) = Actor::spawn_linked(None, CallActor, args, myself.get_cell())
        .await
        .map_err(|e| AdmitError::Spawn(e.to_string()))?;
    let link = Slot::new(actor.clone());
    state.by_actor.insert(actor.get_id(), sid.clone());
    state.calls.insert(
        sid,
        CallEntry {
            link: link.clone(),
            transport,
            checkpoint: None,
            failures: VecDeque::new(),
            attempt: 0,
            actor: actor.get_id(),
        },
    );
    state.args.counters.active.fetch_add(1, Ordering::Relaxed);
    Ok(link)
}

async fn restart(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    sid: CallSid,
    reason: String,
) {
    let Some(entry) = state.calls.get_mut(&sid) else {
        return;
    };
    let Some(checkpoint) = entry.checkpoint.clone() else {
        // Failed before its first checkpoint: nothing to resume from.
        give_up(state, &sid, "call actor failed before its first checkpoint");
        return;
    };
    let allowed = state.args.policy.allow(&mut entry.failures, Instant::now());
    entry.attempt += 1;
    let attempt = entry.attempt;
    let args = CallArgs {
        start: CallStart::Restore {
            checkpoint,
            reason: reason.clone(),
            attempt,
            end_now: !allowed,
        },
        deps: state.args.deps.clone(),
        transport: entry.transport.clone(),
        supervisor: myself.clone(),
    };
    match Actor::spawn_linked(None, CallActor, args, myself.get_cell()).await {
        Ok((actor, _)) => {
            entry.link.set(Some(actor.clone()));
            state.args.counters.restarts.fetch_add(1, Ordering::Relaxed);
            entry.actor = actor.get_id();
            state.by_actor.insert(actor.get_id(), sid.clone());
            let tenant = entry
                .checkpoint
                .as_ref()
                .map(|c| c.start.tenant.clone())
                .unwrap_or_default();
            state.args.deps.events.publish(
                &tenant,
                LiveEvent::ActorRestarted {
                    call_id: sid.clone(),
                    attempt,
                    reason,
                },
            );
            if !allowed {
                state.args.counters.gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(call = %sid, "too many restarts; ending the call politely");
            }
        }
        Err(e) => give_up(state, &sid, &format!("restart failed: {e}")),
    }
}

fn give_up(state: &mut SupervisorState, sid: &CallSid, why: &str) {
    tracing::error!(call = %sid, "{why}");
    if let Some(entry) = state.calls.remove(sid) {
        entry.link.set(None);
        let _ = entry.transport.send(Outbound::Close {
            reason: why.to_owned(),
        });
        state.args.counters.active.fetch_sub(1, Ordering::Relaxed);
        state.args.counters.gave_up.fetch_add(1, Ordering::Relaxed);
    }
}

fn end_all(state: &SupervisorState) {
    for entry in state.calls.values() {
        if let Some(actor) = entry.link.get() {
            let cmd = crate::call::Command {
                who: "engine".to_owned(),
                command: crate::call::SupervisorCommand::End {
                    reason: Some("engine shutting down".to_owned()),
                },
            };
            // The reply port is dropped: nobody waits for the snapshot.
            let (tx, _rx) = ractor::concurrency::oneshot();
            let _ = actor.cast(CallMsg::Command(cmd, tx.into()));
        }
    }
}

fn list(state: &SupervisorState) -> Vec<LiveCall> {
    state
        .calls
        .iter()
        .map(|(sid, e)| {
            let start = e.checkpoint.as_ref().map(|c| &c.start);
            LiveCall {
                call_id: sid.clone(),
                tenant: start.map(|s| s.tenant.to_string()).unwrap_or_default(),
                caller: start.and_then(|s| s.caller.clone()),
                started_at: start.map(|s| s.started_at).unwrap_or_default(),
                restarts: e.attempt,
            }
        })
        .collect()
}

/// Ask a live call for its snapshot (used by the HTTP API).
pub async fn snapshot(link: &Slot<CallMsg>) -> Option<CallSnapshot> {
    let actor = link.get()?;
    ractor::call_t!(actor, CallMsg::Snapshot, 2_000).ok()
}
