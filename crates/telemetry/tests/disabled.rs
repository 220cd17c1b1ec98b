//! `install` with `OTEL_SDK_DISABLED=true`: OpenTelemetry is off as the specification asks of a disabled
//! SDK. Spans carry no trace context, nothing is propagated, metrics are not recorded, no file is written;
//! the logs stay.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use sre_telemetry::{TelemetryConfig, TraceCarrier, install, metric, metric::MetricId, span};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_sdk_records_and_propagates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<&str, &str> =
        HashMap::from([("SRE_LOG_FORMAT", "json"), ("OTEL_SDK_DISABLED", "true")]);
    let config = TelemetryConfig::from_lookup("sre-agent", dir.path(), |k| {
        vars.get(k).map(|v| (*v).to_owned())
    })
    .unwrap();
    let guard = install(&config).unwrap();
    assert_eq!(guard.trace_file(), None);
    assert_eq!(guard.metric_file(), None);
    assert!(install(&config).is_err(), "a second install is refused");
    // No exporter or aggregator thread either: nothing would ever reach it.
    let workers: Vec<String> = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .filter(|name| name.starts_with("sre-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(workers.is_empty(), "telemetry threads: {workers:?}");
    // The guard's recorder takes nothing and has nothing to wait for.
    let recorder = guard.recorder().clone();
    recorder.record(MetricId::InvestigationRequests, 1.0, &[]);
    assert_eq!(
        (recorder.stats().accepted, recorder.stats().dropped),
        (0, 1)
    );
    assert!(recorder.flush(std::time::Duration::from_secs(5)));

    // An incoming context is not continued either: with the SDK off there is no span to parent.
    let incoming = TraceCarrier::from_parts(
        Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"),
        None,
        Some("session.id=s-1,user.id=alice"),
    );
    let root = span::investigation(&incoming, "inv-1", "alice", "s-1", "why?");
    assert_eq!(span::trace_id(&root), None);
    assert_eq!(span::recorded_trace_id(&root), None);
    root.in_scope(|| {
        assert_eq!(TraceCarrier::current(), TraceCarrier::default());
        let tool = span::tool("get_pod_status", &serde_json::json!({"namespace": "prod"}));
        assert_eq!(TraceCarrier::from_span(&tool).traceparent, None);
    });
    drop(root);

    metric::record(
        MetricId::InvestigationRequests,
        1.0,
        &[("Outcome", "success")],
    );
    assert!(metric::global().is_none(), "no process-wide recorder");
    assert_eq!(metric::prometheus_text(), "");
    assert_eq!(guard.dropped_spans(), 0);

    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file written"
    );
}
