//! What an investigation teaches memory: its summary, and the infrastructure facts its findings establish
//! from tool data — dependencies seen in failing calls, the configuration objects pods need, and healthy
//! baselines. Nothing is remembered that no tool returned.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sre_agents::{
    finding::{Assessment, EntityKind, FindingKind, RelationKind},
    protocol::AgentKind,
};
use sre_memory::{
    InvestigationSummary, KnowledgeKind, KnowledgeRecord, ResolutionStatus,
    record::{MAX_LIST_ITEMS, MAX_TEXT_CHARS},
};

use crate::report::AgentSection;

/// Confidence of a dependency seen in failing calls.
const DEPENDENCY_CONFIDENCE: f32 = 0.8;
/// Confidence of a configuration object a pod was seen to need.
const CONFIG_CONFIDENCE: f32 = 0.9;
/// Confidence of a baseline measured on a healthy service.
const BASELINE_CONFIDENCE: f32 = 0.7;

/// The facts the findings establish, each once.
pub fn facts(sections: &[AgentSection], investigation_id: &str) -> Vec<KnowledgeRecord> {
    let mut seen = BTreeSet::new();
    let mut facts = Vec::new();
    for section in sections {
        let Ok(report) = &section.result else {
            continue;
        };
        let agent = section.kind.service_name();
        for finding in &report.findings {
            let subject = &finding.subject.name;
            for relation in &finding.related {
                let other = &relation.entity.name;
                let record = match (relation.relation, finding.kind) {
                    (RelationKind::DependsOn, _) => KnowledgeRecord::dependency(
                        subject.clone(),
                        other.clone(),
                        agent.clone(),
                        DEPENDENCY_CONFIDENCE,
                    ),
                    (RelationKind::CausedBy, FindingKind::PodFailure)
                        if matches!(
                            relation.entity.kind,
                            EntityKind::ConfigMap | EntityKind::Secret
                        ) =>
                    {
                        let owner = finding
                            .related
                            .iter()
                            .find(|r| {
                                r.relation == RelationKind::PartOf
                                    && r.entity.kind == EntityKind::Deployment
                            })
                            .map_or(subject.as_str(), |r| r.entity.name.as_str());
                        KnowledgeRecord {
                            kind: KnowledgeKind::Config,
                            subject: owner.to_owned(),
                            fact: format!(
                                "{owner} needs {} {other}",
                                kind_name(relation.entity.kind)
                            ),
                            related: vec![other.clone()],
                            confidence: CONFIG_CONFIDENCE,
                            source_agent: agent.clone(),
                            investigation_id: None,
                        }
                    }
                    _ => continue,
                };
                push(&mut facts, &mut seen, record, investigation_id);
            }
            if finding.kind == FindingKind::Healthy
                && finding.subject.kind == EntityKind::Service
                && section.kind == AgentKind::Metrics
            {
                let record = KnowledgeRecord {
                    kind: KnowledgeKind::Baseline,
                    subject: subject.clone(),
                    fact: finding.summary.trim_end_matches('.').to_owned(),
                    related: Vec::new(),
                    confidence: BASELINE_CONFIDENCE,
                    source_agent: agent.clone(),
                    investigation_id: None,
                };
                push(&mut facts, &mut seen, record, investigation_id);
            }
        }
    }
    facts
}

fn push(
    facts: &mut Vec<KnowledgeRecord>,
    seen: &mut BTreeSet<String>,
    mut record: KnowledgeRecord,
    id: &str,
) {
    if seen.insert(format!("{:?}|{}", record.kind, record.fact.to_lowercase())) {
        record.investigation_id = Some(id.to_owned());
        facts.push(record);
    }
}

fn kind_name(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::ConfigMap => "ConfigMap",
        EntityKind::Secret => "Secret",
        _ => "object",
    }
}

/// The history record of an investigation.
pub fn summary(
    investigation_id: &str,
    question: &str,
    assessment: &Assessment,
    trace_id: Option<&str>,
    occurred_at: DateTime<Utc>,
) -> InvestigationSummary {
    InvestigationSummary {
        investigation_id: investigation_id.to_owned(),
        question: clip(question),
        root_cause: clip(&assessment.root_cause),
        impacted_services: assessment
            .impacted_services
            .iter()
            .take(MAX_LIST_ITEMS)
            .cloned()
            .collect(),
        severity: assessment.severity,
        actions: assessment
            .next_steps
            .iter()
            .take(MAX_LIST_ITEMS)
            .map(|s| clip(s))
            .collect(),
        resolution: if assessment.root_cause_entities.is_empty() {
            ResolutionStatus::Inconclusive
        } else {
            ResolutionStatus::RootCauseIdentified
        },
        trace_id: trace_id.map(str::to_owned),
        occurred_at,
    }
}

/// Text cut to what a memory record holds (the cut leaves room for its ellipsis).
fn clip(text: &str) -> String {
    sre_telemetry::redact::truncate_chars(text, MAX_TEXT_CHARS - 1)
}
