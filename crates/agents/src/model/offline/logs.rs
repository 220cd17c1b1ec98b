//! The logs analyst: error volume per service, recurring message templates, and the dependencies error
//! messages name (`host:port`, URLs, "upstream X").

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    Wanted,
    entity::{cause_hints, certificate_mentions, component, peer_references},
    json::{clock, int, list, str_of, strings, time},
    question::duration_arg,
    transcript::Transcript,
};
use crate::finding::{
    AgentAnswer, EntityKind, EntityRef, Evidence, Finding, FindingKind, Relation, RelationKind,
    Severity,
};

const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// The cause hint of certificate failures (see `cause_hints`).
const CERTIFICATE_HINT: &str = "an expired or invalid certificate";
const LOG_TOOLS: &[&str] = &["get_error_logs", "search_logs", "get_recent_logs"];

/// The calls the data asks for next.
pub(crate) fn next_calls(t: &Transcript) -> Vec<Wanted> {
    let window = duration_arg(t.question.window_or(DEFAULT_WINDOW));
    let mut wanted = vec![
        Wanted::new("get_error_logs", json!({ "since": window })),
        Wanted::new(
            "analyze_log_patterns",
            json!({ "time_window": window, "min_occurrences": 2 }),
        ),
        Wanted::new(
            "count_log_events",
            json!({ "event_type": "ERROR", "time_window": window, "group_by": "service" }),
        ),
    ];
    for term in t.question.subject_terms().into_iter().take(2) {
        wanted.push(Wanted::new(
            "search_logs",
            json!({ "pattern": regex::escape(term), "start_time": window, "log_level": "WARN" }),
        ));
    }
    // What memory says the named components talk to: their trouble may be the cause.
    for (_, related) in t.question.remembered.iter().take(2) {
        wanted.push(Wanted::new(
            "search_logs",
            json!({ "pattern": regex::escape(related), "start_time": window, "log_level": "WARN" }),
        ));
    }
    let Some(errors) = t.output("get_error_logs") else {
        return wanted;
    };
    let by_service = counts(errors, "by_service");
    for (service, _) in by_service.iter().take(3) {
        wanted.push(Wanted::new(
            "get_recent_logs",
            json!({ "service": service, "limit": 50 }),
        ));
    }
    // Callers failing certificate checks: find which certificate, from whoever warned about it (a cert
    // watcher, cert-manager, the server itself), over a longer window since warnings come ahead of expiry.
    let error_text: Vec<&str> = list(errors, "entries")
        .iter()
        .filter_map(|e| str_of(e, "message"))
        .collect();
    if cause_hints(&error_text.join("\n")).contains(&CERTIFICATE_HINT) {
        let longer = duration_arg(
            t.question
                .window_or(DEFAULT_WINDOW)
                .max(Duration::from_secs(3 * 3600)),
        );
        wanted.push(Wanted::new(
            "search_logs",
            json!({ "pattern": "certificate", "start_time": longer, "log_level": "WARN" }),
        ));
    }
    let mut peers: Vec<String> = Vec::new();
    for entry in list(errors, "entries") {
        let (Some(service), Some(message)) = (str_of(entry, "service"), str_of(entry, "message"))
        else {
            continue;
        };
        for peer in peer_references(message, &component(service)) {
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
    }
    for peer in peers.into_iter().take(2) {
        wanted.push(Wanted::new(
            "search_logs",
            json!({ "pattern": regex::escape(&peer), "start_time": window }),
        ));
    }
    if by_service.is_empty() {
        wanted.push(Wanted::new("get_recent_logs", json!({ "limit": 50 })));
    }
    wanted
}

/// Findings from everything fetched.
pub(crate) fn conclude(t: &Transcript) -> AgentAnswer {
    let window = t.question.window_or(DEFAULT_WINDOW);
    let since = Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
    let entries = entries(t);
    if entries.is_empty()
        && t.output("analyze_log_patterns").is_none()
        && t.output("get_error_logs").is_none()
    {
        return t.no_data("log", "nothing");
    }

    let mut per_service: BTreeMap<String, ServiceLogs> = BTreeMap::new();
    for (entry, tool) in &entries {
        let Some(service) = str_of(entry, "service") else {
            continue;
        };
        let at = time(entry, "timestamp");
        if at.is_some_and(|t| t < since) {
            continue;
        }
        let level = str_of(entry, "level")
            .unwrap_or("INFO")
            .to_ascii_uppercase();
        let logs = per_service.entry(service.to_owned()).or_default();
        match level.as_str() {
            "ERROR" | "FATAL" | "CRITICAL" => logs.errors.push(((*entry).clone(), *tool, at)),
            "WARN" | "WARNING" => logs.warnings.push(((*entry).clone(), *tool, at)),
            _ => logs.other += 1,
        }
        if level == "FATAL" || level == "CRITICAL" {
            logs.fatal = true;
        }
    }
    // The error tool's totals count every error in the window, including ones not listed.
    let reported = t
        .output("get_error_logs")
        .map(|o| counts(o, "by_service"))
        .unwrap_or_default();
    let patterns: Vec<Value> = t
        .output("analyze_log_patterns")
        .map(|o| list(o, "patterns").to_vec())
        .unwrap_or_default();

    let mut findings = Vec::new();
    let mut spikes: Vec<(String, usize)> = Vec::new();
    let mut certificate_failures: Vec<(String, Severity)> = Vec::new();
    for (service, logs) in &per_service {
        let total = reported
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, n)| *n)
            .unwrap_or(logs.errors.len());
        if let Some(finding) = spike_finding(service, logs, total, &patterns) {
            spikes.push((service.clone(), total));
            if finding.summary.contains(CERTIFICATE_HINT) {
                certificate_failures.push((service.clone(), finding.severity));
            }
            findings.push(finding);
        }
    }
    findings.extend(certificate_findings(&entries, &certificate_failures));
    let named_templates: BTreeSet<String> = findings
        .iter()
        .map(|f: &Finding| f.summary.clone())
        .collect();
    let mut pattern_findings = 0;
    for pattern in &patterns {
        if pattern_findings == 4 {
            break;
        }
        if let Some(finding) = pattern_finding(pattern, &named_templates) {
            pattern_findings += 1;
            findings.push(finding);
        }
    }

    let window_text = duration_arg(window);
    let summary = if spikes.is_empty() && findings.is_empty() {
        format!(
            "No errors or recurring warnings in the last {window_text} across {} services.",
            per_service.len()
        )
    } else {
        let mut spikes = spikes;
        spikes.sort_by_key(|s| std::cmp::Reverse(s.1));
        let listed: Vec<String> = spikes.iter().map(|(s, n)| format!("{s} ({n})")).collect();
        let mut text = format!(
            "Errors in the last {window_text}: {}.",
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(", ")
            }
        );
        if let Some(top) = patterns.first().and_then(|p| str_of(p, "template")) {
            text.push_str(&format!(" Most frequent pattern: \"{top}\"."));
        }
        text
    };
    AgentAnswer { summary, findings }
}

