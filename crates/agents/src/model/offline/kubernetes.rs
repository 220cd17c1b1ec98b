//! The Kubernetes analyst: pods, deployments, events, nodes and resource usage.
//!
//! It reads pod states and last terminations, ties warning events to the objects they concern, pulls the
//! objects a kubelet message says are missing, flags deployments short of replicas and recent rollouts,
//! and marks nodes under pressure — the names all come from the tool output.

use std::{collections::BTreeSet, time::Duration};

use chrono::Utc;
use serde_json::{Value, json};

use super::{
    Wanted,
    entity::{cause_hints, component, missing_objects, pulled_image},
    json::{clock, flag, fmt_num, int, list, num, str_of, time},
    question::{Symptom, duration_arg},
    transcript::Transcript,
};
use crate::finding::{
    AgentAnswer, EntityKind, EntityRef, Evidence, Finding, FindingKind, Relation, RelationKind,
    Severity,
};

const DEFAULT_NAMESPACE: &str = "production";
/// Where the cluster's own services run.
const SYSTEM_NAMESPACE: &str = "kube-system";
const FAILING_STATES: &[&str] = &[
    "crashloopbackoff",
    "error",
    "oomkilled",
    "createcontainerconfigerror",
    "createcontainererror",
    "imagepullbackoff",
    "errimagepull",
    "evicted",
    "failed",
    "invalidimagename",
    "runcontainererror",
];

/// The calls the data asks for next.
pub(crate) fn next_calls(t: &Transcript) -> Vec<Wanted> {
    let q = &t.question;
    let namespace = q
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let events_since = duration_arg(
        q.window_or(Duration::from_secs(3600))
            .max(Duration::from_secs(2 * 3600)),
    );
    let mut wanted = vec![
        Wanted::new("get_pod_status", json!({ "namespace": namespace })),
        Wanted::new("get_deployment_status", json!({ "namespace": namespace })),
        Wanted::new("get_cluster_events", json!({ "since": events_since })),
        Wanted::new("get_node_status", json!({})),
    ];
    // Cluster services (DNS, networking) fail every workload at once: their namespace is always checked.
    if namespace != SYSTEM_NAMESPACE {
        wanted.push(Wanted::new(
            "get_pod_status",
            json!({ "namespace": SYSTEM_NAMESPACE }),
        ));
        wanted.push(Wanted::new(
            "get_deployment_status",
            json!({ "namespace": SYSTEM_NAMESPACE }),
        ));
    }
    // Production (or the namespace the question names) first; when it holds nothing, look everywhere: the
    // word "production" names an environment as often as a namespace.
    let first_empty = t
        .outputs("get_pod_status")
        .find(|(args, _)| str_of(args, "namespace") == Some(namespace.as_str()))
        .is_some_and(|(_, o)| list(o, "pods").is_empty());
    if first_empty {
        wanted.push(Wanted::new("get_pod_status", json!({})));
        wanted.push(Wanted::new("get_deployment_status", json!({})));
    }
    // A node short of memory: which pods, in any namespace, hold it.
    let memory_pressure = t.output("get_node_status").is_some_and(|o| {
        list(o, "nodes")
            .iter()
            .any(|n| condition_true(n, "MemoryPressure"))
    });
    if memory_pressure {
        wanted.push(Wanted::new(
            "get_resource_usage",
            json!({ "resource_type": "memory" }),
        ));
    }
    let pods = pods(t);
    let oom = pods.iter().any(mentions_oom);
    if q.has(Symptom::Memory) || oom {
        wanted.push(Wanted::new(
            "get_resource_usage",
            json!({ "namespace": namespace, "resource_type": "memory" }),
        ));
    }
    if q.has(Symptom::Cpu) {
        wanted.push(Wanted::new(
            "get_resource_usage",
            json!({ "namespace": namespace, "resource_type": "cpu" }),
        ));
    }
    if q.has(Symptom::Health) && t.output("get_pod_status").is_some() {
        wanted.push(Wanted::new(
            "get_resource_usage",
            json!({ "namespace": namespace }),
        ));
    }
    wanted
}

