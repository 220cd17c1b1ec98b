//! Semantic checks of a parsed scenario: references between entities, uniqueness, ranges and non-empty names.
//! Every problem is collected, so one run reports all of them.

use std::collections::{BTreeSet, HashMap};

use super::Dataset;
use super::ScenarioFile;
use super::expected::{Expected, IncidentSeverity};
use super::k8s::{K8sData, PodPhase};
use super::logs::LogsData;
use super::metrics::MetricsData;
use super::runbooks::RunbooksData;
use super::scenario::Scenario;
use crate::error::Violation;

/// Every violation of the documented rules, in file order; empty when the dataset is valid.
pub(super) fn check(ds: &Dataset) -> Vec<Violation> {
    let mut violations = Vec::new();
    check_scenario(
        &mut Checker::new(ScenarioFile::Scenario, &mut violations),
        ds.scenario(),
    );
    check_k8s(
        &mut Checker::new(ScenarioFile::K8s, &mut violations),
        ds.k8s(),
    );
    check_logs(
        &mut Checker::new(ScenarioFile::Logs, &mut violations),
        ds.logs(),
    );
    check_metrics(
        &mut Checker::new(ScenarioFile::Metrics, &mut violations),
        ds.metrics(),
    );
    check_runbooks(
        &mut Checker::new(ScenarioFile::Runbooks, &mut violations),
        ds.runbooks(),
    );
    if let Some(expected) = ds.expected() {
        check_expected(
            &mut Checker::new(ScenarioFile::Expected, &mut violations),
            expected,
            ds,
        );
    }
    violations
}

fn check_scenario(c: &mut Checker<'_>, scenario: &Scenario) {
    let name = &scenario.name;
    let well_formed = !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
    if !well_formed {
        c.report(
            "name",
            format!("expected lowercase letters, digits and \"-\", found {name:?}"),
        );
    }
    c.non_empty("title", &scenario.title);
}

fn check_k8s(c: &mut Checker<'_>, k8s: &K8sData) {
    let mut nodes = Unique::new("node name");
    for (i, node) in k8s.nodes.iter().enumerate() {
        let path = format!("nodes[{i}]");
        c.non_empty(&format!("{path}.name"), &node.name);
        nodes.add(c, &format!("{path}.name"), node.name.clone());
        c.positive(
            &format!("{path}.capacity.cpu_millicores"),
            node.capacity.cpu_millicores,
        );
        c.positive(
            &format!("{path}.capacity.memory_mib"),
            node.capacity.memory_mib,
        );
    }
    let mut deployments = Unique::new("deployment name in its namespace");
    for (i, d) in k8s.deployments.iter().enumerate() {
        let path = format!("deployments[{i}]");
        for (field, value) in [
            ("name", &d.name),
            ("namespace", &d.namespace),
            ("app", &d.app),
            ("image", &d.image),
        ] {
            c.non_empty(&format!("{path}.{field}"), value);
        }
        deployments.add(
            c,
            &format!("{path}.name"),
            format!("{}/{}", d.namespace, d.name),
        );
    }
    check_pods(c, k8s);
    for (i, e) in k8s.events.iter().enumerate() {
        let path = format!("events[{i}]");
        c.non_empty(&format!("{path}.reason"), &e.reason);
        c.non_empty(&format!("{path}.namespace"), &e.namespace);
        c.non_empty(&format!("{path}.object.kind"), &e.object.kind);
        c.non_empty(&format!("{path}.object.name"), &e.object.name);
        if e.count == 0 {
            c.report(
                &format!("{path}.count"),
                "expected a count of at least 1, found 0".to_owned(),
            );
        }
    }
}

