//! The bundled `database-crashloop` scenario tells its story through every tool: the crash-looping database,
//! the cascade into web-service and api-service, a healthy control service, and filters that visibly filter.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;
use sre_mcp_backends::server::{k8s, logs, metrics, runbooks};
use sre_mcp_backends::{DEFAULT_SCENARIO, Dataset, load_bundled};

const DB_POD: &str = "database-pod-7b9c4d8f2a-x5m1q";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn scenario() -> Dataset {
    load_bundled(DEFAULT_SCENARIO, now()).expect("the bundled scenario loads")
}

fn list(value: &Value, key: &str) -> Vec<Value> {
    value[key].as_array().cloned().unwrap_or_default()
}

fn strings(value: &Value, list_key: &str, field: &str) -> Vec<String> {
    list(value, list_key)
        .iter()
        .filter_map(|item| item[field].as_str().map(str::to_owned))
        .collect()
}

fn minutes_ago(timestamp: &Value) -> i64 {
    let at: DateTime<Utc> = timestamp
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an RFC 3339 timestamp");
    (now() - at).num_minutes()
}

#[test]
fn the_database_crash_loops_because_of_config_and_permissions() {
    let ds = scenario();
    let params = k8s::PodStatusParams {
        namespace: Some("production".into()),
        pod_name: Some(DB_POD.into()),
    };
    let answer = k8s::pod_status(&ds, &params, now()).unwrap();
    let pod = &answer["pods"][0];
    assert_eq!(pod["status"], "CrashLoopBackOff");
    assert_eq!(pod["restarts"], 15);
    assert_eq!(pod["owner"], "database-deployment");
    assert_eq!(pod["app"], "database");
    let termination = &pod["containers"][0]["last_termination"];
    let message = termination["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not change permissions of directory \"/var/lib/postgresql/data\"")
    );
    assert!(message.contains("could not open configuration file"));

    let events = k8s::cluster_events(&ds, &k8s::ClusterEventsParams::default(), now()).unwrap();
    let messages = strings(&events, "events", "message");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("configmap \"database-config\" not found"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Back-off restarting failed container postgres"))
    );

    let deployment = k8s::deployment_status(
        &ds,
        &k8s::DeploymentStatusParams {
            namespace: None,
            deployment_name: Some("database-deployment".into()),
        },
    )
    .unwrap();
    let health: Vec<(String, bool)> = list(&deployment, "deployments")
        .iter()
        .map(|d| {
            (
                d["namespace"].as_str().unwrap_or_default().to_owned(),
                d["healthy"] == true,
            )
        })
        .collect();
    assert_eq!(
        health,
        [
            ("production".to_owned(), false),
            ("staging".to_owned(), true)
        ]
    );

    let nodes = k8s::node_status(&ds, &k8s::NodeStatusParams::default()).unwrap();
    assert_eq!(list(&nodes, "nodes").len(), 4);
    assert!(list(&nodes, "nodes").iter().all(|n| n["ready"] == true));
}

#[test]
fn namespace_filters_visibly_filter() {
    let ds = scenario();
    let count = |namespace: Option<&str>| {
        let params = k8s::PodStatusParams {
            namespace: namespace.map(Into::into),
            pod_name: None,
        };
        list(&k8s::pod_status(&ds, &params, now()).unwrap(), "pods").len()
    };
    let (all, production, staging, system) = (
        count(None),
        count(Some("production")),
        count(Some("staging")),
        count(Some("kube-system")),
    );
    assert!(production > 0 && staging > 0 && system > 0);
    assert_eq!(all, production + staging + system);
}

