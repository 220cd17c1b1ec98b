//! Root-cause analysis over all specialists' findings.
//!
//! Findings are grouped into components by Kubernetes naming (a pod, its deployment, its `app` label and
//! the service names in logs and metrics share one component). Dependencies come from the data: services
//! whose errors name another component depend on it, and pods on an unhealthy node depend on that node.
//! The root cause is the anomalous component none of whose dependencies is anomalous, preferring the one
//! with the most dependents, infrastructure-level failures and the earliest onset. Everything it names is
//! taken from the findings.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::entity::{DNS_HINT, component, is_dns_server};
use crate::finding::{
    AgentResult, Assessment, EntityKind, EntityRef, Finding, FindingKind, RelationKind, Severity,
    SummaryInput,
};
use crate::model::ModelError;

/// The assessment of one investigation.
pub(crate) fn assess(input: SummaryInput) -> Result<Assessment, ModelError> {
    let graph = Graph::build(&input.reports);
    let gaps = gaps(&input.reports);
    let Some(first_root) = graph.root() else {
        return Ok(nothing_found(&input, &graph, &gaps));
    };
    // A shared service that ran out of capacity with no change of its own, while one client is new or just
    // changed: that client is the cause and the service its first victim.
    let exhausted = graph
        .exhausting_client(&first_root)
        .map(|client| (first_root.clone(), client));
    let root = exhausted
        .as_ref()
        .map_or(first_root, |(_, client)| client.clone());
    let root_c = &graph.components[&root];
    let culprits = graph.culprits(&root);
    let impacted: Vec<String> = graph
        .impacted(&root)
        .into_iter()
        .filter(|k| !culprits.contains(k))
        .collect();
    let change = root_c.correlated_change();

    let mut root_entities = root_entities(root_c, change);
    for key in &culprits {
        let name = graph.components[key].display();
        if !root_entities.contains(&name) {
            root_entities.push(name);
        }
    }
    let severity = overall_severity(&graph, &root, &impacted);
    let impacted_names: Vec<String> = impacted
        .iter()
        .map(|k| graph.components[k].display())
        .collect();

    let mut root_cause = match &exhausted {
        Some((service, _)) => {
            let service = &graph.components[service];
            format!(
                "{} is a new or changed client of {}, which has run out of capacity: {}",
                root_c.display(),
                service.display(),
                service.headline()
            )
        }
        None => root_c.headline(),
    };
    let victims = graph.pods_on_node(&root);
    if !victims.is_empty() {
        root_cause.push_str(&format!(" Pods failing on it: {}.", join_names(&victims)));
    }
    for config in root_c.of_kind(FindingKind::ConfigError) {
        root_cause.push(' ');
        root_cause.push_str(&config.summary);
    }
    // Load and capacity limits explain a saturation that no failure does.
    let headline = root_c.headline();
    for f in root_c
        .problems()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::TrafficAnomaly | FindingKind::ResourceSaturation
            ) && f.summary != headline
        })
        .take(2)
    {
        root_cause.push(' ');
        root_cause.push_str(&f.summary);
    }
    for key in &culprits {
        let culprit = &graph.components[key];
        let evidence: Vec<String> = culprit
            .problems()
            .filter(|f| f.kind == FindingKind::ResourceSaturation)
            .map(|f| strip_period(&f.summary))
            .collect();
        root_cause.push_str(&format!(
            " The node runs {}, which is using it up: {}.",
            culprit.display(),
            evidence.join("; ")
        ));
    }
    if let Some(change) = change {
        root_cause.push_str(&format!(" It began after this change: {}", change.summary));
    }
    if !impacted_names.is_empty() {
        let evidence = graph.dependency_evidence(&impacted, &root);
        root_cause.push_str(&format!(
            " This cascades to {}{evidence}.",
            join_names(&impacted_names)
        ));
    }

    let mut summary = format!(
        "{} incident: {}.",
        severity.as_str().to_uppercase(),
        root_c.short()
    );
    if !impacted.is_empty() {
        let effects: Vec<String> = impacted
            .iter()
            .filter_map(|k| graph.components[k].worst_effect())
            .collect();
        summary.push_str(&format!(" Impacted: {}.", effects.join("; ")));
    }
    if let Some(healthy) = graph.healthy_names().filter(|h| !h.is_empty()) {
        summary.push_str(&format!(" Unaffected: {}.", join_names(&healthy)));
    }
    if !gaps.is_empty() {
        summary.push_str(&format!(" Not checked: {}.", gaps.join("; ")));
    }

    let next_steps = next_steps(&input.reports, root_c, change, &impacted_names, severity);
    let confidence = match (root_c.has_infra(), graph.dependents(&root).is_empty()) {
        (true, false) => 0.9,
        (true, true) | (false, false) => 0.7,
        (false, true) => 0.5,
    };
    Ok(Assessment {
        root_cause,
        root_cause_entities: root_entities,
        impacted_services: impacted_names,
        severity,
        summary,
        next_steps,
        confidence,
    })
}