/// Findings from everything fetched.
pub(crate) fn conclude(t: &Transcript) -> AgentAnswer {
    let namespace = t.question.namespace.clone();
    let pods = pods(t);
    let deployments = deployments(t);
    let mut namespaces: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| str_of(p, "namespace").map(str::to_owned))
        .collect();
    namespaces.insert(
        namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
    );
    let events = events(t, &namespaces);
    let nodes = t
        .output("get_node_status")
        .map(|o| list(o, "nodes").to_vec())
        .unwrap_or_default();
    if pods.is_empty() && deployments.is_empty() && nodes.is_empty() {
        return t.no_data("Kubernetes", "no pods, deployments or nodes");
    }

    let mut findings = Vec::new();
    let bad_nodes = node_findings(&nodes, &events, &pods, &mut findings);
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut failing_pods = Vec::new();
    for pod in &pods {
        if let Some(finding) = pod_finding(pod, &deployments, &events, &bad_nodes, &mut findings) {
            covered.insert(finding.subject.name.clone());
            failing_pods.push(finding.subject.name.clone());
            findings.push(finding);
        }
    }
    let mut unavailable = Vec::new();
    for d in &deployments {
        if let Some(finding) = deployment_finding(d) {
            covered.insert(finding.subject.name.clone());
            unavailable.push(finding.subject.name.clone());
            findings.push(finding);
        }
        if let Some(finding) = rollout_finding(d, t.question.window_or(Duration::from_secs(3600))) {
            findings.push(finding);
        }
    }
    covered.extend(bad_nodes.iter().cloned());
    findings.extend(uncovered_event_findings(&events, &covered, &pods));
    let all_events: Vec<Value> = t
        .outputs("get_cluster_events")
        .flat_map(|(_, o)| list(o, "events").iter().cloned())
        .collect();
    findings.extend(config_change_findings(
        &all_events,
        t.question
            .window_or(Duration::from_secs(3600))
            .max(Duration::from_secs(3 * 3600)),
    ));
    findings.extend(usage_findings(t));
    let healthy = healthy_finding(&pods, &deployments, &failing_pods, namespace.as_deref());
    findings.extend(healthy);

    let everywhere = t
        .outputs("get_pod_status")
        .any(|(args, _)| args.get("namespace").is_none());
    let ns_text = if everywhere {
        "all namespaces".to_owned()
    } else {
        namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let mut summary = format!(
        "Checked {} pods, {} deployments, {} events and {} nodes ({}).",
        pods.len(),
        deployments.len(),
        events.len(),
        nodes.len(),
        ns_text
    );
    if failing_pods.is_empty() && unavailable.is_empty() && bad_nodes.is_empty() {
        summary.push_str(" No failing workloads found.");
    } else {
        if !failing_pods.is_empty() {
            summary.push_str(&format!(" Failing pods: {}.", failing_pods.join(", ")));
        }
        if !unavailable.is_empty() {
            summary.push_str(&format!(
                " Deployments short of replicas: {}.",
                unavailable.join(", ")
            ));
        }
        if !bad_nodes.is_empty() {
            summary.push_str(&format!(
                " Unhealthy nodes: {}.",
                bad_nodes.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    AgentAnswer { summary, findings }
}

/// Pods from every `get_pod_status` answer, first occurrence of each name.
fn pods(t: &Transcript) -> Vec<Value> {
    unique_by_name(
        t.outputs("get_pod_status")
            .flat_map(|(_, o)| list(o, "pods").iter().cloned()),
    )
}

fn deployments(t: &Transcript) -> Vec<Value> {
    unique_by_name(
        t.outputs("get_deployment_status")
            .flat_map(|(_, o)| list(o, "deployments").iter().cloned()),
    )
}

/// Events of the namespaces in question (and cluster-scoped ones), newest first as returned.
fn events(t: &Transcript, namespaces: &BTreeSet<String>) -> Vec<Value> {
    t.outputs("get_cluster_events")
        .flat_map(|(_, o)| list(o, "events").iter().cloned())
        .filter(|e| match str_of(e, "namespace") {
            Some(ns) if !ns.is_empty() => namespaces.contains(ns),
            _ => true,
        })
        .collect()
}

fn unique_by_name(items: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    items
        .filter(|v| str_of(v, "name").is_some_and(|n| seen.insert(n.to_owned())))
        .collect()
}

fn condition_true(node: &Value, condition: &str) -> bool {
    node.get("conditions")
        .and_then(|c| str_of(c, condition))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn is_warning(event: &Value) -> bool {
    str_of(event, "type").is_some_and(|t| !t.eq_ignore_ascii_case("normal"))
}

fn about<'a>(events: &'a [Value], kind: &str, name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| {
            e.get("object").is_some_and(|o| {
                str_of(o, "name") == Some(name)
                    && str_of(o, "kind").is_some_and(|k| k.eq_ignore_ascii_case(kind))
            })
        })
        .collect()
}

fn event_line(event: &Value) -> String {
    let count = int(event, "count").unwrap_or(1);
    let times = if count > 1 {
        format!(" ×{count}")
    } else {
        String::new()
    };
    format!(
        "{}{}: {}",
        str_of(event, "reason").unwrap_or("Event"),
        times,
        str_of(event, "message").unwrap_or_default()
    )
}

fn mentions_oom(pod: &Value) -> bool {
    let status = str_of(pod, "status").unwrap_or_default().to_lowercase();
    status.contains("oom")
        || list(pod, "containers").iter().any(|c| {
            c.get("last_termination")
                .and_then(|lt| str_of(lt, "reason"))
                .is_some_and(|r| r.to_lowercase().contains("oom"))
        })
}

fn node_findings(
    nodes: &[Value],
    events: &[Value],
    pods: &[Value],
    findings: &mut Vec<Finding>,
) -> BTreeSet<String> {
    let mut bad = BTreeSet::new();
    for node in nodes {
        let Some(name) = str_of(node, "name") else {
            continue;
        };
        let conditions = node.get("conditions").cloned().unwrap_or(Value::Null);
        let cond = |k: &str| str_of(&conditions, k).unwrap_or("Unknown");
        let mut problems: Vec<String> = Vec::new();
        let ready = flag(node, "ready").unwrap_or_else(|| cond("Ready") == "True");
        if !ready {
            problems.push("NotReady".to_owned());
        }
        if let Some(map) = conditions.as_object() {
            for (k, v) in map {
                if k != "Ready" && v.as_str() == Some("True") {
                    problems.push(k.clone());
                }
            }
        }
        let usage = format!(
            "cpu {}%, memory {}%",
            fmt_num(num(node, "cpu_pct").unwrap_or_default()),
            fmt_num(num(node, "memory_pct").unwrap_or_default())
        );
        let node_events: Vec<&Value> = about(events, "Node", name)
            .into_iter()
            .filter(|e| is_warning(e))
            .collect();
        if !problems.is_empty() {
            bad.insert(name.to_owned());
            let mut evidence = vec![Evidence {
                tool: "get_node_status".into(),
                detail: format!("{name}: {} ({usage})", problems.join(", ")),
            }];
            evidence.extend(node_events.iter().take(2).map(|e| Evidence {
                tool: "get_cluster_events".into(),
                detail: event_line(e),
            }));
            // The workloads scheduled on the node: one of them may be what is filling it.
            let mut hosted: Vec<Relation> = Vec::new();
            for pod in pods.iter().filter(|p| str_of(p, "node") == Some(name)) {
                let entity = match (
                    str_of(pod, "app"),
                    str_of(pod, "owner"),
                    str_of(pod, "name"),
                ) {
                    (Some(app), _, _) => EntityRef::new(EntityKind::Service, app),
                    (None, Some(owner), _) => EntityRef::new(EntityKind::Deployment, owner),
                    (None, None, Some(pod)) => EntityRef::new(EntityKind::Pod, pod),
                    _ => continue,
                };
                let relation = Relation {
                    relation: RelationKind::Hosts,
                    entity,
                };
                if !hosted.contains(&relation) {
                    hosted.push(relation);
                }
            }
            findings.push(Finding {
                kind: FindingKind::NodeUnhealthy,
                // Pressure is limited trouble (the kubelet sheds load); a node that stopped answering is not.
                severity: if ready {
                    Severity::Medium
                } else {
                    Severity::High
                },
                summary: format!("Node {name} reports {} ({usage}).", problems.join(", ")),
                subject: EntityRef::new(EntityKind::Node, name),
                related: hosted,
                onset: node_events
                    .iter()
                    .filter_map(|e| time(e, "timestamp"))
                    .min(),
                evidence,
                actions: Vec::new(),
            });
        } else {
            let hot: Vec<String> = [("cpu", "cpu_pct"), ("memory", "memory_pct")]
                .iter()
                .filter_map(|(label, key)| {
                    num(node, key)
                        .filter(|v| *v >= 90.0)
                        .map(|v| format!("{label} {}%", fmt_num(v)))
                })
                .collect();
            if !hot.is_empty() {
                findings.push(Finding {
                    kind: FindingKind::ResourceSaturation,
                    severity: Severity::Medium,
                    summary: format!("Node {name} is running hot: {}.", hot.join(", ")),
                    subject: EntityRef::new(EntityKind::Node, name),
                    related: Vec::new(),
                    onset: None,
                    evidence: vec![Evidence {
                        tool: "get_node_status".into(),
                        detail: format!("{name}: {usage}"),
                    }],
                    actions: Vec::new(),
                });
            }
        }
    }
    bad
}

fn pod_finding(
    pod: &Value,
    deployments: &[Value],
    events: &[Value],
    bad_nodes: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> Option<Finding> {
    let name = str_of(pod, "name")?;
    let status = str_of(pod, "status").unwrap_or("Unknown");
    let phase = str_of(pod, "phase").unwrap_or("Unknown");
    let ready = flag(pod, "ready").unwrap_or(true);
    let restarts = int(pod, "restarts").unwrap_or(0);
    let status_lower = status.to_lowercase();
    let failing_state = FAILING_STATES.contains(&status_lower.as_str());
    let pending = status_lower == "pending" || phase.eq_ignore_ascii_case("pending");
    let finished = ["completed", "succeeded"].contains(&status_lower.as_str());
    let restarting = restarts >= 3;
    let not_ready = !ready && !finished;
    if !(failing_state || pending || not_ready || restarting) {
        return None;
    }
    let namespace = str_of(pod, "namespace").unwrap_or_default();
    let owner = str_of(pod, "owner");
    let app = str_of(pod, "app");
    let node = str_of(pod, "node");

    let pod_events: Vec<&Value> = about(events, "Pod", name)
        .into_iter()
        .filter(|e| is_warning(e))
        .collect();
    let terminations: Vec<&Value> = list(pod, "containers")
        .iter()
        .filter_map(|c| c.get("last_termination"))
        .collect();
    let mut texts: Vec<String> = terminations
        .iter()
        .map(|lt| {
            format!(
                "{} {}",
                str_of(lt, "reason").unwrap_or_default(),
                str_of(lt, "message").unwrap_or_default()
            )
        })
        .collect();
    texts.extend(pod_events.iter().map(|e| event_line(e)));
    let all_text = texts.join("\n");

    let owner_deployment =
        owner.and_then(|o| deployments.iter().find(|d| str_of(d, "name") == Some(o)));
    let owner_available = owner_deployment.and_then(|d| int(d, "available_replicas"));
    // The owner still serves every replica: the failure was contained (an evicted pod was replaced).
    let contained = owner_deployment.is_some_and(|d| {
        let replicas = int(d, "replicas").unwrap_or(0);
        replicas > 0 && owner_available.unwrap_or(0) >= replicas
    });
    let oom_loop = mentions_oom(pod) && restarts >= 3;
    // On the documented scale: a component down is critical, an OOM-kill loop high, a workload short of
    // replicas medium, a contained failure minor.
    let severity = if (failing_state || pending || restarting) && owner_available == Some(0) {
        Severity::Critical
    } else if oom_loop {
        Severity::High
    } else if contained {
        Severity::Low
    } else if failing_state || pending || restarting || not_ready {
        Severity::Medium
    } else {
        Severity::Low
    };

    let mut summary = format!("Pod {name} ({namespace}) is {status}");
    summary.push_str(&format!(", {} restarts", restarts));
    if !ready {
        summary.push_str(", not ready");
    }
    if let Some(lt) = terminations.first() {
        let reason = str_of(lt, "reason").unwrap_or("terminated");
        let code = int(lt, "exit_code")
            .map(|c| format!(" (exit code {c})"))
            .unwrap_or_default();
        summary.push_str(&format!("; last termination: {reason}{code}"));
        if let Some(msg) = str_of(lt, "message").filter(|m| !m.is_empty()) {
            summary.push_str(&format!(": \"{}\"", clip(msg, 160)));
        }
    }
    let hints = cause_hints(&all_text);
    if !hints.is_empty() {
        summary.push_str(&format!(". Points to {}", hints.join(" and ")));
    }
    summary.push('.');

    let mut related = Vec::new();
    if let Some(owner) = owner {
        related.push(Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Deployment, owner),
        });
    }
    if let Some(app) = app {
        related.push(Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Service, app),
        });
    }
    if let Some(node) = node.filter(|n| bad_nodes.contains(*n)) {
        related.push(Relation {
            relation: RelationKind::RunsOn,
            entity: EntityRef::new(EntityKind::Node, node),
        });
    }
    let causes = missing_objects(&all_text);
    for cause in &causes {
        related.push(Relation {
            relation: RelationKind::CausedBy,
            entity: cause.clone(),
        });
    }
    // An image that cannot be pulled is the cause, named as the kubelet wrote it.
    let pull_failure =
        ["imagepullbackoff", "errimagepull", "invalidimagename"].contains(&status_lower.as_str());
    let image = texts.iter().find_map(|t| pulled_image(t)).or_else(|| {
        pull_failure
            .then(|| {
                list(pod, "containers")
                    .iter()
                    .find_map(|c| str_of(c, "image").map(str::to_owned))
            })
            .flatten()
    });
    if let Some(image) = image {
        related.push(Relation {
            relation: RelationKind::CausedBy,
            entity: EntityRef::new(EntityKind::Image, image.as_str()),
        });
    }

    let mut evidence = vec![Evidence {
        tool: "get_pod_status".into(),
        detail: format!(
            "{name}: status={status}, phase={phase}, ready={ready}, restarts={restarts}"
        ),
    }];
    evidence.extend(pod_events.iter().take(3).map(|e| Evidence {
        tool: "get_cluster_events".into(),
        detail: event_line(e),
    }));
    let onset = pod_events
        .iter()
        .filter_map(|e| time(e, "timestamp"))
        .min()
        .or_else(|| (restarts > 0).then(|| time(pod, "started_at")).flatten());

    for cause in causes {
        let source: Vec<&&Value> = pod_events
            .iter()
            .filter(|e| str_of(e, "message").is_some_and(|m| m.contains(&cause.name)))
            .collect();
        let mut cause_evidence: Vec<Evidence> = source
            .iter()
            .take(2)
            .map(|e| Evidence {
                tool: "get_cluster_events".into(),
                detail: event_line(e),
            })
            .collect();
        if cause_evidence.is_empty() {
            cause_evidence.push(Evidence {
                tool: "get_pod_status".into(),
                detail: clip(&all_text, 200),
            });
        }
        let kind_label = match cause.kind {
            EntityKind::ConfigMap => "ConfigMap",
            EntityKind::Secret => "Secret",
            EntityKind::Volume => "Volume claim",
            _ => "Object",
        };
        if findings.iter().any(|f| f.subject == cause) {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::ConfigError,
            severity,
            summary: format!(
                "{kind_label} {} that pod {name} needs does not exist.",
                cause.name
            ),
            subject: cause,
            related: vec![Relation {
                relation: RelationKind::PartOf,
                entity: EntityRef::new(EntityKind::Pod, name),
            }],
            onset,
            evidence: cause_evidence,
            actions: Vec::new(),
        });
    }

    let ns_flag = if namespace.is_empty() {
        String::new()
    } else {
        format!(" -n {namespace}")
    };
    let mut actions = vec![format!(
        "Read why pod {name} fails: kubectl describe pod {name}{ns_flag}; kubectl logs {name}{ns_flag} --previous --tail=100"
    )];
    if let Some(owner) = owner {
        actions.push(format!(
            "After the fix, restart it: kubectl rollout restart deployment/{owner}{ns_flag}"
        ));
    }
    Some(Finding {
        kind: FindingKind::PodFailure,
        severity,
        summary,
        subject: EntityRef::new(EntityKind::Pod, name),
        related,
        onset,
        evidence,
        actions,
    })
}

