//! The Kubernetes backend: pods, deployments, events, resource usage and nodes of the scenario's cluster.

use std::sync::Arc;

use super::parameters::Parameters;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::window::lookback;
use super::{ToolResult, respond, to_json};
use crate::dataset::Dataset;
use crate::dataset::k8s::{
    ConditionStatus, ContainerState, Deployment, DeploymentCondition, DeploymentStrategy,
    EventType, Node, NodeConditions, NodeResources, ObjectRef, Pod, PodPhase, PodResources,
};
use crate::dataset::time::{Timestamp, compact_age, rfc3339};
use crate::domain::Domain;
use crate::error::ToolError;
use crate::server::stats::round1;

/// The MCP server of the Kubernetes domain.
#[derive(Debug, Clone)]
pub struct K8sServer {
    dataset: Arc<Dataset>,
    tool_router: ToolRouter<Self>,
}

/// Parameters of `get_pod_status`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodStatusParams {
    /// Namespace to list, e.g. "production"; every namespace when omitted.
    pub namespace: Option<String>,
    /// Exact name of one pod; it must exist (in `namespace` when that is given).
    pub pod_name: Option<String>,
}

/// Parameters of `get_deployment_status`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentStatusParams {
    /// Namespace to list, e.g. "production"; every namespace when omitted.
    pub namespace: Option<String>,
    /// Exact name of one deployment; it must exist (in `namespace` when that is given).
    pub deployment_name: Option<String>,
}

/// Parameters of `get_cluster_events`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterEventsParams {
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub since: Option<String>,
    /// Event type to keep: "Warning", "Error" or "Normal" (case-insensitive); every type when omitted.
    pub severity: Option<String>,
}

/// Parameters of `get_resource_usage`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceUsageParams {
    /// Namespace to list, e.g. "production"; every namespace when omitted.
    pub namespace: Option<String>,
    /// "cpu", "memory" or "pods"; every resource when omitted.
    pub resource_type: Option<String>,
}

/// Parameters of `get_node_status`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeStatusParams {
    /// Exact name of one node; it must exist. Every node when omitted.
    pub node_name: Option<String>,
}

#[tool_router(vis = "pub(crate)")]
impl K8sServer {
    #[tool(
        description = "Pods with phase, status (CrashLoopBackOff, ...), readiness, restart count, containers with the \
                       last termination reason and message, and CPU/memory usage against limits. Filter by namespace \
                       and/or one pod name.",
        annotations(read_only_hint = true)
    )]
    async fn get_pod_status(
        &self,
        Parameters(params): Parameters<PodStatusParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(pod_status(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Deployments with desired/ready/available replicas, image, current revision and when it rolled \
                       out, conditions and earlier revisions. Filter by namespace and/or one deployment name.",
        annotations(read_only_hint = true)
    )]
    async fn get_deployment_status(
        &self,
        Parameters(params): Parameters<DeploymentStatusParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(deployment_status(&self.dataset, &params)))
    }

    #[tool(
        description = "Cluster events (FailedMount, BackOff, Unhealthy, Scheduled, ...) newest first, over a lookback \
                       window (default 1h), optionally only one type: Warning, Error or Normal.",
        annotations(read_only_hint = true)
    )]
    async fn get_cluster_events(
        &self,
        Parameters(params): Parameters<ClusterEventsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(cluster_events(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Per-pod CPU (millicores) and memory (MiB) usage with limits and percent of limit, plus totals. \
                       Filter by namespace; resource_type narrows to cpu, memory or pods.",
        annotations(read_only_hint = true)
    )]
    async fn get_resource_usage(
        &self,
        Parameters(params): Parameters<ResourceUsageParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(resource_usage(&self.dataset, &params)))
    }

    #[tool(
        description = "Nodes with readiness, pressure conditions, capacity, usage and CPU/memory utilisation percent. \
                       Optionally one node by name.",
        annotations(read_only_hint = true)
    )]
    async fn get_node_status(
        &self,
        Parameters(params): Parameters<NodeStatusParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(node_status(&self.dataset, &params)))
    }
}

impl K8sServer {
    /// A server answering from `dataset`.
    pub fn new(dataset: Arc<Dataset>) -> Self {
        Self {
            dataset,
            tool_router: Self::tool_router(),
        }
    }
}

super::backend_handler!(
    K8sServer,
    Domain::K8s,
    "read-only Kubernetes cluster state (pods, deployments, events, resource usage, nodes)."
);

