//! A circuit breaker per endpoint: closed (normal), open (skip the endpoint
//! until a deadline), half-open (let a few probes through; one success
//! closes it, one failure reopens it). Time comes in as `now`.

use super::config::BreakerConfig;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen { probes: u32 },
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
        }
    }

    /// The state as seen at `now` (an expired open breaker reads half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if now >= until => BreakerState::HalfOpen { probes: 0 },
            s => s,
        }
    }

    /// May a request be sent to this endpoint now?
    pub fn allows(&self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probes } => probes < self.config.half_open_probes,
        }
    }

    /// A request was sent (counts half-open probes).
    pub fn on_dispatch(&mut self, now: Instant) {
        self.state = match self.state(now) {
            BreakerState::HalfOpen { probes } => BreakerState::HalfOpen { probes: probes + 1 },
            s => s,
        };
    }

    pub fn on_success(&mut self) {
        self.consecutive_failures = 0;
        self.state = BreakerState::Closed;
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let reopen = matches!(self.state(now), BreakerState::HalfOpen { .. });
        if reopen || self.consecutive_failures >= self.config.failure_threshold {
            self.state = BreakerState::Open {
                until: now + Duration::from_millis(self.config.open_ms),
            };
        }
    }

    /// A request ended with neither verdict (cancelled): free its probe slot.
    pub fn on_abandon(&mut self, now: Instant) {
        if let BreakerState::HalfOpen { probes } = self.state(now) {
            self.state = BreakerState::HalfOpen {
                probes: probes.saturating_sub(1),
            };
        }
    }

    pub fn label(&self, now: Instant) -> &'static str {
        match self.state(now) {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_ms: 1_000,
            half_open_probes: 1,
        }
    }

    #[test]
    fn opens_after_threshold_then_half_opens_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config());
        b.on_failure(t0);
        b.on_failure(t0);
        assert!(b.allows(t0));
        b.on_failure(t0);
        assert!(!b.allows(t0 + Duration::from_millis(999)));
        let later = t0 + Duration::from_millis(1_000);
        assert!(b.allows(later));
        b.on_dispatch(later);
        assert!(!b.allows(later), "only one probe while half-open");
        b.on_success();
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config());
        for _ in 0..3 {
            b.on_failure(t0);
        }
        let later = t0 + Duration::from_secs(2);
        b.on_dispatch(later);
        b.on_failure(later);
        assert!(!b.allows(later + Duration::from_millis(500)));
        assert!(b.allows(later + Duration::from_millis(1_000)));
    }

    proptest! {
        /// Whatever happened before, a success closes the breaker, and an
        /// open breaker never lets traffic through before its deadline.
        #[test]
        fn success_always_closes_and_open_blocks(events in proptest::collection::vec(0u8..4, 0..50)) {
            let t0 = Instant::now();
            let mut b = CircuitBreaker::new(config());
            let mut now = t0;
            for e in events {
                now += Duration::from_millis(300);
                match e {
                    0 => b.on_failure(now),
                    1 => b.on_success(),
                    2 => if b.allows(now) { b.on_dispatch(now) },
                    _ => b.on_abandon(now),
                }
                if let BreakerState::Open { until } = b.state(now) {
                    prop_assert!(until > now && !b.allows(now));
                }
            }
            b.on_success();
            prop_assert!(b.allows(now));
        }
    }
}
