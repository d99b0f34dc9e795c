//! The live event hub: every call publishes [`LiveEvent`]s here and each
//! `/ws/events` subscriber reads its own bounded queue.
//!
//! Built on `tokio::sync::broadcast`: publishing never waits, each receiver
//! has a fixed-size ring, and a receiver that falls behind loses the oldest
//! events and learns how many it missed (`RecvError::Lagged(n)`). A slow
//! supervisor's browser therefore never slows a call.

use crate::call::LiveEvent;
use crate::ids::TenantId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// An event with the tenant it belongs to (subscribers with a tenant-scoped
/// key see only their own) and its position in the hub's sequence.
#[derive(Debug)]
pub struct Published {
    pub seq: u64,
    pub tenant: TenantId,
    pub event: LiveEvent,
}

#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<Published>>,
    published: Arc<AtomicU64>,
}

impl EventHub {
    /// `capacity`: how many events a subscriber may fall behind before it
    /// starts missing some.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            published: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn publish(&self, tenant: &TenantId, event: LiveEvent) {
        let seq = self.published.fetch_add(1, Ordering::Relaxed) + 1;
        if self.tx.receiver_count() == 0 {
            return; // nobody listens: skip the allocation
        }
        let published = Published {
            seq,
            tenant: tenant.clone(),
            event,
        };
        // Ignored: the last subscriber may have left meanwhile.
        let _ = self.tx.send(Arc::new(published));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new(4096)
    }
}
