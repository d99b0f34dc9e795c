//! Trace writes and deletes: one sled transaction over the document, the
//! summary, the three indexes and the daily aggregates, so a crash or a
//! concurrent reader never sees an index entry without its trace or a count
//! that disagrees with the index.

use super::keys::{self, OutcomeKey, Scope};
use super::summary::{DayAgg, TraceSummary};
use super::{Result, Store, StoreError};
use crate::trace::{CallStatus, CallTrace};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<StoreError>>;

/// One trace write of a batch: a final (replacing) write or a call-start
/// upsert.
pub struct TraceWrite<'a> {
    trace: &'a CallTrace,
    /// A call-start upsert must not undo a trace that already ended.
    only_if_not_ended: bool,
}

impl<'a> TraceWrite<'a> {
    pub fn replace(trace: &'a CallTrace) -> Self {
        TraceWrite {
            trace,
            only_if_not_ended: false,
        }
    }
    pub fn start(trace: &'a CallTrace) -> Self {
        TraceWrite {
            trace,
            only_if_not_ended: true,
        }
    }
}

/// Serialised outside the transaction: the closure may run more than once.
struct Prepared {
    id: Vec<u8>,
    doc: Vec<u8>,
    summary: TraceSummary,
    summary_bytes: Vec<u8>,
    only_if_not_ended: bool,
}

/// The transactional views of the trees a trace write touches.
struct Tx<'t> {
    traces: &'t TransactionalTree,
    summaries: &'t TransactionalTree,
    by_time: &'t TransactionalTree,
    by_company: &'t TransactionalTree,
    by_outcome: &'t TransactionalTree,
    daily: &'t TransactionalTree,
}

impl Store {
    /// Apply trace writes in order, in one transaction.
    pub fn write_traces(&self, writes: &[TraceWrite<'_>]) -> Result<()> {
        let prepared = writes.iter().map(prepare).collect::<Result<Vec<_>>>()?;
        self.transact(|tx| {
            for p in &prepared {
                if let Some(old) = tx.old_summary(&p.id)? {
                    if p.only_if_not_ended && old.status == CallStatus::Ended {
                        continue;
                    }
                    tx.unindex(&old)?;
                }
                tx.traces.insert(p.id.as_slice(), p.doc.as_slice())?;
                tx.summaries
                    .insert(p.id.as_slice(), p.summary_bytes.as_slice())?;
                tx.index(&p.summary)?;
            }
            Ok(())
        })
    }

    /// Delete traces with their index entries and aggregate contributions
    /// (their events are removed separately). Returns how many existed.
    pub(super) fn delete_traces(&self, ids: &[String]) -> Result<usize> {
        self.transact(|tx| {
            let mut n = 0;
            for id in ids {
                if let Some(old) = tx.old_summary(id.as_bytes())? {
                    tx.unindex(&old)?;
                    tx.traces.remove(id.as_bytes())?;
                    tx.summaries.remove(id.as_bytes())?;
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    fn transact<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
        let trees = (
            &self.traces,
            &self.summaries,
            &self.by_time,
            &self.by_company,
            &self.by_outcome,
            &self.daily,
        );
        let res = trees.transaction(
            |(traces, summaries, by_time, by_company, by_outcome, daily)| {
                f(&Tx {
                    traces,
                    summaries,
                    by_time,
                    by_company,
                    by_outcome,
                    daily,
                })
            },
        );
        res.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })
    }
}

fn prepare(w: &TraceWrite<'_>) -> Result<Prepared> {
    let t = w.trace;
    for (what, id) in [
        ("callId", t.call_id.as_str()),
        ("companyId", t.company_id.as_str()),
    ] {
        if !keys::valid_id(id) {
            return Err(StoreError::Invalid(format!("{what} {id:?}")));
        }
    }
    let summary = TraceSummary::of(t);
    Ok(Prepared {
        id: t.call_id.as_str().as_bytes().to_vec(),
        doc: serde_json::to_vec(t)?,
        summary_bytes: serde_json::to_vec(&summary)?,
        summary,
        only_if_not_ended: w.only_if_not_ended,
    })
}

fn abort(e: impl Into<StoreError>) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

impl Tx<'_> {
    fn old_summary(&self, id: &[u8]) -> TxResult<Option<TraceSummary>> {
        match self.summaries.get(id)? {
            Some(v) => Ok(Some(serde_json::from_slice(&v).map_err(abort)?)),
            None => Ok(None),
        }
    }

    fn index(&self, s: &TraceSummary) -> TxResult<()> {
        for (tree, key) in index_keys(s) {
            self.tree(tree).insert(key, &[][..])?;
        }
        self.aggregate(s, 1)
    }

    fn unindex(&self, s: &TraceSummary) -> TxResult<()> {
        for (tree, key) in index_keys(s) {
            self.tree(tree).remove(key)?;
        }
        self.aggregate(s, -1)
    }

    fn tree(&self, t: keys::IndexTree) -> &TransactionalTree {
        match t {
            keys::IndexTree::ByTime => self.by_time,
            keys::IndexTree::ByCompany => self.by_company,
            keys::IndexTree::ByOutcome => self.by_outcome,
        }
    }

    /// Add or remove a trace's contribution to its tenant's and the global
    /// aggregate of its start day.
    fn aggregate(&self, s: &TraceSummary, sign: i64) -> TxResult<()> {
        let day = keys::day_of(s.start_ms());
        for company in [
            keys::company_prefix(Some(&s.company_id)),
            keys::company_prefix(None),
        ] {
            let key = keys::agg_key(&company, day);
            let mut agg: DayAgg = match self.daily.get(&key)? {
                Some(v) => serde_json::from_slice(&v).map_err(abort)?,
                None => DayAgg::default(),
            };
            agg.apply(s, sign);
            if agg.is_empty() {
                self.daily.remove(key)?;
            } else {
                self.daily
                    .insert(key, serde_json::to_vec(&agg).map_err(abort)?)?;
            }
        }
        Ok(())
    }
}

/// Every index key of a trace.
fn index_keys(s: &TraceSummary) -> [(keys::IndexTree, Vec<u8>); 4] {
    let (ms, id, c) = (s.start_ms(), s.call_id.as_str(), Some(&s.company_id));
    let o: OutcomeKey = s.outcome_key();
    [
        Scope::new(None, None),
        Scope::new(c, None),
        Scope::new(None, Some(o)),
        Scope::new(c, Some(o)),
    ]
    .map(|scope| (scope.tree, scope.key(ms, id)))
}
