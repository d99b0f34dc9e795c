//! A bad scenario file is rejected whole, with an error naming the file and
//! the scenario.

use std::path::{Path, PathBuf};
use switchboard_actors::router::{parse_file, Catalog, ScenarioError};

fn parse(text: &str) -> Result<switchboard_actors::router::TenantFile, ScenarioError> {
    parse_file(Path::new("config/scenarios/acme.toml"), text)
}

const GOOD: &str = r#"
[[scenario]]
id = "hours"
name = "Hours"
type = "INFO_FAQ"
triggers = ["opening hours"]
quick_reply = "8 to 6"
"#;

#[test]
fn a_good_file_takes_its_tenant_from_the_file_stem() {
    let f = parse(GOOD).expect("valid file");
    assert_eq!(f.tenant, "acme");
    assert!(!f.tier3, "tier 3 is opt-in per tenant");
    assert_eq!(f.scenarios[0].triggers, vec!["opening hours"]);
}

fn error_of(text: &str) -> String {
    parse(text).expect_err("must be rejected").to_string()
}

#[test]
fn unknown_type_names_file_and_scenario() {
    let e = error_of(&GOOD.replace("INFO_FAQ", "FAQ_INFO"));
    assert!(
        e.starts_with("config/scenarios/acme.toml: scenario 'hours':"),
        "{e}"
    );
    assert!(e.contains("FAQ_INFO"), "{e}");
}

#[test]
fn bad_regex_is_rejected() {
    let e = error_of(&GOOD.replace("triggers = [\"opening hours\"]", "regexes = ['(open']"));
    assert!(
        e.contains("scenario 'hours'") && e.contains("bad regex"),
        "{e}"
    );
}

#[test]
fn scenario_that_can_never_match_is_rejected() {
    let e = error_of(&GOOD.replace("triggers = [\"opening hours\"]", "triggers = []"));
    assert!(
        e.contains("scenario 'hours'") && e.contains("nothing can ever match"),
        "{e}"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let e = error_of(&format!("{GOOD}\n{GOOD}"));
    assert!(
        e.contains("scenario 'hours'") && e.contains("duplicate"),
        "{e}"
    );
}

#[test]
fn quick_only_without_a_quick_reply_is_rejected() {
    let text = GOOD.replace(
        "quick_reply = \"8 to 6\"",
        "reply_strategy = \"QUICK_ONLY\"",
    );
    assert!(error_of(&text).contains("needs a quick_reply"));
}

#[test]
fn unknown_field_and_missing_id_are_labelled() {
    let e = error_of(&GOOD.replace("name = \"Hours\"", "name = \"Hours\"\ntriggerz = []"));
    assert!(
        e.contains("scenario 'hours'") && e.contains("triggerz"),
        "{e}"
    );
    let e = error_of(&GOOD.replace("id = \"hours\"", ""));
    assert!(e.contains("scenario '#1'"), "{e}");
}

#[test]
fn toml_syntax_error_names_the_file() {
    let e = error_of("[[scenario]\nid=");
    assert!(e.starts_with("config/scenarios/acme.toml:"), "{e}");
}

#[test]
fn catalog_rejects_two_files_for_one_tenant() {
    let files = vec![
        (PathBuf::from("a.toml"), format!("tenant = \"x\"\n{GOOD}")),
        (PathBuf::from("b.toml"), format!("tenant = \"x\"\n{GOOD}")),
    ];
    let e = Catalog::from_texts(&files)
        .err()
        .expect("duplicate tenant")
        .to_string();
    assert!(e.starts_with("b.toml") && e.contains("tenant 'x'"), "{e}");
}