/// One component and what was found about it.
#[derive(Debug, Default)]
struct Component<'a> {
    key: String,
    findings: Vec<&'a Finding>,
    /// Keys of components this one depends on.
    deps: BTreeSet<String>,
    /// Names of dependencies as the data wrote them, for the explanation.
    dep_names: BTreeSet<String>,
    /// Keys of components this one hosts (the workloads on a node).
    hosted: BTreeSet<String>,
}

impl<'a> Component<'a> {
    fn problems(&self) -> impl Iterator<Item = &&'a Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind.is_problem() && f.kind != FindingKind::RecentChange)
    }

    fn is_anomalous(&self) -> bool {
        self.problems().any(|f| f.severity >= Severity::Medium)
    }

    fn changes(&self) -> impl Iterator<Item = &&'a Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind == FindingKind::RecentChange)
    }

    fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &&'a Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }

    fn severity(&self) -> Severity {
        self.problems()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    fn onset(&self) -> Option<DateTime<Utc>> {
        self.problems().filter_map(|f| f.onset).min()
    }

    fn has_infra(&self) -> bool {
        self.problems().any(|f| is_infra(f.kind))
    }

    fn infra_kinds(&self) -> usize {
        self.problems()
            .filter(|f| is_infra(f.kind))
            .map(|f| f.kind)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// A recent change that precedes the anomaly by at most two hours (or any change when the onset is
    /// unknown): a rollout long before the trouble began did not start it.
    fn correlated_change(&self) -> Option<&'a Finding> {
        let onset = self.onset();
        self.changes()
            .filter(|c| match (c.onset, onset) {
                (Some(change), Some(onset)) => {
                    change <= onset + chrono::Duration::minutes(10)
                        && change >= onset - chrono::Duration::hours(2)
                }
                _ => true,
            })
            .max_by_key(|c| c.onset)
            .copied()
    }

    /// The name people use for the component: a service name from logs or metrics, else a deployment, else
    /// the app label, else any subject.
    fn display(&self) -> String {
        let pick = |kind: EntityKind| {
            self.findings
                .iter()
                .map(|f| &f.subject)
                .find(|s| s.kind == kind)
                .map(|s| s.name.clone())
        };
        let app = || {
            self.findings
                .iter()
                .flat_map(|f| f.related.iter())
                .find(|r| {
                    r.relation == RelationKind::PartOf && r.entity.kind == EntityKind::Service
                })
                .map(|r| r.entity.name.clone())
        };
        pick(EntityKind::Service)
            .or_else(|| pick(EntityKind::Deployment))
            .or_else(app)
            .or_else(|| pick(EntityKind::Node))
            .or_else(|| self.findings.first().map(|f| f.subject.name.clone()))
            .unwrap_or_else(|| self.key.clone())
    }

    fn display_long(&self) -> String {
        if self.key.starts_with("node:") {
            format!("Node {}", self.display())
        } else {
            self.display()
        }
    }

    /// The most telling problem: the most severe infrastructure failure, pods (which carry the reason)
    /// before nodes and deployments, then the rest by severity.
    fn headline(&self) -> String {
        let rank = |kind: FindingKind| match kind {
            FindingKind::PodFailure => 4,
            FindingKind::NodeUnhealthy => 3,
            FindingKind::DeploymentUnavailable => 2,
            FindingKind::ConfigError => 1,
            _ => 0,
        };
        self.problems()
            .max_by_key(|f| {
                (
                    is_infra(f.kind) && f.severity >= Severity::Medium,
                    f.severity,
                    rank(f.kind),
                    std::cmp::Reverse(f.onset),
                )
            })
            .map(|f| f.summary.clone())
            .unwrap_or_default()
    }

    fn short(&self) -> String {
        let kinds: BTreeSet<&str> = self.problems().map(|f| kind_phrase(f.kind)).collect();
        format!(
            "{} — {}",
            self.display_long(),
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        )
    }

    /// The clearest symptom, one clause long: measured effects (metrics) before log volume before the rest.
    fn worst_effect(&self) -> Option<String> {
        let measured = |kind: FindingKind| {
            matches!(
                kind,
                FindingKind::ErrorRateAnomaly
                    | FindingKind::AvailabilityDrop
                    | FindingKind::LatencyAnomaly
                    | FindingKind::ResourceSaturation
                    | FindingKind::TrafficAnomaly
            )
        };
        // Ongoing before recovered: a spike that is over says less about the state now.
        let ongoing = |f: &Finding| !f.summary.contains(" and recovered to ");
        let worst = self.problems().max_by_key(|f| {
            (
                f.severity,
                ongoing(f),
                measured(f.kind),
                f.kind == FindingKind::ErrorSpike,
            )
        })?;
        Some(first_clause(&worst.summary))
    }
}