/// `get_pod_status`: pods of a namespace, or one pod; ages are measured at `now`.
pub fn pod_status(ds: &Dataset, params: &PodStatusParams, now: Timestamp) -> ToolResult {
    let namespace = present(params.namespace.as_deref());
    let in_namespace: Vec<&Pod> = ds
        .k8s()
        .pods
        .iter()
        .filter(|p| namespace.is_none_or(|ns| p.namespace == ns))
        .collect();
    let pods = match present(params.pod_name.as_deref()) {
        None => in_namespace,
        Some(name) => {
            let found: Vec<&Pod> = in_namespace
                .iter()
                .copied()
                .filter(|p| p.name == name)
                .collect();
            if found.is_empty() {
                let existing = in_namespace
                    .iter()
                    .map(|p| qualified(&p.namespace, &p.name));
                return Err(ToolError::not_found(
                    "pod_name",
                    name,
                    scope(namespace),
                    "pods",
                    existing,
                ));
            }
            found
        }
    };
    let summary = PodSummary {
        total: pods.len(),
        running: pods.iter().filter(|p| p.status == "Running").count(),
        not_ready: pods.iter().filter(|p| !p.ready).count(),
        restarts: pods.iter().map(|p| u64::from(p.restarts)).sum(),
    };
    to_json(&PodStatusAnswer {
        namespace,
        pods: pods.into_iter().map(|p| PodOut::new(p, now)).collect(),
        summary,
    })
}

/// `get_deployment_status`: deployments of a namespace, or one deployment.
pub fn deployment_status(ds: &Dataset, params: &DeploymentStatusParams) -> ToolResult {
    let namespace = present(params.namespace.as_deref());
    let in_namespace: Vec<&Deployment> = ds
        .k8s()
        .deployments
        .iter()
        .filter(|d| namespace.is_none_or(|ns| d.namespace == ns))
        .collect();
    let deployments = match present(params.deployment_name.as_deref()) {
        None => in_namespace,
        Some(name) => {
            let found: Vec<&Deployment> = in_namespace
                .iter()
                .copied()
                .filter(|d| d.name == name)
                .collect();
            if found.is_empty() {
                let existing = in_namespace
                    .iter()
                    .map(|d| qualified(&d.namespace, &d.name));
                return Err(ToolError::not_found(
                    "deployment_name",
                    name,
                    scope(namespace),
                    "deployments",
                    existing,
                ));
            }
            found
        }
    };
    to_json(&DeploymentStatusAnswer {
        namespace,
        deployments: deployments.into_iter().map(DeploymentOut::new).collect(),
    })
}

/// `get_cluster_events`: events seen in the lookback window ending `now`, newest first.
pub fn cluster_events(ds: &Dataset, params: &ClusterEventsParams, now: Timestamp) -> ToolResult {
    let (window, _) = lookback("since", params.since.as_deref(), "1h", now)?;
    let severity = match present(params.severity.as_deref()) {
        None => None,
        Some(text) => Some(EventType::parse(text).ok_or_else(|| {
            ToolError::invalid(
                "severity",
                text,
                "one of Warning, Error, Normal (case-insensitive)",
            )
        })?),
    };
    let events = ds
        .k8s()
        .events
        .iter()
        .filter(|e| window.contains(e.at))
        .filter(|e| severity.is_none_or(|kind| e.kind == kind))
        .map(|e| EventOut {
            timestamp: rfc3339(e.at),
            kind: e.kind,
            reason: &e.reason,
            namespace: &e.namespace,
            object: &e.object,
            message: &e.message,
            count: e.count,
        })
        .collect();
    to_json(&ClusterEventsAnswer {
        since: rfc3339(window.start),
        events,
    })
}

