//! Routing rules: which specialists a question needs, and why.

use std::collections::BTreeSet;

use super::question::{Mention, Question, Symptom};
use crate::finding::RoutePlan;
use crate::protocol::AgentKind;

/// The specialists for `question`, with the reasons that chose each.
pub(crate) fn plan(question: &Question) -> RoutePlan {
    let mut chosen: BTreeSet<AgentKind> = BTreeSet::new();
    let mut reasons: Vec<String> = Vec::new();
    let choose = |chosen: &mut BTreeSet<AgentKind>,
                  reasons: &mut Vec<String>,
                  agents: &[AgentKind],
                  why: &str| {
        let new: Vec<&str> = agents
            .iter()
            .filter(|a| chosen.insert(**a))
            .map(|a| a.as_str())
            .collect();
        if !new.is_empty() {
            reasons.push(format!("{why} → {}", new.join(", ")));
        }
    };

    use AgentKind::{Kubernetes, Logs, Metrics, Runbooks};
    let rules: &[(Symptom, &[AgentKind], &str)] = &[
        (
            Symptom::Crash,
            &[Kubernetes, Logs],
            "crashes and restarts show in pod state, events and logs",
        ),
        (
            Symptom::Latency,
            &[Metrics, Kubernetes, Logs],
            "latency needs metrics, recent changes and slow-call logs",
        ),
        (
            Symptom::Errors,
            &[Logs, Metrics],
            "errors show in logs and error-rate metrics",
        ),
        (
            Symptom::Memory,
            &[Metrics, Kubernetes, Logs],
            "memory trouble shows in usage trends, OOM kills and heap errors",
        ),
        (
            Symptom::Cpu,
            &[Metrics, Kubernetes],
            "CPU pressure shows in usage metrics and pod limits",
        ),
        (
            Symptom::Disk,
            &[Kubernetes, Metrics],
            "disk trouble shows as node pressure and disk metrics",
        ),
        (
            Symptom::Network,
            &[Logs, Metrics],
            "connectivity problems show in logs and error rates",
        ),
        (
            Symptom::Outage,
            &[Kubernetes, Metrics, Logs],
            "an outage needs workload state, availability and errors",
        ),
        (
            Symptom::Deployment,
            &[Kubernetes, Metrics],
            "a rollout shows in deployment history and before/after metrics",
        ),
        (
            Symptom::Config,
            &[Kubernetes, Logs],
            "configuration problems show in events and startup logs",
        ),
        (
            Symptom::Health,
            &[Kubernetes, Metrics],
            "a health check covers workloads, nodes and service metrics",
        ),
        (
            Symptom::Traffic,
            &[Metrics, Logs],
            "traffic changes show in throughput metrics and request logs",
        ),
        (
            Symptom::Certificate,
            &[Logs, Kubernetes],
            "certificate errors show in logs and secrets",
        ),
    ];
    for (symptom, agents, why) in rules {
        if question.has(*symptom) {
            choose(&mut chosen, &mut reasons, agents, why);
        }
    }
    let mentions: &[(Mention, AgentKind, &str)] = &[
        (
            Mention::Kubernetes,
            Kubernetes,
            "the question names Kubernetes objects",
        ),
        (Mention::Logs, Logs, "the question asks about logs"),
        (Mention::Metrics, Metrics, "the question asks about metrics"),
        (
            Mention::Runbooks,
            Runbooks,
            "the question asks for procedures",
        ),
    ];
    for (mention, agent, why) in mentions {
        if question.mentions(*mention) {
            choose(&mut chosen, &mut reasons, &[*agent], why);
        }
    }
    // Trouble has a cause and an impact somewhere else: a diagnosis reads all three sources side by side,
    // so a crash loop's victims (metrics) and a latency regression's rollout (Kubernetes) are not missed.
    let trouble = question
        .symptoms
        .iter()
        .any(|s| !matches!(s, Symptom::Health | Symptom::Deployment));
    if trouble || question.wants_diagnosis {
        choose(
            &mut chosen,
            &mut reasons,
            &[Kubernetes, Logs, Metrics],
            "a diagnosis needs workload state, logs and metrics side by side",
        );
    }
    if !question.remembered.is_empty() {
        let facts: Vec<String> = question
            .remembered
            .iter()
            .map(|(named, related)| format!("{named} ~ {related}"))
            .collect();
        choose(
            &mut chosen,
            &mut reasons,
            &[Kubernetes, Logs],
            "memory relates the named components to others, so their workloads and logs are checked",
        );
        reasons.push(format!("remembered dependencies: {}", facts.join(", ")));
    }
    if chosen.is_empty() {
        choose(
            &mut chosen,
            &mut reasons,
            &[Kubernetes, Logs, Metrics],
            "no specific symptom named, so a broad check",
        );
    } else if !question.subject_terms().is_empty() && chosen.iter().any(|a| *a != Runbooks) {
        choose(
            &mut chosen,
            &mut reasons,
            &[Kubernetes, Logs, Metrics],
            "the question names a component, so it is checked from every side",
        );
    }
    let incident = [
        Symptom::Crash,
        Symptom::Outage,
        Symptom::Errors,
        Symptom::Memory,
        Symptom::Certificate,
    ]
    .iter()
    .any(|s| question.has(*s));
    if question.wants_remedy && incident {
        choose(
            &mut chosen,
            &mut reasons,
            &[Runbooks],
            "the question asks why or how to fix an incident",
        );
    }
    if incident && question.namespace.as_deref() == Some("production") {
        choose(
            &mut chosen,
            &mut reasons,
            &[Runbooks],
            "an incident in production needs its playbook and escalation path",
        );
    }
    RoutePlan {
        agents: chosen.into_iter().collect(),
        reason: reasons.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentKind::*;

    fn agents(q: &str) -> Vec<AgentKind> {
        plan(&Question::parse(q)).agents
    }

    #[test]
    fn crash_loop_question_uses_pods_logs_and_runbooks() {
        assert_eq!(
            agents("Why are the database pods crash looping in production?"),
            vec![Kubernetes, Logs, Metrics, Runbooks]
        );
    }

    #[test]
    fn a_production_incident_reads_its_playbook() {
        let plan = plan(&Question::parse(
            "Database pods are crash looping in production",
        ));
        assert_eq!(plan.agents, vec![Kubernetes, Logs, Metrics, Runbooks]);
        assert!(
            plan.reason.contains("incident in production"),
            "{}",
            plan.reason
        );
        assert!(!agents("Database pods are crash looping in staging").contains(&Runbooks));
    }

    #[test]
    fn latency_goes_to_metrics_kubernetes_and_logs() {
        assert_eq!(
            agents("API response times have degraded 3x in the last hour"),
            vec![Kubernetes, Logs, Metrics]
        );
    }

    #[test]
    fn health_check_is_kubernetes_and_metrics() {
        assert_eq!(agents("Check cluster health"), vec![Kubernetes, Metrics]);
    }

    #[test]
    fn vague_questions_get_a_broad_check_with_a_reason() {
        let plan = plan(&Question::parse("Something is off with checkout"));
        assert_eq!(plan.agents, vec![Kubernetes, Logs, Metrics]);
        assert!(plan.reason.contains("broad check"));
    }

    #[test]
    fn a_named_component_is_checked_from_every_side() {
        let plan = plan(&Question::parse("What is the status of checkout-service?"));
        assert_eq!(plan.agents, vec![Kubernetes, Logs, Metrics]);
        assert!(plan.reason.contains("names a component"), "{}", plan.reason);
    }

    #[test]
    fn a_pure_procedure_question_reads_only_runbooks() {
        assert_eq!(
            agents("Who is on the escalation list for the payments team?"),
            vec![Runbooks]
        );
    }

    #[test]
    fn remembered_dependencies_are_part_of_the_plan() {
        let q = Question::parse("Why is web-service slow?").with_memory(&[
            "Known infrastructure: web-service depends on database-service (dependency)".to_owned(),
        ]);
        let plan = plan(&q);
        assert!(plan.agents.contains(&Logs) && plan.agents.contains(&Kubernetes));
        assert!(
            plan.reason
                .contains("remembered dependencies: web-service ~ database-service"),
            "{}",
            plan.reason
        );
    }

    #[test]
    fn explicit_runbook_request() {
        assert!(agents("Which runbook covers a full disk?").contains(&Runbooks));
    }
}