fn deployment_finding(d: &Value) -> Option<Finding> {
    let name = str_of(d, "name")?;
    let replicas = int(d, "replicas").unwrap_or(0);
    let available = int(d, "available_replicas").unwrap_or(replicas);
    if replicas == 0 || available >= replicas {
        return None;
    }
    let severity = if available == 0 {
        Severity::Critical
    } else {
        Severity::Medium
    };
    let condition = list(d, "conditions")
        .iter()
        .find(|c| str_of(c, "status") == Some("False"))
        .map(|c| {
            format!(
                " ({}={}: {})",
                str_of(c, "type").unwrap_or_default(),
                str_of(c, "status").unwrap_or_default(),
                str_of(c, "reason").unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let mut related = Vec::new();
    if let Some(app) = str_of(d, "app") {
        related.push(Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Service, app),
        });
    }
    Some(Finding {
        kind: FindingKind::DeploymentUnavailable,
        severity,
        summary: format!(
            "Deployment {name} has {available}/{replicas} replicas available{condition}."
        ),
        subject: EntityRef::new(EntityKind::Deployment, name),
        related,
        onset: None,
        evidence: vec![Evidence {
            tool: "get_deployment_status".into(),
            detail: format!(
                "{name}: replicas={replicas}, ready={}, available={available}, image={}",
                int(d, "ready_replicas").unwrap_or_default(),
                str_of(d, "image").unwrap_or("unknown")
            ),
        }],
        actions: Vec::new(),
    })
}

/// A rollout within the look-back period that changed the image (or configuration revision).
fn rollout_finding(d: &Value, window: Duration) -> Option<Finding> {
    let name = str_of(d, "name")?;
    let updated = time(d, "updated_at")?;
    let lookback = chrono::Duration::from_std(window.max(Duration::from_secs(3 * 3600))).ok()?;
    if Utc::now().signed_duration_since(updated) > lookback {
        return None;
    }
    let image = str_of(d, "image").unwrap_or("unknown");
    let revision = int(d, "revision");
    let previous = list(d, "history")
        .iter()
        .filter(|h| {
            int(h, "revision")
                .zip(revision)
                .is_some_and(|(r, cur)| r < cur)
        })
        .max_by_key(|h| int(h, "revision"));
    let Some(previous) = previous else {
        // No earlier revision: the deployment itself is new.
        return (revision == Some(1)).then(|| created_finding(d, name, image, updated));
    };
    let previous_image = str_of(previous, "image").unwrap_or("unknown");
    let changed = if previous_image == image {
        format!("image {image} unchanged")
    } else {
        format!("image {image}, was {previous_image}")
    };
    let revision_text = revision
        .map(|r| format!(" revision {r}"))
        .unwrap_or_default();
    let mut related = Vec::new();
    if previous_image != image {
        related.push(Relation {
            relation: RelationKind::ChangedBy,
            entity: EntityRef::new(EntityKind::Image, image),
        });
    }
    if let Some(app) = str_of(d, "app") {
        related.push(Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Service, app),
        });
    }
    Some(Finding {
        kind: FindingKind::RecentChange,
        severity: Severity::Medium,
        summary: format!(
            "Deployment {name} rolled out{revision_text} at {} ({changed}).",
            clock(updated)
        ),
        subject: EntityRef::new(EntityKind::Deployment, name),
        related,
        onset: Some(updated),
        evidence: vec![Evidence {
            tool: "get_deployment_status".into(),
            detail: format!(
                "{name}: updated_at={}, revision={}, image={image}; previous revision {} image={previous_image}",
                updated.to_rfc3339(),
                revision.map(|r| r.to_string()).unwrap_or_default(),
                int(previous, "revision")
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            ),
        }],
        actions: vec![format!(
            "If the rollout caused the regression: kubectl rollout undo deployment/{name}{}",
            int(previous, "revision")
                .map(|r| format!(" --to-revision={r}"))
                .unwrap_or_default()
        )],
    })
}

