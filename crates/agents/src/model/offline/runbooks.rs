//! The runbooks analyst: finds the playbooks, guides, resolutions and escalation paths that match the
//! question, and quotes their steps as given.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    Wanted,
    json::{int, list, str_of, strings},
    question::{Question, Symptom},
    transcript::Transcript,
};
use crate::finding::{
    AgentAnswer, EntityKind, EntityRef, Evidence, Finding, FindingKind, Severity,
};

/// Extra search words per symptom, so "crash looping" also finds "CrashLoopBackOff" runbooks.
const SYMPTOM_KEYWORDS: &[(Symptom, &str)] = &[
    (Symptom::Crash, "crashloopbackoff crash restart"),
    (Symptom::Latency, "latency slow response"),
    (Symptom::Errors, "error failure 5xx"),
    (Symptom::Memory, "memory oom leak"),
    (Symptom::Cpu, "cpu throttling"),
    (Symptom::Disk, "disk pressure storage"),
    (Symptom::Network, "network connection timeout"),
    (Symptom::Outage, "outage unavailable"),
    (Symptom::Deployment, "deployment rollback"),
    (Symptom::Config, "configuration configmap"),
    (Symptom::Certificate, "certificate tls expired"),
];

/// The calls the data asks for next.
pub(crate) fn next_calls(t: &Transcript) -> Vec<Wanted> {
    let q = &t.question;
    let terms = q
        .terms
        .iter()
        .take(8)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let mut wanted = Vec::new();
    if !terms.is_empty() {
        wanted.push(Wanted::new("search_runbooks", json!({ "keyword": terms })));
        wanted.push(Wanted::new(
            "get_common_resolutions",
            json!({ "issue": terms }),
        ));
    }
    let symptom_words = symptom_keywords(q);
    if !symptom_words.is_empty() {
        wanted.push(Wanted::new(
            "search_runbooks",
            json!({ "keyword": symptom_words }),
        ));
    }
    if wanted.is_empty() {
        wanted.push(Wanted::new("search_runbooks", json!({})));
    }
    wanted.push(Wanted::new("get_troubleshooting_guide", json!({})));

    let ranked = ranked_runbooks(t);
    let Some((top_score, top)) = ranked.first() else {
        return wanted;
    };
    // The best playbook, and a second one only when it scores as well.
    for (_, runbook) in ranked
        .iter()
        .take(2)
        .filter(|(score, _)| score == top_score)
    {
        if let Some(id) = str_of(runbook, "id") {
            wanted.push(Wanted::new(
                "get_incident_playbook",
                json!({ "playbook_id": id }),
            ));
        }
    }
    let mut escalation = serde_json::Map::new();
    if let Some(severity) = str_of(top, "severity") {
        escalation.insert("severity".into(), json!(severity));
    }
    if let Some(kind) = str_of(top, "incident_type") {
        escalation.insert("incident_type".into(), json!(kind));
    }
    wanted.push(Wanted::new(
        "get_escalation_procedures",
        Value::Object(escalation),
    ));
    wanted
}

/// Findings from everything fetched.
pub(crate) fn conclude(t: &Transcript) -> AgentAnswer {
    let mut findings = Vec::new();
    let words = question_words(&t.question);

    for (_, playbook) in t.outputs("get_incident_playbook") {
        if let Some(finding) = playbook_finding(playbook) {
            findings.push(finding);
        }
    }
    if let Some(guides) = t.output("get_troubleshooting_guide") {
        let best = list(guides, "guides")
            .iter()
            .map(|g| (overlap(&words, &guide_text(g)), g))
            .filter(|(score, _)| *score > 0)
            .max_by_key(|(score, _)| *score);
        if let Some((_, guide)) = best {
            findings.extend(guide_finding(guide));
        }
    }
    if let Some(resolutions) = t.output("get_common_resolutions") {
        for resolution in list(resolutions, "resolutions").iter().take(2) {
            findings.extend(resolution_finding(resolution));
        }
    }
    if let Some(procedures) = t.output("get_escalation_procedures")
        && let Some(procedure) = list(procedures, "procedures").first()
    {
        findings.extend(escalation_finding(procedure));
    }
    let summary = if findings.is_empty() {
        if t.failures().next().is_some() && t.calls.iter().all(|c| c.error.is_some()) {
            "No data: the runbook tools failed.".to_owned()
        } else {
            "No runbook matches this question.".to_owned()
        }
    } else {
        let names: Vec<String> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::RunbookMatch)
            .map(|f| f.subject.name.clone())
            .collect();
        format!("Matching procedures: {}.", names.join(", "))
    };
    AgentAnswer { summary, findings }
}

fn symptom_keywords(q: &Question) -> String {
    let mut words: Vec<&str> = Vec::new();
    for (symptom, keywords) in SYMPTOM_KEYWORDS {
        if q.has(*symptom) {
            words.extend(keywords.split(' '));
        }
    }
    words.dedup();
    words.join(" ")
}

