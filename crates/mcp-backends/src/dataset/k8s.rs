//! `k8s.json`: nodes, pods, deployments and events of the cluster.
//!
//! Types with a time are generic over it: `Ago` as read from the file, [`Timestamp`] once resolved at load.

use serde::{Deserialize, Serialize};

use super::time::{Ago, Timestamp};

/// The cluster state of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct K8sData<T = Timestamp> {
    /// Cluster nodes.
    pub nodes: Vec<Node>,
    /// Pods of every namespace.
    pub pods: Vec<Pod<T>>,
    /// Deployments of every namespace.
    pub deployments: Vec<Deployment<T>>,
    /// Cluster events; newest first once loaded.
    pub events: Vec<Event<T>>,
}

/// A cluster node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Roles (`worker`, `control-plane`).
    pub roles: Vec<String>,
    /// Kubelet version (`v1.29.4`).
    pub kubelet_version: String,
    /// The four standard node conditions.
    pub conditions: NodeConditions,
    /// Allocatable capacity.
    pub capacity: NodeResources,
    /// Current usage.
    pub usage: NodeResources,
}

/// Node conditions as `kubectl describe node` shows them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConditions {
    /// The kubelet is healthy and ready for pods.
    #[serde(rename = "Ready")]
    pub ready: ConditionStatus,
    /// Node memory is low.
    #[serde(rename = "MemoryPressure")]
    pub memory_pressure: ConditionStatus,
    /// Node disk is low.
    #[serde(rename = "DiskPressure")]
    pub disk_pressure: ConditionStatus,
    /// Too many processes on the node.
    #[serde(rename = "PIDPressure")]
    pub pid_pressure: ConditionStatus,
}

/// Value of a Kubernetes condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell.
    Unknown,
}

/// CPU, memory and pod count of a node.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeResources {
    /// CPU in millicores.
    pub cpu_millicores: u64,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Pod slots (capacity) or running pods (usage).
    pub pods: u32,
}

/// CPU and memory of a pod (usage or limits).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodResources {
    /// CPU in millicores.
    pub cpu_millicores: u64,
    /// Memory in MiB.
    pub memory_mib: u64,
}

/// A pod.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod<T = Timestamp> {
    /// Pod name, unique in its namespace.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The `app` label shared with its deployment.
    pub app: String,
    /// The owning deployment (same namespace).
    pub owner: String,
    /// The node it is scheduled on; absent while a Pending pod is not scheduled.
    pub node: Option<String>,
    /// Pod phase.
    pub phase: PodPhase,
    /// What `kubectl get pods` shows (`Running`, `CrashLoopBackOff`, ...).
    pub status: String,
    /// Whether every container is ready.
    pub ready: bool,
    /// Restarts over all containers.
    pub restarts: u32,
    /// When the pod started.
    pub started: T,
    /// Containers of the pod.
    pub containers: Vec<Container<T>>,
    /// Current usage, when known.
    pub usage: Option<PodResources>,
    /// Limits, when set.
    pub limits: Option<PodResources>,
}

/// Pod phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PodPhase {
    /// Accepted, not all containers created.
    Pending,
    /// Bound to a node, at least one container running or restarting.
    Running,
    /// Every container terminated successfully.
    Succeeded,
    /// Every container terminated, at least one failed.
    Failed,
    /// The state could not be obtained.
    Unknown,
}

/// A container of a pod.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container<T = Timestamp> {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Current state.
    pub state: ContainerState,
    /// Why it is waiting or terminated (`CrashLoopBackOff`).
    pub reason: Option<String>,
    /// How the previous run ended, if it did.
    pub last_termination: Option<Termination<T>>,
}

/// Container state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Running.
    Running,
    /// Not running yet or backing off.
    Waiting,
    /// Finished.
    Terminated,
}

/// The end of a container's previous run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Termination<T = Timestamp> {
    /// Termination reason (`Error`, `OOMKilled`, `Completed`).
    pub reason: String,
    /// Process exit code.
    pub exit_code: i32,
    /// When the run finished (`ago` in the file).
    #[serde(rename = "ago")]
    pub finished: T,
    /// Termination message (the last log lines), if any.
    pub message: Option<String>,
}

/// A deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment<T = Timestamp> {
    /// Deployment name, unique in its namespace.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The `app` label of its pods.
    pub app: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready replicas.
    pub ready_replicas: u32,
    /// Available replicas.
    pub available_replicas: u32,
    /// Replicas at the current revision.
    pub updated_replicas: u32,
    /// Image of the current revision.
    pub image: String,
    /// Current revision number.
    pub revision: u32,
    /// When the current revision rolled out.
    pub updated: T,
    /// Rollout strategy.
    pub strategy: DeploymentStrategy,
    /// Deployment conditions.
    pub conditions: Vec<DeploymentCondition>,
    /// Earlier revisions, newest first.
    #[serde(default = "Vec::new")]
    pub history: Vec<Revision<T>>,
}

