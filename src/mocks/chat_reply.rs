//! What the chat mock says. Two kinds of answers:
//!
//! - Tier-3 routing: when any message contains [`TIER3_JSON_MARKER`]
//!   ("Respond with JSON"), the reply is
//!   `{"scenarioId": <id or null>, "confidence": <0..1>, "rationale": <str>}`.
//!   Candidate ids are read from the prompt lines that name one, in any of
//!   these forms: `id: booking`, `id=booking`, `"id": "booking"`, or
//!   `- booking: <description>`; the words on that line (id parts and
//!   description) are matched against the last user message and the line
//!   with most shared words wins. No shared word: `scenarioId: null`.
//! - Anything else: one or two plausible receptionist sentences chosen by
//!   keywords of the last user message.

use serde_json::json;

/// Put this phrase in a system (or user) message to get tier-3 JSON.
pub const TIER3_JSON_MARKER: &str = "Respond with JSON";

/// The reply text for a request's messages (`[{role, content}]`).
pub fn reply_for(messages: &[serde_json::Value]) -> String {
    let content = |m: &serde_json::Value| {
        m.get("content")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))
        .map(content)
        .unwrap_or_default();
    let wants_json = messages
        .iter()
        .any(|m| content(m).contains(TIER3_JSON_MARKER));
    if wants_json {
        let prompt: Vec<String> = messages
            .iter()
            .filter(|m| m.get("role").and_then(|r| r.as_str()) != Some("user"))
            .map(content)
            .collect();
        tier3_json(&prompt.join("\n"), &last_user)
    } else {
        conversational(&last_user)
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(|w| w.to_lowercase())
        .collect()
}

/// The scenario id a prompt line names, if any.
fn line_id(line: &str) -> Option<String> {
    let l = line.trim();
    let after = ["\"id\":", "id:", "id=", "\"scenarioId\":"]
        .iter()
        .find_map(|k| l.find(k).map(|p| &l[p + k.len()..]))
        .or_else(|| {
            l.strip_prefix("- ")
                .filter(|rest| rest.contains(':') || rest.contains('|'))
        });
    let id: String = after?
        .trim_start_matches([' ', '"', '`'])
        .chars()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    (!id.is_empty()).then_some(id)
}

fn tier3_json(prompt: &str, utterance: &str) -> String {
    let said = words(utterance);
    let best = prompt
        .lines()
        .filter_map(|line| line_id(line).map(|id| (id, line)))
        .map(|(id, line)| {
            let mut keys = words(&id.replace(['_', '-', '.'], " "));
            keys.extend(words(line));
            keys.sort();
            keys.dedup();
            let score = keys
                .iter()
                .filter(|k| *k != "id" && said.contains(k))
                .count();
            (score, id)
        })
        .max_by_key(|(score, _)| *score);
    let v = match best {
        Some((score, id)) if score > 0 => json!({
            "scenarioId": id,
            "confidence": (0.55 + 0.1 * score as f64).min(0.95),
            "rationale": format!("the caller's words match scenario {id} ({score} shared keywords)"),
        }),
        _ => {
            json!({ "scenarioId": null, "confidence": 0.2, "rationale": "no scenario matches the caller's words" })
        }
    };
    v.to_string()
}

fn conversational(utterance: &str) -> String {
    let u = utterance.to_lowercase();
    let has = |ks: &[&str]| ks.iter().any(|k| u.contains(k));
    let reply = if has(&["hour", "open", "close"]) {
        "We're open from eight in the morning to six in the evening, Monday to Saturday. Is there anything else I can help with?"
    } else if has(&["price", "cost", "how much", "charge"]) {
        "A standard visit starts at eighty-five dollars, and we always confirm the price before any work begins."
    } else if has(&["book", "appointment", "schedule", "tuesday"]) {
        "I can book that for you. Which day and time work best?"
    } else if has(&["cancel", "reschedul"]) {
        "No problem, I can change that booking. Could you give me the name it's under?"
    } else if has(&["flood", "leak", "emergency", "burst"]) {
        "That sounds urgent. I'm sending an emergency technician; please turn off the main water valve if you can."
    } else if has(&["person", "human", "agent", "someone"]) {
        "Of course, let me connect you with a member of our team."
    } else if has(&["bye", "thank"]) {
        "You're welcome. Have a great day, goodbye!"
    } else {
        "Sure, I can help with that. Could you tell me a little more about what you need?"
    };
    reply.to_owned()
}

/// Splits a reply into stream tokens the way models do: words with their
/// leading space.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c == ' ' && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(system: &str, user: &str) -> Vec<serde_json::Value> {
        vec![
            json!({"role": "system", "content": system}),
            json!({"role": "user", "content": user}),
        ]
    }

    #[test]
    fn tier3_marker_gives_json_with_the_matching_id() {
        let system = format!("Pick the scenario. {TIER3_JSON_MARKER}.\nScenarios:\n- id: opening_hours (when are you open)\n- id: emergency_leak (water leaking, flooding)\n- id: booking (book an appointment)");
        let out = reply_for(&msgs(&system, "my basement is flooding"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("tier-3 reply is JSON");
        assert_eq!(v["scenarioId"], "emergency_leak");
        assert!(v["confidence"].as_f64().is_some_and(|c| c > 0.5));
    }

    #[test]
    fn json_scenario_lists_and_no_match_are_handled() {
        let system =
            format!("{TIER3_JSON_MARKER}\n[{{\"id\": \"pricing\", \"examples\": [\"how much\"]}}]");
        let v: serde_json::Value =
            serde_json::from_str(&reply_for(&msgs(&system, "what is your pricing"))).expect("JSON");
        assert_eq!(v["scenarioId"], "pricing");
        let v: serde_json::Value =
            serde_json::from_str(&reply_for(&msgs(&system, "tell me a joke"))).expect("JSON");
        assert!(v["scenarioId"].is_null());
    }

    #[test]
    fn plain_requests_get_a_sentence() {
        let out = reply_for(&msgs(
            "You are a receptionist.",
            "What are your opening hours?",
        ));
        assert!(out.contains("open"));
        assert_eq!(tokens("Hi there you").concat(), "Hi there you");
        assert_eq!(tokens("Hi there"), vec!["Hi", " there"]);
    }
}