#[test]
fn applications_report_the_database_by_its_service_name() {
    let ds = scenario();
    let search = |pattern: &str| {
        let params = logs::SearchLogsParams {
            pattern: pattern.into(),
            ..logs::SearchLogsParams::default()
        };
        logs::search_logs(&ds, &params, now()).unwrap()
    };
    let timeouts = search("Connection timeout after 5000ms to database-service:5432");
    assert!(timeouts["total"].as_u64().unwrap_or_default() >= 10);
    assert!(
        strings(&timeouts, "entries", "service")
            .iter()
            .all(|s| s == "web-service")
    );
    let refused = search("connection refused: database-service:5432");
    assert!(
        strings(&refused, "entries", "service")
            .iter()
            .all(|s| s == "api-service")
    );
    let oom = search("OutOfMemoryError: Java heap space.*UserService\\.loadAllUsers");
    assert!(oom["total"].as_u64().unwrap_or_default() >= 3);
    let unavailable = search("Returning 503 Service Unavailable");
    assert!(unavailable["total"].as_u64().unwrap_or_default() >= 5);
}

#[test]
fn time_windows_visibly_filter_logs_and_events() {
    let ds = scenario();
    let errors = |since: &str| {
        let params = logs::ErrorLogsParams {
            since: Some(since.into()),
            service: None,
        };
        logs::error_logs(&ds, &params, now()).unwrap()["total"]
            .as_u64()
            .unwrap_or_default()
    };
    let (ten_minutes, hour, three_hours) = (errors("10m"), errors("1h"), errors("3h"));
    assert!(
        0 < ten_minutes && ten_minutes < hour && hour < three_hours,
        "{ten_minutes} {hour} {three_hours}"
    );

    let events = |since: &str| {
        let params = k8s::ClusterEventsParams {
            since: Some(since.into()),
            severity: None,
        };
        list(&k8s::cluster_events(&ds, &params, now()).unwrap(), "events").len()
    };
    assert!(events("10m") < events("1h") && events("1h") < events("3h"));
}

#[test]
fn product_catalog_is_a_healthy_control() {
    let ds = scenario();
    let warn_and_up = logs::count_log_events(
        &ds,
        &logs::CountLogEventsParams {
            event_type: "WARN".into(),
            time_window: Some("3h".into()),
            group_by: None,
        },
        now(),
    )
    .unwrap();
    assert!(
        warn_and_up["groups"]
            .get("product-catalog-service")
            .is_none()
    );
    assert!(warn_and_up["groups"].get("web-service").is_some());
    let recent = logs::recent_logs(
        &ds,
        &logs::RecentLogsParams {
            limit: Some(5),
            service: Some("product-catalog-service".into()),
        },
    )
    .unwrap();
    assert_eq!(recent["total"], 5);

    for metric in [
        "response_time",
        "throughput",
        "error_rate",
        "availability",
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "network",
    ] {
        let params = metrics::TrendsParams {
            metric_name: metric.into(),
            service: Some("product-catalog-service".into()),
            ..metrics::TrendsParams::default()
        };
        let answer = metrics::analyze_trends(&ds, &params, now()).unwrap();
        let row = &answer["services"][0];
        assert_eq!(row["anomalous"], false, "{metric}: {row}");
        assert_eq!(row["trend"], "stable", "{metric}: {row}");
    }
    let availability =
        metrics::availability_metrics(&ds, &metrics::AvailabilityParams::default(), now()).unwrap();
    let slo: Vec<(String, bool)> = list(&availability, "services")
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_owned(),
                s["slo_met"] == true,
            )
        })
        .collect();
    assert_eq!(
        slo,
        [
            ("web-service".to_owned(), false),
            ("api-service".to_owned(), false),
            ("product-catalog-service".to_owned(), true),
            ("database".to_owned(), false)
        ]
    );
}