/// Rollout strategy of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum DeploymentStrategy {
    /// Kill every old pod before creating new ones.
    Recreate,
    /// Replace pods gradually.
    RollingUpdate,
}

/// A deployment condition.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub kind: DeploymentConditionType,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// Machine-readable reason (`MinimumReplicasUnavailable`).
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

/// Type of a deployment condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum DeploymentConditionType {
    /// Minimum availability reached.
    Available,
    /// The rollout is progressing (or has timed out).
    Progressing,
    /// Pods could not be created.
    ReplicaFailure,
}

/// An earlier revision of a deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision<T = Timestamp> {
    /// Revision number.
    pub revision: u32,
    /// Image of that revision.
    pub image: String,
    /// When it rolled out (`ago` in the file).
    #[serde(rename = "ago")]
    pub deployed: T,
}

/// A cluster event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event<T = Timestamp> {
    /// When it was last seen (`ago` in the file).
    #[serde(rename = "ago")]
    pub at: T,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Short reason (`BackOff`, `FailedMount`).
    pub reason: String,
    /// Namespace of the event.
    pub namespace: String,
    /// The object it is about.
    pub object: ObjectRef,
    /// Message.
    pub message: String,
    /// How many times it was seen.
    #[serde(default = "one")]
    pub count: u32,
}

/// Type of a cluster event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EventType {
    /// Routine.
    Normal,
    /// Something went wrong.
    Warning,
    /// A failure reported by a controller.
    Error,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 3] = [EventType::Normal, EventType::Warning, EventType::Error];

    /// The name as written in files and answers.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
            EventType::Error => "Error",
        }
    }

    /// Parses a type name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

/// The object an event is about.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// Kubernetes kind (`Pod`, `Deployment`, `Node`, `ConfigMap`, ...).
    pub kind: String,
    /// Object name.
    pub name: String,
}

impl K8sData<Ago> {
    /// Turns every `ago` into a timestamp relative to `now`, keeping file order.
    pub(crate) fn resolve(self, now: Timestamp) -> K8sData {
        let K8sData {
            nodes,
            pods,
            deployments,
            events,
        } = self;
        K8sData {
            nodes,
            pods: pods.into_iter().map(|p| p.resolve(now)).collect(),
            deployments: deployments.into_iter().map(|d| d.resolve(now)).collect(),
            events: events.into_iter().map(|e| e.resolve(now)).collect(),
        }
    }
}

impl K8sData {
    /// Orders events newest first (stable, so equal times keep file order).
    pub(crate) fn sort(&mut self) {
        self.events.sort_by_key(|e| std::cmp::Reverse(e.at));
    }
}

impl Pod<Ago> {
    fn resolve(self, now: Timestamp) -> Pod {
        let Pod {
            name,
            namespace,
            app,
            owner,
            node,
            phase,
            status,
            ready,
            restarts,
            started,
            containers,
            usage,
            limits,
        } = self;
        Pod {
            name,
            namespace,
            app,
            owner,
            node,
            phase,
            status,
            ready,
            restarts,
            started: started.before(now),
            containers: containers.into_iter().map(|c| c.resolve(now)).collect(),
            usage,
            limits,
        }
    }
}

impl Container<Ago> {
    fn resolve(self, now: Timestamp) -> Container {
        let Container {
            name,
            image,
            state,
            reason,
            last_termination,
        } = self;
        Container {
            name,
            image,
            state,
            reason,
            last_termination: last_termination.map(|t| Termination {
                reason: t.reason,
                exit_code: t.exit_code,
                finished: t.finished.before(now),
                message: t.message,
            }),
        }
    }
}

impl Deployment<Ago> {
    fn resolve(self, now: Timestamp) -> Deployment {
        let Deployment {
            name,
            namespace,
            app,
            replicas,
            ready_replicas,
            available_replicas,
            updated_replicas,
            image,
            revision,
            updated,
            strategy,
            conditions,
            history,
        } = self;
        Deployment {
            name,
            namespace,
            app,
            replicas,
            ready_replicas,
            available_replicas,
            updated_replicas,
            image,
            revision,
            updated: updated.before(now),
            strategy,
            conditions,
            history: history
                .into_iter()
                .map(|r| Revision {
                    revision: r.revision,
                    image: r.image,
                    deployed: r.deployed.before(now),
                })
                .collect(),
        }
    }
}

impl Event<Ago> {
    fn resolve(self, now: Timestamp) -> Event {
        let Event {
            at,
            kind,
            reason,
            namespace,
            object,
            message,
            count,
        } = self;
        Event {
            at: at.before(now),
            kind,
            reason,
            namespace,
            object,
            message,
            count,
        }
    }
}

fn one() -> u32 {
    1
}