#[derive(Default)]
struct ServiceLogs {
    errors: Vec<(Value, &'static str, Option<DateTime<Utc>>)>,
    warnings: Vec<(Value, &'static str, Option<DateTime<Utc>>)>,
    other: usize,
    fatal: bool,
}

/// Log entries from every log tool, each once, with the tool that returned it first.
fn entries(t: &Transcript) -> Vec<(Value, &'static str)> {
    let mut seen = BTreeSet::new();
    let mut all = Vec::new();
    for tool in LOG_TOOLS {
        for (_, output) in t.outputs(tool) {
            for entry in list(output, "entries")
                .iter()
                .chain(list(output, "matches"))
            {
                let key = format!(
                    "{}|{}|{}",
                    str_of(entry, "timestamp").unwrap_or_default(),
                    str_of(entry, "service").unwrap_or_default(),
                    str_of(entry, "message").unwrap_or_default()
                );
                if seen.insert(key) {
                    all.push((entry.clone(), *tool));
                }
            }
        }
    }
    all
}

/// `{"a": 3, "b": 5}` as `[("b", 5), ("a", 3)]`.
fn counts(v: &Value, key: &str) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = v
        .get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n as usize)))
                .collect()
        })
        .unwrap_or_default();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

fn spike_finding(
    service: &str,
    logs: &ServiceLogs,
    total: usize,
    patterns: &[Value],
) -> Option<Finding> {
    if total < 3 && !logs.fatal {
        return None;
    }
    let severity = if logs.fatal || total >= 20 {
        Severity::High
    } else if total >= 5 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let times: Vec<DateTime<Utc>> = logs.errors.iter().filter_map(|(_, _, t)| *t).collect();
    let first = times.iter().min().copied();
    let last = times.iter().max().copied();
    let own = component(service);
    let messages: Vec<&str> = logs
        .errors
        .iter()
        .chain(&logs.warnings)
        .filter_map(|(e, _, _)| str_of(e, "message"))
        .collect();
    let mut peers: Vec<String> = Vec::new();
    for message in &messages {
        for peer in peer_references(message, &own) {
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
    }
    let top = patterns
        .iter()
        .filter(|p| strings(p, "services").iter().any(|s| s == service))
        .max_by_key(|p| int(p, "count").unwrap_or(0));
    let mut summary = format!("{service} logged {total} errors");
    if let (Some(first), Some(last)) = (first, last) {
        summary.push_str(&format!(" between {} and {}", clock(first), clock(last)));
    }
    if let Some(top) = top {
        summary.push_str(&format!(
            "; most frequent: \"{}\" (×{})",
            str_of(top, "template").unwrap_or_default(),
            int(top, "count").unwrap_or_default()
        ));
    }
    let error_text: Vec<&str> = logs
        .errors
        .iter()
        .filter_map(|(e, _, _)| str_of(e, "message"))
        .collect();
    let hints = cause_hints(&error_text.join("\n"));
    if !hints.is_empty() {
        summary.push_str(&format!(". Points to {}", hints.join(", ")));
    }
    if !peers.is_empty() {
        summary.push_str(&format!(". Calls that fail name {}", peers.join(", ")));
    }
    summary.push('.');

    let mut evidence = vec![Evidence {
        tool: "get_error_logs".into(),
        detail: format!("{service}: {total} ERROR/FATAL entries in the window"),
    }];
    let mut shown_templates = BTreeSet::new();
    for (entry, tool, _) in &logs.errors {
        let Some(message) = str_of(entry, "message") else {
            continue;
        };
        let template: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
        if shown_templates.insert(template) {
            evidence.push(Evidence {
                tool: (*tool).to_owned(),
                detail: format!(
                    "{} {} {}: {}",
                    str_of(entry, "timestamp").unwrap_or_default(),
                    str_of(entry, "level").unwrap_or_default(),
                    service,
                    sre_telemetry::redact::truncate_chars(message, 200)
                ),
            });
        }
        if evidence.len() >= 4 {
            break;
        }
    }
    Some(Finding {
        kind: FindingKind::ErrorSpike,
        severity,
        summary,
        subject: EntityRef::new(EntityKind::Service, service),
        related: peers
            .into_iter()
            .map(|p| Relation {
                relation: RelationKind::DependsOn,
                entity: EntityRef::new(EntityKind::Service, p),
            })
            .collect(),
        onset: first,
        evidence,
        actions: Vec::new(),
    })
}

/// Secrets whose certificate the logs report as expired, expiring or invalid. When callers fail certificate
/// checks the certificate is a configuration fault of the service it is issued for, as severe as the worst
/// failure; a warning alone is minor.
fn certificate_findings(
    entries: &[(Value, &'static str)],
    failures: &[(String, Severity)],
) -> Vec<Finding> {
    struct Seen {
        hosts: Vec<String>,
        reporters: BTreeSet<String>,
        last: Option<DateTime<Utc>>,
        example: (String, &'static str),
    }
    let mut secrets: BTreeMap<String, Seen> = BTreeMap::new();
    for (entry, tool) in entries {
        let Some(message) = str_of(entry, "message") else {
            continue;
        };
        let (names, hosts) = certificate_mentions(message);
        for name in names {
            let at = time(entry, "timestamp");
            let seen = secrets.entry(name).or_insert_with(|| Seen {
                hosts: Vec::new(),
                reporters: BTreeSet::new(),
                last: None,
                example: (message.to_owned(), tool),
            });
            for host in &hosts {
                if !seen.hosts.contains(host) {
                    seen.hosts.push(host.clone());
                }
            }
            if let Some(reporter) = str_of(entry, "service") {
                seen.reporters.insert(reporter.to_owned());
            }
            if at.is_some() && at >= seen.last {
                seen.last = at;
                seen.example = (message.to_owned(), tool);
            }
        }
    }
    let worst = failures.iter().map(|(_, s)| *s).max();
    let callers: Vec<&str> = failures.iter().map(|(s, _)| s.as_str()).collect();
    secrets
        .into_iter()
        .map(|(name, seen)| {
            // The certificate belongs to the host it is issued for, else to the component its name says.
            let owner = seen.hosts.first().cloned().unwrap_or_else(|| component(&name));
            let mut summary = format!(
                "The certificate in Secret {name} (issued for {owner}) is reported expired or expiring by {}",
                seen.reporters.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            if let Some(last) = seen.last {
                summary.push_str(&format!(", last at {}", clock(last)));
            }
            if !callers.is_empty() {
                summary.push_str(&format!(
                    "; {} now fail certificate verification",
                    callers.join(", ")
                ));
            }
            summary.push('.');
            Finding {
                kind: FindingKind::ConfigError,
                severity: worst.map_or(Severity::Low, |w| w.max(Severity::Medium)),
                summary,
                subject: EntityRef::new(EntityKind::Secret, name.as_str()),
                related: vec![Relation {
                    relation: RelationKind::PartOf,
                    entity: EntityRef::new(EntityKind::Service, owner.as_str()),
                }],
                onset: seen.last,
                evidence: vec![Evidence {
                    tool: seen.example.1.to_owned(),
                    detail: sre_telemetry::redact::truncate_chars(&seen.example.0, 240),
                }],
                actions: vec![format!(
                    "Renew the certificate in Secret {name} and restart {owner} so it serves the new one."
                )],
            }
        })
        .collect()
}

fn pattern_finding(pattern: &Value, already_named: &BTreeSet<String>) -> Option<Finding> {
    let template = str_of(pattern, "template")?;
    let count = int(pattern, "count").unwrap_or(0);
    let levels = strings(pattern, "levels");
    let services = strings(pattern, "services");
    let service = services.first()?;
    let worst = if levels.iter().any(|l| l == "FATAL" || l == "CRITICAL") {
        Severity::High
    } else if levels.iter().any(|l| l == "ERROR") {
        Severity::Medium
    } else {
        Severity::Low
    };
    let enough = match worst {
        Severity::High => count >= 1,
        Severity::Medium => count >= 3,
        _ => count >= 5,
    };
    let quoted = format!("\"{template}\"");
    if !enough || already_named.iter().any(|s| s.contains(&quoted)) {
        return None;
    }
    let example = str_of(pattern, "example").unwrap_or_default();
    let peers = peer_references(example, &component(service));
    let span = match (time(pattern, "first_seen"), time(pattern, "last_seen")) {
        (Some(a), Some(b)) => format!(" from {} to {}", clock(a), clock(b)),
        _ => String::new(),
    };
    Some(Finding {
        kind: FindingKind::LogPattern,
        severity: worst,
        summary: format!(
            "{quoted} ×{count} in {}{span} ({}).",
            services.join(", "),
            levels.join("/")
        ),
        subject: EntityRef::new(EntityKind::Service, service.as_str()),
        related: peers
            .into_iter()
            .map(|p| Relation {
                relation: RelationKind::DependsOn,
                entity: EntityRef::new(EntityKind::Service, p),
            })
            .collect(),
        onset: time(pattern, "first_seen"),
        evidence: vec![Evidence {
            tool: "analyze_log_patterns".into(),
            detail: format!(
                "{count} occurrences, e.g. {}",
                sre_telemetry::redact::truncate_chars(example, 200)
            ),
        }],
        actions: Vec::new(),
    })
}
