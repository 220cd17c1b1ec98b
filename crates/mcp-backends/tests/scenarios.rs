//! Every bundled scenario is a faithful incident: its answer key (`expected.json`) follows the documented
//! severity scale, the impacted services are degraded while the controls are healthy, the root cause shows in
//! the tools' answers, and each incident's own story (onset after its change, its symptoms) holds.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;
use sre_mcp_backends::dataset::expected::IncidentSeverity;
use sre_mcp_backends::dataset::k8s::ConditionStatus;
use sre_mcp_backends::dataset::logs::LogLevel;
use sre_mcp_backends::dataset::metrics::{MetricSeries, ServiceMetrics};
use sre_mcp_backends::server::{k8s, logs, metrics, runbooks};
use sre_mcp_backends::{Dataset, bundled_scenarios, load_bundled};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn load(name: &str) -> Result<Dataset> {
    Ok(load_bundled(name, now())?)
}

fn minutes_ago(at: DateTime<Utc>) -> i64 {
    (now() - at).num_minutes()
}

/// What the metrics of one service say over the last hour, against its baseline (points older than 2h 15m).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the service name shows in failure messages through Debug"
)]
struct Health {
    service: String,
    latency_ratio: f64,
    peak_error_pct: f64,
    min_availability_pct: f64,
}

impl Health {
    fn of(service: &ServiceMetrics) -> Self {
        let baseline_end = now() - TimeDelta::minutes(135);
        let hour = now() - TimeDelta::hours(1);
        let values = |series: MetricSeries, recent: bool| -> Vec<f64> {
            service
                .points(series)
                .iter()
                .filter(|p| {
                    if recent {
                        p.at >= hour
                    } else {
                        p.at <= baseline_end
                    }
                })
                .map(|p| p.value)
                .collect()
        };
        let baseline: Vec<f64> = values(MetricSeries::ResponseTimeMs, false);
        let base = baseline.iter().sum::<f64>() / baseline.len().max(1) as f64;
        let recent_latency = values(MetricSeries::ResponseTimeMs, true);
        let latency_ratio = if base > 0.0 {
            recent_latency.iter().fold(0.0_f64, |m, v| m.max(*v)) / base
        } else {
            0.0
        };
        Self {
            service: service.service.clone(),
            latency_ratio,
            peak_error_pct: values(MetricSeries::ErrorRatePct, true)
                .into_iter()
                .fold(0.0, f64::max),
            min_availability_pct: values(MetricSeries::AvailabilityPct, true)
                .into_iter()
                .fold(100.0, f64::min),
        }
    }

    fn critical(&self) -> bool {
        self.min_availability_pct < 90.0 || self.peak_error_pct >= 25.0
    }

    fn high(&self) -> bool {
        self.latency_ratio >= 2.5 || self.peak_error_pct >= 5.0 || self.min_availability_pct < 99.0
    }

    fn degraded(&self) -> bool {
        self.latency_ratio >= 1.5 || self.peak_error_pct >= 1.0 || self.min_availability_pct < 99.9
    }
}

