//! AUTO reply-strategy resolution and the seed-000 config-error flag.
//!
//! | type        | AUTO resolves to                                   |
//! |-------------|----------------------------------------------------|
//! | INFO_FAQ    | QUICK_THEN_FULL with a quick reply, else FULL_ONLY |
//! | ACTION_FLOW | QUICK_THEN_FULL with a quick reply, else FULL_ONLY |
//! | SYSTEM_ACK  | QUICK_ONLY with a quick reply, else FULL_ONLY      |
//! | SMALL_TALK  | QUICK_ONLY with a quick reply, else FULL_ONLY      |
//!
//! Why: a question (INFO_FAQ) or a task (ACTION_FLOW) deserves the full
//! answer, and a canned quick line covers the LLM's first-token latency;
//! an acknowledgement or small talk is complete in one line. An explicit
//! strategy is kept as written; QUICK_ONLY on an INFO_FAQ is kept too (the
//! caller hears the quick line) but flagged as a config error, because a
//! question answered only by a one-liner is almost always a template mistake.

use super::decision::{ReplyStrategy, ScenarioType};

/// The strategy actually used for a scenario.
pub fn resolve(kind: ScenarioType, configured: ReplyStrategy, has_quick: bool) -> ReplyStrategy {
    if configured != ReplyStrategy::Auto {
        return configured;
    }
    match (kind, has_quick) {
        (_, false) => ReplyStrategy::FullOnly,
        (ScenarioType::InfoFaq | ScenarioType::ActionFlow, true) => ReplyStrategy::QuickThenFull,
        (ScenarioType::SystemAck | ScenarioType::SmallTalk, true) => ReplyStrategy::QuickOnly,
    }
}

/// Seed 000's `configError`: QUICK_ONLY on an INFO_FAQ scenario.
pub fn is_config_error(kind: ScenarioType, resolved: ReplyStrategy) -> bool {
    kind == ScenarioType::InfoFaq && resolved == ReplyStrategy::QuickOnly
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplyStrategy::*;
    use ScenarioType::*;

    #[test]
    fn auto_follows_the_documented_table() {
        assert_eq!(resolve(InfoFaq, Auto, true), QuickThenFull);
        assert_eq!(resolve(InfoFaq, Auto, false), FullOnly);
        assert_eq!(resolve(ActionFlow, Auto, true), QuickThenFull);
        assert_eq!(resolve(SystemAck, Auto, true), QuickOnly);
        assert_eq!(resolve(SmallTalk, Auto, true), QuickOnly);
        assert_eq!(resolve(SmallTalk, Auto, false), FullOnly);
    }

    #[test]
    fn explicit_strategy_is_kept_and_quick_only_faq_is_flagged() {
        assert_eq!(resolve(InfoFaq, QuickOnly, true), QuickOnly);
        assert!(is_config_error(InfoFaq, QuickOnly));
        assert!(!is_config_error(SmallTalk, QuickOnly));
        assert!(!is_config_error(InfoFaq, resolve(InfoFaq, Auto, true)));
    }
}
