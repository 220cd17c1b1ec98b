//! The metrics analyst: compares each service's latency, error rate, availability and resource series
//! with its own baseline, dates the onset with trend analysis, and names healthy services as controls.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    Wanted,
    json::{clock, fmt_num, list, num, str_of, time},
    question::{Symptom, duration_arg},
    transcript::Transcript,
};
use crate::finding::{
    AgentAnswer, EntityKind, EntityRef, Evidence, Finding, FindingKind, Severity,
};

const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// The metric families the analyst reads, with the round-one tool call that fetches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    ResponseTime,
    ErrorRate,
    Availability,
    Memory,
    Cpu,
    Disk,
    Network,
    Throughput,
}

impl Metric {
    /// `metric_name` of `analyze_trends`.
    fn trend_name(self) -> &'static str {
        match self {
            Metric::ResponseTime => "response_time",
            Metric::ErrorRate => "error_rate",
            Metric::Availability => "availability",
            Metric::Memory => "memory_usage",
            Metric::Cpu => "cpu_usage",
            Metric::Disk => "disk_usage",
            Metric::Network => "network",
            Metric::Throughput => "throughput",
        }
    }

    fn from_trend_name(name: &str) -> Option<Self> {
        [
            Metric::ResponseTime,
            Metric::ErrorRate,
            Metric::Availability,
            Metric::Memory,
            Metric::Cpu,
            Metric::Disk,
            Metric::Network,
            Metric::Throughput,
        ]
        .into_iter()
        .find(|m| m.trend_name() == name)
    }

    fn label(self) -> &'static str {
        match self {
            Metric::ResponseTime => "response time",
            Metric::ErrorRate => "error rate",
            Metric::Availability => "availability",
            Metric::Memory => "memory usage",
            Metric::Cpu => "CPU usage",
            Metric::Disk => "disk usage",
            Metric::Network => "network throughput",
            Metric::Throughput => "request throughput",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::ResponseTime => " ms",
            Metric::Network => " Mbit/s",
            Metric::Throughput => " req/s",
            _ => "%",
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Metric::ResponseTime | Metric::Throughput => "get_performance_metrics",
            Metric::ErrorRate => "get_error_rates",
            Metric::Availability => "get_availability_metrics",
            _ => "get_resource_metrics",
        }
    }
}

/// What one metric of one service is doing.
#[derive(Debug, Clone)]
struct Signal {
    metric: Metric,
    service: String,
    baseline: f64,
    latest: f64,
    onset: Option<DateTime<Utc>>,
    /// The worst value inside the window (highest, or lowest for availability) and when it was seen.
    peak: Option<Peak>,
    source: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Peak {
    value: f64,
    at: Option<DateTime<Utc>>,
}

impl Signal {
    /// The same signal as it stood at its worst point.
    fn at_peak(&self) -> Option<Signal> {
        let peak = self.peak?;
        Some(Signal {
            latest: peak.value,
            onset: peak.at,
            ..self.clone()
        })
    }