/// The severity the documented scale gives the data of `ds`.
fn scale_severity(ds: &Dataset) -> IncidentSeverity {
    let health: Vec<Health> = ds.metrics().services.iter().map(Health::of).collect();
    let k8s = ds.k8s();
    let measured: BTreeSet<&str> = ds
        .metrics()
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    let down_with_dependents = k8s.deployments.iter().any(|d| {
        d.namespace == "production"
            && d.replicas > 0
            && d.available_replicas == 0
            && measured.contains(d.app.as_str())
    });
    let oom_loop = k8s.pods.iter().any(|p| {
        p.namespace == "production"
            && p.restarts >= 3
            && p.containers.iter().any(|c| {
                c.last_termination
                    .as_ref()
                    .is_some_and(|t| t.reason == "OOMKilled")
            })
    });
    let node_pressure = k8s.nodes.iter().any(|n| {
        n.conditions.disk_pressure == ConditionStatus::True
            || n.conditions.memory_pressure == ConditionStatus::True
            || n.conditions.ready != ConditionStatus::True
    });
    let short_of_replicas = k8s
        .deployments
        .iter()
        .any(|d| d.namespace == "production" && d.available_replicas < d.replicas);
    let hour = now() - TimeDelta::hours(1);
    let recent_warnings = k8s
        .events
        .iter()
        .any(|e| e.at >= hour && e.kind.as_str() != "Normal")
        || ds
            .logs()
            .entries
            .iter()
            .any(|e| e.at >= hour && e.level >= LogLevel::Error);
    if down_with_dependents || health.iter().any(Health::critical) {
        IncidentSeverity::Critical
    } else if oom_loop || health.iter().any(Health::high) {
        IncidentSeverity::High
    } else if node_pressure || short_of_replicas || health.iter().any(Health::degraded) {
        IncidentSeverity::Medium
    } else if recent_warnings {
        IncidentSeverity::Low
    } else {
        IncidentSeverity::Info
    }
}

/// The services a root-cause entity stands for: itself when it is a service, the `app` of a pod or deployment.
fn root_services(ds: &Dataset) -> Result<BTreeSet<String>> {
    let expected = ds
        .expected()
        .context("bundled scenarios have expected.json")?;
    let k8s = ds.k8s();
    let mut services = BTreeSet::new();
    for entity in &expected.root_cause_entities {
        services.extend(
            k8s.pods
                .iter()
                .filter(|p| &p.name == entity)
                .map(|p| p.app.clone()),
        );
        services.extend(
            k8s.deployments
                .iter()
                .filter(|d| &d.name == entity)
                .map(|d| d.app.clone()),
        );
        if ds.metrics().services.iter().any(|s| &s.service == entity) {
            services.insert(entity.clone());
        }
    }
    Ok(services)
}

#[test]
fn there_are_incidents_with_different_root_causes_and_a_healthy_baseline() -> Result<()> {
    let mut severities = BTreeSet::new();
    let mut roots = BTreeSet::new();
    for bundled in bundled_scenarios() {
        let ds = load(bundled.name)?;
        let expected = ds.expected().context("expected.json")?;
        severities.insert(expected.severity);
        roots.insert(expected.root_cause_entities.clone());
        ensure!(
            ds.scenario().questions.len() >= 4,
            "{}: an on-call engineer's questions",
            bundled.name
        );
    }
    ensure!(bundled_scenarios().len() >= 5);
    ensure!(
        roots.len() == bundled_scenarios().len(),
        "every root cause differs: {roots:?}"
    );
    ensure!(
        severities.contains(&IncidentSeverity::Info),
        "a healthy baseline"
    );
    ensure!(severities.len() >= 4, "{severities:?}");
    Ok(())
}

