//! The pool's configuration: limits, retry and breaker policy, prices.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Live-call turns go before background work (summaries, learning tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Live,
    Background,
}

/// Retries of one completion (PROTOCOLS.md section 4: the official client's policy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Backoff rounds after the first; each round tries every usable endpoint.
    pub max_retries: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Share of the delay randomly taken off (0.25: delay x (1 - 0.25 rand)).
    pub jitter: f64,
    /// A server's retry-after above this is ignored (backoff used instead).
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_backoff_ms: 500,
            max_backoff_ms: 8_000,
            jitter: 0.25,
            max_retry_after_ms: 120_000,
        }
    }
}

/// When an endpoint's breaker opens and how it recovers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before letting a probe through.
    pub open_ms: u64,
    /// Concurrent probes allowed while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub prompt_per_million: f64,
    pub completion_per_million: f64,
}

impl ModelPrice {
    pub fn cost_usd(&self, prompt_tokens: u32, completion_tokens: u32) -> f64 {
        (prompt_tokens as f64 * self.prompt_per_million
            + completion_tokens as f64 * self.completion_per_million)
            / 1_000_000.0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmPoolConfig {
    /// Streams open at once on one endpoint.
    pub max_concurrent_per_endpoint: usize,
    /// Per-endpoint overrides of `max_concurrent_per_endpoint`, by name.
    pub endpoint_limits: BTreeMap<String, usize>,
    /// Slots per endpoint that background work may not take, so a live
    /// turn never waits behind a summary.
    pub reserve_for_live: usize,
    /// Jobs waiting for a slot; beyond it new work is shed.
    pub queue_bound: usize,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
    /// Until the response headers arrive.
    pub open_timeout_ms: u64,
    /// Between two chunks of a stream.
    pub idle_timeout_ms: u64,
    /// By model name; the key `"*"` prices unknown models.
    pub prices: BTreeMap<String, ModelPrice>,
    /// What the caller hears when the pool cannot answer.
    pub fallback_text: String,
}

impl Default for LlmPoolConfig {
    fn default() -> Self {
        let price = |p, c| ModelPrice {
            prompt_per_million: p,
            completion_per_million: c,
        };
        Self {
            max_concurrent_per_endpoint: 32,
            endpoint_limits: BTreeMap::new(),
            reserve_for_live: 4,
            queue_bound: 256,
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            open_timeout_ms: 10_000,
            idle_timeout_ms: 15_000,
            prices: BTreeMap::from([
                ("gpt-4o-mini".to_owned(), price(0.15, 0.60)),
                ("gpt-4o".to_owned(), price(2.50, 10.00)),
                ("gpt-4.1-mini".to_owned(), price(0.40, 1.60)),
                ("gpt-4.1-nano".to_owned(), price(0.10, 0.40)),
            ]),
            fallback_text: "One moment, please.".to_owned(),
        }
    }
}

impl LlmPoolConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_per_endpoint == 0 || self.endpoint_limits.values().any(|&l| l == 0) {
            return Err("llm_pool: a concurrency limit of 0 would never serve anything".into());
        }
        if !(0.0..=1.0).contains(&self.retry.jitter) {
            return Err("llm_pool.retry.jitter must be within 0..=1".into());
        }
        if self.retry.base_backoff_ms > self.retry.max_backoff_ms {
            return Err("llm_pool.retry.base_backoff_ms exceeds max_backoff_ms".into());
        }
        if self.breaker.failure_threshold == 0 || self.breaker.half_open_probes == 0 {
            return Err("llm_pool.breaker thresholds must be at least 1".into());
        }
        if self.open_timeout_ms == 0 || self.idle_timeout_ms == 0 {
            return Err("llm_pool timeouts must be above 0".into());
        }
        let bad_price =
            |p: &ModelPrice| !(p.prompt_per_million >= 0.0 && p.completion_per_million >= 0.0);
        if self.prices.values().any(bad_price) {
            return Err("llm_pool.prices must be non-negative numbers".into());
        }
        if self.fallback_text.trim().is_empty() {
            return Err("llm_pool.fallback_text is empty: a shed caller would hear nothing".into());
        }
        Ok(())
    }

    pub fn limit_for(&self, endpoint: &str) -> usize {
        self.endpoint_limits
            .get(endpoint)
            .copied()
            .unwrap_or(self.max_concurrent_per_endpoint)
    }

    pub fn price_for(&self, model: &str) -> ModelPrice {
        self.prices
            .get(model)
            .or_else(|| self.prices.get("*"))
            .copied()
            .unwrap_or_default()
    }

    pub fn open_timeout(&self) -> Duration {
        Duration::from_millis(self.open_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}
