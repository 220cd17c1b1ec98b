//! `install` with nothing configured: spans land in `<data dir>/traces/traces.jsonl`, metrics recorded through
//! the global `metric::record` land as EMF lines in `<data dir>/metrics/emf.jsonl`, and shutdown flushes both.
//! A file past `SRE_TELEMETRY_FILE_MAX_MB` is rotated first; one below it is appended to.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, path::Path};

use serde_json::Value;
use sre_telemetry::{TelemetryConfig, TraceCarrier, install, metric, metric::MetricId, span};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_write_traces_and_emf_under_the_data_dir() {
    // Before install, recording is a no-op.
    metric::record(MetricId::AgentRestarts, 1.0, &[("AgentName", "logs")]);
    assert!(metric::global().is_none());
    assert_eq!(metric::prometheus_text(), "");

    let dir = tempfile::tempdir().unwrap();
    // A trace file past the rotation size and an EMF file below it, left by earlier runs.
    std::fs::create_dir_all(dir.path().join("traces")).unwrap();
    std::fs::create_dir_all(dir.path().join("metrics")).unwrap();
    let old_spans = format!("{}\n", "x".repeat(1024 * 1024 + 1));
    std::fs::write(dir.path().join("traces/traces.jsonl"), &old_spans).unwrap();
    std::fs::write(dir.path().join("metrics/emf.jsonl"), "{\"earlier\":true}\n").unwrap();
    let vars: HashMap<&str, &str> = HashMap::from([
        ("SRE_LOG_FORMAT", "json"),
        ("SRE_TELEMETRY_FILE_MAX_MB", "1"),
    ]);
    let config = TelemetryConfig::from_lookup("sre-agent", dir.path(), |k| {
        vars.get(k).map(|v| (*v).to_owned())
    })
    .unwrap();
    let guard = install(&config).unwrap();
    assert_eq!(
        guard.trace_file(),
        Some(dir.path().join("traces/traces.jsonl").as_path())
    );
    assert_eq!(
        guard.metric_file(),
        Some(dir.path().join("metrics/emf.jsonl").as_path())
    );
    assert!(install(&config).is_err(), "a second install is refused");

    let root = span::investigation(&TraceCarrier::default(), "inv-1", "alice", "s-1", "why?");
    let trace_id = span::trace_id(&root).unwrap().to_string();
    root.in_scope(|| {
        let tool = span::tool(
            "get_pod_status",
            &serde_json::json!({"namespace": "prod", "password": "p"}),
        );
        drop(tool);
    });
    drop(root);
    metric::record(
        MetricId::InvestigationRequests,
        1.0,
        &[
            ("Outcome", "success"),
            ("investigation_id", "inv-1"),
            ("trace_id", &trace_id),
        ],
    );
    metric::record(
        MetricId::InvestigationDuration,
        1500.0,
        &[("Outcome", "success")],
    );

    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        read(&dir.path().join("traces/traces.1.jsonl")),
        old_spans,
        "the oversized trace file was rotated"
    );
    let traces = read(&dir.path().join("traces/traces.jsonl"));
    assert!(
        traces.contains(&trace_id) && !traces.contains("xxxx"),
        "spans of the trace are in a new file"
    );
    assert!(traces.contains("tool.get_pod_status"));
    assert!(
        !traces.contains("\"p\""),
        "tool params are redacted by the span constructor"
    );
    assert!(traces.contains("aws.xray.annotations"));

    assert!(!dir.path().join("metrics/emf.1.jsonl").exists());
    let emf = read(&dir.path().join("metrics/emf.jsonl"));
    assert!(
        emf.starts_with("{\"earlier\":true}\n"),
        "a file below the size is appended to"
    );
    let lines: Vec<Value> = emf
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let requests = lines
        .iter()
        .find(|l| l.get("InvestigationRequests").is_some())
        .expect("InvestigationRequests line");
    assert_eq!(requests["InvestigationRequests"], 1.0);
    assert_eq!(requests["investigation_id"], "inv-1");
    assert_eq!(requests["trace_id"], trace_id.as_str());
    assert_eq!(
        requests["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "SREAgent/Production"
    );
    assert!(lines.iter().any(|l| l["InvestigationDuration"] == 1500.0));
    assert!(
        !lines.iter().any(|l| l.get("AgentRestarts").is_some()),
        "the record before install went nowhere"
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
