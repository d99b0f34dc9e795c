//! Retention: the janitor removes traces (with their events, index entries
//! and aggregate contributions) and system events older than the TTL, in
//! bounded batches so that it never holds sled's write lock for long.

use super::keys::{self, Scope};
use super::{Result, Store};
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JanitorReport {
    pub cutoff: Option<DateTime<Utc>>,
    pub dry_run: bool,
    pub traces: u64,
    pub events: u64,
    pub system_events: u64,
}

impl Store {
    /// Remove everything that started before `now - retention_days`, at most
    /// `batch` traces per transaction. With `dry_run`, only count (traces by
    /// index keys, without reading them).
    pub fn janitor(
        &self,
        now: DateTime<Utc>,
        batch: usize,
        dry_run: bool,
    ) -> Result<JanitorReport> {
        let cutoff = now - Duration::days(i64::from(self.config.retention_days));
        let cutoff_ms = cutoff.timestamp_millis();
        let scope = Scope::new(None, None);
        let mut report = JanitorReport {
            cutoff: Some(cutoff),
            dry_run,
            ..Default::default()
        };
        let old = || self.by_time.range(..scope.upper(Some(cutoff_ms)));
        if dry_run {
            report.traces = old().keys().count() as u64;
            report.system_events = self
                .system
                .range(..keys::ts_bytes(cutoff_ms))
                .keys()
                .count() as u64;
            return Ok(report);
        }
        loop {
            let ids: Vec<String> = old()
                .keys()
                .take(batch.max(1))
                .filter_map(|k| k.ok())
                .filter_map(|k| scope.parse(&k).map(|(_, id)| id.to_owned()))
                .collect();
            if ids.is_empty() {
                break;
            }
            report.events += self.delete_events(&ids)?;
            report.traces += self.delete_traces(&ids)? as u64;
        }
        report.system_events = self.delete_old_system_events(cutoff_ms, batch.max(1))?;
        Ok(report)
    }

    fn delete_events(&self, ids: &[String]) -> Result<u64> {
        let mut n = 0;
        for id in ids {
            let mut batch = sled::Batch::default();
            for kv in self.events.scan_prefix(keys::event_prefix(id)) {
                let (k, v) = kv?;
                n += v.iter().filter(|b| **b == b'\n').count() as u64;
                batch.remove(k);
            }
            self.events.apply_batch(batch)?;
        }
        Ok(n)
    }

    fn delete_old_system_events(&self, cutoff_ms: i64, batch_size: usize) -> Result<u64> {
        let mut n = 0;
        loop {
            let mut batch = sled::Batch::default();
            let mut count = 0;
            for k in self
                .system
                .range(..keys::ts_bytes(cutoff_ms))
                .keys()
                .take(batch_size)
            {
                batch.remove(k?);
                count += 1;
            }
            if count == 0 {
                return Ok(n);
            }
            self.system.apply_batch(batch)?;
            n += count;
        }
    }
}

/// Run the janitor every `every` (first run after one period) on tokio's
/// blocking pool, in batches of `batch` traces, until the task is aborted.
/// Start it from the engine's runtime; the handle aborts it on shutdown.
pub fn spawn_janitor(
    store: Store,
    every: std::time::Duration,
    batch: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.janitor(Utc::now(), batch, false)).await {
                Ok(Ok(r)) if r.traces + r.system_events > 0 => {
                    tracing::info!(
                        traces = r.traces,
                        events = r.events,
                        system_events = r.system_events,
                        "retention janitor"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "retention janitor failed"),
                Err(e) => tracing::warn!(error = %e, "retention janitor task failed"),
            }
        }
    })
}
