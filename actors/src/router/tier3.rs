//! Tier 3: the prompt that asks an LLM to pick a scenario, and the strict
//! reading of its answer. Whatever the model says, [`parse_pick`] returns a
//! typed result: garbage is a [`Tier3Miss`], never a panic.

use super::scenario::Scenario;
use crate::providers::{ChatMessage, ChatRequest, Role};
use serde::Deserialize;

/// How many turns of history the prompt carries: enough to resolve "yes,
/// that one", short enough to keep tier 3 cheap.
const HISTORY_TURNS: usize = 4;

/// Build the scenario-picking request.
pub fn build_request(
    scenarios: &[Scenario],
    utterance: &str,
    history: &[ChatMessage],
) -> ChatRequest {
    let mut system = String::from(
        "You route a caller's words on a phone line to one scenario of a business.\n\
         Scenarios (id | name | description):\n",
    );
    for s in scenarios {
        system.push_str(&format!("- {} | {} | {}\n", s.id, s.name, s.description));
    }
    system.push_str(
        "Respond with JSON: one object and nothing else, \
         {\"scenarioId\": \"<id or null>\", \"confidence\": <0..1>, \"rationale\": \"<short reason>\"}. \
         Use null when no scenario fits.",
    );
    let mut messages = vec![ChatMessage::new(Role::System, system)];
    let skip = history.len().saturating_sub(HISTORY_TURNS);
    let context: Vec<String> = history[skip..]
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| format!("{:?}: {}", m.role, m.content))
        .collect();
    let mut user = String::new();
    if !context.is_empty() {
        user.push_str(&format!("Conversation so far:\n{}\n", context.join("\n")));
    }
    user.push_str(&format!("Caller said: {utterance:?}"));
    messages.push(ChatMessage::new(Role::User, user));
    ChatRequest {
        messages,
        model: None,
        max_tokens: Some(120),
        temperature: Some(0.0),
    }
}

/// A valid pick: the scenario's index in the tenant's list.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier3Pick {
    pub scenario: usize,
    pub confidence: f32,
    pub rationale: String,
}

/// Why a tier-3 answer did not select a scenario.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Tier3Miss {
    #[error("no JSON object in the model's answer")]
    NoJson,
    #[error("malformed JSON: {0}")]
    BadJson(String),
    #[error("unknown scenario id {0:?}")]
    UnknownScenario(String),
    #[error("confidence {0} outside 0..=1")]
    BadConfidence(f64),
    /// The model said nothing fits (a valid answer; free conversation).
    #[error("the model chose no scenario")]
    NoScenario { rationale: String },
    #[error("LLM call failed: {0}")]
    Llm(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    scenario_id: Option<String>,
    confidence: f64,
    #[serde(default)]
    rationale: String,
}

/// Read the model's answer. Tolerates prose or code fences around the JSON
/// object (models add them even when told not to), nothing else.
pub fn parse_pick(answer: &str, scenarios: &[Scenario]) -> Result<Tier3Pick, Tier3Miss> {
    let start = answer.find('{').ok_or(Tier3Miss::NoJson)?;
    let end = answer
        .rfind('}')
        .filter(|&e| e > start)
        .ok_or(Tier3Miss::NoJson)?;
    let parsed: Answer = serde_json::from_str(&answer[start..=end])
        .map_err(|e| Tier3Miss::BadJson(e.to_string()))?;
    if !(0.0..=1.0).contains(&parsed.confidence) {
        return Err(Tier3Miss::BadConfidence(parsed.confidence));
    }
    let id = match parsed.scenario_id.as_deref().map(str::trim) {
        None | Some("") | Some("null") | Some("none") => {
            return Err(Tier3Miss::NoScenario {
                rationale: parsed.rationale,
            })
        }
        Some(id) => id,
    };
    let scenario = scenarios
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| Tier3Miss::UnknownScenario(id.to_owned()))?;
    Ok(Tier3Pick {
        scenario,
        confidence: parsed.confidence as f32,
        rationale: parsed.rationale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::scenario::parse_file;
    use proptest::prelude::*;
    use std::path::Path;

    fn scenarios() -> Vec<Scenario> {
        let text = "[[scenario]]\nid = \"hours\"\nname = \"Hours\"\ntype = \"INFO_FAQ\"\ntriggers = [\"hours\"]\n";
        parse_file(Path::new("t.toml"), text)
            .expect("valid")
            .scenarios
    }

    #[test]
    fn fenced_json_with_prose_around_it_is_read() {
        let a = "Here you go:\n```json\n{\"scenarioId\":\"hours\",\"confidence\":0.8,\"rationale\":\"asks when open\"}\n```";
        let pick = parse_pick(a, &scenarios()).expect("valid pick");
        assert_eq!((pick.scenario, pick.confidence), (0, 0.8));
    }

    #[test]
    fn invalid_answers_are_typed_misses() {
        let s = scenarios();
        assert_eq!(parse_pick("no idea", &s), Err(Tier3Miss::NoJson));
        assert!(matches!(
            parse_pick("{\"scenarioId\": 3}", &s),
            Err(Tier3Miss::BadJson(_))
        ));
        assert!(matches!(
            parse_pick("{\"scenarioId\":\"x\",\"confidence\":0.9}", &s),
            Err(Tier3Miss::UnknownScenario(_))
        ));
        assert!(matches!(
            parse_pick("{\"scenarioId\":\"hours\",\"confidence\":-0.1}", &s),
            Err(Tier3Miss::BadConfidence(_))
        ));
        assert!(matches!(
            parse_pick("{\"scenarioId\":null,\"confidence\":1}", &s),
            Err(Tier3Miss::NoScenario { .. })
        ));
    }

    #[test]
    fn prompt_lists_every_scenario_and_the_recent_history_only() {
        let history: Vec<ChatMessage> = (0..10)
            .map(|i| ChatMessage::new(Role::User, format!("turn {i}")))
            .collect();
        let req = build_request(&scenarios(), "when do you open", &history);
        assert!(req.messages[0].content.contains("- hours | Hours | Hours"));
        let user = &req.messages[1].content;
        assert!(
            user.contains("turn 9")
                && !user.contains("turn 5")
                && user.contains("when do you open")
        );
    }

    proptest! {
        #[test]
        fn any_model_output_is_a_pick_or_a_miss(answer in ".{0,200}") {
            let _ = parse_pick(&answer, &scenarios());
        }

        #[test]
        fn json_like_output_never_panics(id in "[a-z]{0,8}", conf in any::<f64>(), junk in "[{}\":, ]{0,20}") {
            let answer = format!("{{\"scenarioId\":\"{id}\",\"confidence\":{conf}{junk}");
            if let Ok(pick) = parse_pick(&answer, &scenarios()) {
                prop_assert!((0.0..=1.0).contains(&pick.confidence));
            }
        }
    }
}