/// A deployment created within the look-back period: new code, new clients of shared services.
fn created_finding(d: &Value, name: &str, image: &str, created: chrono::DateTime<Utc>) -> Finding {
    let mut related = vec![Relation {
        relation: RelationKind::ChangedBy,
        entity: EntityRef::new(EntityKind::Image, image),
    }];
    if let Some(app) = str_of(d, "app") {
        related.push(Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Service, app),
        });
    }
    Finding {
        kind: FindingKind::RecentChange,
        severity: Severity::Medium,
        summary: format!(
            "Deployment {name} is new: first rolled out at {} (image {image}).",
            clock(created)
        ),
        subject: EntityRef::new(EntityKind::Deployment, name),
        related,
        onset: Some(created),
        evidence: vec![Evidence {
            tool: "get_deployment_status".into(),
            detail: format!(
                "{name}: updated_at={}, revision={}, image={image}, no earlier revision",
                created.to_rfc3339(),
                int(d, "revision")
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            ),
        }],
        actions: vec![format!(
            "If the new deployment causes the trouble: kubectl scale deployment/{name} --replicas=0"
        )],
    }
}

/// Repeated warnings about pods in the namespace that are not reported otherwise.
fn uncovered_event_findings(
    events: &[Value],
    covered: &BTreeSet<String>,
    pods: &[Value],
) -> Vec<Finding> {
    let pod_names: BTreeSet<&str> = pods.iter().filter_map(|p| str_of(p, "name")).collect();
    let mut findings: Vec<Finding> = Vec::new();
    for event in events.iter().filter(|e| is_warning(e)) {
        let Some(object) = event.get("object") else {
            continue;
        };
        let (Some(kind), Some(name)) = (str_of(object, "kind"), str_of(object, "name")) else {
            continue;
        };
        let count = int(event, "count").unwrap_or(1);
        if covered.contains(name) || count < 3 || findings.iter().any(|f| f.subject.name == name) {
            continue;
        }
        let entity_kind = EntityKind::from_k8s_kind(kind);
        if entity_kind == EntityKind::Pod && !pod_names.contains(name) {
            continue;
        }
        let autoscaler = kind.eq_ignore_ascii_case("HorizontalPodAutoscaler");
        let at_limit = autoscaler && {
            let text = format!(
                "{} {}",
                str_of(event, "reason").unwrap_or_default(),
                str_of(event, "message").unwrap_or_default()
            )
            .to_lowercase();
            text.contains("scalinglimited")
                || text.contains("maxreplicas")
                || text.contains("max replicas")
        };
        if at_limit {
            findings.push(autoscaler_finding(name, event));
            continue;
        }
        let finding_kind = match entity_kind {
            EntityKind::Node => FindingKind::NodeUnhealthy,
            EntityKind::ConfigMap | EntityKind::Secret => FindingKind::ConfigError,
            EntityKind::Deployment => FindingKind::DeploymentUnavailable,
            EntityKind::Pod => FindingKind::PodFailure,
            // Jobs, leases, autoscalers short of metrics: not a workload failure.
            _ => continue,
        };
        let pod = pods.iter().find(|p| str_of(p, "name") == Some(name));
        // Warnings about a pod that is running and ready now (a probe that failed while it started) are
        // history, not an ongoing failure.
        let recovered = pod.is_some_and(|p| {
            flag(p, "ready").unwrap_or(false)
                && str_of(p, "status").is_some_and(|s| s.eq_ignore_ascii_case("running"))
        });
        let mut related = Vec::new();
        if let Some(app) = pod.and_then(|p| str_of(p, "app")) {
            related.push(Relation {
                relation: RelationKind::PartOf,
                entity: EntityRef::new(EntityKind::Service, app),
            });
        }
        // A pod the status check did not find failing (running and ready, or already replaced) had
        // trouble that is over: history, not a failure.
        let history = recovered || entity_kind == EntityKind::Pod;
        findings.push(Finding {
            kind: finding_kind,
            severity: if history {
                Severity::Low
            } else {
                Severity::Medium
            },
            summary: format!("{kind} {name}: {}.", event_line(event)),
            subject: EntityRef::new(entity_kind, name),
            related,
            onset: time(event, "timestamp"),
            evidence: vec![Evidence {
                tool: "get_cluster_events".into(),
                detail: event_line(event),
            }],
            actions: Vec::new(),
        });
    }
    findings
}

