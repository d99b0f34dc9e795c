//! The waiting room: one FIFO per priority and one bound over both. When
//! full, a live job evicts the newest background job; otherwise the
//! newcomer is shed. Retries re-enter at the front, past the bound, since
//! they were admitted already.

use super::config::Priority;
use std::collections::VecDeque;

pub struct JobQueue<T> {
    live: VecDeque<T>,
    background: VecDeque<T>,
    bound: usize,
}

/// What admitting a job did.
#[derive(Debug, PartialEq)]
pub enum Admission<T> {
    Queued,
    /// This job (the newcomer or an evicted background job) must be shed.
    Shed(T),
}

impl<T> JobQueue<T> {
    pub fn new(bound: usize) -> Self {
        Self {
            live: VecDeque::new(),
            background: VecDeque::new(),
            bound,
        }
    }

    pub fn len(&self) -> usize {
        self.live.len() + self.background.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len_of(&self, priority: Priority) -> usize {
        self.lane(priority).len()
    }

    fn lane(&self, priority: Priority) -> &VecDeque<T> {
        match priority {
            Priority::Live => &self.live,
            Priority::Background => &self.background,
        }
    }

    fn lane_mut(&mut self, priority: Priority) -> &mut VecDeque<T> {
        match priority {
            Priority::Live => &mut self.live,
            Priority::Background => &mut self.background,
        }
    }

    pub fn push(&mut self, job: T, priority: Priority) -> Admission<T> {
        if self.len() < self.bound {
            self.lane_mut(priority).push_back(job);
            return Admission::Queued;
        }
        if priority == Priority::Live {
            if let Some(evicted) = self.background.pop_back() {
                self.live.push_back(job);
                return Admission::Shed(evicted);
            }
        }
        Admission::Shed(job)
    }

    pub fn push_front(&mut self, job: T, priority: Priority) {
        self.lane_mut(priority).push_front(job);
    }

    pub fn front(&self, priority: Priority) -> Option<&T> {
        self.lane(priority).front()
    }

    pub fn pop_front(&mut self, priority: Priority) -> Option<T> {
        self.lane_mut(priority).pop_front()
    }

    /// Take out the first job matching `pred` (a cancel).
    pub fn remove_first(&mut self, pred: impl Fn(&T) -> bool) -> Option<T> {
        for lane in [&mut self.live, &mut self.background] {
            if let Some(i) = lane.iter().position(&pred) {
                return lane.remove(i);
            }
        }
        None
    }

    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.live.drain(..).chain(self.background.drain(..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn live_evicts_newest_background_when_full() {
        let mut q = JobQueue::new(2);
        assert_eq!(q.push(1, Priority::Background), Admission::Queued);
        assert_eq!(q.push(2, Priority::Background), Admission::Queued);
        assert_eq!(q.push(3, Priority::Live), Admission::Shed(2));
        assert_eq!(q.push(4, Priority::Background), Admission::Shed(4));
        assert_eq!(q.pop_front(Priority::Live), Some(3));
    }

    proptest! {
        /// Every pushed job is either queued or handed back exactly once,
        /// and the queue never exceeds its bound.
        #[test]
        fn no_job_lost_and_bound_kept(bound in 0usize..8, pushes in proptest::collection::vec(any::<bool>(), 0..40)) {
            let mut q = JobQueue::new(bound);
            let mut shed = Vec::new();
            for (i, live) in pushes.iter().enumerate() {
                let p = if *live { Priority::Live } else { Priority::Background };
                if let Admission::Shed(j) = q.push(i, p) { shed.push(j); }
                prop_assert!(q.len() <= bound);
            }
            let mut all: Vec<usize> = q.drain().chain(shed).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..pushes.len()).collect::<Vec<_>>());
        }
    }
}
