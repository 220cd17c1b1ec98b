//! Typed memory records: infrastructure knowledge and investigation summaries, the [`RecordBody`] union over the
//! three strategies with the JSON form every store keeps, and the [`MemoryRecord`] envelope stores return.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Namespace, RecordError, Severity, Strategy, UserPreferences};

/// Longest text field of a record (a fact, a question, a root cause), in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest short field (a subject, an agent name, a service), in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Most entries of a list field (related entities, impacted services, actions).
pub const MAX_LIST_ITEMS: usize = 64;
/// Largest record, as stored JSON.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Longest record id.
pub const MAX_RECORD_ID_CHARS: usize = 256;

/// The id a store gives a record (a UUID in SQLite, the memory record or event id in AgentCore).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    /// Validates `value`: 1..=256 characters from letters, digits, `.`, `_`, `-`, `:` and `#`.
    pub fn parse(value: &str) -> Result<Self, RecordError> {
        if value.is_empty() {
            return Err(RecordError::Empty { field: "record id" });
        }
        let len = value.chars().count();
        if len > MAX_RECORD_ID_CHARS {
            return Err(RecordError::TooLong {
                field: "record id",
                len,
                max: MAX_RECORD_ID_CHARS,
            });
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '#')))
        {
            return Err(RecordError::Invalid {
                field: "record id",
                message: format!(
                    "{:?} contains {bad:?}; use letters, digits, '.', '_', '-', ':' or '#'",
                    value.escape_debug().to_string()
                ),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// A new random id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RecordId {
    type Error = RecordError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> String {
        id.0
    }
}

/// What a piece of infrastructure knowledge is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnowledgeKind {
    /// One component needs another ("web-service depends on database-service").
    Dependency,
    /// Something that recurs ("database-pod crash loops after each rollout").
    Pattern,
    /// A configuration fact ("database-service reads ConfigMap database-config").
    Config,
    /// A normal value ("api-service p95 latency is ~120 ms").
    Baseline,
}

impl KnowledgeKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            KnowledgeKind::Dependency => "dependency",
            KnowledgeKind::Pattern => "pattern",
            KnowledgeKind::Config => "config",
            KnowledgeKind::Baseline => "baseline",
        }
    }
}

/// One fact about the infrastructure learned during an investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeRecord {
    pub kind: KnowledgeKind,
    /// The entity the fact is about, as named in tool data ("web-service").
    pub subject: String,
    /// The fact in one sentence.
    pub fact: String,
    /// Other entities the fact names ("database-service").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// How sure the agent is, 0..=1.
    pub confidence: f32,
    /// The agent that established it ("kubernetes-agent").
    pub source_agent: String,
    /// The investigation it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_id: Option<String>,
}

impl KnowledgeRecord {
    /// `subject depends on depends_on`.
    pub fn dependency(
        subject: impl Into<String>,
        depends_on: impl Into<String>,
        source_agent: impl Into<String>,
        confidence: f32,
    ) -> Self {
        let subject = subject.into();
        let depends_on = depends_on.into();
        Self {
            kind: KnowledgeKind::Dependency,
            fact: format!("{subject} depends on {depends_on}"),
            subject,
            related: vec![depends_on],
            confidence,
            source_agent: source_agent.into(),
            investigation_id: None,
        }
    }

    /// Checks field lengths and that the confidence is within 0..=1.
    pub fn validate(&self) -> Result<(), RecordError> {
        check_text("subject", &self.subject, MAX_NAME_CHARS)?;
        check_text("fact", &self.fact, MAX_TEXT_CHARS)?;
        check_text("source_agent", &self.source_agent, MAX_NAME_CHARS)?;
        check_list("related", &self.related)?;
        if let Some(id) = &self.investigation_id {
            check_text("investigation_id", id, MAX_NAME_CHARS)?;
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(RecordError::Invalid {
                field: "confidence",
                message: format!("{} is outside 0..=1", self.confidence),
            });
        }
        Ok(())
    }

    /// One line for a model prompt.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, confidence {:.2}, from {})",
            self.fact,
            self.kind.as_str(),
            self.confidence,
            self.source_agent
        )
    }

    /// Records saying the same thing share this key (kind + fact, case and spacing folded).
    pub(crate) fn dedup_key(&self) -> String {
        let fact: Vec<String> = self
            .fact
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        format!("{}:{}", self.kind.as_str(), fact.join(" "))
    }

    fn search_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.kind.as_str(),
            self.subject,
            self.fact,
            self.related.join(" "),
            self.source_agent
        )
    }
}