fn check_pods(c: &mut Checker<'_>, k8s: &K8sData) {
    let node_names: Vec<&str> = k8s.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut pods = Unique::new("pod name in its namespace");
    for (i, pod) in k8s.pods.iter().enumerate() {
        let path = format!("pods[{i}]");
        for (field, value) in [
            ("name", &pod.name),
            ("namespace", &pod.namespace),
            ("app", &pod.app),
            ("status", &pod.status),
        ] {
            c.non_empty(&format!("{path}.{field}"), value);
        }
        pods.add(
            c,
            &format!("{path}.name"),
            format!("{}/{}", pod.namespace, pod.name),
        );
        match &pod.node {
            Some(node) if !node_names.contains(&node.as_str()) => c.report(
                &format!("{path}.node"),
                format!(
                    "expected the name of a node ({}), found {node:?}",
                    list(&node_names)
                ),
            ),
            None if pod.phase != PodPhase::Pending => c.report(
                &format!("{path}.node"),
                format!(
                    "expected the name of a node: only a Pending pod may be unscheduled, and this one is {:?}",
                    pod.phase
                ),
            ),
            _ => {}
        }
        let owners: Vec<&str> = k8s
            .deployments
            .iter()
            .filter(|d| d.namespace == pod.namespace)
            .map(|d| d.name.as_str())
            .collect();
        if !owners.contains(&pod.owner.as_str()) {
            c.report(
                &format!("{path}.owner"),
                format!(
                    "expected the name of a deployment in namespace {:?} ({}), found {:?}",
                    pod.namespace,
                    list(&owners),
                    pod.owner
                ),
            );
        }
        if pod.containers.is_empty() {
            c.report(
                &format!("{path}.containers"),
                "expected at least one container".to_owned(),
            );
        }
        for (j, container) in pod.containers.iter().enumerate() {
            c.non_empty(&format!("{path}.containers[{j}].name"), &container.name);
            c.non_empty(&format!("{path}.containers[{j}].image"), &container.image);
        }
        if let Some(limits) = pod.limits {
            c.positive(
                &format!("{path}.limits.cpu_millicores"),
                limits.cpu_millicores,
            );
            c.positive(&format!("{path}.limits.memory_mib"), limits.memory_mib);
        }
    }
}

fn check_logs(c: &mut Checker<'_>, logs: &LogsData) {
    for (i, entry) in logs.entries.iter().enumerate() {
        c.non_empty(&format!("entries[{i}].service"), &entry.service);
        c.non_empty(&format!("entries[{i}].message"), &entry.message);
    }
}

fn check_metrics(c: &mut Checker<'_>, metrics: &MetricsData) {
    let mut services = Unique::new("service in its namespace");
    for (i, s) in metrics.services.iter().enumerate() {
        let path = format!("services[{i}]");
        c.non_empty(&format!("{path}.service"), &s.service);
        c.non_empty(&format!("{path}.namespace"), &s.namespace);
        services.add(
            c,
            &format!("{path}.service"),
            format!("{}/{}", s.namespace, s.service),
        );
        for (series, points) in s.series.iter() {
            for (j, point) in points.iter().enumerate() {
                let path = format!("{path}.series.{}[{j}].value", series.as_str());
                let value = point.value;
                if series.is_percentage() && !(0.0..=100.0).contains(&value) {
                    c.report(
                        &path,
                        format!("expected a percentage between 0 and 100, found {value}"),
                    );
                } else if !value.is_finite() || value < 0.0 {
                    c.report(
                        &path,
                        format!("expected a non-negative finite number, found {value}"),
                    );
                }
            }
        }
    }
}

fn check_runbooks(c: &mut Checker<'_>, runbooks: &RunbooksData) {
    let mut playbooks = Unique::new("playbook id");
    for (i, p) in runbooks.playbooks.iter().enumerate() {
        let path = format!("playbooks[{i}]");
        for (field, value) in [
            ("id", &p.id),
            ("title", &p.title),
            ("incident_type", &p.incident_type),
        ] {
            c.non_empty(&format!("{path}.{field}"), value);
        }
        playbooks.add(c, &format!("{path}.id"), p.id.clone());
        if p.steps.is_empty() {
            c.report(
                &format!("{path}.steps"),
                "expected at least one step".to_owned(),
            );
        }
    }
    let mut guides = Unique::new("guide id");
    for (i, g) in runbooks.troubleshooting_guides.iter().enumerate() {
        let path = format!("troubleshooting_guides[{i}]");
        for (field, value) in [
            ("id", &g.id),
            ("category", &g.category),
            ("issue_type", &g.issue_type),
            ("title", &g.title),
        ] {
            c.non_empty(&format!("{path}.{field}"), value);
        }
        guides.add(c, &format!("{path}.id"), g.id.clone());
    }
    for (i, e) in runbooks.escalation_procedures.iter().enumerate() {
        let path = format!("escalation_procedures[{i}]");
        c.non_empty(&format!("{path}.incident_type"), &e.incident_type);
        if e.levels.is_empty() {
            c.report(
                &format!("{path}.levels"),
                "expected at least one level".to_owned(),
            );
        }
    }
    for (i, r) in runbooks.common_resolutions.iter().enumerate() {
        c.non_empty(&format!("common_resolutions[{i}].issue"), &r.issue);
        c.non_empty(
            &format!("common_resolutions[{i}].resolution"),
            &r.resolution,
        );
    }
}

