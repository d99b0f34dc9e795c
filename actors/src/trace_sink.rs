//! The TraceSink actor: the only writer of call traces. Call actors cast
//! [`TraceEvent`]s and trace starts; the sink batches them (at most
//! `max_batch` items or `max_delay_ms`, whichever comes first) and applies
//! each batch to sled. sled writes are synchronous, so they stay inside this
//! one actor instead of blocking call actors.
//!
//! Confirmation: a `Finish` (or `Flush`) is answered only after the batch
//! holding it is applied *and* flushed to disk. A sink that panics loses its
//! unflushed batch, never anything it confirmed; its supervisor restarts it
//! with the same arguments. On shutdown use `drain()`: queued messages are
//! processed and `post_stop` writes and flushes the rest.

use crate::store::{Store, SystemEvent, TraceWrite};
use crate::trace::{CallTrace, TraceEvent};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::time::Duration;

pub struct TraceSink;

pub struct TraceSinkArgs {
    pub store: Store,
    /// Items (events, traces, system events) per batch; 1024 by default.
    pub max_batch: usize,
    /// The longest an item waits before its batch is written; 50 by default.
    pub max_delay_ms: u64,
}

impl TraceSinkArgs {
    pub fn new(store: Store) -> Self {
        TraceSinkArgs {
            store,
            max_batch: 1024,
            max_delay_ms: 50,
        }
    }
}

pub struct TraceSinkState {
    store: Store,
    max_batch: usize,
    max_delay: Duration,
    pending: Pending,
    /// Generation of the armed batch timer; a tick of an older generation
    /// arrives after its batch was already written and is ignored.
    timer_gen: u64,
    timer_armed: bool,
}

pub enum TraceSinkMsg {
    Event(TraceEvent),
    /// Several events at once (a call actor flushing its own buffer).
    Events(Vec<TraceEvent>),
    /// A call started: upsert its trace with status live.
    Start(Box<CallTrace>),
    /// A call ended: replace its trace; the reply comes after the batch
    /// holding it is applied and flushed.
    Finish(Box<CallTrace>, RpcReplyPort<Result<(), String>>),
    System(SystemEvent),
    /// Write and flush everything queued so far.
    Flush(RpcReplyPort<()>),
    /// The batch timer (carries its generation).
    Tick(u64),
}

/// What the next batch will write, in arrival order per kind.
#[derive(Default)]
struct Pending {
    events: Vec<TraceEvent>,
    /// `true` for a start (never downgrades an ended trace).
    traces: Vec<(Box<CallTrace>, bool)>,
    system: Vec<SystemEvent>,
    confirms: Vec<RpcReplyPort<Result<(), String>>>,
    flushes: Vec<RpcReplyPort<()>>,
}

impl Pending {
    fn len(&self) -> usize {
        self.events.len() + self.traces.len() + self.system.len()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0 && self.confirms.is_empty() && self.flushes.is_empty()
    }
}