/// Where an investigation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionStatus {
    /// No root cause could be established.
    #[default]
    Inconclusive,
    /// The root cause is known; nothing is fixed yet.
    RootCauseIdentified,
    /// The impact is contained; the cause is not yet fixed.
    Mitigated,
    /// Fixed.
    Resolved,
}

impl ResolutionStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionStatus::Inconclusive => "inconclusive",
            ResolutionStatus::RootCauseIdentified => "root_cause_identified",
            ResolutionStatus::Mitigated => "mitigated",
            ResolutionStatus::Resolved => "resolved",
        }
    }
}

/// The summary of one investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvestigationSummary {
    pub investigation_id: String,
    pub question: String,
    pub root_cause: String,
    #[serde(default)]
    pub impacted_services: Vec<String>,
    pub severity: Severity,
    /// Next steps or actions taken.
    #[serde(default)]
    pub actions: Vec<String>,
    pub resolution: ResolutionStatus,
    /// Hex trace id of the investigation, when it was traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// When the investigation ran.
    pub occurred_at: DateTime<Utc>,
}

impl InvestigationSummary {
    /// Checks field lengths.
    pub fn validate(&self) -> Result<(), RecordError> {
        check_text("investigation_id", &self.investigation_id, MAX_NAME_CHARS)?;
        check_text("question", &self.question, MAX_TEXT_CHARS)?;
        check_text("root_cause", &self.root_cause, MAX_TEXT_CHARS)?;
        check_list("impacted_services", &self.impacted_services)?;
        check_list("actions", &self.actions)?;
        if let Some(trace) = &self.trace_id {
            check_text("trace_id", trace, MAX_NAME_CHARS)?;
        }
        Ok(())
    }

    /// One line for a model prompt or a report: the root cause is cut to its gist
    /// ([`DESCRIBED_ROOT_CAUSE_CHARS`]); severity, status and impact always show.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{}: \"{}\" → {} [{}, {}]",
            self.occurred_at.format("%Y-%m-%d %H:%M UTC"),
            self.question,
            sre_telemetry::redact::truncate_chars(&self.root_cause, DESCRIBED_ROOT_CAUSE_CHARS),
            self.severity,
            self.resolution.as_str()
        );
        if !self.impacted_services.is_empty() {
            line.push_str(&format!(
                "; impacted: {}",
                self.impacted_services.join(", ")
            ));
        }
        line
    }

    fn search_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.question,
            self.root_cause,
            self.impacted_services.join(" "),
            self.actions.join(" "),
            self.severity
        )
    }
}

/// Longest root cause an investigation's one-line description shows.
pub const DESCRIBED_ROOT_CAUSE_CHARS: usize = 240;

/// The content of a record of any strategy. Stored as JSON `{"strategy": "...", "record": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", content = "record", rename_all = "snake_case")]
pub enum RecordBody {
    /// A user's preferences (`user_preferences`).
    #[serde(rename = "user_preferences")]
    Preferences(UserPreferences),
    /// A fact about the infrastructure (`infrastructure_knowledge`).
    #[serde(rename = "infrastructure_knowledge")]
    Knowledge(KnowledgeRecord),
    /// The summary of an investigation (`investigation_history`).
    #[serde(rename = "investigation_history")]
    Investigation(InvestigationSummary),
}

impl RecordBody {
    /// The strategy this content belongs to.
    pub fn strategy(&self) -> Strategy {
        match self {
            RecordBody::Preferences(_) => Strategy::UserPreferences,
            RecordBody::Knowledge(_) => Strategy::InfrastructureKnowledge,
            RecordBody::Investigation(_) => Strategy::InvestigationHistory,
        }
    }

    /// Validates the content.
    pub fn validate(&self) -> Result<(), RecordError> {
        match self {
            RecordBody::Preferences(p) => p.validate(),
            RecordBody::Knowledge(k) => k.validate(),
            RecordBody::Investigation(i) => i.validate(),
        }
    }

    /// One line for a model prompt or a listing.
    pub fn describe(&self) -> String {
        match self {
            RecordBody::Preferences(p) => p.describe(),
            RecordBody::Knowledge(k) => k.describe(),
            RecordBody::Investigation(i) => i.describe(),
        }
    }

    /// The stored JSON form, checked against [`MAX_RECORD_BYTES`].
    pub fn to_json(&self) -> Result<String, RecordError> {
        let json = serde_json::to_string(self).map_err(|e| RecordError::Invalid {
            field: "record",
            message: e.to_string(),
        })?;
        if json.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                bytes: json.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        Ok(json)
    }

