//! The router: tier 1 rules, tier 2 semantic match, tier 3 LLM.
//!
//! `scenario` parses the per-tenant TOML templates, `catalog` loads a whole
//! directory of them, `engine` runs tiers 1 and 2 (`rules`, `semantic`) and
//! applies tier-3 picks (`tier3`), `strategy` resolves AUTO, and `actor` is
//! the thin ractor shell with hot reload.

mod actor;
mod catalog;
mod config;
mod decision;
mod engine;
mod rules;
mod scenario;
mod semantic;
mod strategy;
mod text;
mod tier3;

pub use actor::{
    ReloadReport, Router, RouterArgs, RouterMsg, RouterState, RouterStatus, Tier3Candidate,
};
pub use catalog::{fingerprint, Catalog, Fingerprint};
pub use config::RouterConfig;
pub use decision::{ReplyStrategy, RouteDecision, ScenarioMatch, ScenarioType};
pub use engine::{TenantRouter, Thresholds};
pub use rules::{RuleEval, RuleIndex};
pub use scenario::{parse_file, Scenario, ScenarioError, TenantFile};
pub use semantic::{SemanticIndex, TfIdfIndex};
pub use strategy::{is_config_error, resolve};
pub use text::normalise;
pub use tier3::{build_request, parse_pick, Tier3Miss, Tier3Pick};