impl Actor for TraceSink {
    type Msg = TraceSinkMsg;
    type State = TraceSinkState;
    type Arguments = TraceSinkArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: TraceSinkArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(TraceSinkState {
            store: args.store,
            max_batch: args.max_batch.max(1),
            max_delay: Duration::from_millis(args.max_delay_ms),
            pending: Pending::default(),
            timer_gen: 0,
            timer_armed: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: TraceSinkMsg,
        state: &mut TraceSinkState,
    ) -> Result<(), ActorProcessingErr> {
        let p = &mut state.pending;
        match msg {
            TraceSinkMsg::Event(e) => p.events.push(e),
            TraceSinkMsg::Events(es) => p.events.extend(es),
            TraceSinkMsg::Start(t) => p.traces.push((t, true)),
            TraceSinkMsg::Finish(t, reply) => {
                p.traces.push((t, false));
                p.confirms.push(reply);
            }
            TraceSinkMsg::System(e) => p.system.push(e),
            TraceSinkMsg::Flush(reply) => {
                p.flushes.push(reply);
                return commit(state).await;
            }
            TraceSinkMsg::Tick(gen) => {
                if gen == state.timer_gen {
                    return commit(state).await;
                }
                return Ok(());
            }
        }
        if state.pending.len() >= state.max_batch {
            return commit(state).await;
        }
        arm_timer(&myself, state);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut TraceSinkState,
    ) -> Result<(), ActorProcessingErr> {
        commit(state).await?;
        // Events carry no confirmation, so the final batch may not have been
        // flushed by `commit`: make the shutdown durable.
        state.store.flush_async().await?;
        Ok(())
    }
}

fn arm_timer(myself: &ActorRef<TraceSinkMsg>, state: &mut TraceSinkState) {
    if state.timer_armed {
        return;
    }
    state.timer_armed = true;
    let gen = state.timer_gen;
    // The timer task is detached on purpose (dropping its handle does not
    // cancel it): a tick that finds its batch already written is ignored by
    // generation, and one sent after stop fails harmlessly.
    drop(myself.send_after(state.max_delay, move || TraceSinkMsg::Tick(gen)));
}

/// Write the pending batch, flush when anyone waits for confirmation, and
/// answer them. A failed write is reported to the waiters and logged; the
/// sink carries on with the next batch.
async fn commit(state: &mut TraceSinkState) -> Result<(), ActorProcessingErr> {
    state.timer_gen = state.timer_gen.wrapping_add(1);
    state.timer_armed = false;
    if state.pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(&mut state.pending);
    let mut result = apply(&state.store, &batch);
    let must_flush = !batch.confirms.is_empty() || !batch.flushes.is_empty();
    if result.is_ok() && must_flush {
        result = state.store.flush_async().await.map_err(|e| e.to_string());
    }
    if let Err(e) = &result {
        tracing::error!(error = %e, events = batch.events.len(), "trace sink batch failed");
    }
    for reply in batch.confirms {
        // A waiter that gave up (timeout) is not an error of the sink.
        let _ = reply.send(result.clone());
    }
    for reply in batch.flushes {
        let _ = reply.send(());
    }
    Ok(())
}

fn apply(store: &Store, batch: &Pending) -> Result<(), String> {
    if !batch.events.is_empty() {
        store
            .append_events(&batch.events)
            .map_err(|e| e.to_string())?;
    }
    if !batch.traces.is_empty() {
        let writes: Vec<TraceWrite<'_>> = batch
            .traces
            .iter()
            .map(|(t, start)| {
                if *start {
                    TraceWrite::start(t)
                } else {
                    TraceWrite::replace(t)
                }
            })
            .collect();
        store.write_traces(&writes).map_err(|e| e.to_string())?;
    }
    if !batch.system.is_empty() {
        store
            .append_system_events(&batch.system)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Send a finished trace and wait until it is durable.
pub async fn finish_trace(
    sink: &ActorRef<TraceSinkMsg>,
    trace: CallTrace,
    timeout: Duration,
) -> Result<(), String> {
    match sink
        .call(
            |port| TraceSinkMsg::Finish(Box::new(trace), port),
            Some(timeout),
        )
        .await
    {
        Ok(ractor::rpc::CallResult::Success(r)) => r,
        Ok(ractor::rpc::CallResult::Timeout) => Err("trace sink did not confirm in time".into()),
        Ok(ractor::rpc::CallResult::SenderError) => Err("trace sink dropped the write".into()),
        Err(e) => Err(format!("trace sink unavailable: {e}")),
    }
}

/// Wait until everything sent to the sink so far is durable.
pub async fn flush(sink: &ActorRef<TraceSinkMsg>, timeout: Duration) -> Result<(), String> {
    match sink.call(TraceSinkMsg::Flush, Some(timeout)).await {
        Ok(ractor::rpc::CallResult::Success(())) => Ok(()),
        Ok(other) => Err(format!("trace sink flush failed: {other:?}")),
        Err(e) => Err(format!("trace sink unavailable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CallSid, TenantId};
    use crate::store::StoreConfig;
    use crate::trace::{CallStatus, TraceKind};

    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn store(tag: &str) -> (Store, TempDir) {
        let dir = std::env::temp_dir().join(format!(
            "sb-sink-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        (
            Store::open(&StoreConfig::at(&dir)).expect("temp store opens"),
            TempDir(dir),
        )
    }

    fn event(call: &str, n: u64) -> TraceEvent {
        TraceEvent {
            call_id: CallSid::new(call),
            company_id: TenantId::new("acme"),
            at: chrono::DateTime::from_timestamp_millis(1_772_000_000_000 + n as i64)
                .expect("valid time"),
            media_ms: n * 20,
            kind: TraceKind::Note {
                message: format!("n{n}"),
            },
        }
    }

    fn trace(call: &str, status: CallStatus) -> CallTrace {
        CallTrace {
            call_id: CallSid::new(call),
            company_id: TenantId::new("acme"),
            status,
            ..Default::default()
        }
    }

    async fn spawn(store: &Store, max_batch: usize, max_delay_ms: u64) -> ActorRef<TraceSinkMsg> {
        let args = TraceSinkArgs {
            store: store.clone(),
            max_batch,
            max_delay_ms,
        };
        Actor::spawn(None, TraceSink, args)
            .await
            .expect("sink spawns")
            .0
    }

    #[tokio::test]
    async fn confirmed_finish_comes_after_every_earlier_event_is_written() {
        let (store, _dir) = store("confirm");
        let sink = spawn(&store, 1024, 50).await;
        sink.cast(TraceSinkMsg::Start(Box::new(trace(
            "CA1",
            CallStatus::Live,
        ))))
        .expect("cast");
        for n in 0..3000 {
            sink.cast(TraceSinkMsg::Event(event("CA1", n)))
                .expect("cast");
        }
        finish_trace(
            &sink,
            trace("CA1", CallStatus::Ended),
            Duration::from_secs(10),
        )
        .await
        .expect("confirmed");
        let events = store
            .events(&CallSid::new("CA1"), usize::MAX)
            .expect("events");
        assert_eq!(events.len(), 3000);
        assert!(
            events.windows(2).all(|w| w[0].media_ms < w[1].media_ms),
            "order kept"
        );
        let t = store
            .get_trace(&CallSid::new("CA1"))
            .expect("read")
            .expect("trace stored");
        assert_eq!(t.status, CallStatus::Ended);
        sink.stop(None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_event_is_written_when_the_batch_timer_fires() {
        let (store, _dir) = store("timer");
        let sink = spawn(&store, 1024, 50).await;
        sink.cast(TraceSinkMsg::Event(event("CA2", 1)))
            .expect("cast");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            store
                .events(&CallSid::new("CA2"), 10)
                .expect("events")
                .is_empty(),
            "still batching"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            store
                .events(&CallSid::new("CA2"), 10)
                .expect("events")
                .len(),
            1
        );
        sink.stop(None);
    }

    #[tokio::test]
    async fn drain_writes_what_was_queued() {
        let (store, _dir) = store("drain");
        let sink = spawn(&store, 100_000, 60_000).await;
        for n in 0..500 {
            sink.cast(TraceSinkMsg::Event(event("CA3", n)))
                .expect("cast");
        }
        sink.cast(TraceSinkMsg::System(crate::store::SystemEvent::new(
            chrono::Utc::now(),
            "shutdown",
            crate::store::Severity::Info,
            "test",
            "bye",
        )))
        .expect("cast");
        sink.drain_and_wait(Some(Duration::from_secs(10)))
            .await
            .expect("drained");
        assert_eq!(
            store
                .events(&CallSid::new("CA3"), usize::MAX)
                .expect("events")
                .len(),
            500
        );
        let sys = store
            .system_events(&crate::store::SystemEventQuery {
                limit: 10,
                ..Default::default()
            })
            .expect("system events");
        assert_eq!(sys.len(), 1);
    }

    #[tokio::test]
    async fn a_start_arriving_after_the_finish_does_not_reopen_the_call() {
        let (store, _dir) = store("late-start");
        let sink = spawn(&store, 1024, 50).await;
        finish_trace(
            &sink,
            trace("CA4", CallStatus::Ended),
            Duration::from_secs(10),
        )
        .await
        .expect("confirmed");
        sink.cast(TraceSinkMsg::Start(Box::new(trace(
            "CA4",
            CallStatus::Live,
        ))))
        .expect("cast");
        flush(&sink, Duration::from_secs(10))
            .await
            .expect("flushed");
        let t = store
            .get_trace(&CallSid::new("CA4"))
            .expect("read")
            .expect("stored");
        assert_eq!(t.status, CallStatus::Ended);
        sink.stop(None);
    }
}