fn check_expected(c: &mut Checker<'_>, expected: &Expected, ds: &Dataset) {
    let names = entity_names(ds);
    let texts = free_texts(ds);
    let mut roots = Unique::new("root-cause entity");
    for (i, entity) in expected.root_cause_entities.iter().enumerate() {
        let path = format!("root_cause_entities[{i}]");
        roots.add(c, &path, entity.clone());
        let known = names.contains(entity.as_str())
            || (!entity.trim().is_empty() && texts.iter().any(|t| occurs_as_name(t, entity)));
        if !known {
            c.report(
                &path,
                format!(
                    "expected the exact name of something in the scenario (a node, pod, deployment, container \
                     image, event object or service, or a name quoted in an event, log or termination message), \
                     found {entity:?}"
                ),
            );
        }
    }
    let services: BTreeSet<&str> = ds
        .logs()
        .entries
        .iter()
        .map(|e| e.service.as_str())
        .chain(ds.metrics().services.iter().map(|s| s.service.as_str()))
        .collect();
    let mut impacted = Unique::new("impacted service");
    for (i, service) in expected.impacted_services.iter().enumerate() {
        let path = format!("impacted_services[{i}]");
        impacted.add(c, &path, service.clone());
        if !services.contains(service.as_str()) {
            let listed: Vec<&str> = services.iter().copied().collect();
            c.report(
                &path,
                format!(
                    "expected a service named in logs.json or metrics.json ({}), found {service:?}",
                    list(&listed)
                ),
            );
        } else if expected.root_cause_entities.contains(service) {
            c.report(
                &path,
                format!("expected a service impacted by the root cause, not the root cause itself, found {service:?}"),
            );
        }
    }
    let listed = !expected.root_cause_entities.is_empty() || !expected.impacted_services.is_empty();
    if expected.severity == IncidentSeverity::Info && listed {
        c.report(
            "severity",
            "expected a severity above info when a root cause or an impacted service is listed, found info"
                .to_owned(),
        );
    }
    if expected.severity != IncidentSeverity::Info && expected.root_cause_entities.is_empty() {
        c.report(
            "root_cause_entities",
            format!(
                "expected at least one root-cause entity for severity {}, found none (a healthy scenario has \
                 severity info)",
                expected.severity
            ),
        );
    }
}

/// Every name a tool prints as a name: nodes, pods, containers and their images, deployments and their
/// images, event objects, log pods and services, metric services.
fn entity_names(ds: &Dataset) -> BTreeSet<&str> {
    let k8s = ds.k8s();
    let mut names: BTreeSet<&str> = BTreeSet::new();
    names.extend(k8s.nodes.iter().map(|n| n.name.as_str()));
    for pod in &k8s.pods {
        names.insert(&pod.name);
        for container in &pod.containers {
            names.insert(&container.name);
            names.insert(&container.image);
        }
    }
    for deployment in &k8s.deployments {
        names.insert(&deployment.name);
        names.insert(&deployment.image);
        names.extend(deployment.history.iter().map(|r| r.image.as_str()));
    }
    names.extend(k8s.events.iter().map(|e| e.object.name.as_str()));
    for entry in &ds.logs().entries {
        names.insert(&entry.service);
        names.extend(entry.pod.as_deref());
    }
    names.extend(ds.metrics().services.iter().map(|s| s.service.as_str()));
    names
}

/// The free text a tool prints: event, log and termination messages.
fn free_texts(ds: &Dataset) -> Vec<&str> {
    let k8s = ds.k8s();
    let terminations = k8s
        .pods
        .iter()
        .flat_map(|p| p.containers.iter())
        .filter_map(|c| c.last_termination.as_ref())
        .filter_map(|t| t.message.as_deref());
    k8s.events
        .iter()
        .map(|e| e.message.as_str())
        .chain(ds.logs().entries.iter().map(|e| e.message.as_str()))
        .chain(terminations)
        .collect()
}

/// Whether `name` occurs in `text` as a whole name: not preceded or followed by a letter, digit, `-` or `_`.
fn occurs_as_name(text: &str, name: &str) -> bool {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(name).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + name.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// Collects the violations of one file.
struct Checker<'a> {
    file: &'static str,
    out: &'a mut Vec<Violation>,
}

impl<'a> Checker<'a> {
    fn new(file: ScenarioFile, out: &'a mut Vec<Violation>) -> Self {
        Self {
            file: file.file_name(),
            out,
        }
    }