/// Runbooks from every search, best score first (ties in listing order).
fn ranked_runbooks(t: &Transcript) -> Vec<(i64, &Value)> {
    let mut seen = BTreeSet::new();
    let mut ranked: Vec<(i64, &Value)> = Vec::new();
    for (_, output) in t.outputs("search_runbooks") {
        for runbook in list(output, "runbooks") {
            let Some(id) = str_of(runbook, "id") else {
                continue;
            };
            let score = int(runbook, "score").unwrap_or(0);
            if let Some(existing) = ranked.iter_mut().find(|(_, r)| str_of(r, "id") == Some(id)) {
                existing.0 += score;
            } else if seen.insert(id.to_owned()) {
                ranked.push((score, runbook));
            }
        }
    }
    ranked.retain(|(score, _)| *score > 0);
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranked
}

fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 3
            && let Some(s) = w.strip_suffix(suffix)
        {
            return s.to_owned();
        }
    }
    w
}

fn words_of(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(stem)
        .collect()
}

fn question_words(q: &Question) -> BTreeSet<String> {
    let mut words = words_of(&q.terms.join(" "));
    words.extend(words_of(&symptom_keywords(q)));
    words
}

fn overlap(a: &BTreeSet<String>, b: &BTreeSet<String>) -> usize {
    a.intersection(b).count()
}

fn guide_text(guide: &Value) -> BTreeSet<String> {
    let mut text = String::new();
    for key in ["title", "category", "issue_type"] {
        text.push_str(str_of(guide, key).unwrap_or_default());
        text.push(' ');
    }
    text.push_str(&strings(guide, "symptoms").join(" "));
    words_of(&text)
}

fn playbook_finding(playbook: &Value) -> Option<Finding> {
    let id = str_of(playbook, "id")?;
    let title = str_of(playbook, "title").unwrap_or(id);
    let actions: Vec<String> = list(playbook, "steps")
        .iter()
        .map(|step| {
            let title = str_of(step, "title").unwrap_or("Step");
            let commands = strings(step, "commands");
            if commands.is_empty() {
                title.to_owned()
            } else {
                format!(
                    "{title}: {}",
                    commands
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        })
        .collect();
    let severity = str_of(playbook, "severity").unwrap_or("unrated");
    let mut summary = format!("Playbook {id} — {title} ({severity})");
    if let Some(escalation) = str_of(playbook, "escalation") {
        summary.push_str(&format!("; escalation: {escalation}"));
    }
    Some(Finding {
        kind: FindingKind::RunbookMatch,
        severity: Severity::Info,
        summary,
        subject: EntityRef::new(EntityKind::Runbook, id),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: "get_incident_playbook".into(),
            detail: format!("{id}: {} steps", actions.len()),
        }],
        actions,
    })
}

fn guide_finding(guide: &Value) -> Option<Finding> {
    let id = str_of(guide, "id").or_else(|| str_of(guide, "title"))?;
    let title = str_of(guide, "title").unwrap_or(id);
    let mut actions: Vec<String> = strings(guide, "diagnostic_steps");
    actions.extend(strings(guide, "solutions"));
    actions.truncate(8);
    Some(Finding {
        kind: FindingKind::RunbookMatch,
        severity: Severity::Info,
        summary: format!("Troubleshooting guide {id} — {title}"),
        subject: EntityRef::new(EntityKind::Runbook, id),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: "get_troubleshooting_guide".into(),
            detail: format!("{title}: {} steps", actions.len()),
        }],
        actions,
    })
}

fn resolution_finding(resolution: &Value) -> Option<Finding> {
    let issue = str_of(resolution, "issue")?;
    let text = str_of(resolution, "resolution").unwrap_or_default();
    Some(Finding {
        kind: FindingKind::RunbookMatch,
        severity: Severity::Info,
        summary: format!("Known resolution for \"{issue}\": {text}"),
        subject: EntityRef::new(EntityKind::Runbook, issue),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: "get_common_resolutions".into(),
            detail: format!(
                "{issue} (score {})",
                int(resolution, "score").unwrap_or_default()
            ),
        }],
        actions: strings(resolution, "steps"),
    })
}

fn escalation_finding(procedure: &Value) -> Option<Finding> {
    let levels: Vec<String> = list(procedure, "levels")
        .iter()
        .filter_map(|l| {
            let contact = str_of(l, "contact")?;
            let channel = str_of(l, "channel")
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let after = str_of(l, "after")
                .filter(|a| *a != "0m" && *a != "0s")
                .map(|a| format!(" after {a}"))
                .unwrap_or_else(|| " immediately".into());
            Some(format!(
                "level {}: {contact}{channel}{after}",
                int(l, "level").unwrap_or(1)
            ))
        })
        .collect();
    let first_contact = list(procedure, "levels")
        .first()
        .and_then(|l| str_of(l, "contact"))?;
    let severity = str_of(procedure, "severity").unwrap_or("any");
    let incident_type = str_of(procedure, "incident_type").unwrap_or("*");
    let response = str_of(procedure, "response_time")
        .map(|r| format!("; respond within {r}"))
        .unwrap_or_default();
    Some(Finding {
        kind: FindingKind::EscalationGuidance,
        severity: Severity::Info,
        summary: format!(
            "Escalation for {severity} {incident_type} incidents: {}{response}.",
            levels.join("; ")
        ),
        subject: EntityRef::new(EntityKind::Other, first_contact),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: "get_escalation_procedures".into(),
            detail: format!("{severity}/{incident_type}: {} levels", levels.len()),
        }],
        actions: Vec::new(),
    })
}
