//! The trace store: call traces, their event timelines and system events in
//! an embedded sled database.
//!
//! Writes come from the TraceSink (and the ingest route through it); reads
//! come straight from HTTP handlers and the CLI. A trace write updates, in
//! one sled transaction, the trace document, its [`TraceSummary`], its index
//! keys (by time, by company, by company x outcome) and the per-day
//! aggregates, so list pages walk an index newest-first, and totals come
//! from the aggregates plus key counts at partial-day edges: nothing ever
//! scans or deserialises every trace.
//!
//! Trees: `traces` (callId -> JSON trace), `summaries` (callId -> JSON
//! summary), `by_time`, `by_company`, `by_outcome` (empty-valued index keys,
//! see [`keys`]), `daily` (aggregates), `events` (callId+seq -> JSON event),
//! `system_events` (time+seq -> JSON event).

mod export;
pub mod keys;
mod query;
mod retention;
mod stats;
mod summary;
mod system;
mod write;

pub use export::ExportFormat;
pub use query::{Order, Page, TraceQuery};
pub use retention::{spawn_janitor, JanitorReport};
pub use stats::{DailyStats, WindowStats};
pub use summary::{DayAgg, TraceSummary};
pub use system::{Severity, SystemEvent, SystemEventQuery};
pub use write::TraceWrite;

use crate::ids::CallSid;
use crate::trace::{CallTrace, TraceEvent};
use std::path::{Path, PathBuf};

/// Where the store lives and how it is tuned; the `[store]` config section.
/// Every field but `path` has a default suited to a server holding millions
/// of traces.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// sled's page cache. sled's own default (1 GiB) is too much beside
    /// thousands of calls.
    pub cache_capacity_bytes: u64,
    /// How often sled flushes in the background; confirmed writes are
    /// flushed explicitly regardless.
    pub flush_every_ms: Option<u64>,
    /// Traces older than this are removed by [`Store::janitor`].
    pub retention_days: u32,
    /// Upper bound on index entries a post-filtered query (direction, phone,
    /// text) examines; past it the total is reported as inexact.
    pub max_scan: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("./data/traces"),
            cache_capacity_bytes: 64 * 1024 * 1024,
            flush_every_ms: Some(500),
            retention_days: 90,
            max_scan: 50_000,
        }
    }
}

impl StoreConfig {
    /// A config for `path` with every other field at its default.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push("path must not be empty");
        }
        if self.cache_capacity_bytes < 1024 * 1024 {
            problems.push("cache_capacity_bytes must be at least 1 MiB");
        }
        if self.retention_days == 0 {
            problems.push("retention_days must be positive");
        }
        if self.max_scan == 0 {
            problems.push("max_scan must be positive");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join(", "))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record does not decode: {0}")]
    Codec(#[from] serde_json::Error),
    #[error("invalid {0}")]
    Invalid(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A handle on the open store; cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    traces: sled::Tree,
    summaries: sled::Tree,
    by_time: sled::Tree,
    by_company: sled::Tree,
    by_outcome: sled::Tree,
    daily: sled::Tree,
    events: sled::Tree,
    system: sled::Tree,
    config: StoreConfig,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("config", &self.config)
            .finish()
    }
}

impl Store {
    /// Open (or create) the store in `config.path`. sled holds a file
    /// lock: one process at a time.
    pub fn open(config: &StoreConfig) -> Result<Store> {
        Self::open_at(&config.path, config.clone())
    }

