//! What to do after a failed attempt, and how long to wait: pure functions
//! so the policy is testable without a clock (PROTOCOLS.md section 4).

use super::config::RetryPolicy;
use crate::providers::ChatError;
use std::time::Duration;

/// The pool's reading of one error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: try another endpoint now, or this one again after a delay
    /// (the server's `retry-after` when it gave one).
    Retry { retry_after: Option<Duration> },
    /// This endpoint will not serve this request (bad key, no quota, model
    /// missing): never retry it, but another endpoint may.
    Failover,
    /// The request itself is bad (400, 422): every endpoint would refuse it.
    Fatal,
}

pub fn classify(err: &ChatError) -> Disposition {
    match err {
        ChatError::Status {
            status,
            retry_after,
            code,
            should_retry,
            ..
        } => {
            if code.as_deref() == Some("insufficient_quota") {
                return Disposition::Failover;
            }
            match should_retry {
                Some(true) => {
                    return Disposition::Retry {
                        retry_after: *retry_after,
                    }
                }
                Some(false) => return Disposition::Failover,
                None => {}
            }
            match status {
                408 | 409 | 429 | 500..=599 => Disposition::Retry {
                    retry_after: *retry_after,
                },
                400 | 422 => Disposition::Fatal,
                _ => Disposition::Failover,
            }
        }
        ChatError::Connect(_) | ChatError::Timeout(_) | ChatError::MidStream(_) => {
            Disposition::Retry { retry_after: None }
        }
        ChatError::Protocol(_) => Disposition::Failover,
    }
}

/// Delay before backoff round `retry` (1 for the first retry). A server's
/// `retry_after` in `(0, max_retry_after]` wins; otherwise
/// `min(base * 2^(retry-1), max) * (1 - jitter * unit)`, `unit` in `0..1`.
pub fn retry_delay(
    policy: &RetryPolicy,
    retry: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    if let Some(ra) = retry_after {
        if !ra.is_zero() && ra <= Duration::from_millis(policy.max_retry_after_ms) {
            return ra;
        }
    }
    let exp = retry.saturating_sub(1).min(30);
    let raw = policy
        .base_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(policy.max_backoff_ms);
    let factor = 1.0 - policy.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    Duration::from_secs_f64(raw as f64 / 1000.0 * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(status: u16, code: Option<&str>, should_retry: Option<bool>) -> ChatError {
        ChatError::Status {
            status,
            retry_after: None,
            code: code.map(str::to_owned),
            should_retry,
            message: String::new(),
        }
    }

    #[test]
    fn classify_follows_the_openai_client_policy() {
        for s in [408, 409, 429, 500, 503] {
            assert_eq!(
                classify(&status(s, None, None)),
                Disposition::Retry { retry_after: None }
            );
        }
        assert_eq!(
            classify(&status(429, Some("insufficient_quota"), None)),
            Disposition::Failover
        );
        assert_eq!(classify(&status(400, None, None)), Disposition::Fatal);
        assert_eq!(classify(&status(401, None, None)), Disposition::Failover);
        assert_eq!(
            classify(&status(400, None, Some(true))),
            Disposition::Retry { retry_after: None }
        );
        assert_eq!(
            classify(&status(503, None, Some(false))),
            Disposition::Failover
        );
        assert!(matches!(
            classify(&ChatError::Connect("x".into())),
            Disposition::Retry { .. }
        ));
    }

    #[test]
    fn retry_after_wins_when_sane() {
        let p = RetryPolicy::default();
        assert_eq!(
            retry_delay(&p, 1, Some(Duration::from_secs(3)), 0.9),
            Duration::from_secs(3)
        );
        let too_long = retry_delay(&p, 1, Some(Duration::from_secs(500)), 0.0);
        assert_eq!(too_long, Duration::from_millis(500));
    }

    proptest! {
        #[test]
        fn backoff_stays_within_jittered_bounds(retry in 1u32..40, unit in 0.0f64..1.0) {
            let p = RetryPolicy::default();
            let d = retry_delay(&p, retry, None, unit);
            let raw = (p.base_backoff_ms << (retry - 1).min(30)).min(p.max_backoff_ms) as f64 / 1000.0;
            prop_assert!(d.as_secs_f64() <= raw + 1e-9);
            prop_assert!(d.as_secs_f64() >= raw * (1.0 - p.jitter) - 1e-9);
            prop_assert!(d <= Duration::from_millis(p.max_backoff_ms));
        }

        #[test]
        fn backoff_never_shrinks_between_rounds_without_jitter(retry in 1u32..40) {
            let p = RetryPolicy::default();
            prop_assert!(retry_delay(&p, retry + 1, None, 0.0) >= retry_delay(&p, retry, None, 0.0));
        }
    }
}
