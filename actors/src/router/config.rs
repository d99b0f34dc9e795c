//! The router's configuration (the `[router]` section of the engine config).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// One `<tenant>.toml` per tenant.
    pub scenarios_dir: PathBuf,
    /// Tenant whose scenarios serve tenants that have no file.
    pub default_tenant: String,
    /// Tier 1 rule score needed to match (see `rules` for the formula).
    pub tier1_threshold: f32,
    /// Tier 2 cosine similarity needed to match.
    pub tier2_threshold: f32,
    /// Master switch; a tenant also needs `tier3 = true` in its file.
    pub tier3_enabled: bool,
    /// Tier 3 confidence needed to match.
    pub tier3_threshold: f32,
    /// Give up on the LLM after this long (the call then talks freely).
    pub tier3_timeout_ms: u64,
    /// Poll the scenario files' mtimes this often; 0 turns polling off.
    pub watch_interval_ms: u64,
    /// Tier-3 rescues kept for the learning loop (oldest dropped first).
    pub max_tier3_candidates: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            scenarios_dir: PathBuf::from("config/scenarios"),
            default_tenant: "default".to_owned(),
            tier1_threshold: 0.7,
            tier2_threshold: 0.5,
            tier3_enabled: true,
            tier3_threshold: 0.6,
            tier3_timeout_ms: 2_500,
            watch_interval_ms: 2_000,
            max_tier3_candidates: 1_000,
        }
    }
}

impl RouterConfig {
    pub fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("router.{name} must be within 0..=1, got {v}"))
            }
        };
        unit("tier1_threshold", self.tier1_threshold)?;
        unit("tier2_threshold", self.tier2_threshold)?;
        unit("tier3_threshold", self.tier3_threshold)?;
        if self.tier3_timeout_ms == 0 {
            return Err("router.tier3_timeout_ms must be above 0".into());
        }
        if self.default_tenant.trim().is_empty() {
            return Err("router.default_tenant is empty".into());
        }
        if self.max_tier3_candidates == 0 {
            return Err("router.max_tier3_candidates must be at least 1".into());
        }
        Ok(())
    }

    pub fn tier3_timeout(&self) -> Duration {
        Duration::from_millis(self.tier3_timeout_ms)
    }
}