#[test]
fn every_answer_key_follows_the_documented_severity_scale() -> Result<()> {
    for bundled in bundled_scenarios() {
        let ds = load(bundled.name)?;
        let expected = ds.expected().context("expected.json")?;
        let computed = scale_severity(&ds);
        ensure!(
            computed == expected.severity,
            "{}: the data rates {computed}, expected.json says {}; {:#?}",
            bundled.name,
            expected.severity,
            ds.metrics()
                .services
                .iter()
                .map(Health::of)
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[test]
fn impacted_services_are_degraded_and_the_others_are_healthy_controls() -> Result<()> {
    for bundled in bundled_scenarios() {
        let ds = load(bundled.name)?;
        let expected = ds.expected().context("expected.json")?;
        let roots = root_services(&ds)?;
        let mut controls = 0;
        for service in &ds.metrics().services {
            let health = Health::of(service);
            let name = &service.service;
            if expected.impacted_services.contains(name) {
                ensure!(
                    health.degraded(),
                    "{}: impacted {name} is not degraded: {health:?}",
                    bundled.name
                );
            } else if !roots.contains(name) {
                controls += 1;
                ensure!(
                    !health.degraded(),
                    "{}: control {name} is degraded: {health:?}",
                    bundled.name
                );
            }
        }
        ensure!(
            controls >= 1,
            "{}: at least one healthy control",
            bundled.name
        );
        for impacted in &expected.impacted_services {
            ensure!(
                ds.metrics().services.iter().any(|s| &s.service == impacted),
                "{}: {impacted} has metrics",
                bundled.name
            );
        }
    }
    Ok(())
}

#[test]
fn root_causes_show_in_the_answers_of_broad_tool_calls() -> Result<()> {
    for bundled in bundled_scenarios() {
        let ds = load(bundled.name)?;
        let answers = broad_answers(&ds)?;
        for entity in &ds.expected().context("expected.json")?.root_cause_entities {
            ensure!(
                answers.contains(entity.as_str()),
                "{}: {entity} is in no broad tool answer",
                bundled.name
            );
        }
    }
    Ok(())
}

#[test]
fn every_scenario_has_noise_and_a_stable_baseline() -> Result<()> {
    for bundled in bundled_scenarios() {
        let ds = load(bundled.name)?;
        let levels: BTreeSet<LogLevel> = ds.logs().entries.iter().map(|e| e.level).collect();
        ensure!(
            levels.contains(&LogLevel::Info) && levels.contains(&LogLevel::Debug)
                || levels.len() >= 3,
            "{}: routine logs besides the errors: {levels:?}",
            bundled.name
        );
        ensure!(
            ds.k8s().events.iter().any(|e| e.kind.as_str() == "Normal"),
            "{}: routine events",
            bundled.name
        );
        let oldest = now() - TimeDelta::minutes(170);
        for service in &ds.metrics().services {
            for (series, points) in service.series.iter() {
                ensure!(
                    points.first().is_some_and(|p| p.at <= oldest) && points.len() >= 20,
                    "{}: {} {} covers three hours",
                    bundled.name,
                    service.service,
                    series.as_str()
                );
            }
        }
    }
    Ok(())
}

#[test]
fn api_latency_tripled_right_after_the_api_service_rollout() -> Result<()> {
    let ds = load("api-latency-regression")?;
    let api = trend(&ds, "response_time", "api-service")?;
    let ratio =
        api["latest"].as_f64().unwrap_or_default() / api["baseline"].as_f64().unwrap_or(1.0);
    ensure!((2.7..=3.5).contains(&ratio), "3x slower: {api}");
    let onset = minutes_ago(timestamp(&api["onset"])?);
    ensure!(
        (45..=52).contains(&onset),
        "the slowdown starts with the rollout: {onset} minutes ago"
    );

    let deployment = k8s::deployment_status(
        &ds,
        &k8s::DeploymentStatusParams {
            namespace: Some("production".into()),
            deployment_name: Some("api-service".into()),
        },
    )?;
    let d = &deployment["deployments"][0];
    ensure!(
        d["image"] == "registry.example.com/shop/api-service:3.9.0",
        "{d}"
    );
    ensure!(
        d["history"][0]["image"] == "registry.example.com/shop/api-service:3.8.0",
        "{d}"
    );
    let rolled = minutes_ago(timestamp(&d["updated_at"])?);
    ensure!(
        rolled >= onset && rolled - onset <= 7,
        "rollout {rolled}m ago, onset {onset}m ago"
    );

    let db_latency = trend(&ds, "response_time", "database")?;
    let slower = db_latency["latest"].as_f64().unwrap_or_default()
        / db_latency["baseline"].as_f64().unwrap_or(1.0);
    ensure!(slower < 1.3, "the database itself stays fast: {db_latency}");
    let db_queries = trend(&ds, "throughput", "database")?;
    let more = db_queries["latest"].as_f64().unwrap_or_default()
        / db_queries["baseline"].as_f64().unwrap_or(1.0);
    ensure!(more > 3.0, "but serves more queries: {db_queries}");
    let catalog = trend(&ds, "response_time", "product-catalog-service")?;
    ensure!(catalog["trend"] == "stable", "{catalog}");

    let n_plus_one = search(&ds, "N\\+1 select", "2h")?;
    ensure!(
        n_plus_one["total"].as_u64().unwrap_or_default() >= 5,
        "{n_plus_one}"
    );
    let timeouts = search(&ds, "Upstream api-service:8080 timed out", "2h")?;
    ensure!(
        strings(&timeouts["entries"], "service")
            .iter()
            .all(|s| s == "web-service")
            && timeouts["total"].as_u64().unwrap_or_default() >= 3,
        "{timeouts}"
    );
    Ok(())
}

#[test]
fn checkout_pods_are_oom_killed_every_half_hour_since_4_2_0() -> Result<()> {
    let ds = load("memory-leak-oom")?;
    let pods = k8s::pod_status(
        &ds,
        &k8s::PodStatusParams {
            namespace: Some("production".into()),
            pod_name: None,
        },
        now(),
    )?;
    let checkout: Vec<&Value> = pods["pods"]
        .as_array()
        .context("pods")?
        .iter()
        .filter(|p| p["app"] == "checkout-service")
        .collect();
    ensure!(checkout.len() == 3);
    for pod in &checkout {
        let last = &pod["containers"][0]["last_termination"];
        ensure!(
            last["reason"] == "OOMKilled" && last["exit_code"] == 137,
            "{pod}"
        );
        ensure!(pod["restarts"].as_u64().unwrap_or_default() >= 3, "{pod}");
        ensure!(pod["limits"]["memory_mib"] == 1024, "{pod}");
    }
    ensure!(
        checkout
            .iter()
            .any(|p| p["status"] == "OOMKilled" && p["ready"] == false)
    );

    let memory = metrics::analyze_trends(
        &ds,
        &metrics::TrendsParams {
            metric_name: "memory_usage".into(),
            service: Some("checkout-service".into()),
            time_window: Some("3h".into()),
            anomaly_threshold: None,
        },
        now(),
    )?;
    let points = &ds
        .metrics()
        .services
        .iter()
        .find(|s| s.service == "checkout-service")
        .context("checkout-service metrics")?
        .series
        .memory_pct;
    let drops = points
        .windows(2)
        .filter(|w| w[0].value - w[1].value > 25.0)
        .count();
    ensure!(
        drops >= 3,
        "a sawtooth: memory drops at every kill ({drops} drops)"
    );
    ensure!(points.iter().any(|p| p.value > 85.0), "{memory}");
    let before: Vec<f64> = points
        .iter()
        .filter(|p| minutes_ago(p.at) > 135)
        .map(|p| p.value)
        .collect();
    ensure!(
        before.iter().all(|v| (30.0..36.0).contains(v)),
        "flat before 4.2.0: {before:?}"
    );

    let events = events(&ds, "3h", Some("Warning"))?;
    let oom_kills: u64 = events
        .iter()
        .filter(|e| e["reason"] == "OOMKilling")
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum();
    ensure!(oom_kills >= 10, "{oom_kills} kernel OOM kills");
    let resets = search(
        &ds,
        "checkout-service:8080 (reset|connection refused)",
        "3h",
    )?;
    ensure!(
        resets["total"].as_u64().unwrap_or_default() >= 10,
        "{resets}"
    );
    let payment = trend(&ds, "error_rate", "payment-service")?;
    ensure!(
        payment["trend"] != "increasing",
        "payment-service is a control: {payment}"
    );
    Ok(())
}

#[test]
fn node_3_disk_pressure_evicts_pods_while_search_indexer_keeps_writing() -> Result<()> {
    let ds = load("node-disk-pressure")?;
    let nodes = k8s::node_status(&ds, &k8s::NodeStatusParams::default())?;
    for node in nodes["nodes"].as_array().context("nodes")? {
        let pressure = node["conditions"]["DiskPressure"] == "True";
        ensure!(pressure == (node["name"] == "node-3"), "{node}");
    }
    let events = events(&ds, "1h", None)?;
    let evicted: Vec<&Value> = events.iter().filter(|e| e["reason"] == "Evicted").collect();
    ensure!(evicted.len() == 3, "{evicted:?}");
    ensure!(evicted.iter().all(|e| {
        e["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("The node was low on resource: ephemeral-storage.")
    }));
    ensure!(events.iter().any(|e| {
        e["reason"] == "FailedScheduling"
            && e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("{node.kubernetes.io/disk-pressure: }")
    }));

    let pending = k8s::pod_status(
        &ds,
        &k8s::PodStatusParams {
            namespace: Some("production".into()),
            pod_name: Some("product-catalog-service-7f9b8c6d5-8hx3n".into()),
        },
        now(),
    )?;
    ensure!(
        pending["pods"][0]["status"] == "Pending" && pending["pods"][0]["node"].is_null(),
        "{pending}"
    );

    let disk = trend(&ds, "disk_usage", "search-indexer")?;
    ensure!(
        disk["trend"] == "increasing" && disk["latest"].as_f64().unwrap_or_default() > 90.0,
        "{disk}"
    );
    let snapshots = search(&ds, "wrote snapshot", "3h")?;
    ensure!(
        snapshots["total"].as_u64().unwrap_or_default() >= 10,
        "{snapshots}"
    );
    let retention = search(&ds, "snapshot_retention=0", "3h")?;
    ensure!(retention["total"] == 1, "{retention}");

    for control in ["web-service", "api-service"] {
        let latency = trend(&ds, "response_time", control)?;
        ensure!(latency["trend"] == "stable", "{control}: {latency}");
    }
    Ok(())
}

#[test]
fn the_healthy_baseline_has_nothing_to_report() -> Result<()> {
    let ds = load("healthy-baseline")?;
    for node in k8s::node_status(&ds, &k8s::NodeStatusParams::default())?["nodes"]
        .as_array()
        .context("nodes")?
    {
        ensure!(node["ready"] == true, "{node}");
        for condition in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            ensure!(node["conditions"][condition] == "False", "{node}");
        }
    }
    let deployments = k8s::deployment_status(&ds, &k8s::DeploymentStatusParams::default())?;
    ensure!(
        deployments["deployments"]
            .as_array()
            .context("deployments")?
            .iter()
            .all(|d| d["healthy"] == true),
        "{deployments}"
    );
    ensure!(events(&ds, "1h", Some("Warning"))?.is_empty());
    let errors = logs::error_logs(
        &ds,
        &logs::ErrorLogsParams {
            since: Some("1h".into()),
            service: None,
        },
        now(),
    )?;
    ensure!(errors["total"] == 0, "{errors}");
    let older = logs::error_logs(
        &ds,
        &logs::ErrorLogsParams {
            since: Some("3h".into()),
            service: None,
        },
        now(),
    )?;
    ensure!(
        older["total"].as_u64().unwrap_or_default() >= 1,
        "some old noise: {older}"
    );
    for metric in ["response_time", "error_rate", "availability"] {
        let answer = metrics::analyze_trends(
            &ds,
            &metrics::TrendsParams {
                metric_name: metric.into(),
                ..metrics::TrendsParams::default()
            },
            now(),
        )?;
        for service in answer["services"].as_array().context("services")? {
            let (latest, baseline) = (
                service["latest"].as_f64().unwrap_or_default(),
                service["baseline"].as_f64().unwrap_or_default(),
            );
            if metric == "error_rate" {
                // A few errors in five minutes: the rate moves by whole requests, not by trends.
                ensure!(
                    latest < 1.0 && latest - baseline < 0.25,
                    "{metric}: {service}"
                );
            } else {
                ensure!(service["trend"] == "stable", "{metric}: {service}");
            }
        }
    }
    let availability =
        metrics::availability_metrics(&ds, &metrics::AvailabilityParams::default(), now())?;
    for service in availability["services"].as_array().context("services")? {
        ensure!(service["slo_met"] == true, "{service}");
    }
    Ok(())
}

#[test]
fn the_new_runbooks_are_found_by_what_an_engineer_would_search() -> Result<()> {
    let ds = load("node-disk-pressure")?;
    for (keyword, id) in [
        ("node disk pressure evicted pods", "PB-NODE-PRESSURE"),
        (
            "latency regression after deployment rollback",
            "PB-DEPLOY-REGRESSION",
        ),
        ("OOMKilled memory leak", "PB-MEMORY-OOM"),
    ] {
        let answer = runbooks::search_runbooks(
            &ds,
            &runbooks::SearchRunbooksParams {
                keyword: Some(keyword.into()),
                ..runbooks::SearchRunbooksParams::default()
            },
        )?;
        let ids = strings(&answer["runbooks"], "id");
        ensure!(
            ids.first().map(String::as_str) == Some(id),
            "{keyword}: {ids:?}"
        );
    }
    let guides = runbooks::troubleshooting_guide(
        &ds,
        &runbooks::GuideParams {
            category: None,
            issue_type: Some("eviction".into()),
        },
    )?;
    ensure!(
        strings(&guides["guides"], "id") == ["TG-K8S-EVICTION"],
        "{guides}"
    );
    Ok(())
}

/// The answers of the calls an investigator makes first, concatenated.
fn broad_answers(ds: &Dataset) -> Result<String> {
    let mut text = String::new();
    text += &k8s::pod_status(ds, &k8s::PodStatusParams::default(), now())?.to_string();
    text += &k8s::deployment_status(ds, &k8s::DeploymentStatusParams::default())?.to_string();
    text += &k8s::node_status(ds, &k8s::NodeStatusParams::default())?.to_string();
    text += &Value::Array(events(ds, "3h", None)?).to_string();
    let recent = logs::recent_logs(
        ds,
        &logs::RecentLogsParams {
            limit: Some(1000),
            service: None,
        },
    )?;
    text += &recent.to_string();
    text += &metrics::error_rates(ds, &metrics::ErrorRatesParams::default(), now())?.to_string();
    Ok(text)
}

fn events(ds: &Dataset, since: &str, severity: Option<&str>) -> Result<Vec<Value>> {
    let answer = k8s::cluster_events(
        ds,
        &k8s::ClusterEventsParams {
            since: Some(since.into()),
            severity: severity.map(Into::into),
        },
        now(),
    )?;
    Ok(answer["events"].as_array().cloned().unwrap_or_default())
}

fn trend(ds: &Dataset, metric: &str, service: &str) -> Result<Value> {
    let answer = metrics::analyze_trends(
        ds,
        &metrics::TrendsParams {
            metric_name: metric.into(),
            service: Some(service.into()),
            ..metrics::TrendsParams::default()
        },
        now(),
    )?;
    match answer["services"].get(0) {
        Some(row) => Ok(row.clone()),
        None => bail!("no {metric} for {service}: {answer}"),
    }
}

fn search(ds: &Dataset, pattern: &str, since: &str) -> Result<Value> {
    Ok(logs::search_logs(
        ds,
        &logs::SearchLogsParams {
            pattern: pattern.into(),
            start_time: Some(since.into()),
            ..logs::SearchLogsParams::default()
        },
        now(),
    )?)
}

fn strings(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn timestamp(value: &Value) -> Result<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .with_context(|| format!("not an RFC 3339 timestamp: {value}"))
}