/// An autoscaler that wants more replicas than it may have: the workload is out of capacity.
fn autoscaler_finding(name: &str, event: &Value) -> Finding {
    Finding {
        kind: FindingKind::ResourceSaturation,
        severity: Severity::Medium,
        summary: format!(
            "HorizontalPodAutoscaler {name} is at its replica limit: {}.",
            event_line(event)
        ),
        subject: EntityRef::new(EntityKind::Deployment, name),
        related: vec![Relation {
            relation: RelationKind::PartOf,
            entity: EntityRef::new(EntityKind::Service, name),
        }],
        onset: time(event, "timestamp"),
        evidence: vec![Evidence {
            tool: "get_cluster_events".into(),
            detail: event_line(event),
        }],
        actions: vec![format!(
            "Raise maxReplicas of HorizontalPodAutoscaler {name} (and check the cluster has room for them), or shed load."
        )],
    }
}

/// Changes made through configuration objects, as events report them (GitOps controllers, Helm):
/// `ConfigMap/kube-system/coredns configured`, `Helm upgrade succeeded for release shop/web`.
fn config_change_findings(events: &[Value], lookback: Duration) -> Vec<Finding> {
    static CHANGED_OBJECT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\b(configmap|secret|deployment|statefulset|daemonset|helmrelease)/(?:[a-z0-9-]+/)?([a-z0-9][a-z0-9.-]*[a-z0-9])\s+(configured|created|updated|changed)",
        )
        .expect("constant regex")
    });
    let since = Utc::now() - chrono::Duration::from_std(lookback).unwrap_or_default();
    let mut findings: Vec<Finding> = Vec::new();
    for event in events {
        let Some(at) = time(event, "timestamp").filter(|at| *at >= since) else {
            continue;
        };
        let message = str_of(event, "message").unwrap_or_default();
        let reason = str_of(event, "reason").unwrap_or_default();
        let object = event.get("object");
        let (kind, name) = if let Some(c) = CHANGED_OBJECT.captures(message) {
            (c[1].to_owned(), c[2].to_owned())
        } else if ["upgradesucceeded", "installsucceeded"].contains(&reason.to_lowercase().as_str())
        {
            match object.and_then(|o| Some((str_of(o, "kind")?, str_of(o, "name")?))) {
                Some((kind, name)) => (kind.to_owned(), name.to_owned()),
                None => continue,
            }
        } else {
            continue;
        };
        if findings.iter().any(|f| f.subject.name == name) {
            continue;
        }
        let entity_kind = EntityKind::from_k8s_kind(&kind);
        findings.push(Finding {
            kind: FindingKind::RecentChange,
            severity: Severity::Medium,
            summary: format!("{kind} {name} was changed at {}: {}.", clock(at), event_line(event)),
            subject: EntityRef::new(entity_kind, name.as_str()),
            related: vec![Relation {
                relation: RelationKind::PartOf,
                entity: EntityRef::new(EntityKind::Service, component(&name).as_str()),
            }],
            onset: Some(at),
            evidence: vec![Evidence {
                tool: "get_cluster_events".into(),
                detail: event_line(event),
            }],
            actions: vec![format!(
                "If this change caused the trouble, revert {kind} {name} in its source of truth (Git, Helm values) and let it sync."
            )],
        });
    }
    findings
}