/// `get_resource_usage`: per-pod usage against limits, heaviest first for `cpu` and `memory`.
pub fn resource_usage(ds: &Dataset, params: &ResourceUsageParams) -> ToolResult {
    let namespace = present(params.namespace.as_deref());
    let resource = match present(params.resource_type.as_deref()) {
        None => Resource::All,
        Some(text) => Resource::parse(text).ok_or_else(|| {
            ToolError::invalid(
                "resource_type",
                text,
                "one of cpu, memory, pods (every resource when omitted)",
            )
        })?,
    };
    let mut pods: Vec<&Pod> = ds
        .k8s()
        .pods
        .iter()
        .filter(|p| namespace.is_none_or(|ns| p.namespace == ns))
        .collect();
    let usage = |p: &Pod, pick: fn(&PodResources) -> u64| p.usage.as_ref().map_or(0, pick);
    match resource {
        Resource::Cpu => pods.sort_by_key(|p| std::cmp::Reverse(usage(p, |u| u.cpu_millicores))),
        Resource::Memory => pods.sort_by_key(|p| std::cmp::Reverse(usage(p, |u| u.memory_mib))),
        Resource::Pods | Resource::All => {}
    }
    let totals = UsageTotals {
        pods: pods.len(),
        cpu_millicores: pods.iter().map(|p| usage(p, |u| u.cpu_millicores)).sum(),
        memory_mib: pods.iter().map(|p| usage(p, |u| u.memory_mib)).sum(),
    };
    to_json(&ResourceUsageAnswer {
        namespace,
        resource_type: resource.as_str(),
        pods: pods
            .into_iter()
            .map(|p| PodUsageOut::new(p, resource))
            .collect(),
        totals,
    })
}

/// `get_node_status`: every node, or one.
pub fn node_status(ds: &Dataset, params: &NodeStatusParams) -> ToolResult {
    let all = &ds.k8s().nodes;
    let nodes: Vec<&Node> = match present(params.node_name.as_deref()) {
        None => all.iter().collect(),
        Some(name) => {
            let found: Vec<&Node> = all.iter().filter(|n| n.name == name).collect();
            if found.is_empty() {
                let existing = all.iter().map(|n| n.name.as_str());
                return Err(ToolError::not_found(
                    "node_name",
                    name,
                    String::new(),
                    "nodes",
                    existing,
                ));
            }
            found
        }
    };
    to_json(&NodeStatusAnswer {
        nodes: nodes.into_iter().map(NodeOut::new).collect(),
    })
}

#[derive(Serialize)]
struct PodStatusAnswer<'a> {
    namespace: Option<&'a str>,
    pods: Vec<PodOut<'a>>,
    summary: PodSummary,
}

#[derive(Serialize)]
struct PodSummary {
    total: usize,
    running: usize,
    not_ready: usize,
    restarts: u64,
}

#[derive(Serialize)]
struct PodOut<'a> {
    name: &'a str,
    namespace: &'a str,
    app: &'a str,
    owner: &'a str,
    node: Option<&'a str>,
    phase: PodPhase,
    status: &'a str,
    ready: bool,
    restarts: u32,
    started_at: String,
    age: String,
    containers: Vec<ContainerOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<PodResources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<PodResources>,
}

impl<'a> PodOut<'a> {
    fn new(pod: &'a Pod, now: Timestamp) -> Self {
        Self {
            name: &pod.name,
            namespace: &pod.namespace,
            app: &pod.app,
            owner: &pod.owner,
            node: pod.node.as_deref(),
            phase: pod.phase,
            status: &pod.status,
            ready: pod.ready,
            restarts: pod.restarts,
            started_at: rfc3339(pod.started),
            age: compact_age(now - pod.started),
            containers: pod
                .containers
                .iter()
                .map(|c| ContainerOut {
                    name: &c.name,
                    image: &c.image,
                    state: c.state,
                    reason: c.reason.as_deref(),
                    last_termination: c.last_termination.as_ref().map(|t| TerminationOut {
                        reason: &t.reason,
                        exit_code: t.exit_code,
                        finished_at: rfc3339(t.finished),
                        message: t.message.as_deref(),
                    }),
                })
                .collect(),
            usage: pod.usage,
            limits: pod.limits,
        }
    }
}

#[derive(Serialize)]
struct ContainerOut<'a> {
    name: &'a str,
    image: &'a str,
    state: ContainerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_termination: Option<TerminationOut<'a>>,
}

#[derive(Serialize)]
struct TerminationOut<'a> {
    reason: &'a str,
    exit_code: i32,
    finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct DeploymentStatusAnswer<'a> {
    namespace: Option<&'a str>,
    deployments: Vec<DeploymentOut<'a>>,
}

#[derive(Serialize)]
struct DeploymentOut<'a> {
    name: &'a str,
    namespace: &'a str,
    app: &'a str,
    replicas: u32,
    ready_replicas: u32,
    available_replicas: u32,
    updated_replicas: u32,
    image: &'a str,
    revision: u32,
    updated_at: String,
    strategy: DeploymentStrategy,
    healthy: bool,
    conditions: &'a [DeploymentCondition],
    history: Vec<RevisionOut<'a>>,
}

