//! Who a report is for: the user's preferences (or neutral defaults, with a note saying why), the escalation
//! decided for this incident, and what memory recalled for the investigation.

use chrono::{DateTime, Utc};
use sre_agents::finding::Severity;
use sre_memory::{
    CommunicationStyle, EscalationDecision, MemoryContext, ReportFormat, UserPreferences,
    decide_escalation,
};

/// How the report is shaped for its reader and whether the incident escalates.
#[derive(Debug, Clone)]
pub struct Personalization {
    pub preferences: UserPreferences,
    /// Why neutral defaults are in use, or what memory could not provide.
    pub note: Option<String>,
    pub escalation: EscalationDecision,
    /// What memory contributed to the investigation, one line each.
    pub recalled: Vec<String>,
}

impl Personalization {
    /// Decides the escalation of an incident of `severity` for the user memory recalled (`None`: memory off).
    pub fn decide(context: Option<&MemoryContext>, severity: Severity, now: DateTime<Utc>) -> Self {
        let Some(context) = context else {
            let preferences = UserPreferences::default();
            return Self {
                escalation: decide_escalation(severity, &preferences, now),
                preferences,
                note: Some(
                    "memory is off, so neutral report defaults apply and nothing is escalated"
                        .into(),
                ),
                recalled: Vec::new(),
            };
        };
        let mut notes: Vec<String> = context.preferences_note.iter().cloned().collect();
        notes.extend(context.failures.iter().map(|f| {
            format!(
                "{} could not be read from memory ({})",
                f.strategy.as_str(),
                f.message
            )
        }));
        Self {
            escalation: decide_escalation(severity, &context.preferences, now),
            preferences: context.preferences.clone(),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            recalled: context.prompt_lines(),
        }
    }

    /// An executive reader: a short business-impact brief instead of the technical report.
    pub fn is_executive(&self) -> bool {
        self.preferences.communication_style == CommunicationStyle::Executive
            || self.preferences.report_format == ReportFormat::Summary
    }
}