fn usage_findings(t: &Transcript) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    // Memory capacity per node, for pods that have no limit to compare with.
    let capacity: std::collections::BTreeMap<String, f64> = t
        .output("get_node_status")
        .map(|o| {
            list(o, "nodes")
                .iter()
                .filter_map(|n| {
                    let memory = n.get("capacity").and_then(|c| num(c, "memory_mib"))?;
                    Some((str_of(n, "name")?.to_owned(), memory))
                })
                .collect()
        })
        .unwrap_or_default();
    for (_, output) in t.outputs("get_resource_usage") {
        for pod in list(output, "pods") {
            let Some(name) = str_of(pod, "name") else {
                continue;
            };
            if findings.iter().any(|f| f.subject.name == name) {
                continue;
            }
            let memory = num(pod, "memory_pct_of_limit");
            let cpu = num(pod, "cpu_pct_of_limit");
            // No memory limit: what matters is its share of the node.
            if memory.is_none()
                && let (Some(used), Some(node)) = (num(pod, "memory_mib"), str_of(pod, "node"))
                && let Some(total) = capacity.get(node).filter(|c| **c > 0.0)
                && used / total >= 0.25
            {
                let mut related = vec![Relation {
                    relation: RelationKind::RunsOn,
                    entity: EntityRef::new(EntityKind::Node, node),
                }];
                if let Some(app) = str_of(pod, "app") {
                    related.push(Relation {
                        relation: RelationKind::PartOf,
                        entity: EntityRef::new(EntityKind::Service, app),
                    });
                }
                let share = used / total * 100.0;
                findings.push(Finding {
                    kind: FindingKind::ResourceSaturation,
                    severity: if share >= 50.0 {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    summary: format!(
                        "Pod {name} uses {}MiB of memory with no limit, {}% of node {node}.",
                        fmt_num(used),
                        fmt_num(share)
                    ),
                    subject: EntityRef::new(EntityKind::Pod, name),
                    related,
                    onset: None,
                    evidence: vec![Evidence {
                        tool: "get_resource_usage".into(),
                        detail: format!(
                            "{name}: memory {}MiB, no limit; node {node} capacity {}MiB",
                            fmt_num(used),
                            fmt_num(*total)
                        ),
                    }],
                    actions: vec![format!(
                        "Give pod {name} a memory limit (or move it to a node of its own)."
                    )],
                });
                continue;
            }
            let (label, pct, used, limit, unit) = match (memory, cpu) {
                (Some(m), _) if m >= 90.0 => (
                    "memory",
                    m,
                    num(pod, "memory_mib"),
                    num(pod, "memory_limit_mib"),
                    "MiB",
                ),
                (_, Some(c)) if c >= 90.0 => (
                    "CPU",
                    c,
                    num(pod, "cpu_millicores"),
                    num(pod, "cpu_limit_millicores"),
                    "m",
                ),
                _ => continue,
            };
            let amounts = match (used, limit) {
                (Some(u), Some(l)) => format!("{}{unit} of {}{unit}", fmt_num(u), fmt_num(l)),
                _ => String::new(),
            };
            let mut related = Vec::new();
            if let Some(app) = str_of(pod, "app") {
                related.push(Relation {
                    relation: RelationKind::PartOf,
                    entity: EntityRef::new(EntityKind::Service, app),
                });
            }
            findings.push(Finding {
                kind: FindingKind::ResourceSaturation,
                severity: if pct >= 95.0 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                summary: format!(
                    "Pod {name} uses {}% of its {label} limit {amounts}.",
                    fmt_num(pct)
                )
                .replace(" .", "."),
                subject: EntityRef::new(EntityKind::Pod, name),
                related,
                onset: None,
                evidence: vec![Evidence {
                    tool: "get_resource_usage".into(),
                    detail: format!("{name}: {label} {}% of limit", fmt_num(pct)),
                }],
                actions: Vec::new(),
            });
        }
    }
    findings
}

