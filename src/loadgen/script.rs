//! Caller scripts: what a simulated caller does, step by step, read from
//! `config/loadtest/*.toml`.
//!
//! A file holds either one script (`[[step]]` tables) or a mixed population
//! (`[[population]]` tables naming other script files with weights). Both load
//! into a [`Plan`]: the weighted list of scripts a run draws callers from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

/// Why a script file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid script {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("script {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One action of a simulated caller.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Wait until the bot's greeting starts and then stops playing.
    WaitForGreeting {
        #[serde(default = "default_reply_timeout_ms")]
        timeout_ms: u64,
    },
    /// Speak one fixture utterance in real time.
    Say { utterance: String },
    /// Stay silent (silence frames keep flowing, as Twilio always streams).
    Pause { ms: u64 },
    /// Wait until bot audio starts and then stops, or the timeout passes.
    WaitForReply {
        #[serde(default = "default_reply_timeout_ms")]
        timeout_ms: u64,
    },
    /// Start speaking `utterance` `after_ms` after bot audio starts.
    /// With `expect_clear = false` it is a backchannel ("uh-huh"): the
    /// engine should keep talking, so no `clear` and no reply are awaited.
    BargeIn {
        utterance: String,
        #[serde(default)]
        after_ms: u64,
        #[serde(default = "default_reply_timeout_ms")]
        timeout_ms: u64,
        #[serde(default = "default_true")]
        expect_clear: bool,
    },
    /// Press one DTMF key (`0-9`, `*`, `#`, `A-D`).
    Dtmf { digit: String },
    /// Send `stop` and close the socket.
    HangUp,
}

fn default_true() -> bool {
    true
}

fn default_reply_timeout_ms() -> u64 {
    15_000
}

/// A named sequence of steps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Shown in the report; defaults to the file stem.
    #[serde(default)]
    pub name: String,
    /// Caller number sent as `From`.
    #[serde(default = "default_from")]
    pub from: String,
    /// Called number sent as `To`.
    #[serde(default = "default_to")]
    pub to: String,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

fn default_from() -> String {
    "+15005550006".to_owned()
}

fn default_to() -> String {
    "+15005550001".to_owned()
}

impl Script {
    /// Every fixture id the script speaks, for validation against the fixtures.
    pub fn utterance_ids(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match s {
            Step::Say { utterance } | Step::BargeIn { utterance, .. } => Some(utterance.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationEntry {
    script: PathBuf,
    #[serde(default = "default_weight")]
    weight: u32,
}

fn default_weight() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(rename = "step", default)]
    steps: Vec<Step>,
    #[serde(default)]
    population: Vec<PopulationEntry>,
}

/// The scripts a run draws its callers from, with weights.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub scripts: Vec<(Arc<Script>, u32)>,
}

impl Plan {
    /// A plan of one script.
    pub fn single(script: Script) -> Self {
        Plan {
            name: script.name.clone(),
            scripts: vec![(Arc::new(script), 1)],
        }
    }

    /// Loads a script or population file; population entries are resolved
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let file = read_plan_file(path)?;
        let stem = file_stem(path);
        if file.population.is_empty() {
            let script = into_script(file, stem, path)?;
            return Ok(Plan::single(script));
        }
        if !file.steps.is_empty() {
            return Err(invalid(path, "a file has either steps or a population"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut scripts = Vec::with_capacity(file.population.len());
        for entry in file.population {
            let sub_path = dir.join(&entry.script);
            let sub = read_plan_file(&sub_path)?;
            if !sub.population.is_empty() {
                return Err(invalid(path, "populations cannot nest"));
            }
            let script = into_script(sub, file_stem(&sub_path), &sub_path)?;
            scripts.push((Arc::new(script), entry.weight));
        }
        if scripts.iter().all(|(_, w)| *w == 0) {
            return Err(invalid(path, "all population weights are zero"));
        }
        let name = if file.name.is_empty() {
            stem
        } else {
            file.name
        };
        Ok(Plan { name, scripts })
    }

    /// Picks a script for one caller from a uniform draw in `0..total_weight`.
    pub fn pick(&self, draw: u64) -> &Arc<Script> {
        let total: u64 = self.scripts.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut left = draw % total.max(1);
        for (script, weight) in &self.scripts {
            if left < u64::from(*weight) {
                return script;
            }
            left -= u64::from(*weight);
        }
        &self.scripts[0].0
    }
}

fn read_plan_file(path: &Path) -> Result<PlanFile, ScriptError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ScriptError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn into_script(file: PlanFile, stem: String, path: &Path) -> Result<Script, ScriptError> {
    if file.steps.is_empty() {
        return Err(invalid(path, "no [[step]] tables"));
    }
    for step in &file.steps {
        validate_step(step).map_err(|reason| invalid(path, &reason))?;
    }
    Ok(Script {
        name: if file.name.is_empty() {
            stem
        } else {
            file.name
        },
        from: file.from.unwrap_or_else(default_from),
        to: file.to.unwrap_or_else(default_to),
        steps: file.steps,
    })
}

fn validate_step(step: &Step) -> Result<(), String> {
    match step {
        Step::Dtmf { digit } => {
            let ok = digit.len() == 1 && "0123456789*#ABCD".contains(digit.as_str());
            ok.then_some(())
                .ok_or_else(|| format!("bad DTMF digit {digit:?}"))
        }
        _ => Ok(()),
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn invalid(path: &Path, reason: &str) -> ScriptError {
    ScriptError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_from_toml() {
        let text = r#"
            [[step]]
            action = "wait_for_greeting"
            [[step]]
            action = "say"
            utterance = "hours"
            [[step]]
            action = "barge_in"
            utterance = "stop"
            after_ms = 300
            [[step]]
            action = "dtmf"
            digit = "5"
            [[step]]
            action = "hang_up"
        "#;
        let file: PlanFile = toml::from_str(text).expect("test script is valid TOML");
        assert_eq!(file.steps.len(), 5);
        assert_eq!(
            file.steps[2],
            Step::BargeIn {
                utterance: "stop".into(),
                after_ms: 300,
                timeout_ms: 15_000,
                expect_clear: true,
            }
        );
        assert_eq!(file.steps[4], Step::HangUp);
    }

    #[test]
    fn pick_follows_weights() {
        let a = Script {
            name: "a".into(),
            from: default_from(),
            to: default_to(),
            steps: vec![Step::HangUp],
        };
        let mut b = a.clone();
        b.name = "b".into();
        let plan = Plan {
            name: "mix".into(),
            scripts: vec![(Arc::new(a), 1), (Arc::new(b), 3)],
        };
        let names: Vec<_> = (0..4).map(|d| plan.pick(d).name.clone()).collect();
        assert_eq!(names, ["a", "b", "b", "b"]);
    }

    #[test]
    fn bad_dtmf_digit_is_rejected() {
        assert!(validate_step(&Step::Dtmf { digit: "x".into() }).is_err());
        assert!(validate_step(&Step::Dtmf { digit: "#".into() }).is_ok());
    }
}
