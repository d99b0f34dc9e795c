//! Switchboard's actor tree and the sans-IO logic it drives.
//!
//! Data flows `transport -> CallActor -> (Router, LlmPool, providers) ->
//! CallActor -> transport`, with every event going to the TraceSink. Nothing
//! here knows about HTTP; `codecs` knows nothing about calls.

pub mod call;
pub mod engine;
pub mod events;
pub mod ids;
pub mod llm_pool;
pub mod providers;
pub mod router;
pub mod slot;
pub mod store;
pub mod supervisor;
pub mod trace;
pub mod trace_sink;
