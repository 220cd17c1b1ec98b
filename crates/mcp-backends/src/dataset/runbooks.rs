//! `runbooks.json`: playbooks, troubleshooting guides, escalation procedures and common resolutions.
//!
//! These types serialise back to the stored shape, because some tools return them as stored.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::time::HumanDuration;

/// The operational knowledge of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunbooksData {
    /// Step-by-step incident playbooks.
    pub playbooks: Vec<Playbook>,
    /// Diagnostic guides per category and issue type.
    pub troubleshooting_guides: Vec<TroubleshootingGuide>,
    /// Who to call, by severity and incident type.
    pub escalation_procedures: Vec<EscalationProcedure>,
    /// Known fixes for recurring issues.
    pub common_resolutions: Vec<CommonResolution>,
}

/// An incident playbook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Unique id (`PB-DB-CRASHLOOP`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Incident category (`database`, `performance`, ...).
    pub incident_type: String,
    /// Typical severity.
    pub severity: Severity,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Symptoms that point to this playbook.
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// Ordered steps.
    pub steps: Vec<PlaybookStep>,
    /// When and whom to escalate to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
}

/// One step of a playbook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookStep {
    /// What to do.
    pub title: String,
    /// Commands to run.
    #[serde(default)]
    pub commands: Vec<String>,
    /// What a healthy or diagnostic result looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// A troubleshooting guide.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TroubleshootingGuide {
    /// Unique id (`TG-K8S-CRASHLOOP`).
    pub id: String,
    /// Category (`kubernetes`, `database`, `performance`).
    pub category: String,
    /// Issue type within the category (`crashloop`).
    pub issue_type: String,
    /// Title.
    pub title: String,
    /// Symptoms.
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// How to narrow the cause down.
    #[serde(default)]
    pub diagnostic_steps: Vec<String>,
    /// Fixes by cause.
    #[serde(default)]
    pub solutions: Vec<String>,
}

/// An escalation procedure.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationProcedure {
    /// The severity it applies to.
    pub severity: Severity,
    /// The incident type it applies to; `*` for every type.
    pub incident_type: String,
    /// Expected time to first response.
    pub response_time: HumanDuration,
    /// Escalation levels, first contacted first.
    pub levels: Vec<EscalationLevel>,
    /// Free-text notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl EscalationProcedure {
    /// The incident type that matches every incident.
    pub const ANY_INCIDENT_TYPE: &'static str = "*";
}

/// One level of an escalation procedure.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// Level number, 1 first.
    pub level: u32,
    /// Who to contact.
    pub contact: String,
    /// Where to reach them.
    pub channel: String,
    /// How long after the incident starts this level is engaged.
    pub after: HumanDuration,
}

/// A known resolution of a recurring issue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommonResolution {
    /// The issue it resolves.
    pub issue: String,
    /// Services it applies to; empty for any service.
    #[serde(default)]
    pub services: Vec<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The resolution in one sentence.
    pub resolution: String,
    /// Steps to apply it.
    #[serde(default)]
    pub steps: Vec<String>,
}

/// Incident severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Minor impact.
    Low,
    /// Degraded, not urgent.
    Medium,
    /// Significant impact.
    High,
    /// Outage or data at risk.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name as written in files (`critical`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a severity name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|sev| sev.as_str() == lower)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
