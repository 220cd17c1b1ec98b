//! Scoring an investigation against a scenario's `expected.json`: root-cause entity recall, impacted-service
//! recall, severity match, and fabricated entities — names in the report that occur in no tool data.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use sre_agents::finding::Severity;

use crate::report::InvestigationReport;

/// What a scenario's investigation should conclude (`expected.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub root_cause_entities: Vec<String>,
    pub impacted_services: Vec<String>,
    pub severity: Severity,
}

/// Every piece of text the tools could have returned for one scenario, lowercased.
#[derive(Debug, Clone)]
pub struct Corpus(String);

impl Corpus {
    /// The corpus of a scenario: its data files' text and the question asked.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        Self(texts.into_iter().collect::<Vec<_>>().join("\n").to_lowercase())
    }

    fn contains(&self, name: &str) -> bool {
        self.0.contains(&name.to_lowercase())
    }
}

/// How one investigation scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub root_cause_recall: f64,
    pub impacted_recall: f64,
    pub severity_match: bool,
    /// Root-cause entities the report did not name.
    pub missing_root_causes: Vec<String>,
    /// Impacted services the report did not list.
    pub missing_impacted: Vec<String>,
    /// Entity-like names in the report that occur in no tool data.
    pub fabricated: Vec<String>,
    pub expected_severity: Severity,
    pub reported_severity: Severity,
}

impl Score {
    /// The mean of the four criteria, each between 0 and 1 (no fabricated entity counts as 1).
    pub fn total(&self) -> f64 {
        let severity = if self.severity_match { 1.0 } else { 0.0 };
        let honest = if self.fabricated.is_empty() { 1.0 } else { 0.0 };
        (self.root_cause_recall + self.impacted_recall + severity + honest) / 4.0
    }
}

/// Scores `report` against `expected`, checking names against `corpus`.
pub fn score(report: &InvestigationReport, expected: &Expected, corpus: &Corpus) -> Score {
    let a = &report.assessment;
    let root_text = a.root_cause.to_lowercase();
    let named_root = |entity: &String| {
        a.root_cause_entities.iter().any(|e| e.eq_ignore_ascii_case(entity)) || root_text.contains(&entity.to_lowercase())
    };
    let missing_root_causes: Vec<String> =
        expected.root_cause_entities.iter().filter(|e| !named_root(e)).cloned().collect();
    let missing_impacted: Vec<String> = expected
        .impacted_services
        .iter()
        .filter(|s| !a.impacted_services.iter().any(|i| i.eq_ignore_ascii_case(s)))
        .cloned()
        .collect();
    let fabricated = entity_names(&analysis_text(report))
        .into_iter()
        .filter(|name| !corpus.contains(name))
        .collect();
    Score {
        root_cause_recall: recall(expected.root_cause_entities.len(), missing_root_causes.len()),
        impacted_recall: recall(expected.impacted_services.len(), missing_impacted.len()),
        severity_match: a.severity == expected.severity,
        missing_root_causes,
        missing_impacted,
        fabricated,
        expected_severity: expected.severity,
        reported_severity: a.severity,
    }
}

fn recall(expected: usize, missing: usize) -> f64 {
    if expected == 0 {
        return 1.0;
    }
    (expected - missing.min(expected)) as f64 / expected as f64
}

/// The parts of a report that state conclusions and findings (not its ids and timings).
fn analysis_text(report: &InvestigationReport) -> String {
    let a = &report.assessment;
    let mut parts: Vec<&str> = vec![&a.root_cause, &a.summary];
    parts.extend(a.root_cause_entities.iter().map(String::as_str));
    parts.extend(a.impacted_services.iter().map(String::as_str));
    parts.extend(a.next_steps.iter().map(String::as_str));
    for agent in report.agents.iter().filter_map(|s| s.result.as_ref().ok()) {
        parts.push(&agent.summary);
        for f in &agent.findings {
            parts.push(&f.summary);
            parts.push(&f.subject.name);
            parts.extend(f.related.iter().map(|r| r.entity.name.as_str()));
            parts.extend(f.evidence.iter().map(|e| e.detail.as_str()));
            parts.extend(f.actions.iter().map(String::as_str));
        }
    }
    parts.join("\n")
}

static ENTITY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+").expect("constant regex"));
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}").expect("constant regex"));

/// Names shaped like Kubernetes object names (lowercase words joined by hyphens), as written: not command-line
/// flags (`--since`), not timestamps, not mixed-case identifiers.
pub fn entity_names(text: &str) -> BTreeSet<String> {
    ENTITY
        .find_iter(text)
        .filter(|m| {
            let before = text[..m.start()].chars().next_back();
            !matches!(before, Some('-') | Some('_'))
        })
        .map(|m| m.as_str().to_owned())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .filter(|name| !TIMESTAMP.is_match(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_skip_flags_timestamps_and_mixed_case() {
        let text = "Pod database-pod-7b9c4d8f2a-x5m1q needs `database-config`; run kubectl logs --previous \
                    --tail=100 at 2026-11-21T05:57:39Z (PB-DB-CRASHLOOP, x-ray).";
        let names: Vec<String> = entity_names(text).into_iter().collect();
        assert_eq!(names, vec!["database-config", "database-pod-7b9c4d8f2a-x5m1q", "x-ray"]);
    }

    #[test]
    fn recall_of_nothing_expected_is_full() {
        assert_eq!(recall(0, 0), 1.0);
        assert_eq!(recall(4, 1), 0.75);
    }

    #[test]
    fn expected_json_is_strict() {
        let ok: Expected =
            serde_json::from_str(r#"{"root_cause_entities": ["a"], "impacted_services": [], "severity": "high"}"#)
                .expect("valid");
        assert_eq!(ok.severity, Severity::High);
        let typo = serde_json::from_str::<Expected>(
            r#"{"root_cause_entity": ["a"], "impacted_services": [], "severity": "high"}"#,
        );
        assert!(typo.is_err());
    }
}