impl<'a> DeploymentOut<'a> {
    fn new(d: &'a Deployment) -> Self {
        Self {
            name: &d.name,
            namespace: &d.namespace,
            app: &d.app,
            replicas: d.replicas,
            ready_replicas: d.ready_replicas,
            available_replicas: d.available_replicas,
            updated_replicas: d.updated_replicas,
            image: &d.image,
            revision: d.revision,
            updated_at: rfc3339(d.updated),
            strategy: d.strategy,
            healthy: d.available_replicas >= d.replicas,
            conditions: &d.conditions,
            history: d
                .history
                .iter()
                .map(|r| RevisionOut {
                    revision: r.revision,
                    image: &r.image,
                    deployed_at: rfc3339(r.deployed),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct RevisionOut<'a> {
    revision: u32,
    image: &'a str,
    deployed_at: String,
}

#[derive(Serialize)]
struct ClusterEventsAnswer<'a> {
    since: String,
    events: Vec<EventOut<'a>>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    timestamp: String,
    #[serde(rename = "type")]
    kind: EventType,
    reason: &'a str,
    namespace: &'a str,
    object: &'a ObjectRef,
    message: &'a str,
    count: u32,
}

/// The `resource_type` of `get_resource_usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Cpu,
    Memory,
    Pods,
    All,
}

impl Resource {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Some(Resource::Cpu),
            "memory" => Some(Resource::Memory),
            "pods" => Some(Resource::Pods),
            "all" => Some(Resource::All),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
            Resource::Pods => "pods",
            Resource::All => "all",
        }
    }

    fn includes_cpu(self) -> bool {
        matches!(self, Resource::Cpu | Resource::All)
    }

    fn includes_memory(self) -> bool {
        matches!(self, Resource::Memory | Resource::All)
    }
}

#[derive(Serialize)]
struct ResourceUsageAnswer<'a> {
    namespace: Option<&'a str>,
    resource_type: &'static str,
    pods: Vec<PodUsageOut<'a>>,
    totals: UsageTotals,
}

#[derive(Serialize)]
struct UsageTotals {
    pods: usize,
    cpu_millicores: u64,
    memory_mib: u64,
}

#[derive(Serialize, Default)]
struct PodUsageOut<'a> {
    name: &'a str,
    namespace: &'a str,
    app: &'a str,
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_millicores: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_limit_millicores: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_pct_of_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_limit_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_pct_of_limit: Option<f64>,
}

impl<'a> PodUsageOut<'a> {
    fn new(pod: &'a Pod, resource: Resource) -> Self {
        let mut out = Self {
            name: &pod.name,
            namespace: &pod.namespace,
            app: &pod.app,
            node: pod.node.as_deref(),
            ..Self::default()
        };
        if resource.includes_cpu() {
            out.cpu_millicores = pod.usage.map(|u| u.cpu_millicores);
            out.cpu_limit_millicores = pod.limits.map(|l| l.cpu_millicores);
            out.cpu_pct_of_limit = percent(out.cpu_millicores, out.cpu_limit_millicores);
        }
        if resource.includes_memory() {
            out.memory_mib = pod.usage.map(|u| u.memory_mib);
            out.memory_limit_mib = pod.limits.map(|l| l.memory_mib);
            out.memory_pct_of_limit = percent(out.memory_mib, out.memory_limit_mib);
        }
        out
    }
}

#[derive(Serialize)]
struct NodeStatusAnswer<'a> {
    nodes: Vec<NodeOut<'a>>,
}

#[derive(Serialize)]
struct NodeOut<'a> {
    name: &'a str,
    roles: &'a [String],
    kubelet_version: &'a str,
    ready: bool,
    conditions: NodeConditions,
    capacity: NodeResources,
    usage: NodeResources,
    cpu_pct: Option<f64>,
    memory_pct: Option<f64>,
    pods: u32,
}

impl<'a> NodeOut<'a> {
    fn new(node: &'a Node) -> Self {
        Self {
            name: &node.name,
            roles: &node.roles,
            kubelet_version: &node.kubelet_version,
            ready: node.conditions.ready == ConditionStatus::True,
            conditions: node.conditions,
            capacity: node.capacity,
            usage: node.usage,
            cpu_pct: percent(
                Some(node.usage.cpu_millicores),
                Some(node.capacity.cpu_millicores),
            ),
            memory_pct: percent(Some(node.usage.memory_mib), Some(node.capacity.memory_mib)),
            pods: node.usage.pods,
        }
    }
}

