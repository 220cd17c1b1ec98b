//! The prompts a real model reads: every agent role, the planner and the summary have one, with the shared
//! discipline, and the JSON answer formats they describe are exactly what `finding.rs` parses.

use serde::de::DeserializeOwned;
use sre_agents::{
    finding::{
        AgentAnswer, Assessment, EntityKind, FindingKind, RelationKind, RoutePlan, Severity,
    },
    model::parse_json_answer,
    prompt,
    protocol::AgentKind,
};

/// The first ```json example of a prompt, parsed as `T`.
fn example<T: DeserializeOwned>(prompt: &str) -> T {
    let start = prompt
        .find("```json")
        .expect("the prompt has a JSON example");
    let rest = &prompt[start + "```json".len()..];
    let end = rest.find("```").expect("the example is closed");
    parse_json_answer(&rest[..end]).unwrap_or_else(|e| panic!("the example parses: {e}"))
}

/// The alternatives of the `<a|b|c>` placeholder that follows `"field": "` in the prompt.
fn alternatives(prompt: &str, field: &str) -> Vec<String> {
    let key = format!("\"{field}\": \"<");
    let start = prompt
        .find(&key)
        .unwrap_or_else(|| panic!("{field} is described"))
        + key.len();
    let end = start + prompt[start..].find('>').expect("closed placeholder");
    prompt[start..end].split('|').map(str::to_owned).collect()
}

fn parses<T: DeserializeOwned>(name: &str) -> bool {
    serde_json::from_value::<T>(serde_json::Value::String(name.to_owned())).is_ok()
}

#[test]
fn every_specialist_prompt_has_its_role_the_rules_and_a_valid_answer_example() {
    for kind in AgentKind::ALL {
        let text = prompt::specialist(kind);
        assert!(text.contains(&format!("You are the {} specialist", kind.title())));
        assert!(text.contains("Cite the tool") || text.contains("cites the tool"));
        assert!(text.contains("\"no data\""));
        assert!(text.contains("`production` namespace first"));
        let answer: AgentAnswer = example(&text);
        assert!(!answer.findings.is_empty());
        assert!(answer.findings.iter().all(|f| !f.evidence.is_empty()));
    }
}

#[test]
fn the_answer_format_lists_exactly_the_kinds_finding_rs_accepts() {
    let text = prompt::specialist(AgentKind::Logs);
    let kinds = alternatives(&text, "kind");
    assert_eq!(kinds.len(), 16, "every FindingKind");
    assert!(kinds.iter().all(|k| parses::<FindingKind>(k)), "{kinds:?}");
    let severities = alternatives(&text, "severity");
    assert_eq!(severities.len(), 5);
    assert!(severities.iter().all(|s| parses::<Severity>(s)));
    let subject = text.find("\"subject\": {").expect("subject described");
    let entities = alternatives(&text[subject..], "kind");
    assert_eq!(entities.len(), 11, "every EntityKind");
    assert!(
        entities.iter().all(|e| parses::<EntityKind>(e)),
        "{entities:?}"
    );
    let relations = alternatives(&text, "relation");
    assert_eq!(relations.len(), 6, "every RelationKind");
    assert!(relations.iter().all(|r| parses::<RelationKind>(r)));
}

#[test]
fn the_planner_and_summary_examples_parse_as_their_answers() {
    let planner = prompt::planner();
    let plan: RoutePlan = example(&planner);
    assert!(!plan.agents.is_empty());
    let key = "\"agents\": [\"<";
    let start = planner.find(key).expect("agents described") + key.len();
    let end = start + planner[start..].find('>').expect("closed placeholder");
    let agents: Vec<&str> = planner[start..end].split('|').collect();
    assert_eq!(agents.len(), 4);
    assert!(agents.iter().all(|a| parses::<AgentKind>(a)), "{agents:?}");
    let summary = prompt::summary();
    let assessment: Assessment = example(&summary);
    assert!(!assessment.root_cause.is_empty());
    assert!(summary.contains("\"no data\""));
    let severities = alternatives(&summary, "severity");
    assert!(severities.iter().all(|s| parses::<Severity>(s)));
}
