//! The system prompts, kept as files under `prompts/` so they can be read and reviewed as text.

use crate::protocol::AgentKind;

const COMMON: &str = include_str!("../prompts/common.md");
const SPECIALIST_ANSWER: &str = include_str!("../prompts/specialist_answer.md");
const KUBERNETES: &str = include_str!("../prompts/kubernetes.md");
const LOGS: &str = include_str!("../prompts/logs.md");
const METRICS: &str = include_str!("../prompts/metrics.md");
const RUNBOOKS: &str = include_str!("../prompts/runbooks.md");
const PLANNER: &str = include_str!("../prompts/planner.md");
const SUMMARY: &str = include_str!("../prompts/summary.md");

/// System prompt of a specialist: its role, the shared rules and the answer format.
pub fn specialist(kind: AgentKind) -> String {
    let role = match kind {
        AgentKind::Kubernetes => KUBERNETES,
        AgentKind::Logs => LOGS,
        AgentKind::Metrics => METRICS,
        AgentKind::Runbooks => RUNBOOKS,
    };
    format!("{role}\n{COMMON}\n{SPECIALIST_ANSWER}")
}

/// System prompt of the routing step.
pub fn planner() -> String {
    PLANNER.to_owned()
}

/// System prompt of the final assessment.
pub fn summary() -> String {
    format!("{SUMMARY}\n{COMMON}")
}