    /// Open the store in `path`, ignoring `config.path`.
    pub fn open_at(path: impl AsRef<Path>, mut config: StoreConfig) -> Result<Store> {
        config.path = path.as_ref().to_path_buf();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_capacity_bytes)
            .flush_every_ms(config.flush_every_ms)
            .open()?;
        Ok(Store {
            traces: db.open_tree("traces")?,
            summaries: db.open_tree("summaries")?,
            by_time: db.open_tree("by_time")?,
            by_company: db.open_tree("by_company")?,
            by_outcome: db.open_tree("by_outcome")?,
            daily: db.open_tree("daily")?,
            events: db.open_tree("events")?,
            system: db.open_tree("system_events")?,
            db,
            config,
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Insert or replace a trace (the final trace of a call, or an ingested
    /// one), keeping indexes and aggregates consistent.
    pub fn put_trace(&self, trace: &CallTrace) -> Result<()> {
        self.write_traces(&[write::TraceWrite::replace(trace)])
    }

    /// Record a call that just started: inserted as given, but never
    /// replacing a trace that already ended (a late or repeated start).
    pub fn start_trace(&self, trace: &CallTrace) -> Result<()> {
        self.write_traces(&[write::TraceWrite::start(trace)])
    }

    /// Several writes in one transaction, applied in order.
    pub fn put_traces(&self, traces: &[CallTrace]) -> Result<()> {
        let writes: Vec<_> = traces.iter().map(write::TraceWrite::replace).collect();
        self.write_traces(&writes)
    }

    pub fn get_trace(&self, call_id: &CallSid) -> Result<Option<CallTrace>> {
        self.trace_by_str(call_id.as_str())
    }

    pub(crate) fn trace_by_str(&self, call_id: &str) -> Result<Option<CallTrace>> {
        match self.traces.get(call_id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    pub fn summary(&self, call_id: &CallSid) -> Result<Option<TraceSummary>> {
        self.summary_by_str(call_id.as_str())
    }

    pub(crate) fn summary_by_str(&self, call_id: &str) -> Result<Option<TraceSummary>> {
        match self.summaries.get(call_id.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Append timeline events in one atomic batch. sled's cost is per key,
    /// so the events of one call within a batch share one record (JSON
    /// lines); records keep their order per call (the sequence number comes
    /// from sled's monotonic id).
    pub fn append_events(&self, events: &[TraceEvent]) -> Result<()> {
        let mut groups: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut slot: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for e in events {
            let id = e.call_id.as_str();
            if !keys::valid_id(id) {
                return Err(StoreError::Invalid(format!("callId {id:?}")));
            }
            let i = *slot.entry(id).or_insert_with(|| {
                groups.push((id, Vec::with_capacity(256)));
                groups.len() - 1
            });
            let buf = &mut groups[i].1;
            serde_json::to_writer(&mut *buf, e)?;
            // Compact JSON never contains a raw newline: a safe separator.
            buf.push(b'\n');
        }
        let mut batch = sled::Batch::default();
        for (id, lines) in groups {
            batch.insert(keys::event_key(id, self.db.generate_id()?), lines);
        }
        self.events.apply_batch(batch)?;
        Ok(())
    }

    /// The timeline of one call, oldest first, at most `limit` events.
    pub fn events(&self, call_id: &CallSid, limit: usize) -> Result<Vec<TraceEvent>> {
        let mut out = Vec::new();
        for v in self
            .events
            .scan_prefix(keys::event_prefix(call_id.as_str()))
            .values()
        {
            for line in v?.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                if out.len() >= limit {
                    return Ok(out);
                }
                out.push(serde_json::from_slice(line)?);
            }
        }
        Ok(out)
    }

    /// Make everything written so far durable.
    pub async fn flush_async(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Blocking flush, for shutdown paths and tools without a runtime.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Number of stored traces (a key count of the time index).
    pub fn trace_count(&self) -> usize {
        self.by_time.len()
    }

    /// After a crash, traces of calls that were live stay `live` forever:
    /// mark them ended with outcome `error` (reason `engine_restart`). Call
    /// once at start-up, before any call is admitted.
    pub fn close_orphaned_live(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let scope = keys::Scope::new(None, Some(keys::OutcomeKey::Live));
        let ids: Vec<CallSid> = self
            .by_outcome
            .scan_prefix(&scope.prefix)
            .keys()
            .filter_map(|k| k.ok())
            .filter_map(|k| scope.parse(&k).map(|(_, id)| CallSid::new(id)))
            .collect();
        let mut closed = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(mut t) = self.get_trace(id)? {
                t.status = crate::trace::CallStatus::Ended;
                t.final_outcome = crate::trace::Outcome::Error;
                t.end_reason = Some("engine_restart".into());
                t.ended_at = Some(now.max(t.started_at));
                t.recompute_stats();
                closed.push(t);
            }
        }
        self.put_traces(&closed)?;
        Ok(closed.len())
    }

    fn index_tree(&self, t: keys::IndexTree) -> &sled::Tree {
        match t {
            keys::IndexTree::ByTime => &self.by_time,
            keys::IndexTree::ByCompany => &self.by_company,
            keys::IndexTree::ByOutcome => &self.by_outcome,
        }
    }
}

#[cfg(test)]
mod tests;