fn healthy_finding(
    pods: &[Value],
    deployments: &[Value],
    failing: &[String],
    namespace: Option<&str>,
) -> Option<Finding> {
    let healthy: Vec<&str> = deployments
        .iter()
        .filter(|d| {
            let replicas = int(d, "replicas").unwrap_or(0);
            replicas > 0 && int(d, "available_replicas").unwrap_or(0) >= replicas
        })
        .filter_map(|d| str_of(d, "name"))
        .collect();
    let running = pods.len().saturating_sub(failing.len());
    let first = *healthy.first()?;
    // The namespaces the deployments really are in (the question's may hold none of them).
    let mut namespaces: Vec<&str> = deployments
        .iter()
        .filter_map(|d| str_of(d, "namespace"))
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let ns = if namespaces.is_empty() {
        namespace.unwrap_or(DEFAULT_NAMESPACE).to_owned()
    } else {
        namespaces.join(", ")
    };
    Some(Finding {
        kind: FindingKind::Healthy,
        severity: Severity::Info,
        summary: format!(
            "Fully available in {ns}: {} ({running} of {} pods running and ready).",
            healthy.join(", "),
            pods.len()
        ),
        subject: EntityRef::new(EntityKind::Deployment, first),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: "get_deployment_status".into(),
            detail: format!("{} deployments with all replicas available", healthy.len()),
        }],
        actions: Vec::new(),
    })
}

fn clip(text: &str, max: usize) -> String {
    sre_telemetry::redact::truncate_chars(text.trim(), max)
}
