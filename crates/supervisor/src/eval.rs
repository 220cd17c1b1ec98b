//! Scoring an investigation against a scenario's `expected.json`: root-cause entity recall, impacted-service
//! recall, severity match, and fabricated entities — names in the report that occur in no tool data.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use sre_agents::{finding::Severity, progress::ProgressSink};
use sre_mcp_backends::{
    DatasetSource, ScenarioFile, dataset::expected::Expected, scenario::bundled_files,
};
use sre_memory::{SessionId, UserId};

use crate::{
    error::AppError,
    investigation::InvestigationRequest,
    report::InvestigationReport,
    system::{System, SystemOptions},
};

/// Every piece of text the tools could have returned for one scenario, lowercased.
#[derive(Debug, Clone)]
pub struct Corpus(String);

impl Corpus {
    /// The corpus of a scenario: its data files' text and the question asked.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            texts
                .into_iter()
                .collect::<Vec<_>>()
                .join("\n")
                .to_lowercase(),
        )
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
    let expected_severity = expected
        .severity
        .as_str()
        .parse::<Severity>()
        .unwrap_or_default();
    // Only the entities the report names as the root cause count: its prose also mentions the victims.
    let named_root = |entity: &String| {
        a.root_cause_entities
            .iter()
            .any(|e| e.eq_ignore_ascii_case(entity))
    };
    let missing_root_causes: Vec<String> = expected
        .root_cause_entities
        .iter()
        .filter(|e| !named_root(e))
        .cloned()
        .collect();
    let missing_impacted: Vec<String> = expected
        .impacted_services
        .iter()
        .filter(|s| {
            !a.impacted_services
                .iter()
                .any(|i| i.eq_ignore_ascii_case(s))
        })
        .cloned()
        .collect();
    let fabricated = entity_names(&analysis_text(report))
        .into_iter()
        .filter(|name| !corpus.contains(name))
        .collect();
    Score {
        root_cause_recall: recall(
            expected.root_cause_entities.len(),
            missing_root_causes.len(),
        ),
        impacted_recall: recall(expected.impacted_services.len(), missing_impacted.len()),
        severity_match: a.severity == expected_severity,
        missing_root_causes,
        missing_impacted,
        fabricated,
        expected_severity,
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

/// One scored question.
#[derive(Debug, Clone)]
pub struct EvalRow {
    pub scenario: String,
    pub question: String,
    /// The score, or why the investigation produced no report.
    pub outcome: Result<Score, String>,
}

impl EvalRow {
    /// The row's total score (0 when the investigation failed).
    pub fn total(&self) -> f64 {
        self.outcome.as_ref().map_or(0.0, Score::total)
    }
}

/// Runs every question of every scenario in `sources` through the normal investigation path (in-process
/// backends serving that scenario; memory off, so questions do not influence each other) and scores each
/// report against the scenario's `expected.json`.
pub async fn run(
    base: &SystemOptions,
    sources: &[DatasetSource],
    progress: impl Fn(&EvalRow),
) -> Result<Vec<EvalRow>, AppError> {
    let mut rows = Vec::new();
    for source in sources {
        let usage = |message: String| AppError::Usage(message);
        let dataset = source
            .load(chrono::Utc::now())
            .map_err(|e| usage(e.to_string()))?;
        let name = dataset.scenario().name.clone();
        let expected = dataset.expected().cloned().ok_or_else(|| {
            usage(format!(
                "scenario {name} has no expected.json, so it cannot be scored"
            ))
        })?;
        if dataset.scenario().questions.is_empty() {
            return Err(usage(format!(
                "scenario {name} lists no questions in scenario.json"
            )));
        }
        let corpus = Corpus::new(
            tool_data(source)?
                .iter()
                .map(String::as_str)
                .chain(dataset.scenario().questions.iter().map(String::as_str)),
        );
        let mut options = base.clone();
        options.data = source.clone();
        options.memory = None;
        options.remote.clear();
        let system = System::start(options).await?;
        for question in &dataset.scenario().questions {
            let request = InvestigationRequest {
                question: question.clone(),
                user_id: UserId::parse("eval").map_err(|e| usage(e.to_string()))?,
                session_id: SessionId::parse(&format!("eval-{name}"))
                    .map_err(|e| usage(e.to_string()))?,
                history: Vec::new(),
                progress: ProgressSink::none(),
            };
            let outcome = match system.investigate(request).await {
                Ok(report) => Ok(score(&report, &expected, &corpus)),
                Err(e) => Err(e.to_string()),
            };
            let row = EvalRow {
                scenario: name.clone(),
                question: question.clone(),
                outcome,
            };
            progress(&row);
            rows.push(row);
        }
        system.shutdown().await;
    }
    Ok(rows)
}

/// The text of a scenario's data files — what its tools can return — without the answer key.
fn tool_data(source: &DatasetSource) -> Result<Vec<String>, AppError> {
    let data_files = ScenarioFile::ALL
        .into_iter()
        .filter(|f| *f != ScenarioFile::Expected);
    match source {
        DatasetSource::Bundled(name) => {
            let files = bundled_files(name)
                .ok_or_else(|| AppError::Usage(format!("no bundled scenario {name}")))?;
            Ok([
                files.scenario,
                files.k8s,
                files.logs,
                files.metrics,
                files.runbooks,
            ]
            .map(str::to_owned)
            .to_vec())
        }
        DatasetSource::Dir(dir) => data_files
            .map(|file| {
                let path = dir.join(file.file_name());
                std::fs::read_to_string(&path).map_err(|source| AppError::Write { path, source })
            })
            .collect(),
    }
}

/// The table of results, one row per question, and a line per scenario.
pub fn render(rows: &[EvalRow], min_score: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<54} {:>5} {:>6} {:<17} {:>4} {:>5}",
        "scenario", "question", "root", "impact", "severity", "fab", "score"
    );
    for row in rows {
        let question = sre_telemetry::redact::truncate_chars(&row.question, 52);
        match &row.outcome {
            Ok(s) => {
                let severity = if s.severity_match {
                    format!("ok ({})", s.reported_severity)
                } else {
                    format!("{}≠{}", s.reported_severity, s.expected_severity)
                };
                let _ = writeln!(
                    out,
                    "{:<24} {:<54} {:>4.0}% {:>5.0}% {:<17} {:>4} {:>5.2}",
                    row.scenario,
                    question,
                    s.root_cause_recall * 100.0,
                    s.impacted_recall * 100.0,
                    severity,
                    s.fabricated.len(),
                    s.total()
                );
                let mut details = Vec::new();
                if !s.missing_root_causes.is_empty() {
                    details.push(format!(
                        "missed root cause {}",
                        s.missing_root_causes.join(", ")
                    ));
                }
                if !s.missing_impacted.is_empty() {
                    details.push(format!(
                        "missed impact on {}",
                        s.missing_impacted.join(", ")
                    ));
                }
                if !s.fabricated.is_empty() {
                    details.push(format!(
                        "names in no tool data: {}",
                        s.fabricated.join(", ")
                    ));
                }
                if !details.is_empty() {
                    let _ = writeln!(out, "{:<24} └ {}", "", details.join("; "));
                }
            }
            Err(e) => {
                let _ = writeln!(out, "{:<24} {:<54} failed: {e}", row.scenario, question);
            }
        }
    }
    let mut scenarios: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.dedup();
    let _ = writeln!(out);
    for scenario in scenarios {
        let scores: Vec<f64> = rows
            .iter()
            .filter(|r| r.scenario == scenario)
            .map(EvalRow::total)
            .collect();
        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        let lowest = scores.iter().cloned().fold(f64::INFINITY, f64::min);
        let verdict = if lowest >= min_score { "pass" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{scenario:<24} {} questions, mean {mean:.2}, lowest {lowest:.2} — {verdict} (min {min_score:.2})",
            scores.len()
        );
    }
    out
}

static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+").expect("constant regex")
});
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}").expect("constant regex"));

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
        .filter(|name| {
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
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
        assert_eq!(
            names,
            vec!["database-config", "database-pod-7b9c4d8f2a-x5m1q", "x-ray"]
        );
    }

    #[test]
    fn recall_of_nothing_expected_is_full() {
        assert_eq!(recall(0, 0), 1.0);
        assert_eq!(recall(4, 1), 0.75);
    }
}