    /// Anomalous at its worst point inside the window but back within its baseline now.
    fn is_transient(&self) -> bool {
        matches!(
            self.metric,
            Metric::ResponseTime | Metric::ErrorRate | Metric::Availability
        ) && !looks_anomalous(self)
            && self.at_peak().is_some_and(|p| {
                looks_anomalous(&p)
                    && (self.metric != Metric::Availability || p.latest < TRANSIENT_AVAILABILITY)
            })
    }
}

/// A dip of availability below this (percent) is an outage even when short.
const TRANSIENT_AVAILABILITY: f64 = 99.5;
/// Availability below this (percent) misses a typical SLO.
const AVAILABILITY_SLO: f64 = 99.9;

/// The calls the data asks for next.
pub(crate) fn next_calls(t: &Transcript) -> Vec<Wanted> {
    let q = &t.question;
    let window = q.window_or(DEFAULT_WINDOW);
    let w = duration_arg(window);
    let mut wanted = vec![
        Wanted::new("get_error_rates", json!({ "time_window": w })),
        Wanted::new(
            "get_performance_metrics",
            json!({ "metric_type": "response_time", "start_time": w }),
        ),
        Wanted::new("get_availability_metrics", json!({ "time_window": w })),
        Wanted::new(
            "get_resource_metrics",
            json!({ "resource_type": "memory", "time_window": w }),
        ),
        Wanted::new(
            "get_resource_metrics",
            json!({ "resource_type": "cpu", "time_window": w }),
        ),
    ];
    // Disk fills slowly and silently, and a full node evicts pods that then look like the problem.
    wanted.push(Wanted::new(
        "get_resource_metrics",
        json!({ "resource_type": "disk", "time_window": w }),
    ));
    if q.has(Symptom::Network) {
        wanted.push(Wanted::new(
            "get_resource_metrics",
            json!({ "resource_type": "network", "time_window": w }),
        ));
    }
    // Load explains saturation and latency that no change does.
    wanted.push(Wanted::new(
        "get_performance_metrics",
        json!({ "metric_type": "throughput", "start_time": w }),
    ));
    let trend_window = duration_arg(window.max(DEFAULT_WINDOW) * 2);
    let mut suspicious: Vec<Metric> = first_round_signals(t)
        .into_iter()
        .filter(|s| looks_anomalous(s) || s.is_transient())
        .map(|s| s.metric)
        .collect();
    if q.has(Symptom::Latency) && t.output("get_performance_metrics").is_some() {
        suspicious.push(Metric::ResponseTime);
    }
    suspicious.sort();
    suspicious.dedup();
    for metric in suspicious {
        wanted.push(Wanted::new(
            "analyze_trends",
            json!({ "metric_name": metric.trend_name(), "time_window": trend_window }),
        ));
    }
    wanted
}

/// Findings from everything fetched.
pub(crate) fn conclude(t: &Transcript) -> AgentAnswer {
    let first = first_round_signals(t);
    if first.is_empty() && t.output("analyze_trends").is_none() {
        return t.no_data("metrics", "no series");
    }
    // Trend analysis (with onset) replaces the first-round view of the same metric and service.
    let mut signals: BTreeMap<(Metric, String), (Signal, bool)> = BTreeMap::new();
    for s in first {
        let anomalous = looks_anomalous(&s);
        signals.insert((s.metric, s.service.clone()), (s, anomalous));
    }
    let peaks: BTreeMap<(Metric, String), Peak> = signals
        .iter()
        .filter_map(|(k, (s, _))| s.peak.map(|p| (k.clone(), p)))
        .collect();
    for (args, output) in t.outputs("analyze_trends") {
        let Some(metric) = str_of(args, "metric_name").and_then(Metric::from_trend_name) else {
            continue;
        };
        for svc in list(output, "services") {
            let Some(service) = str_of(svc, "service") else {
                continue;
            };
            let (Some(baseline), Some(latest)) = (num(svc, "baseline"), num(svc, "latest")) else {
                continue;
            };
            let signal = Signal {
                metric,
                service: service.to_owned(),
                baseline,
                latest,
                onset: sustained_onset(svc).or_else(|| time(svc, "onset")),
                peak: peaks.get(&(metric, service.to_owned())).copied(),
                source: "analyze_trends",
            };
            // The trend dates the anomaly; whether there is one, the values decide — the first round's
            // verdict counts too, since a decline already under way when the trend window starts leaves
            // the trend's own baseline low.
            let first_verdict = signals
                .get(&(metric, service.to_owned()))
                .is_some_and(|(_, anomalous)| *anomalous);
            let flagged = svc
                .get("anomalous")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let anomalous =
                looks_anomalous(&signal) && (flagged || signal.onset.is_some() || first_verdict);
            signals.insert((metric, service.to_owned()), (signal, anomalous));
        }
    }

    let mut findings: Vec<Finding> = Vec::new();
    let mut troubled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (signal, anomalous) in signals.values() {
        let finding = if *anomalous {
            signal_finding(signal)
        } else if signal.is_transient() {
            transient_finding(signal)
        } else {
            continue;
        };
        troubled
            .entry(signal.service.clone())
            .or_default()
            .push(signal.metric.label().to_owned());
        findings.push(finding);
    }
    let mut healthy: BTreeMap<String, Vec<&Signal>> = BTreeMap::new();
    for (signal, _) in signals.values() {
        if !troubled.contains_key(&signal.service) {
            healthy
                .entry(signal.service.clone())
                .or_default()
                .push(signal);
        }
    }
    for (service, signals) in &healthy {
        findings.push(healthy_finding(service, signals));
    }

    let mut summary = if troubled.is_empty() {
        format!("All {} services are within their baselines.", healthy.len())
    } else {
        let parts: Vec<String> = troubled
            .iter()
            .map(|(s, m)| format!("{s} ({})", m.join(", ")))
            .collect();
        format!("Anomalies: {}.", parts.join("; "))
    };
    if !healthy.is_empty() && !troubled.is_empty() {
        summary.push_str(&format!(
            " Healthy: {}.",
            healthy.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    AgentAnswer { summary, findings }
}

/// Signals from the first-round tools (no onset).
fn first_round_signals(t: &Transcript) -> Vec<Signal> {
    let mut signals = Vec::new();
    for (args, output) in t.outputs("get_performance_metrics") {
        let metric = match str_of(args, "metric_type").or_else(|| str_of(output, "metric_type")) {
            Some("throughput") => Metric::Throughput,
            Some("cpu_usage") => Metric::Cpu,
            Some("memory_usage") => Metric::Memory,
            _ => Metric::ResponseTime,
        };
        signals.extend(stats_signals(output, metric, "get_performance_metrics"));
    }
    for (_, output) in t.outputs("get_resource_metrics") {
        let metric = match str_of(output, "resource_type") {
            Some("memory") => Metric::Memory,
            Some("disk") => Metric::Disk,
            Some("network") => Metric::Network,
            _ => Metric::Cpu,
        };
        signals.extend(stats_signals(output, metric, "get_resource_metrics"));
    }
    if let Some(output) = t.output("get_error_rates") {
        for svc in list(output, "services") {
            let (Some(service), Some(latest)) = (str_of(svc, "service"), num(svc, "current"))
            else {
                continue;
            };
            signals.push(Signal {
                metric: Metric::ErrorRate,
                service: service.to_owned(),
                baseline: num(svc, "baseline").unwrap_or(0.0),
                latest,
                onset: None,
                peak: extreme(svc, true)
                    .or_else(|| num(svc, "peak").map(|value| Peak { value, at: None })),
                source: "get_error_rates",
            });
        }
    }
    if let Some(output) = t.output("get_availability_metrics") {
        for svc in list(output, "services") {
            let Some(service) = str_of(svc, "service") else {
                continue;
            };
            let Some(latest) = num(svc, "latest").or_else(|| num(svc, "availability")) else {
                continue;
            };
            let baseline =
                first_point(svc).unwrap_or_else(|| num(svc, "availability").unwrap_or(latest));
            signals.push(Signal {
                metric: Metric::Availability,
                service: service.to_owned(),
                baseline: baseline
                    .max(latest)
                    .max(num(svc, "availability").unwrap_or(0.0)),
                latest,
                onset: None,
                peak: extreme(svc, false)
                    .or_else(|| num(svc, "min").map(|value| Peak { value, at: None })),
                source: "get_availability_metrics",
            });
        }
    }
    signals
}

/// When the anomaly really began: the start of the longest run of consecutive anomalous points (the latest run
/// on a tie), so a lone noisy point long before does not pass for the onset.
fn sustained_onset(svc: &Value) -> Option<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = list(svc, "anomalies")
        .iter()
        .filter_map(|a| time(a, "timestamp"))
        .collect();
    times.sort();
    times.dedup();
    let step = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|gap| *gap > chrono::Duration::zero())
        .min()?;
    let mut best: (usize, DateTime<Utc>) = (1, *times.first()?);
    let (mut run, mut run_start) = (1, times[0]);
    for pair in times.windows(2) {
        if pair[1] - pair[0] <= step * 2 {
            run += 1;
        } else {
            run = 1;
            run_start = pair[1];
        }
        if run >= best.0 {
            best = (run, run_start);
        }
    }
    Some(best.1)
}

/// The highest (or lowest) point of a series answer, with its time.
fn extreme(svc: &Value, highest: bool) -> Option<Peak> {
    list(svc, "points")
        .iter()
        .filter_map(|p| Some((num(p, "value")?, time(p, "timestamp"))))
        .reduce(|a, b| {
            let better = if highest { b.0 > a.0 } else { b.0 < a.0 };
            if better { b } else { a }
        })
        .map(|(value, at)| Peak { value, at })
}

fn first_point(svc: &Value) -> Option<f64> {
    num(svc, "first").or_else(|| list(svc, "points").first().and_then(|p| num(p, "value")))
}

fn stats_signals(output: &Value, metric: Metric, source: &'static str) -> Vec<Signal> {
    list(output, "services")
        .iter()
        .filter_map(|svc| {
            Some(Signal {
                metric,
                service: str_of(svc, "service")?.to_owned(),
                baseline: first_point(svc)?,
                latest: num(svc, "latest")?,
                onset: None,
                peak: extreme(svc, true)
                    .or_else(|| num(svc, "max").map(|value| Peak { value, at: None })),
                source,
            })
        })
        .collect()
}

/// Thresholds that separate a real change from noise, per metric.
fn looks_anomalous(s: &Signal) -> bool {
    let ratio = if s.baseline.abs() > f64::EPSILON {
        s.latest / s.baseline
    } else {
        f64::INFINITY
    };
    match s.metric {
        Metric::ResponseTime => ratio >= 1.5 && s.latest - s.baseline >= 10.0,
        Metric::ErrorRate => s.latest >= 1.0 && s.latest >= 2.0 * s.baseline + 0.5,
        // Below the SLO and either lower than before or low all along.
        Metric::Availability => {
            s.latest < AVAILABILITY_SLO
                && (s.baseline - s.latest >= 0.05 || s.baseline < AVAILABILITY_SLO)
        }
        Metric::Memory | Metric::Cpu | Metric::Disk => {
            s.latest >= 90.0 || (s.latest - s.baseline >= 25.0 && s.latest >= 60.0)
        }
        Metric::Network | Metric::Throughput => s.baseline > 0.0 && (ratio <= 0.5 || ratio >= 2.0),
    }
}

fn severity(s: &Signal) -> Severity {
    let ratio = if s.baseline.abs() > f64::EPSILON {
        s.latest / s.baseline
    } else {
        f64::INFINITY
    };
    match s.metric {
        Metric::ResponseTime if ratio >= 2.5 => Severity::High,
        Metric::ResponseTime => Severity::Medium,
        Metric::ErrorRate if s.latest >= 25.0 => Severity::Critical,
        Metric::ErrorRate if s.latest >= 5.0 => Severity::High,
        Metric::ErrorRate => Severity::Medium,
        Metric::Availability if s.latest < 90.0 => Severity::Critical,
        Metric::Availability if s.latest < 99.0 => Severity::High,
        Metric::Availability => Severity::Medium,
        Metric::Memory | Metric::Cpu | Metric::Disk if s.latest >= 95.0 => Severity::High,
        Metric::Memory | Metric::Cpu | Metric::Disk => Severity::Medium,
        Metric::Network | Metric::Throughput if s.latest <= f64::EPSILON => Severity::High,
        // More load is context (it explains saturation elsewhere), not an impairment by itself.
        Metric::Network | Metric::Throughput if s.latest > s.baseline => Severity::Low,
        Metric::Network | Metric::Throughput => Severity::Medium,
    }
}

fn signal_finding(s: &Signal) -> Finding {
    let unit = s.metric.unit();
    let label = s.metric.label();
    let since = s
        .onset
        .map(|t| format!(" since {}", clock(t)))
        .unwrap_or_default();
    let (kind, text) = match s.metric {
        Metric::ResponseTime => {
            let factor = if s.baseline > 0.0 {
                format!(" (×{})", fmt_num(s.latest / s.baseline))
            } else {
                String::new()
            };
            (
                FindingKind::LatencyAnomaly,
                format!(
                    "{} {label} rose from {}{unit} to {}{unit}{factor}{since}.",
                    s.service,
                    fmt_num(s.baseline),
                    fmt_num(s.latest)
                ),
            )
        }
        Metric::ErrorRate => (
            FindingKind::ErrorRateAnomaly,
            format!(
                "{} {label} is {}{unit} against a baseline of {}{unit}{since}.",
                s.service,
                fmt_num(s.latest),
                fmt_num(s.baseline)
            ),
        ),
        Metric::Availability => (
            FindingKind::AvailabilityDrop,
            format!(
                "{} {label} fell to {}{unit} from {}{unit}{since}.",
                s.service,
                fmt_num(s.latest),
                fmt_num(s.baseline)
            ),
        ),
        Metric::Memory | Metric::Cpu | Metric::Disk => (
            FindingKind::ResourceSaturation,
            format!(
                "{} {label} is at {}{unit} (was {}{unit}){since}.",
                s.service,
                fmt_num(s.latest),
                fmt_num(s.baseline)
            ),
        ),
        Metric::Network | Metric::Throughput => (
            FindingKind::TrafficAnomaly,
            format!(
                "{} {label} changed from {}{unit} to {}{unit}{since}.",
                s.service,
                fmt_num(s.baseline),
                fmt_num(s.latest)
            ),
        ),
    };
    Finding {
        kind,
        severity: severity(s),
        summary: text,
        subject: EntityRef::new(EntityKind::Service, s.service.as_str()),
        related: Vec::new(),
        onset: s.onset,
        evidence: vec![Evidence {
            tool: s.source.to_owned(),
            detail: format!(
                "{} {}: baseline {}{unit}, latest {}{unit}{}",
                s.service,
                s.metric.trend_name(),
                fmt_num(s.baseline),
                fmt_num(s.latest),
                s.onset
                    .map(|t| format!(", onset {}", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
        }],
        actions: Vec::new(),
    }
}

/// A spike inside the window that has since recovered: a limited impact, dated by its worst point.
fn transient_finding(s: &Signal) -> Finding {
    let unit = s.metric.unit();
    let peak = s.peak.map_or(s.latest, |p| p.value);
    let when = s
        .peak
        .and_then(|p| p.at)
        .map(|t| format!(" at {}", clock(t)))
        .unwrap_or_default();
    let (kind, moved) = match s.metric {
        Metric::ResponseTime => (FindingKind::LatencyAnomaly, "spiked to"),
        Metric::ErrorRate => (FindingKind::ErrorRateAnomaly, "spiked to"),
        _ => (FindingKind::AvailabilityDrop, "dipped to"),
    };
    Finding {
        kind,
        severity: Severity::Medium,
        summary: format!(
            "{} {} {moved} {}{unit}{when} and recovered to {}{unit} (baseline {}{unit}).",
            s.service,
            s.metric.label(),
            fmt_num(peak),
            fmt_num(s.latest),
            fmt_num(s.baseline)
        ),
        subject: EntityRef::new(EntityKind::Service, s.service.as_str()),
        related: Vec::new(),
        onset: s.peak.and_then(|p| p.at).or(s.onset),
        evidence: vec![Evidence {
            tool: s.source.to_owned(),
            detail: format!(
                "{} {}: baseline {}{unit}, peak {}{unit}{}, latest {}{unit}",
                s.service,
                s.metric.trend_name(),
                fmt_num(s.baseline),
                fmt_num(peak),
                when,
                fmt_num(s.latest)
            ),
        }],
        actions: Vec::new(),
    }
}

fn healthy_finding(service: &str, signals: &[&Signal]) -> Finding {
    let mut parts: Vec<String> = signals
        .iter()
        .map(|s| {
            format!(
                "{} {}{}",
                s.metric.label(),
                fmt_num(s.latest),
                s.metric.unit()
            )
        })
        .collect();
    parts.sort();
    let tool = signals
        .first()
        .map_or("get_performance_metrics", |s| s.metric.tool());
    Finding {
        kind: FindingKind::Healthy,
        severity: Severity::Info,
        summary: format!("{service} is within its baseline: {}.", parts.join(", ")),
        subject: EntityRef::new(EntityKind::Service, service),
        related: Vec::new(),
        onset: None,
        evidence: vec![Evidence {
            tool: tool.to_owned(),
            detail: parts.join(", "),
        }],
        actions: Vec::new(),
    }
}
