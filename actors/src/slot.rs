//! A restartable reference to a long-lived actor.
//!
//! When a supervisor restarts a child, the child's `ActorRef` changes. Every
//! holder of a [`Slot`] sees the new one at once, so a restarted TraceSink,
//! Router or LlmPool (or a restarted CallActor, for its socket) keeps
//! receiving without anyone re-wiring anything.

use ractor::{ActorRef, Message, MessagingErr};
use std::sync::{Arc, RwLock};

pub struct Slot<M: Message> {
    inner: Arc<RwLock<Option<ActorRef<M>>>>,
}

impl<M: Message> Clone for Slot<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Message> Default for Slot<M> {
    fn default() -> Self {
        Self {
            inner: Arc::new(RwLock::new(None)),
        }
    }
}

impl<M: Message> Slot<M> {
    pub fn new(actor: ActorRef<M>) -> Self {
        let slot = Self::default();
        slot.set(Some(actor));
        slot
    }

    pub fn set(&self, actor: Option<ActorRef<M>>) {
        // A poisoned lock only means a writer panicked mid-assignment of an
        // Option; the value is still a valid Option, so keep going.
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = actor;
    }

    pub fn get(&self) -> Option<ActorRef<M>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Send without waiting. Fails when the actor is gone (or between a
    /// crash and its restart); callers decide whether that matters.
    pub fn cast(&self, msg: M) -> Result<(), SlotError> {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(actor) => actor.cast(msg).map_err(|e| match e {
                MessagingErr::SendErr(_) => SlotError::Gone,
                _ => SlotError::Gone,
            }),
            None => Err(SlotError::Empty),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("the actor has not started or was not restarted")]
    Empty,
    #[error("the actor has stopped")]
    Gone,
}
