//! Byte layouts of the store's keys. Every time in a key is big-endian with
//! the sign bit flipped, so sled's lexicographic order is time order and an
//! index walk in reverse is newest-first.
//!
//! Index keys (values are empty; the callId is the key's tail):
//! - `by_time`:    `ts ++ callId`
//! - `by_company`: `company ++ 0x00 ++ ts ++ callId`
//! - `by_outcome`: `company-or-empty ++ 0x00 ++ outcome ++ ts ++ callId`
//!   (the empty company is the all-tenants scope; tenant ids are never empty)
//!
//! Events: `callId ++ 0x00 ++ seq`; daily aggregates: `company-or-empty ++
//! 0x00 ++ day`; system events: `ts ++ seq`. Ids never contain NUL (checked
//! on every write), so the separator is unambiguous.

use crate::ids::TenantId;
use crate::trace::{CallStatus, CallTrace, Outcome};

pub const DAY_MS: i64 = 86_400_000;

/// Sort-preserving encoding of signed milliseconds.
pub fn ts_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn ts_from_bytes(b: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

/// Sort-preserving encoding of a UTC day number (days since 1970-01-01).
pub fn day_bytes(day: i64) -> [u8; 4] {
    ((day as i32 as u32) ^ (1 << 31)).to_be_bytes()
}

pub fn day_from_bytes(b: &[u8]) -> Option<i64> {
    let arr: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some((u32::from_be_bytes(arr) ^ (1 << 31)) as i32 as i64)
}

pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Where a trace falls for outcome-aware indexes: a live call has no final
/// outcome yet, so it gets its own bucket and never matches `ai_resolved`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OutcomeKey {
    Live = 0,
    AiResolved = 1,
    Escalated = 2,
    HungUp = 3,
    Error = 4,
}

impl OutcomeKey {
    pub fn of(status: CallStatus, outcome: Outcome) -> Self {
        match (status, outcome) {
            (CallStatus::Live, _) => OutcomeKey::Live,
            (CallStatus::Ended, o) => Self::ended(o),
        }
    }
    pub fn ended(outcome: Outcome) -> Self {
        match outcome {
            Outcome::AiResolved => OutcomeKey::AiResolved,
            Outcome::EscalatedToHuman => OutcomeKey::Escalated,
            Outcome::CallerHungUp => OutcomeKey::HungUp,
            Outcome::Error => OutcomeKey::Error,
        }
    }
    pub fn of_trace(t: &CallTrace) -> Self {
        Self::of(t.status, t.final_outcome)
    }
}

/// One index to walk: which tree and the key prefix before the timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub tree: IndexTree,
    pub prefix: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexTree {
    ByTime,
    ByCompany,
    ByOutcome,
}

impl Scope {
    /// The index that answers `company` x `outcome` without post-filtering.
    pub fn new(company: Option<&TenantId>, outcome: Option<OutcomeKey>) -> Self {
        match (company, outcome) {
            (None, None) => Scope {
                tree: IndexTree::ByTime,
                prefix: Vec::new(),
            },
            (Some(c), None) => Scope {
                tree: IndexTree::ByCompany,
                prefix: company_prefix(Some(c)),
            },
            (c, Some(o)) => {
                let mut prefix = company_prefix(c);
                prefix.push(o as u8);
                Scope {
                    tree: IndexTree::ByOutcome,
                    prefix,
                }
            }
        }
    }

    pub fn key(&self, ms: i64, call_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 8 + call_id.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(&ts_bytes(ms));
        k.extend_from_slice(call_id.as_bytes());
        k
    }

    /// Smallest key at or after `ms` (or the scope start).
    pub fn lower(&self, ms: Option<i64>) -> Vec<u8> {
        let mut k = self.prefix.clone();
        if let Some(ms) = ms {
            k.extend_from_slice(&ts_bytes(ms));
        }
        k
    }

