//! Scenario templates: the TOML files in `config/scenarios/<tenant>.toml`,
//! parsed and validated into [`Scenario`]s. A file is all or nothing: one
//! bad scenario rejects the file with an error naming the file and the
//! scenario, so a typo never half-loads a tenant.
//!
//! File shape:
//! ```toml
//! tenant = "acme-plumbing"   # optional; defaults to the file stem
//! tier3 = true               # optional; may this tenant use tier 3
//!
//! [[scenario]]
//! id = "hours"
//! name = "Opening hours"
//! type = "INFO_FAQ"          # INFO_FAQ | ACTION_FLOW | SYSTEM_ACK | SMALL_TALK
//! description = "When we are open"
//! triggers = ["opening hours"]
//! regexes = ['\bopen\b.*\b(today|sunday)\b']   # matched against normalised text
//! negative_triggers = ["cancel"]
//! examples = ["when are you open"]
//! quick_reply = "We're open 8 to 6, Monday to Saturday."
//! full_reply = "..."
//! reply_strategy = "AUTO"    # AUTO | FULL_ONLY | QUICK_ONLY | QUICK_THEN_FULL
//! escalate = false
//! ```

use super::decision::{ReplyStrategy, ScenarioType};
use super::text::normalise;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub id: String,
    pub name: String,
    pub kind: ScenarioType,
    /// What the tier-3 prompt tells the LLM about this scenario.
    pub description: String,
    /// Normalised trigger phrases (tier 1).
    pub triggers: Vec<String>,
    /// Regex sources, matched against normalised text (tier 1).
    pub regexes: Vec<String>,
    /// Normalised phrases that veto this scenario (tiers 1 and 2).
    pub negative_triggers: Vec<String>,
    /// Example utterances (tier 2).
    pub examples: Vec<String>,
    pub quick_reply: Option<String>,
    pub full_reply: Option<String>,
    pub strategy: ReplyStrategy,
    pub escalate: bool,
}

/// The scenarios of one tenant file.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantFile {
    pub tenant: String,
    pub tier3: bool,
    pub scenarios: Vec<Scenario>,
}

/// Why a scenario file was rejected; `Display` names the file and scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {problem}", file.display(), scenario.as_ref().map(|s| format!(": scenario '{s}'")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: PathBuf,
    /// The scenario's id, or `#n` (1-based) when it has none.
    pub scenario: Option<String>,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tenant: Option<String>,
    tier3: Option<bool>,
    #[serde(default)]
    scenario: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: ScenarioType,
    #[serde(default)]
    description: String,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    negative_triggers: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    quick_reply: Option<String>,
    full_reply: Option<String>,
    #[serde(default)]
    reply_strategy: ReplyStrategy,
    #[serde(default)]
    escalate: bool,
}

/// Parse and validate one tenant file's text. `file` only labels errors.
pub fn parse_file(file: &Path, text: &str) -> Result<TenantFile, ScenarioError> {
    let err = |scenario: Option<String>, problem: String| ScenarioError {
        file: file.to_owned(),
        scenario,
        problem,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| err(None, e.to_string()))?;
    let tenant = match raw.tenant {
        Some(t) => t,
        None => tenant_from_path(file).ok_or_else(|| err(None, "no tenant name".into()))?,
    };
    let mut seen = HashSet::new();
    let mut scenarios = Vec::with_capacity(raw.scenario.len());
    for (i, table) in raw.scenario.into_iter().enumerate() {
        let label = table
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("#{}", i + 1));
        let raw: RawScenario = table
            .try_into()
            .map_err(|e: toml::de::Error| err(Some(label.clone()), e.message().to_owned()))?;
        let scenario = validate(raw).map_err(|p| err(Some(label.clone()), p))?;
        if !seen.insert(scenario.id.clone()) {
            return Err(err(Some(label), "duplicate scenario id".into()));
        }
        scenarios.push(scenario);
    }
    if scenarios.is_empty() {
        return Err(err(None, "no [[scenario]] entries".into()));
    }
    Ok(TenantFile {
        tenant,
        tier3: raw.tier3.unwrap_or(false),
        scenarios,
    })
}

/// The tenant a file belongs to when it does not say: its stem.
pub fn tenant_from_path(file: &Path) -> Option<String> {
    file.file_stem()?.to_str().map(str::to_owned)
}

fn validate(raw: RawScenario) -> Result<Scenario, String> {
    if raw.id.trim().is_empty() {
        return Err("empty id".into());
    }
    let clean = |list: Vec<String>| -> Vec<String> {
        list.iter()
            .map(|p| normalise(p))
            .filter(|p| !p.is_empty())
            .collect()
    };
    let triggers = clean(raw.triggers);
    let negative_triggers = clean(raw.negative_triggers);
    let examples: Vec<String> = raw
        .examples
        .into_iter()
        .filter(|e| !normalise(e).is_empty())
        .collect();
    for source in &raw.regexes {
        regex::Regex::new(source).map_err(|e| format!("bad regex {source:?}: {e}"))?;
    }
    if triggers.is_empty() && raw.regexes.is_empty() && examples.is_empty() {
        return Err("no triggers, regexes or examples: nothing can ever match it".into());
    }
    let quick_reply = raw.quick_reply.filter(|s| !s.trim().is_empty());
    let needs_quick = matches!(
        raw.reply_strategy,
        ReplyStrategy::QuickOnly | ReplyStrategy::QuickThenFull
    );
    if needs_quick && quick_reply.is_none() {
        return Err(format!(
            "reply_strategy {} needs a quick_reply",
            raw.reply_strategy.as_str()
        ));
    }
    Ok(Scenario {
        description: if raw.description.is_empty() {
            raw.name.clone()
        } else {
            raw.description
        },
        id: raw.id,
        name: raw.name,
        kind: raw.kind,
        triggers,
        regexes: raw.regexes,
        negative_triggers,
        examples,
        quick_reply,
        full_reply: raw.full_reply.filter(|s| !s.trim().is_empty()),
        strategy: raw.reply_strategy,
        escalate: raw.escalate,
    })
}