    fn report(&mut self, json_path: &str, message: String) {
        self.out.push(Violation {
            file: self.file,
            json_path: json_path.to_owned(),
            message,
        });
    }

    fn non_empty(&mut self, json_path: &str, value: &str) {
        if value.trim().is_empty() {
            self.report(
                json_path,
                format!("expected a non-empty string, found {value:?}"),
            );
        }
    }

    fn positive(&mut self, json_path: &str, value: u64) {
        if value == 0 {
            self.report(json_path, "expected a positive number, found 0".to_owned());
        }
    }
}

/// Detects repeated keys, remembering where each was first seen.
struct Unique {
    what: &'static str,
    seen: HashMap<String, String>,
}

impl Unique {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            seen: HashMap::new(),
        }
    }

    fn add(&mut self, c: &mut Checker<'_>, json_path: &str, key: String) {
        match self.seen.get(&key) {
            Some(first) => c.report(
                json_path,
                format!(
                    "expected a unique {}, found {key:?} again (first at {first})",
                    self.what
                ),
            ),
            None => {
                self.seen.insert(key, json_path.to_owned());
            }
        }
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "there are none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::super::ScenarioFile;
    use super::super::tests::{
        EXPECTED, K8S, LOGS, METRICS, RUNBOOKS, SCENARIO, load_err, replace,
    };
    use super::occurs_as_name;

    #[test]
    fn names_occur_only_as_whole_names() {
        assert!(occurs_as_name(
            "configmap \"database-config\" not found",
            "database-config"
        ));
        assert!(occurs_as_name("to db-service:5432", "db-service"));
        assert!(!occurs_as_name(
            "database-config-v2 missing",
            "database-config"
        ));
        assert!(!occurs_as_name("my-database-config", "database-config"));
    }

    #[test]
    fn root_cause_entities_must_occur_in_the_scenario() {
        let text = replace(EXPECTED, r#"["db-0", "db"]"#, r#"["db-0", "db-config"]"#);
        assert_eq!(
            load_err(ScenarioFile::Expected, &text),
            "invalid scenario: expected.json at root_cause_entities[1]: expected the exact name of something in the \
             scenario (a node, pod, deployment, container image, event object or service, or a name quoted in an \
             event, log or termination message), found \"db-config\""
        );
        let quoted = replace(
            EXPECTED,
            r#"["db-0", "db"]"#,
            r#"["db-0", "/etc/postgresql/postgresql.conf"]"#,
        );
        let files = super::super::tests::files();
        let ok = super::super::Dataset::from_files(
            &super::super::ScenarioFiles {
                expected: Some(&quoted),
                ..files
            },
            super::super::tests::now(),
        );
        assert!(
            ok.is_ok(),
            "a name quoted in a log message counts: {:?}",
            ok.err()
        );
    }

    #[test]
    fn impacted_services_must_be_logged_or_measured_and_not_the_root_cause() {
        let text = replace(
            EXPECTED,
            r#"["web", "api"]"#,
            r#"["web", "checkout", "db"]"#,
        );
        assert_eq!(
            load_err(ScenarioFile::Expected, &text),
            "invalid scenario (2 problems):\n  \
             - expected.json at impacted_services[1]: expected a service named in logs.json or metrics.json (api, catalog, db, web), found \"checkout\"\n  \
             - expected.json at impacted_services[2]: expected a service impacted by the root cause, not the root cause itself, found \"db\""
        );
    }

    #[test]
    fn severity_info_means_nothing_is_wrong() {
        let healthy_with_cause = replace(EXPECTED, r#""critical""#, r#""info""#);
        assert_eq!(
            load_err(ScenarioFile::Expected, &healthy_with_cause),
            "invalid scenario: expected.json at severity: expected a severity above info when a root cause or an \
             impacted service is listed, found info"
        );
        let cause_missing = replace(
            &replace(EXPECTED, r#"["db-0", "db"]"#, "[]"),
            r#"["web", "api"]"#,
            "[]",
        );
        assert_eq!(
            load_err(ScenarioFile::Expected, &cause_missing),
            "invalid scenario: expected.json at root_cause_entities: expected at least one root-cause entity for \
             severity critical, found none (a healthy scenario has severity info)"
        );
    }

    #[test]
    fn scenario_name_must_be_lowercase_words() {
        let text = replace(SCENARIO, r#""name": "tiny""#, r#""name": "Tiny_Scenario""#);
        assert_eq!(
            load_err(ScenarioFile::Scenario, &text),
            "invalid scenario: scenario.json at name: expected lowercase letters, digits and \"-\", found \"Tiny_Scenario\""
        );
    }

    #[test]
    fn pod_node_must_exist() {
        let text = replace(K8S, r#""node": "node-1""#, r#""node": "node-9""#);
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario: k8s.json at pods[0].node: expected the name of a node (node-1, node-2), found \"node-9\""
        );
    }

    #[test]
    fn only_a_pending_pod_may_lack_a_node() {
        let text = replace(K8S, r#""node": "node-1","#, "");
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario: k8s.json at pods[0].node: expected the name of a node: only a Pending pod may be \
             unscheduled, and this one is Running"
        );
        let pending = replace(
            &text,
            r#""phase": "Running", "status": "CrashLoopBackOff""#,
            r#""phase": "Pending", "status": "Pending""#,
        );
        let files = super::super::ScenarioFiles {
            k8s: &pending,
            ..super::super::tests::files()
        };
        let ds = super::super::Dataset::from_files(&files, super::super::tests::now()).unwrap();
        assert_eq!(ds.k8s().pods[0].node, None);
    }

    #[test]
    fn pod_owner_must_be_a_deployment_of_its_namespace() {
        let text = replace(K8S, r#""owner": "db""#, r#""owner": "database""#);
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario: k8s.json at pods[0].owner: expected the name of a deployment in namespace \"production\" (db, web), found \"database\""
        );
    }

    #[test]
    fn pod_names_are_unique_per_namespace() {
        let text = replace(K8S, r#""name": "web-0""#, r#""name": "db-0""#);
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario: k8s.json at pods[1].name: expected a unique pod name in its namespace, found \"production/db-0\" again (first at pods[0].name)"
        );
    }

    #[test]
    fn names_must_not_be_empty_and_capacity_positive() {
        let text = replace(K8S, r#""name": "node-2""#, r#""name": " ""#);
        let text = replace(&text, r#""cpu_millicores": 4000"#, r#""cpu_millicores": 0"#);
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario (3 problems):\n  \
             - k8s.json at nodes[0].capacity.cpu_millicores: expected a positive number, found 0\n  \
             - k8s.json at nodes[1].name: expected a non-empty string, found \" \"\n  \
             - k8s.json at pods[2].node: expected the name of a node (node-1,  ), found \"node-2\""
        );
    }

    #[test]
    fn playbook_ids_are_unique() {
        let text = replace(
            RUNBOOKS,
            r#""id": "PB-HIGH-LATENCY""#,
            r#""id": "PB-DB-CRASHLOOP""#,
        );
        assert_eq!(
            load_err(ScenarioFile::Runbooks, &text),
            "invalid scenario: runbooks.json at playbooks[1].id: expected a unique playbook id, found \"PB-DB-CRASHLOOP\" again (first at playbooks[0].id)"
        );
    }

    #[test]
    fn percentages_stay_between_0_and_100() {
        let text = replace(
            METRICS,
            r#"{"ago": "0m", "value": 100}"#,
            r#"{"ago": "0m", "value": 120}"#,
        );
        assert_eq!(
            load_err(ScenarioFile::Metrics, &text),
            "invalid scenario: metrics.json at services[0].series.memory_pct[1].value: expected a percentage between 0 and 100, found 120"
        );
    }

    #[test]
    fn other_values_are_non_negative() {
        let text = replace(
            METRICS,
            r#"{"ago": "1h", "value": 180}"#,
            r#"{"ago": "1h", "value": -3}"#,
        );
        assert_eq!(
            load_err(ScenarioFile::Metrics, &text),
            "invalid scenario: metrics.json at services[1].series.throughput_rps[0].value: expected a non-negative finite number, found -3"
        );
    }

    #[test]
    fn event_count_is_at_least_one() {
        let text = replace(K8S, r#""count": 7"#, r#""count": 0"#);
        assert_eq!(
            load_err(ScenarioFile::K8s, &text),
            "invalid scenario: k8s.json at events[1].count: expected a count of at least 1, found 0"
        );
    }

    #[test]
    fn log_messages_are_not_empty() {
        let text = replace(
            LOGS,
            r#""message": "retrying in 250ms""#,
            r#""message": """#,
        );
        assert_eq!(
            load_err(ScenarioFile::Logs, &text),
            "invalid scenario: logs.json at entries[7].message: expected a non-empty string, found \"\""
        );
    }
}
