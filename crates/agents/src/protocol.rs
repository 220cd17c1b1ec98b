//! The actor protocol: ids, agent kinds, the [`Envelope`] every request travels in, and the specialist's
//! task and reply types.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use sre_telemetry::TraceCarrier;

use crate::finding::Finding;
use crate::model::{TokenUsage, budget::TokenBudget};
use crate::progress::ProgressSink;

/// Identifies one investigation across actors, spans, reports and memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InvestigationId(String);

impl InvestigationId {
    /// A fresh random id (`inv-` + 12 hex digits).
    pub fn new() -> Self {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("inv-{}", &uuid[..12]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for InvestigationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for InvestigationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The four specialists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Kubernetes,
    Logs,
    Metrics,
    Runbooks,
}

impl AgentKind {
    /// Every kind, in report order.
    pub const ALL: [AgentKind; 4] = [
        AgentKind::Kubernetes,
        AgentKind::Logs,
        AgentKind::Metrics,
        AgentKind::Runbooks,
    ];

    /// Lowercase name used in span names (`agent.{name}.execute`) and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Kubernetes => "kubernetes",
            AgentKind::Logs => "logs",
            AgentKind::Metrics => "metrics",
            AgentKind::Runbooks => "runbooks",
        }
    }

    /// Name shown to people ("Kubernetes agent").
    pub fn title(self) -> &'static str {
        match self {
            AgentKind::Kubernetes => "Kubernetes",
            AgentKind::Logs => "Logs",
            AgentKind::Metrics => "Metrics",
            AgentKind::Runbooks => "Runbooks",
        }
    }

    /// The service name of this agent on the service map (`kubernetes-agent`).
    pub fn service_name(self) -> String {
        format!("{}-agent", self.as_str())
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kubernetes" | "k8s" => Ok(AgentKind::Kubernetes),
            "logs" | "log" => Ok(AgentKind::Logs),
            "metrics" | "metric" => Ok(AgentKind::Metrics),
            "runbooks" | "runbook" => Ok(AgentKind::Runbooks),
            other => Err(format!(
                "unknown agent {other:?}; expected kubernetes, logs, metrics or runbooks"
            )),
        }
    }
}

/// Every request between actors: who it belongs to, the trace it continues, and when it must be done — in
/// time (`deadline`) and in model tokens (`budget`, shared by every agent of the investigation).
#[derive(Debug, Clone)]
pub struct Envelope<T> {
    pub investigation_id: InvestigationId,
    pub trace: TraceCarrier,
    pub deadline: Instant,
    pub budget: TokenBudget,
    pub body: T,
}

impl<T> Envelope<T> {
    /// Wraps `body`, capturing the current span's trace context; the token budget is unlimited until
    /// [`Envelope::with_budget`] sets one.
    pub fn new(investigation_id: InvestigationId, deadline: Instant, body: T) -> Self {
        Self {
            investigation_id,
            trace: TraceCarrier::current(),
            deadline,
            budget: TokenBudget::unlimited(),
            body,
        }
    }

    /// The same envelope charging model calls to `budget` (a clone of the investigation's budget).
    pub fn with_budget(mut self, budget: TokenBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Time left until the deadline (zero when passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The same envelope around another body.
    pub fn map<U>(self, body: U) -> Envelope<U> {
        Envelope {
            investigation_id: self.investigation_id,
            trace: self.trace,
            deadline: self.deadline,
            budget: self.budget,
            body,
        }
    }
}

/// What the supervisor asks one specialist to do.
#[derive(Debug, Clone)]
pub struct AgentTask {
    /// The user's question, verbatim.
    pub question: String,
    /// Extra context lines for the agent (what the supervisor knows: memory, earlier turns).
    pub context: Vec<String>,
    /// Where to report progress; `ProgressSink::none()` when nobody listens.
    pub progress: ProgressSink,
    /// Who asked (the `UserID` of the agent's metrics); empty when unknown.
    pub user_id: String,
    /// The investigation (the `investigation_id` root field of the agent's metric lines, next to
    /// `trace_id`, so CloudWatch Logs Insights can group them); empty when unknown.
    pub investigation_id: String,
}

/// How a specialist's run ended when it produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentOutcome {
    /// Every tool it needed answered.
    Complete,
    /// Some data could not be fetched (a backend down, a tool error); findings cover the rest.
    Partial,
}

/// One tool use as the agent saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCallRecord {
    pub tool: String,
    pub arguments: serde_json::Value,
    pub duration: Duration,
    /// `None` on success, else what went wrong (as given to the model).
    pub error: Option<String>,
}

/// A specialist's answer to an [`AgentTask`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentReport {
    pub kind: AgentKind,
    pub outcome: AgentOutcome,
    /// The agent's own short summary.
    pub summary: String,
    pub findings: Vec<Finding>,
    pub tool_calls: Vec<ToolCallRecord>,
    /// Data the agent could not get, one line each ("k8s-backend: connection refused after 3 attempts").
    pub unavailable: Vec<String>,
    pub model_calls: u32,
    /// Tokens and estimated cost (`usage.cost`) of the agent's model calls.
    pub usage: TokenUsage,
    pub duration: Duration,
}

/// Why a specialist produced no report. These are expected failures and travel in the reply.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum AgentError {
    #[error("{agent} agent ran out of time after {elapsed:.1?}")]
    DeadlineExceeded { agent: AgentKind, elapsed: Duration },
    #[error("{agent} agent was cancelled")]
    Cancelled { agent: AgentKind },
    #[error("{agent} agent's model failed: {message}")]
    Model { agent: AgentKind, message: String },
    #[error("{agent} agent stopped unexpectedly: {message}")]
    Crashed { agent: AgentKind, message: String },
}

impl AgentError {
    /// Low-cardinality `error.type` for spans and metrics.
    pub fn error_type(&self) -> &'static str {
        match self {
            AgentError::DeadlineExceeded { .. } => "timeout",
            AgentError::Cancelled { .. } => "cancelled",
            AgentError::Model { .. } => "model_error",
            AgentError::Crashed { .. } => "agent_crashed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_kind_parses_names_and_aliases() {
        assert_eq!("K8s".parse::<AgentKind>(), Ok(AgentKind::Kubernetes));
        assert_eq!("runbooks".parse::<AgentKind>(), Ok(AgentKind::Runbooks));
        assert!(
            "database"
                .parse::<AgentKind>()
                .unwrap_err()
                .contains("unknown agent")
        );
        for kind in AgentKind::ALL {
            assert_eq!(kind.as_str().parse::<AgentKind>(), Ok(kind));
        }
    }

    #[test]
    fn investigation_ids_are_unique_and_prefixed() {
        let a = InvestigationId::new();
        let b = InvestigationId::new();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("inv-") && a.as_str().len() == 16);
    }
}