fn is_infra(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::PodFailure
            | FindingKind::DeploymentUnavailable
            | FindingKind::NodeUnhealthy
            | FindingKind::ConfigError
    )
}

fn kind_phrase(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::PodFailure => "failing pods",
        FindingKind::DeploymentUnavailable => "unavailable replicas",
        FindingKind::NodeUnhealthy => "unhealthy node",
        FindingKind::ConfigError => "missing configuration",
        FindingKind::RecentChange => "a recent rollout",
        FindingKind::ErrorSpike | FindingKind::LogPattern => "errors in logs",
        FindingKind::LatencyAnomaly => "high latency",
        FindingKind::ErrorRateAnomaly => "high error rate",
        FindingKind::ResourceSaturation => "resource saturation",
        FindingKind::AvailabilityDrop => "low availability",
        FindingKind::TrafficAnomaly => "abnormal traffic",
        _ => "other signals",
    }
}

/// Components and their dependencies.
struct Graph<'a> {
    components: BTreeMap<String, Component<'a>>,
}

impl<'a> Graph<'a> {
    fn build(reports: &'a [AgentResult]) -> Self {
        let findings: Vec<&Finding> = reports.iter().flat_map(|r| r.findings.iter()).collect();
        // Objects (a ConfigMap, a Secret) belong to the component whose pods need them.
        let mut owners: BTreeMap<&str, String> = BTreeMap::new();
        for f in &findings {
            if let Some(key) = component_key(f, &BTreeMap::new()) {
                for r in f
                    .related
                    .iter()
                    .filter(|r| r.relation == RelationKind::CausedBy)
                {
                    owners
                        .entry(r.entity.name.as_str())
                        .or_insert_with(|| key.clone());
                }
            }
        }
        let unhealthy_nodes: BTreeSet<&str> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::NodeUnhealthy && f.subject.kind == EntityKind::Node)
            .map(|f| f.subject.name.as_str())
            .collect();
        // A deployment whose pods carry another `app` label is the same component under two names
        // (`rke2-coredns-rke2-coredns` runs app `rke2-coredns`): findings about either name meet.
        let mut aliases: BTreeMap<String, String> = BTreeMap::new();
        for f in &findings {
            let app = f
                .related
                .iter()
                .find(|r| {
                    r.relation == RelationKind::PartOf && r.entity.kind == EntityKind::Service
                })
                .map(|r| component(&r.entity.name));
            let Some(app) = app else { continue };
            let mut names: Vec<&str> = f
                .related
                .iter()
                .filter(|r| {
                    r.relation == RelationKind::PartOf && r.entity.kind == EntityKind::Deployment
                })
                .map(|r| r.entity.name.as_str())
                .collect();
            if f.subject.kind == EntityKind::Deployment {
                names.push(f.subject.name.as_str());
            }
            for name in names {
                let own = component(name);
                if own != app {
                    aliases.entry(own).or_insert_with(|| app.clone());
                }
            }
        }
        let resolve = |key: String| aliases.get(&key).cloned().unwrap_or(key);
        let mut components: BTreeMap<String, Component<'a>> = BTreeMap::new();
        for f in findings {
            let Some(key) = component_key(f, &owners).map(resolve) else {
                continue;
            };
            let c = components.entry(key.clone()).or_insert_with(|| Component {
                key: key.clone(),
                ..Component::default()
            });
            c.findings.push(f);
            for r in f
                .related
                .iter()
                .filter(|r| r.relation == RelationKind::Hosts)
            {
                let hosted = component(&r.entity.name);
                if hosted != key {
                    c.hosted.insert(hosted);
                }
            }
            for r in &f.related {
                let dep = match r.relation {
                    RelationKind::DependsOn => resolve(component(&r.entity.name)),
                    RelationKind::RunsOn if unhealthy_nodes.contains(r.entity.name.as_str()) => {
                        format!("node:{}", r.entity.name)
                    }
                    _ => continue,
                };
                if dep != key {
                    c.deps.insert(dep);
                    c.dep_names.insert(r.entity.name.clone());
                }
            }
        }
        // Failed name lookups depend on the cluster DNS, which no message names by its own name.
        let dns: Vec<String> = components
            .keys()
            .filter(|k| is_dns_server(k))
            .cloned()
            .collect();
        if !dns.is_empty() {
            for c in components.values_mut() {
                let lookups_fail = c.findings.iter().any(|f| {
                    f.kind.is_problem()
                        && (f.summary.contains(DNS_HINT)
                            || f.evidence.iter().any(|e| {
                                !super::entity::cause_hints(&e.detail).is_empty()
                                    && super::entity::cause_hints(&e.detail).contains(&DNS_HINT)
                            }))
                });
                if lookups_fail {
                    for key in dns.iter().filter(|k| **k != c.key) {
                        c.deps.insert(key.clone());
                        c.dep_names.insert(key.clone());
                    }
                }
            }
        }
        Self { components }
    }

    fn anomalous(&self, key: &str) -> bool {
        self.components
            .get(key)
            .is_some_and(Component::is_anomalous)
    }

    /// Anomalous components that depend on `key`, directly or through others.
    fn dependents(&self, key: &str) -> BTreeSet<String> {
        let mut found: BTreeSet<String> = BTreeSet::new();
        let mut frontier = vec![key.to_owned()];
        while let Some(current) = frontier.pop() {
            for (k, c) in &self.components {
                if c.is_anomalous()
                    && c.deps.contains(&current)
                    && k != key
                    && found.insert(k.clone())
                {
                    frontier.push(k.clone());
                }
            }
        }
        found
    }

    fn root(&self) -> Option<String> {
        let anomalous: Vec<&Component<'a>> = self
            .components
            .values()
            .filter(|c| c.is_anomalous())
            .collect();
        // A component whose rollout others' trouble depends on is a candidate even if it looks fine itself.
        let changed_upstream: Vec<&Component<'a>> = self
            .components
            .values()
            .filter(|c| {
                !c.is_anomalous()
                    && c.changes().next().is_some()
                    && !self.dependents(&c.key).is_empty()
            })
            .collect();
        // A dependency that several failing callers name (or one caller, when it shows trouble of its own)
        // is where their failures meet, even if its own metrics look normal: the fault can be in how it is
        // reached (a certificate, a network path), not in how it runs.
        let shared_upstream: Vec<&Component<'a>> = self
            .components
            .values()
            .filter(|c| !c.is_anomalous() && !c.key.starts_with("node:"))
            .filter(|c| {
                let callers = self
                    .components
                    .values()
                    .filter(|d| d.is_anomalous() && d.deps.contains(&c.key))
                    .count();
                callers >= 2 || (callers == 1 && c.problems().next().is_some())
            })
            .collect();
        let candidates: Vec<&Component<'a>> = anomalous
            .iter()
            .chain(changed_upstream.iter())
            .chain(shared_upstream.iter())
            .copied()
            .filter(|c| !c.deps.iter().any(|d| d != &c.key && self.anomalous(d)))
            .collect();
        let pool = if candidates.is_empty() {
            anomalous
        } else {
            candidates
        };
        pool.into_iter()
            .max_by(|a, b| {
                let score = |c: &Component<'a>| {
                    self.dependents(&c.key).len() * 10
                        + c.infra_kinds() * 4
                        + c.severity() as usize * 2
                        + usize::from(c.correlated_change().is_some()) * 3
                };
                score(a)
                    .cmp(&score(b))
                    .then_with(|| onset_order(a.onset(), b.onset()))
                    .then_with(|| b.key.cmp(&a.key))
            })
            .map(|c| c.key.clone())
    }

    /// For a root that ran out of capacity (connections, CPU, memory, disk) with no change of its own: the one
    /// client of it whose rollout or creation came shortly before the trouble began.
    fn exhausting_client(&self, root: &str) -> Option<String> {
        let service = self.components.get(root)?;
        let exhausted = service.problems().any(|f| {
            f.kind == FindingKind::ResourceSaturation || f.summary.contains("connection exhaustion")
        });
        if !exhausted || service.correlated_change().is_some() {
            return None;
        }
        let onset = service.onset()?;
        // Clients name the service in their errors, or fail with the same exhaustion it reports.
        let shares_exhaustion = |c: &Component<'_>| {
            c.problems()
                .any(|f| f.summary.contains("connection exhaustion"))
        };
        let mut clients = self.components.values().filter(|c| {
            c.key != root
                && (c.deps.contains(root) || shares_exhaustion(c))
                && c.changes().any(|change| {
                    change.onset.is_some_and(|at| {
                        at <= onset + chrono::Duration::minutes(10)
                            && at >= onset - chrono::Duration::hours(6)
                    })
                })
        });
        let client = clients.next()?;
        clients.next().is_none().then(|| client.key.clone())
    }

    /// Workloads on a root node that are using up the very resource the node is short of (a disk filled by
    /// one service's files): part of the root cause, not its victims.
    fn culprits(&self, root: &str) -> Vec<String> {
        let Some(node) = self
            .components
            .get(root)
            .filter(|_| root.starts_with("node:"))
        else {
            return Vec::new();
        };
        let conditions = node
            .of_kind(FindingKind::NodeUnhealthy)
            .map(|f| f.summary.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        let resources: Vec<&str> = [
            ("diskpressure", "disk"),
            ("memorypressure", "memory"),
            ("pidpressure", "process"),
        ]
        .iter()
        .filter(|(condition, _)| conditions.contains(condition))
        .map(|(_, resource)| *resource)
        .collect();
        let saturating: Vec<String> = node
            .hosted
            .iter()
            .filter(|k| {
                self.components.get(*k).is_some_and(|c| {
                    c.problems().any(|f| {
                        f.kind == FindingKind::ResourceSaturation
                            && resources
                                .iter()
                                .any(|r| f.summary.to_lowercase().contains(r))
                    })
                })
            })
            .cloned()
            .collect();
        if !saturating.is_empty() {
            return saturating;
        }
        // Nothing measured: a workload on the node that is new or changed shortly before the pressure.
        let Some(onset) = node.onset() else {
            return Vec::new();
        };
        let changed: Vec<String> = node
            .hosted
            .iter()
            .filter(|k| {
                self.components.get(*k).is_some_and(|c| {
                    c.changes().any(|change| {
                        change.onset.is_some_and(|at| {
                            at <= onset && at >= onset - chrono::Duration::hours(6)
                        })
                    })
                })
            })
            .cloned()
            .collect();
        if changed.len() == 1 {
            changed
        } else {
            Vec::new()
        }
    }

    /// Other anomalous components: those depending on the root first, then the rest by severity.
    fn impacted(&self, root: &str) -> Vec<String> {
        let dependents = self.dependents(root);
        let mut rest: Vec<&Component<'a>> = self
            .components
            .values()
            .filter(|c| c.is_anomalous() && c.key != root && !dependents.contains(&c.key))
            .collect();
        rest.sort_by(|a, b| {
            b.severity()
                .cmp(&a.severity())
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut ordered: Vec<&Component<'a>> = dependents
            .iter()
            .filter_map(|k| self.components.get(k))
            .collect();
        ordered.sort_by(|a, b| {
            b.severity()
                .cmp(&a.severity())
                .then_with(|| a.key.cmp(&b.key))
        });
        ordered.extend(rest);
        ordered
            .into_iter()
            .filter(|c| !c.key.starts_with("node:"))
            .map(|c| c.key.clone())
            .collect()
    }

    /// ", whose errors name database-service" for impacted components that name the root.
    fn dependency_evidence(&self, impacted: &[String], root: &str) -> String {
        let names: BTreeSet<String> = impacted
            .iter()
            .filter_map(|k| self.components.get(k))
            .filter(|c| c.deps.contains(root))
            .flat_map(|c| c.dep_names.iter().filter(|n| component(n) == root).cloned())
            .collect();
        if names.is_empty() {
            String::new()
        } else {
            format!(
                ", whose failing calls name {}",
                join_names(&names.into_iter().collect::<Vec<_>>())
            )
        }
    }

    /// Failing pods that run on the node `key` (`node:{name}`), by name.
    fn pods_on_node(&self, key: &str) -> Vec<String> {
        let Some(node) = key.strip_prefix("node:") else {
            return Vec::new();
        };
        let mut pods: Vec<String> = self
            .components
            .values()
            .flat_map(|c| c.findings.iter())
            .filter(|f| f.kind == FindingKind::PodFailure)
            .filter(|f| {
                f.related
                    .iter()
                    .any(|r| r.relation == RelationKind::RunsOn && r.entity.name == node)
            })
            .map(|f| f.subject.name.clone())
            .collect();
        pods.sort();
        pods.dedup();
        pods
    }

    /// Components checked and found healthy (controls).
    fn healthy_names(&self) -> Option<Vec<String>> {
        let names: Vec<String> = self
            .components
            .values()
            .filter(|c| {
                !c.is_anomalous()
                    && c.findings.iter().any(|f| {
                        f.kind == FindingKind::Healthy && f.subject.kind == EntityKind::Service
                    })
            })
            .map(Component::display)
            .collect();
        Some(names)
    }
}

fn onset_order(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> std::cmp::Ordering {
    // Earlier onset ranks higher (max_by), unknown ranks lowest.
    match (a, b) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The component a finding is about. Pods go by their `app` label or deployment; objects by the
/// component that needs them; guidance has none.
fn component_key(f: &Finding, owners: &BTreeMap<&str, String>) -> Option<String> {
    match f.subject.kind {
        EntityKind::Runbook | EntityKind::Other if !f.kind.is_problem() => None,
        EntityKind::Node => Some(format!("node:{}", f.subject.name)),
        EntityKind::ConfigMap
        | EntityKind::Secret
        | EntityKind::Volume
        | EntityKind::Image
        | EntityKind::Other => owners.get(f.subject.name.as_str()).cloned().or_else(|| {
            f.related
                .iter()
                .find(|r| {
                    matches!(
                        r.entity.kind,
                        EntityKind::Pod | EntityKind::Deployment | EntityKind::Service
                    )
                })
                .map(|r| component(&r.entity.name))
        }),
        EntityKind::Pod | EntityKind::Deployment | EntityKind::Container => {
            let by_label = f
                .related
                .iter()
                .find(|r| {
                    r.relation == RelationKind::PartOf && r.entity.kind == EntityKind::Service
                })
                .map(|r| component(&r.entity.name));
            Some(by_label.unwrap_or_else(|| component(&f.subject.name)))
        }
        EntityKind::Service | EntityKind::Runbook => Some(component(&f.subject.name)),
    }
}

fn root_entities(root: &Component<'_>, change: Option<&Finding>) -> Vec<String> {
    let mut entities: Vec<EntityRef> = Vec::new();
    let mut push = |e: &EntityRef| {
        if !entities.iter().any(|known| known.name == e.name) {
            entities.push(e.clone());
        }
    };
    let mut infra: Vec<&&Finding> = root
        .problems()
        .filter(|f| is_infra(f.kind) && f.severity >= Severity::Medium)
        .collect();
    infra.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in &infra {
        for r in f
            .related
            .iter()
            .filter(|r| r.relation == RelationKind::CausedBy)
        {
            push(&r.entity);
        }
    }
    for f in &infra {
        push(&f.subject);
    }
    let has_cause_objects = infra.iter().any(|f| {
        f.related
            .iter()
            .any(|r| r.relation == RelationKind::CausedBy)
    });
    if let Some(change) = change {
        push(&change.subject);
        // The changed image is the explanation only when nothing more concrete (a missing object) is.
        if !has_cause_objects {
            for r in change
                .related
                .iter()
                .filter(|r| r.relation == RelationKind::ChangedBy)
            {
                push(&r.entity);
            }
        }
    }
    if infra.is_empty() {
        for f in root.problems().filter(|f| f.severity >= Severity::Medium) {
            push(&f.subject);
        }
    }
    let mut names: Vec<String> = entities.into_iter().map(|e| e.name).take(8).collect();
    // The component itself, by the name its callers and dashboards use.
    let display = root.display();
    if !names.iter().any(|n| n.eq_ignore_ascii_case(&display)) {
        names.push(display);
    }
    names
}

/// The documented scale over the root and what it impacts: measured outages (availability, error rate) are
/// critical as they stand; a workload with no replica left is critical only when others depend on it, and
/// otherwise a major degradation.
fn overall_severity(graph: &Graph<'_>, root: &str, impacted: &[String]) -> Severity {
    std::iter::once(root)
        .chain(impacted.iter().map(String::as_str))
        .filter_map(|k| graph.components.get(k))
        .map(|c| {
            let severity = c.severity();
            let measured_outage = c
                .problems()
                .any(|f| f.severity == Severity::Critical && !is_infra(f.kind));
            if severity == Severity::Critical
                && !measured_outage
                && graph.dependents(&c.key).is_empty()
            {
                Severity::High
            } else {
                severity
            }
        })
        .max()
        .unwrap_or(Severity::Info)
}

fn next_steps(
    reports: &[AgentResult],
    root: &Component<'_>,
    change: Option<&Finding>,
    impacted: &[String],
    severity: Severity,
) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for f in root.of_kind(FindingKind::ConfigError) {
        let kind = match f.subject.kind {
            EntityKind::ConfigMap => "ConfigMap",
            EntityKind::Secret => "Secret",
            EntityKind::Volume => "volume claim",
            _ => "object",
        };
        let users: Vec<&str> = f
            .related
            .iter()
            .filter(|r| r.entity.kind == EntityKind::Pod)
            .map(|r| r.entity.name.as_str())
            .collect();
        let needed_by = if users.is_empty() {
            String::new()
        } else {
            format!(" (needed by pod {})", users.join(", "))
        };
        steps.push(format!(
            "Restore {kind} {}{needed_by}, then restart the pods that mount it.",
            f.subject.name
        ));
    }
    for f in root
        .problems()
        .filter(|f| f.kind == FindingKind::NodeUnhealthy)
    {
        steps.push(format!("Relieve node {}: free the resource under pressure, or cordon and drain it so its pods reschedule.", f.subject.name));
    }
    let pod_text: String = root
        .of_kind(FindingKind::PodFailure)
        .map(|f| f.summary.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    if pod_text.contains("permissions problem") {
        steps.push("Fix the file ownership or permissions the container reports (for example the pod's fsGroup or the volume owner).".to_owned());
    }
    if pod_text.contains("memory exhaustion")
        || root.problems().any(|f| {
            f.kind == FindingKind::ResourceSaturation && f.summary.to_lowercase().contains("memory")
        })
    {
        steps.push(format!(
            "Stop the memory growth of {}: roll back or raise its limit, then profile the heap.",
            root.display()
        ));
    }
    // The root's own remedies, most severe first, a few at most (one pod's commands stand for its replicas).
    let mut own: Vec<&&Finding> = root.problems().filter(|f| !f.actions.is_empty()).collect();
    own.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut kinds_seen: BTreeSet<FindingKind> = BTreeSet::new();
    for f in own
        .into_iter()
        .filter(|f| kinds_seen.insert(f.kind))
        .take(2)
    {
        steps.extend(f.actions.iter().cloned());
    }
    if let Some(change) = change {
        steps.extend(change.actions.iter().cloned());
    }
    // The playbook that best matches the root cause, quoted step by step.
    let root_words = words(
        &root
            .findings
            .iter()
            .map(|f| f.summary.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let runbooks: Vec<&Finding> = reports
        .iter()
        .flat_map(|r| r.findings.iter())
        .filter(|f| f.kind == FindingKind::RunbookMatch && !f.actions.is_empty())
        .collect();
    let best = runbooks.iter().max_by_key(|f| {
        let text = format!("{} {}", f.summary, f.actions.join(" "));
        (
            words(&text).intersection(&root_words).count(),
            f.summary.starts_with("Playbook"),
        )
    });
    if let Some(best) = best {
        steps.extend(best.actions.iter().take(4).cloned());
    }
    if severity >= Severity::High
        && let Some(esc) = reports
            .iter()
            .flat_map(|r| r.findings.iter())
            .find(|f| f.kind == FindingKind::EscalationGuidance)
    {
        steps.push(format!("Escalate: {}", esc.summary));
    }
    if !impacted.is_empty() {
        steps.push(format!(
            "Confirm recovery: error rates and latency of {} back to baseline.",
            join_names(impacted)
        ));
    }
    let mut seen = BTreeSet::new();
    steps.retain(|s| seen.insert(s.clone()));
    steps
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .collect()
}

fn nothing_found(input: &SummaryInput, graph: &Graph<'_>, gaps: &[String]) -> Assessment {
    let checked: usize = input.reports.iter().map(|r| r.findings.len()).sum();
    let mut summary = if checked == 0 {
        "No findings: the specialists returned no data to analyse.".to_owned()
    } else {
        let healthy = graph.healthy_names().unwrap_or_default();
        if healthy.is_empty() {
            "No failure found in the checked data.".to_owned()
        } else {
            format!("No failure found; healthy: {}.", join_names(&healthy))
        }
    };
    if !gaps.is_empty() {
        summary.push_str(&format!(" Not checked: {}.", gaps.join("; ")));
    }
    Assessment {
        root_cause: if gaps.is_empty() {
            "No root cause: no component shows a significant anomaly.".to_owned()
        } else {
            "Undetermined: part of the system could not be checked.".to_owned()
        },
        root_cause_entities: Vec::new(),
        impacted_services: Vec::new(),
        // Nothing significant: healthy on the scale, whatever minor noise was seen.
        severity: Severity::Info,
        summary,
        next_steps: if gaps.is_empty() {
            Vec::new()
        } else {
            vec!["Restore access to the unavailable data sources and investigate again.".to_owned()]
        },
        confidence: if gaps.is_empty() { 0.6 } else { 0.2 },
    }
}

fn gaps(reports: &[AgentResult]) -> Vec<String> {
    let mut gaps = Vec::new();
    for r in reports {
        if let Some(error) = &r.error {
            gaps.push(format!("{} agent ({error})", r.agent));
        }
        gaps.extend(r.unavailable.iter().cloned());
    }
    gaps
}

fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Text up to the first `;` or sentence end.
fn first_clause(text: &str) -> String {
    let end = [text.find("; "), text.find(". ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(text.len());
    strip_period(&text[..end])
}

fn strip_period(text: &str) -> String {
    text.trim().trim_end_matches('.').to_owned()
}