/// `used / limit` in percent with one decimal; `None` when either is unknown or the limit is zero.
fn percent(used: Option<u64>, limit: Option<u64>) -> Option<f64> {
    match (used, limit) {
        (Some(used), Some(limit)) if limit > 0 => Some(round1(used as f64 / limit as f64 * 100.0)),
        _ => None,
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn scope(namespace: Option<&str>) -> String {
    namespace
        .map(|ns| format!(" in namespace {ns:?}"))
        .unwrap_or_default()
}

fn qualified(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::{dataset, now};
    use serde_json::{Value, json};

    fn names(value: &Value, list: &str) -> Vec<String> {
        value[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn pod_status_filters_by_namespace_and_summarises() {
        let ds = dataset();
        let all = pod_status(&ds, &PodStatusParams::default(), now()).unwrap();
        assert_eq!(all["namespace"], Value::Null);
        assert_eq!(names(&all, "pods"), ["db-0", "web-0", "web-s"]);

        let params = PodStatusParams {
            namespace: Some("production".into()),
            pod_name: None,
        };
        let prod = pod_status(&ds, &params, now()).unwrap();
        assert_eq!(prod["namespace"], "production");
        assert_eq!(names(&prod, "pods"), ["db-0", "web-0"]);
        assert_eq!(
            prod["summary"],
            json!({"total": 2, "running": 1, "not_ready": 1, "restarts": 7})
        );
    }

    #[test]
    fn pod_status_prints_the_contract_shape() {
        let ds = dataset();
        let params = PodStatusParams {
            namespace: None,
            pod_name: Some("db-0".into()),
        };
        let answer = pod_status(&ds, &params, now()).unwrap();
        assert_eq!(
            answer["pods"][0],
            json!({
                "name": "db-0", "namespace": "production", "app": "db", "owner": "db", "node": "node-1",
                "phase": "Running", "status": "CrashLoopBackOff", "ready": false, "restarts": 7,
                "started_at": "2026-11-21T11:30:00Z", "age": "30m",
                "containers": [{"name": "postgres", "image": "postgres:15.4", "state": "waiting",
                    "reason": "CrashLoopBackOff",
                    "last_termination": {"reason": "Error", "exit_code": 1,
                        "finished_at": "2026-11-21T11:58:00Z", "message": "boom"}}],
                "usage": {"cpu_millicores": 5, "memory_mib": 12},
                "limits": {"cpu_millicores": 1000, "memory_mib": 2048}
            })
        );
        let staging = PodStatusParams {
            namespace: None,
            pod_name: Some("web-s".into()),
        };
        let web = pod_status(&ds, &staging, now()).unwrap();
        assert!(
            web["pods"][0].get("limits").is_none(),
            "unknown limits are omitted"
        );
        assert!(
            web["pods"][0]["containers"][0]
                .get("last_termination")
                .is_none()
        );
    }

    #[test]
    fn unknown_pod_lists_the_pods_in_scope() {
        let ds = dataset();
        let params = PodStatusParams {
            namespace: Some("staging".into()),
            pod_name: Some("db-0".into()),
        };
        let err = pod_status(&ds, &params, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pod_name \"db-0\" not found in namespace \"staging\"; existing pods: staging/web-s"
        );
    }

    #[test]
    fn deployment_status_reports_health_and_history() {
        let ds = dataset();
        let params = DeploymentStatusParams {
            namespace: Some("production".into()),
            deployment_name: Some("db".into()),
        };
        let answer = deployment_status(&ds, &params).unwrap();
        let db = &answer["deployments"][0];
        assert_eq!(db["healthy"], false);
        assert_eq!(db["updated_at"], "2026-11-21T11:30:00Z");
        assert_eq!(db["conditions"][0]["type"], "Available");
        assert_eq!(
            db["history"],
            json!([{"revision": 2, "image": "postgres:15.3", "deployed_at": "2026-11-12T12:00:00Z"}])
        );

        let web = deployment_status(
            &ds,
            &DeploymentStatusParams {
                namespace: None,
                deployment_name: Some("web".into()),
            },
        )
        .unwrap();
        assert_eq!(
            web["deployments"].as_array().unwrap().len(),
            2,
            "same name in two namespaces"
        );

        let err = deployment_status(
            &ds,
            &DeploymentStatusParams {
                namespace: Some("staging".into()),
                deployment_name: Some("db".into()),
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "deployment_name \"db\" not found in namespace \"staging\"; existing deployments: staging/web"
        );
    }

    #[test]
    fn cluster_events_respect_window_and_type() {
        let ds = dataset();
        let reasons = |params: &ClusterEventsParams| -> Vec<String> {
            let answer = cluster_events(&ds, params, now()).unwrap();
            answer["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["reason"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            reasons(&ClusterEventsParams::default()),
            ["BackOff", "BackupFailed", "Pulled"]
        );
        let all_day = ClusterEventsParams {
            since: Some("24h".into()),
            severity: None,
        };
        assert_eq!(
            reasons(&all_day),
            ["BackOff", "BackupFailed", "Pulled", "Scheduled"]
        );
        let warnings = ClusterEventsParams {
            since: Some("24h".into()),
            severity: Some("warning".into()),
        };
        assert_eq!(reasons(&warnings), ["BackOff"]);
        let recent = ClusterEventsParams {
            since: Some("10m".into()),
            severity: None,
        };
        assert_eq!(reasons(&recent), ["BackOff"]);

        let answer = cluster_events(&ds, &ClusterEventsParams::default(), now()).unwrap();
        assert_eq!(answer["since"], "2026-11-21T11:00:00Z");
        assert_eq!(
            answer["events"][0],
            json!({"timestamp": "2026-11-21T11:58:00Z", "type": "Warning", "reason": "BackOff",
                   "namespace": "production", "object": {"kind": "Pod", "name": "db-0"},
                   "message": "Back-off restarting failed container postgres", "count": 7})
        );
    }

    #[test]
    fn cluster_events_reject_bad_parameters() {
        let ds = dataset();
        let bad_severity = ClusterEventsParams {
            since: None,
            severity: Some("fatal".into()),
        };
        assert_eq!(
            cluster_events(&ds, &bad_severity, now())
                .unwrap_err()
                .to_string(),
            "invalid severity \"fatal\": expected one of Warning, Error, Normal (case-insensitive)"
        );
        let bad_since = ClusterEventsParams {
            since: Some("recently".into()),
            severity: None,
        };
        assert!(
            cluster_events(&ds, &bad_since, now())
                .unwrap_err()
                .to_string()
                .starts_with("invalid since \"recently\"")
        );
    }

    #[test]
    fn resource_usage_narrows_fields_and_sorts() {
        let ds = dataset();
        let memory = resource_usage(
            &ds,
            &ResourceUsageParams {
                namespace: Some("production".into()),
                resource_type: Some("memory".into()),
            },
        )
        .unwrap();
        assert_eq!(memory["resource_type"], "memory");
        assert_eq!(names(&memory, "pods"), ["web-0", "db-0"]);
        assert_eq!(
            memory["pods"][0],
            json!({"name": "web-0", "namespace": "production", "app": "web", "node": "node-1",
                   "memory_mib": 900, "memory_limit_mib": 1024, "memory_pct_of_limit": 87.9})
        );
        assert_eq!(
            memory["totals"],
            json!({"pods": 2, "cpu_millicores": 805, "memory_mib": 912})
        );

        let all = resource_usage(&ds, &ResourceUsageParams::default()).unwrap();
        assert_eq!(all["resource_type"], "all");
        let staging = &all["pods"][2];
        assert_eq!(staging["cpu_millicores"], 100);
        assert!(
            staging.get("cpu_limit_millicores").is_none(),
            "unknown limits are omitted"
        );

        let err = resource_usage(
            &ds,
            &ResourceUsageParams {
                namespace: None,
                resource_type: Some("gpu".into()),
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resource_type \"gpu\": expected one of cpu, memory, pods (every resource when omitted)"
        );
    }

    #[test]
    fn node_status_computes_utilisation() {
        let ds = dataset();
        let answer = node_status(
            &ds,
            &NodeStatusParams {
                node_name: Some("node-2".into()),
            },
        )
        .unwrap();
        let node = &answer["nodes"][0];
        assert_eq!(node["ready"], false);
        assert_eq!(node["cpu_pct"], 95.0);
        assert_eq!(node["memory_pct"], 97.7);
        assert_eq!(node["pods"], 1);
        assert_eq!(node["conditions"]["MemoryPressure"], "True");
        assert_eq!(
            node_status(&ds, &NodeStatusParams::default()).unwrap()["nodes"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        let err = node_status(
            &ds,
            &NodeStatusParams {
                node_name: Some("node-7".into()),
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "node_name \"node-7\" not found; existing nodes: node-1, node-2"
        );
    }
}