    /// Parses the stored JSON form.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The text a keyword index ranks the record by.
    pub(crate) fn search_text(&self) -> String {
        match self {
            RecordBody::Preferences(p) => p.search_text(),
            RecordBody::Knowledge(k) => k.search_text(),
            RecordBody::Investigation(i) => i.search_text(),
        }
    }
}

/// What a listing shows for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum ListedBody {
    /// A record written by this crate.
    Typed(RecordBody),
    /// Text a managed store (AgentCore) extracted on its own, or a record this build cannot read, verbatim.
    Text(String),
}

impl ListedBody {
    /// One line for a listing.
    pub fn describe(&self) -> String {
        match self {
            ListedBody::Typed(body) => body.describe(),
            ListedBody::Text(text) => text.clone(),
        }
    }
}

/// A stored record: where it lives, when it was written, how well it matched a search, and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRecord<T> {
    /// The store's id, usable with [`crate::DeleteSelector::Record`].
    pub id: RecordId,
    /// Where the record lives (strategy, user, session).
    pub namespace: Namespace,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Relevance to the search that found it (higher is better), when it came from a ranked search.
    pub score: Option<f64>,
    /// The content.
    pub body: T,
}

impl<T> MemoryRecord<T> {
    /// The same record with another body.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> MemoryRecord<U> {
        MemoryRecord {
            id: self.id,
            namespace: self.namespace,
            created_at: self.created_at,
            score: self.score,
            body: f(self.body),
        }
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), RecordError> {
    if value.trim().is_empty() {
        return Err(RecordError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(RecordError::TooLong { field, len, max });
    }
    Ok(())
}

fn check_list(field: &'static str, values: &[String]) -> Result<(), RecordError> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(RecordError::TooMany {
            field,
            len: values.len(),
            max: MAX_LIST_ITEMS,
        });
    }
    for value in values {
        check_text(field, value, MAX_TEXT_CHARS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_with_a_strategy_tag() {
        let body = RecordBody::Knowledge(KnowledgeRecord::dependency(
            "web-service",
            "database-service",
            "logs-agent",
            0.9,
        ));
        let json = body.to_json().unwrap();
        assert!(json.starts_with("{\"strategy\":\"infrastructure_knowledge\""));
        assert_eq!(RecordBody::from_json(&json).unwrap(), body);
        assert!(RecordBody::from_json("web-service depends on database-service").is_err());
    }

    #[test]
    fn a_past_investigation_is_described_in_one_short_line() {
        let summary = InvestigationSummary {
            investigation_id: "inv-1".into(),
            question: "Why is checkout slow?".into(),
            root_cause: "Connection pool exhausted. ".repeat(40),
            impacted_services: vec!["checkout".into(), "payments".into()],
            severity: Severity::High,
            actions: vec!["Raise the pool size".into()],
            resolution: ResolutionStatus::RootCauseIdentified,
            trace_id: None,
            occurred_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
        };
        let line = summary.describe();
        assert!(line.starts_with("2026-"), "{line}");
        assert!(
            line.contains("\"Why is checkout slow?\" → Connection pool exhausted."),
            "{line}"
        );
        assert!(line.contains("…"), "the long root cause is cut: {line}");
        assert!(line.ends_with("; impacted: checkout, payments"), "{line}");
        assert!(
            line.chars().count() < DESCRIBED_ROOT_CAUSE_CHARS + 120,
            "{line}"
        );
    }

    #[test]
    fn invalid_records_are_rejected() {
        let mut k = KnowledgeRecord::dependency("a", "b", "k8s", 1.5);
        assert!(matches!(
            k.validate(),
            Err(RecordError::Invalid {
                field: "confidence",
                ..
            })
        ));
        k.confidence = f32::NAN;
        assert!(k.validate().is_err());
        k.confidence = 0.5;
        k.fact = " ".into();
        assert!(matches!(
            k.validate(),
            Err(RecordError::Empty { field: "fact" })
        ));
        assert!(RecordId::parse("mem-1#2:x").is_ok());
        assert!(RecordId::parse("a/b").is_err() && RecordId::parse("").is_err());
        let huge = RecordBody::Knowledge(KnowledgeRecord {
            related: vec!["x".repeat(MAX_TEXT_CHARS); MAX_LIST_ITEMS],
            ..KnowledgeRecord::dependency("a", "b", "k8s", 0.5)
        });
        assert!(matches!(huge.to_json(), Err(RecordError::TooLarge { .. })));
    }

    #[test]
    fn knowledge_dedup_key_folds_case_and_spacing() {
        let a = KnowledgeRecord::dependency("Web-Service", "database-service", "k8s", 0.5);
        let mut b = a.clone();
        b.fact = "web-service  depends ON database-service".into();
        assert_eq!(a.dedup_key(), b.dedup_key());
    }
}
