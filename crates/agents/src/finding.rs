//! What agents establish: [`Finding`]s about entities, backed by evidence from named tools, and the
//! supervisor-level [`Assessment`] built from them. Models produce these as JSON, so every type here is the
//! wire format of an agent's final answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use sre_memory::Severity;

/// Kinds of things a finding can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Service,
    Pod,
    Deployment,
    Node,
    Container,
    ConfigMap,
    Secret,
    Volume,
    Image,
    Runbook,
    Other,
}

impl EntityKind {
    /// Maps a Kubernetes `kind` ("ConfigMap", "Pod", ...) to an entity kind.
    pub fn from_k8s_kind(kind: &str) -> Self {
        match kind.to_ascii_lowercase().as_str() {
            "pod" => EntityKind::Pod,
            "deployment" | "replicaset" | "statefulset" | "daemonset" => EntityKind::Deployment,
            "node" => EntityKind::Node,
            "configmap" => EntityKind::ConfigMap,
            "secret" => EntityKind::Secret,
            "persistentvolumeclaim" | "persistentvolume" | "volume" => EntityKind::Volume,
            "service" => EntityKind::Service,
            _ => EntityKind::Other,
        }
    }
}

/// A named entity, exactly as it appears in tool data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    pub kind: EntityKind,
    pub name: String,
}

impl EntityRef {
    pub fn new(kind: EntityKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

/// How a related entity relates to the finding's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// The subject fails because of the entity (a missing ConfigMap, a full node).
    CausedBy,
    /// The subject calls or needs the entity (seen in logs or configuration).
    DependsOn,
    /// The subject runs on the entity (a pod on a node).
    RunsOn,
    /// The subject belongs to the entity (a pod to a deployment or app).
    PartOf,
    /// The entity is a recent change to the subject (a new image, a rollout).
    ChangedBy,
    /// The subject hosts the entity (a node running a pod).
    Hosts,
}

/// A relation from the finding's subject to another entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    pub relation: RelationKind,
    pub entity: EntityRef,
}

/// Where a fact came from: the tool and the data it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub tool: String,
    pub detail: String,
}

/// What kind of observation a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Pods crash-looping, OOM-killed, pending, evicted or not ready.
    PodFailure,
    /// A deployment has fewer available replicas than desired.
    DeploymentUnavailable,
    /// A node is not ready or under pressure.
    NodeUnhealthy,
    /// A configuration object is missing or wrong.
    ConfigError,
    /// A recent rollout or change to a component.
    RecentChange,
    /// Many error logs from a service.
    ErrorSpike,
    /// A recurring log message pattern.
    LogPattern,
    /// Response times well above baseline.
    LatencyAnomaly,
    /// Error rate well above baseline.
    ErrorRateAnomaly,
    /// CPU, memory, disk or network near saturation or growing abnormally.
    ResourceSaturation,
    /// Availability below target.
    AvailabilityDrop,
    /// Throughput far from baseline.
    TrafficAnomaly,
    /// A runbook, guide or resolution that matches the incident.
    RunbookMatch,
    /// Escalation guidance for the incident.
    EscalationGuidance,
    /// Checked and healthy (a control).
    Healthy,
    /// Data that could not be obtained.
    DataUnavailable,
}

impl FindingKind {
    /// True for kinds that describe something wrong (as opposed to healthy, guidance or missing data).
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            FindingKind::Healthy
                | FindingKind::RunbookMatch
                | FindingKind::EscalationGuidance
                | FindingKind::DataUnavailable
        )
    }
}

/// One fact an agent established from tool data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// One sentence for people; names only entities that appear in tool data.
    pub summary: String,
    /// The entity this finding is about.
    pub subject: EntityRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Relation>,
    /// When the problem started, when the data shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<DateTime<Utc>>,
    /// Tools and data this finding rests on (at least one).
    pub evidence: Vec<Evidence>,
    /// Recommended actions taken from tool data (runbook steps, resolutions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// A specialist's final answer, as JSON in the model's last message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentAnswer {
    pub summary: String,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// The planner's answer: which specialists to run and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    pub agents: Vec<crate::protocol::AgentKind>,
    pub reason: String,
}

/// The supervisor's conclusion over all findings, as JSON in the summary model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// One or two sentences naming the root cause, or saying it could not be determined.
    pub root_cause: String,
    /// Entity names (as in tool data) that make up the root cause.
    #[serde(default)]
    pub root_cause_entities: Vec<String>,
    /// Services affected by the root cause, excluding the root cause itself.
    #[serde(default)]
    pub impacted_services: Vec<String>,
    pub severity: Severity,
    /// A short executive summary.
    pub summary: String,
    /// Ordered next steps.
    #[serde(default)]
    pub next_steps: Vec<String>,
    /// Rough confidence in the root cause, 0..=1.
    #[serde(default)]
    pub confidence: f32,
}

/// What the summary model receives: the question and every specialist's result, as JSON in the user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryInput {
    pub question: String,
    pub reports: Vec<AgentResult>,
}

/// One specialist's result as the summary model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    pub agent: crate::protocol::AgentKind,
    /// `complete`, `partial`, or `failed` (then `error` says why and there are no findings).
    pub status: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Data the agent could not get.
    #[serde(default)]
    pub unavailable: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_json_round_trips_with_optional_fields_omitted() {
        let finding = Finding {
            kind: FindingKind::PodFailure,
            severity: Severity::Critical,
            summary: "Pod db-0 is in CrashLoopBackOff".into(),
            subject: EntityRef::new(EntityKind::Pod, "db-0"),
            related: vec![],
            onset: None,
            evidence: vec![Evidence {
                tool: "get_pod_status".into(),
                detail: "restarts=15".into(),
            }],
            actions: vec![],
        };
        let json = serde_json::to_value(&finding).unwrap();
        assert!(json.get("related").is_none() && json.get("onset").is_none());
        assert_eq!(json["subject"]["kind"], "pod");
        let back: Finding = serde_json::from_value(json).unwrap();
        assert_eq!(back, finding);
    }
}