    /// Smallest key past everything before `ms_excl` (or past the scope).
    pub fn upper(&self, ms_excl: Option<i64>) -> Vec<u8> {
        match ms_excl {
            Some(ms) => {
                let mut k = self.prefix.clone();
                k.extend_from_slice(&ts_bytes(ms));
                k
            }
            None => prefix_end(&self.prefix),
        }
    }

    /// The callId and start time carried by an index key of this scope.
    pub fn parse<'a>(&self, key: &'a [u8]) -> Option<(i64, &'a str)> {
        let rest = key.get(self.prefix.len()..)?;
        let ms = ts_from_bytes(rest)?;
        let id = std::str::from_utf8(rest.get(8..)?).ok()?;
        Some((ms, id))
    }

    /// The daily-aggregate key prefix that counts this scope.
    pub fn agg_company(&self) -> Vec<u8> {
        match self.tree {
            IndexTree::ByTime => vec![0],
            IndexTree::ByCompany => self.prefix.clone(),
            IndexTree::ByOutcome => self.prefix[..self.prefix.len() - 1].to_vec(),
        }
    }

    pub fn outcome(&self) -> Option<OutcomeKey> {
        match self.tree {
            IndexTree::ByOutcome => Some(match self.prefix.last() {
                Some(0) => OutcomeKey::Live,
                Some(1) => OutcomeKey::AiResolved,
                Some(2) => OutcomeKey::Escalated,
                Some(3) => OutcomeKey::HungUp,
                _ => OutcomeKey::Error,
            }),
            _ => None,
        }
    }
}

/// `company ++ 0x00`, or just `0x00` for the all-tenants scope.
pub fn company_prefix(company: Option<&TenantId>) -> Vec<u8> {
    let mut p = company
        .map(|c| c.as_str().as_bytes().to_vec())
        .unwrap_or_default();
    p.push(0);
    p
}

/// The first key after every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    // An empty or all-0xFF prefix has no upper key: use one past any id.
    vec![u8::MAX; 16]
}

pub fn agg_key(company_prefix: &[u8], day: i64) -> Vec<u8> {
    let mut k = company_prefix.to_vec();
    k.extend_from_slice(&day_bytes(day));
    k
}

pub fn event_prefix(call_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(call_id.len() + 1);
    k.extend_from_slice(call_id.as_bytes());
    k.push(0);
    k
}

pub fn event_key(call_id: &str, seq: u64) -> Vec<u8> {
    let mut k = event_prefix(call_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Ids end up inside keys: no NUL (our separator), no control characters,
/// not empty, bounded length.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && !id.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_encoding_sorts_like_time_including_negative() {
        let times = [-5_000_000_000i64, -1, 0, 1, 1_700_000_000_000];
        let enc: Vec<_> = times.iter().map(|t| ts_bytes(*t)).collect();
        assert!(enc.windows(2).all(|w| w[0] < w[1]));
        for t in times {
            assert_eq!(ts_from_bytes(&ts_bytes(t)), Some(t));
        }
        assert_eq!(day_from_bytes(&day_bytes(-3)), Some(-3));
        assert!(day_bytes(-1) < day_bytes(0));
    }

    #[test]
    fn scope_keys_round_trip_call_id() {
        let c = TenantId::new("acme");
        let s = Scope::new(Some(&c), Some(OutcomeKey::Escalated));
        let k = s.key(42, "CA\u{e9}1");
        assert_eq!(s.parse(&k), Some((42, "CA\u{e9}1")));
        assert_eq!(s.outcome(), Some(OutcomeKey::Escalated));
        assert_eq!(s.agg_company(), b"acme\0".to_vec());
        assert!(s.lower(Some(42)) <= k && k < s.upper(Some(43)));
        assert!(k < s.upper(None));
    }

    #[test]
    fn tenant_prefix_does_not_match_longer_tenant() {
        let a = Scope::new(Some(&TenantId::new("ac")), None);
        let b = Scope::new(Some(&TenantId::new("acme")), None);
        let kb = b.key(1, "x");
        assert!(!kb.starts_with(&a.prefix));
    }
}
