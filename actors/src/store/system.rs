//! System events (start-up, restarts, provider outages, shed load): the
//! engine's own log, time-keyed in the `system_events` tree and queried
//! newest-first.

use super::keys;
use super::{Result, Store};
use crate::ids::{CallSid, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SystemEvent {
    pub at: DateTime<Utc>,
    /// startup, shutdown, actor_restarted, provider_outage, load_shed ...
    pub kind: String,
    pub severity: Severity,
    /// Which part of the engine reports it (trace_sink, llm_pool ...).
    pub component: String,
    pub message: String,
    pub call_id: Option<CallSid>,
    /// Set when the event concerns one tenant; tenant-scoped API keys see
    /// only events of their tenant.
    pub company_id: Option<TenantId>,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

impl SystemEvent {
    pub fn new(
        at: DateTime<Utc>,
        kind: impl Into<String>,
        severity: Severity,
        component: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SystemEvent {
            at,
            kind: kind.into(),
            severity,
            component: component.into(),
            message: message.into(),
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct SystemEventQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub severity: Option<Severity>,
    /// Only events of this tenant (for tenant-scoped callers).
    pub company: Option<TenantId>,
    pub limit: usize,
}

impl Store {
    pub fn append_system_events(&self, events: &[SystemEvent]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for e in events {
            let mut key = keys::ts_bytes(e.at.timestamp_millis()).to_vec();
            key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
            batch.insert(key, serde_json::to_vec(e)?);
        }
        self.system.apply_batch(batch)?;
        Ok(())
    }

    /// Matching events, newest first, at most `q.limit`, examining at most
    /// `max_scan` entries of the time range.
    pub fn system_events(&self, q: &SystemEventQuery) -> Result<Vec<SystemEvent>> {
        let lo = q
            .from
            .map(|d| keys::ts_bytes(d.timestamp_millis()).to_vec())
            .unwrap_or_default();
        let hi =
            q.to.map(|d| keys::ts_bytes(d.timestamp_millis().saturating_add(1)).to_vec())
                .unwrap_or_else(|| vec![u8::MAX; 17]);
        let mut out = Vec::new();
        for v in self
            .system
            .range(lo..hi)
            .values()
            .rev()
            .take(self.config.max_scan)
        {
            let e: SystemEvent = serde_json::from_slice(&v?)?;
            if q.kind.as_ref().is_some_and(|k| *k != e.kind)
                || q.severity.is_some_and(|s| s != e.severity)
                || q.company
                    .as_ref()
                    .is_some_and(|c| e.company_id.as_ref() != Some(c))
            {
                continue;
            }
            out.push(e);
            if out.len() >= q.limit {
                break;
            }
        }
        Ok(out)
    }
}
