//! The sans-IO router of one tenant: tiers 1 and 2 in one call, and the
//! decision built from a tier-3 pick. No clock, no I/O: the actor measures
//! time and talks to the LlmPool.

use super::decision::{RouteDecision, ScenarioMatch};
use super::rules::RuleIndex;
use super::scenario::{Scenario, TenantFile};
use super::semantic::{SemanticIndex, TfIdfIndex};
use super::strategy::{is_config_error, resolve};
use super::text::normalise;
use super::tier3::Tier3Pick;

/// Match thresholds of the three tiers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub tier1: f32,
    pub tier2: f32,
    pub tier3: f32,
}

/// One tenant's compiled scenarios.
pub struct TenantRouter {
    pub tenant: String,
    /// The tenant's file allows tier 3.
    pub tier3: bool,
    pub scenarios: Vec<Scenario>,
    rules: RuleIndex,
    semantic: Box<dyn SemanticIndex>,
}

impl TenantRouter {
    /// Compile with the default tier-2 index (TF-IDF).
    pub fn compile(file: TenantFile) -> Result<Self, regex::Error> {
        let semantic = Box::new(TfIdfIndex::build(&file.scenarios));
        Self::with_semantic(file, semantic)
    }

    /// Compile with another tier-2 index (embeddings, a test double).
    pub fn with_semantic(
        file: TenantFile,
        semantic: Box<dyn SemanticIndex>,
    ) -> Result<Self, regex::Error> {
        Ok(Self {
            rules: RuleIndex::build(&file.scenarios)?,
            tenant: file.tenant,
            tier3: file.tier3,
            scenarios: file.scenarios,
            semantic,
        })
    }

    /// Tiers 1 and 2. A miss comes back with `tier == None` and the scores.
    pub fn route_fast(&self, utterance: &str, th: &Thresholds) -> RouteDecision {
        let norm = normalise(utterance);
        let rules = self.rules.evaluate(&norm);
        let mut decision = RouteDecision {
            tier1_score: Some(rules.best.map_or(0.0, |(_, s)| s)),
            ..RouteDecision::default()
        };
        if let Some((idx, score)) = rules.best.filter(|&(_, s)| s >= th.tier1) {
            self.fill(&mut decision, idx, 1);
            decision.rationale = Some(format!("tier 1 rules scored {score:.2}"));
            return decision;
        }
        let semantic = self.semantic.best(utterance);
        decision.tier2_score = Some(semantic.map_or(0.0, |(_, s)| s));
        if let Some((idx, score)) = semantic.filter(|&(_, s)| s >= th.tier2) {
            if rules.vetoed.contains(&idx) {
                decision.rationale = Some(format!(
                    "tier 2 best '{}' vetoed by a negative trigger",
                    self.scenarios[idx].id
                ));
            } else {
                self.fill(&mut decision, idx, 2);
                decision.rationale = Some(format!("tier 2 similarity {score:.2}"));
            }
        }
        decision
    }

    /// Turn a tier-1 miss into a tier-3 decision if the pick is confident.
    pub fn apply_tier3(
        &self,
        decision: &mut RouteDecision,
        pick: &Tier3Pick,
        th: &Thresholds,
    ) -> bool {
        decision.tier3_confidence = Some(pick.confidence);
        decision.rationale = Some(pick.rationale.clone());
        if pick.confidence < th.tier3 || pick.scenario >= self.scenarios.len() {
            return false;
        }
        self.fill(decision, pick.scenario, 3);
        true
    }

    fn fill(&self, decision: &mut RouteDecision, idx: usize, tier: u8) {
        let (scenario, config_error) = self.scenario_match(idx);
        decision.tier = Some(tier);
        decision.scenario = Some(scenario);
        decision.config_error = config_error;
    }

    /// The call-facing view of scenario `idx`, and the config-error flag.
    pub fn scenario_match(&self, idx: usize) -> (ScenarioMatch, bool) {
        let s = &self.scenarios[idx];
        let strategy = resolve(s.kind, s.strategy, s.quick_reply.is_some());
        let m = ScenarioMatch {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind,
            strategy,
            quick_reply: s.quick_reply.clone(),
            full_reply: s.full_reply.clone(),
            escalate: s.escalate,
        };
        (m, is_config_error(s.kind, strategy))
    }
}