#[test]
fn metrics_show_the_cascade_and_its_onset() {
    let ds = scenario();
    let trend = |metric: &str, service: &str| {
        let params = metrics::TrendsParams {
            metric_name: metric.into(),
            service: Some(service.into()),
            ..metrics::TrendsParams::default()
        };
        metrics::analyze_trends(&ds, &params, now()).unwrap()["services"][0].clone()
    };
    let latency = trend("response_time", "web-service");
    assert_eq!(latency["trend"], "increasing");
    assert!((140.0..160.0).contains(&latency["baseline"].as_f64().unwrap_or_default()));
    assert_eq!(latency["latest"], 5000.0);
    let onset = minutes_ago(&latency["onset"]);
    assert!(
        (45..=55).contains(&onset),
        "web-service latency onset {onset} minutes ago"
    );
    assert_eq!(trend("memory_usage", "web-service")["latest"], 100.0);
    assert_eq!(trend("error_rate", "api-service")["trend"], "increasing");
    let database = trend("availability", "database");
    assert_eq!(database["latest"], 0.0);
    assert!(
        minutes_ago(&database["onset"]) >= minutes_ago(&latency["onset"]),
        "the database fails first"
    );

    let two_hours = metrics::ErrorRatesParams {
        time_window: Some("2h".into()),
        service: None,
    };
    let rates = metrics::error_rates(&ds, &two_hours, now()).unwrap();
    let web = list(&rates, "services")
        .into_iter()
        .find(|s| s["service"] == "web-service")
        .unwrap_or_default();
    assert_eq!(web["current"], 75.0);
    assert!(web["baseline"].as_f64().unwrap_or(f64::MAX) < 1.0);
}

#[test]
fn runbooks_lead_to_the_fix_and_the_right_people() {
    let ds = scenario();
    let search = runbooks::search_runbooks(
        &ds,
        &runbooks::SearchRunbooksParams {
            keyword: Some("postgres pod CrashLoopBackOff configmap".into()),
            ..runbooks::SearchRunbooksParams::default()
        },
    )
    .unwrap();
    assert_eq!(
        strings(&search, "runbooks", "id")
            .first()
            .map(String::as_str),
        Some("PB-DB-CRASHLOOP")
    );

    let playbook = runbooks::incident_playbook(
        &ds,
        &runbooks::PlaybookParams {
            playbook_id: "PB-DB-CRASHLOOP".into(),
        },
    )
    .unwrap();
    let commands: Vec<String> = list(&playbook, "steps")
        .iter()
        .flat_map(|s| s["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    for needle in [
        "kubectl describe pod",
        "configmap database-config",
        "fsGroup",
        "rollout restart",
        "pg_isready",
    ] {
        assert!(
            commands.iter().any(|c| c.contains(needle)),
            "no step runs {needle}"
        );
    }

    let escalation = runbooks::escalation_procedures(
        &ds,
        &runbooks::EscalationParams {
            severity: Some("critical".into()),
            incident_type: Some("database".into()),
        },
    )
    .unwrap();
    assert_eq!(
        strings(&escalation, "procedures", "incident_type"),
        ["database", "*"]
    );
    let fallback = runbooks::escalation_procedures(
        &ds,
        &runbooks::EscalationParams {
            severity: Some("medium".into()),
            incident_type: Some("payments".into()),
        },
    )
    .unwrap();
    assert_eq!(strings(&fallback, "procedures", "incident_type"), ["*"]);

    let resolutions = runbooks::common_resolutions(
        &ds,
        &runbooks::ResolutionsParams {
            issue: "connection pool exhausted".into(),
            service: Some("web-service".into()),
        },
    )
    .unwrap();
    assert_eq!(
        strings(&resolutions, "resolutions", "issue")
            .first()
            .map(String::as_str),
        Some("Database connection pool exhausted")
    );
    let guides = runbooks::troubleshooting_guide(
        &ds,
        &runbooks::GuideParams {
            category: None,
            issue_type: Some("crashloop".into()),
        },
    )
    .unwrap();
    assert_eq!(strings(&guides, "guides", "id"), ["TG-K8S-CRASHLOOP"]);
}

#[test]
fn every_relative_time_is_recent() {
    let ds = scenario();
    let oldest = now() - TimeDelta::days(60);
    let k8s = ds.k8s();
    let times = k8s
        .pods
        .iter()
        .map(|p| p.started)
        .chain(k8s.events.iter().map(|e| e.at))
        .chain(ds.logs().entries.iter().map(|e| e.at))
        .chain(
            ds.metrics()
                .services
                .iter()
                .flat_map(|s| s.series.iter().flat_map(|(_, p)| p.iter().map(|p| p.at))),
        );
    for at in times {
        assert!(oldest <= at && at <= now(), "{at}");
    }
}
