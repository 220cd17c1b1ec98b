//! `expected.json`: the answer key of a scenario — what an investigation should conclude. The backends never
//! serve it; evaluations compare a report against it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The root cause, impact and severity a correct investigation of the scenario reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Exact names, as the tools print them, of what caused the incident (the failing pod and the missing
    /// ConfigMap; the deployment and its new image; the node). Empty when nothing is wrong.
    pub root_cause_entities: Vec<String>,
    /// Services (as logs and metrics name them) degraded because of the root cause, not counting the root
    /// cause itself or healthy controls. Empty when nothing is wrong.
    pub impacted_services: Vec<String>,
    /// Overall severity on the documented scale.
    pub severity: IncidentSeverity,
}

/// Overall incident severity, least severe first (see `docs/scenario-format.md` for the scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentSeverity {
    /// Healthy: nothing to report.
    Info,
    /// Minor: a symptom without SLO impact.
    Low,
    /// Noticeable but limited degradation.
    Medium,
    /// Major degradation of a service.
    High,
    /// A component is down or an outage cascades.
    Critical,
}

impl IncidentSeverity {
    /// Every severity, least severe first.
    pub const ALL: [IncidentSeverity; 5] = [
        IncidentSeverity::Info,
        IncidentSeverity::Low,
        IncidentSeverity::Medium,
        IncidentSeverity::High,
        IncidentSeverity::Critical,
    ];

    /// The name as written in `expected.json` (`critical`).
    pub const fn as_str(self) -> &'static str {
        match self {
            IncidentSeverity::Info => "info",
            IncidentSeverity::Low => "low",
            IncidentSeverity::Medium => "medium",
            IncidentSeverity::High => "high",
            IncidentSeverity::Critical => "critical",
        }
    }
}

impl fmt::Display for IncidentSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
