//! `traces list`, `traces show` and `traces service-map` on trace files as the system writes them: a real
//! file from two investigations, a dead k8s backend whose calls are refused and retried, backends running
//! as separate processes, and a file with corrupt and cut-off lines.

use std::path::{Path, PathBuf};

use sre_supervisor::traces::{
    ListOptions, MapFormat, NodeKind, TraceError, TraceStatus, WaterfallOptions, format_ns,
    list_traces, load_trace, render_waterfall, service_map,
};

const AGENTS: [&str; 4] = [
    "kubernetes-agent",
    "logs-agent",
    "metrics-agent",
    "runbooks-agent",
];
const BACKENDS: [&str; 4] = [
    "k8s-backend",
    "logs-backend",
    "metrics-backend",
    "runbooks-backend",
];
/// The two investigations of the real fixture.
const CRASH_LOOP_TRACE: &str = "6b013e2086f2a0addca3d7e795d9a69a";
const CLUSTER_HEALTH_TRACE: &str = "6b013e2155f8163804ab91f462970cc7";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn real_map_links_supervisor_agents_and_backends() {
    let report = service_map(&fixture("traces_real.jsonl"), None).unwrap();
    let map = &report.map;
    assert_eq!(map.traces, 2);
    assert_eq!(map.spans, 130);
    assert_eq!(map.node("sre-agent").unwrap().kind, NodeKind::Service);
    for (agent, backend) in AGENTS.iter().zip(BACKENDS) {
        assert_eq!(map.node(agent).unwrap().kind, NodeKind::Service, "{agent}");
        assert_eq!(
            map.node(backend).unwrap().kind,
            NodeKind::Service,
            "{backend}"
        );
        let call = map.edge("sre-agent", agent).unwrap();
        assert!(call.stats.requests() >= 1, "sre-agent → {agent}");
        let tools = map.edge(agent, backend).unwrap();
        assert!(tools.stats.requests() >= 1, "{agent} → {backend}");
        assert_eq!(tools.stats.faults() + tools.stats.errors(), 0);
        assert!(
            tools.stats.p50_ns() <= tools.stats.p95_ns(),
            "{agent} → {backend}"
        );
        // each backend's SERVER spans match its agent's CLIENT spans one for one: nothing counted twice
        assert_eq!(
            map.node(backend).unwrap().stats.requests(),
            tools.stats.requests(),
            "{backend}"
        );
    }
    assert_eq!(map.node("sre.offline").unwrap().kind, NodeKind::Model);
    assert!(map.edge("sre-agent", "sre.offline").is_some());
    assert!(
        map.edges
            .iter()
            .all(|e| e.from != "sre-agent" || !BACKENDS.contains(&e.to.as_str())),
        "the supervisor calls no backend directly"
    );
    assert_eq!(
        map.edge("sre-agent", "kubernetes-agent")
            .unwrap()
            .stats
            .requests(),
        2,
        "both investigations used the kubernetes agent"
    );
    assert_eq!(
        report.latest.as_ref().unwrap().id().to_hex(),
        CLUSTER_HEALTH_TRACE
    );
    assert_eq!(report.stats.warning(), None);
}

#[test]
fn every_format_names_the_services() {
    let report = service_map(&fixture("traces_real.jsonl"), None).unwrap();
    for format in [
        MapFormat::Text,
        MapFormat::Mermaid,
        MapFormat::Dot,
        MapFormat::Json,
        MapFormat::Html,
    ] {
        let out = report.render(format).unwrap();
        for service in AGENTS.iter().chain(&BACKENDS).chain(&["sre-agent"]) {
            assert!(out.contains(service), "{service} missing in {format:?}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&report.render(MapFormat::Json).unwrap()).unwrap();
    assert_eq!(json["nodes"].as_array().unwrap().len(), 10);
    assert!(
        json["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "sre-agent" && e["to"] == "logs-agent" && e["requests"] == 1)
    );
    let mermaid = report.render(MapFormat::Mermaid).unwrap();
    assert!(mermaid.starts_with("graph LR"));
    let dot = report.render(MapFormat::Dot).unwrap();
    assert!(dot.contains("\"kubernetes-agent\" -> \"k8s-backend\""));
}

#[test]
fn list_shows_the_real_investigations_newest_first() {
    let listing = list_traces(&fixture("traces_real.jsonl"), &ListOptions::default()).unwrap();
    let ids: Vec<String> = listing.traces.iter().map(|t| t.id.to_hex()).collect();
    assert_eq!(ids, [CLUSTER_HEALTH_TRACE, CRASH_LOOP_TRACE]);
    let health = &listing.traces[0];
    assert_eq!(health.question.as_deref(), Some("Check cluster health"));
    assert_eq!(health.span_count, 59);
    assert_eq!(health.root_name, "sre.investigation");
    assert_eq!(health.user.as_deref(), Some("default"));
    assert_eq!(health.status, TraceStatus::Ok);
    assert!(health.services.contains(&"metrics-backend".to_owned()));
    assert_eq!(listing.traces[1].span_count, 71);
    let text = listing.render(false);
    assert!(
        text.contains("1-6b013e21-55f8163804ab91f462970cc7"),
        "{text}"
    );
    assert!(
        text.contains("Why are the database pods crash looping in production?"),
        "{text}"
    );

    let limited = list_traces(
        &fixture("traces_real.jsonl"),
        &ListOptions {
            limit: 1,
            since: None,
        },
    )
    .unwrap();
    assert_eq!((limited.traces.len(), limited.matching), (1, 2));
    let since = listing.traces[0].start;
    let recent = list_traces(
        &fixture("traces_real.jsonl"),
        &ListOptions {
            limit: 10,
            since: Some(since),
        },
    )
    .unwrap();
    assert_eq!(recent.traces.len(), 1);
    assert_eq!(recent.traces[0].id.to_hex(), CLUSTER_HEALTH_TRACE);
}

#[test]
fn waterfall_lists_every_span_with_its_offset() {
    let (trace, _) = load_trace(&fixture("traces_real.jsonl"), "1-6b013e20-86f2").unwrap();
    assert_eq!(trace.id().to_hex(), CRASH_LOOP_TRACE);
    let text = render_waterfall(&trace, &WaterfallOptions::default());
    let start = trace.start_ns();
    let rows: Vec<&str> = text.lines().filter(|l| l.contains('|')).collect();
    assert_eq!(rows.len(), trace.spans().len(), "{text}");
    for span in trace.spans() {
        let offset = format_ns(span.start_ns - start);
        let duration = format_ns(span.duration_ns());
        assert!(
            rows.iter()
                .any(|r| r.contains(&span.name) && r.contains(&offset) && r.contains(&duration)),
            "no row for {} at {offset} lasting {duration}\n{text}",
            span.name
        );
    }
    assert!(
        text.contains("[k8s-backend]"),
        "server spans name their service"
    );
    assert!(text.contains("Critical path"), "{text}");
    assert!(
        text.contains("Bottleneck: agent.logs.execute (logs-agent)"),
        "{text}"
    );
}

#[test]
fn latest_is_the_most_recent_investigation() {
    let path = fixture("traces_real.jsonl");
    let (trace, _) = load_trace(&path, "latest").unwrap();
    assert_eq!(trace.id().to_hex(), CLUSTER_HEALTH_TRACE);
    let (same, _) = load_trace(&path, " LATEST ").unwrap();
    assert_eq!(same.id(), trace.id());
    let empty = tempfile::NamedTempFile::new().unwrap();
    let error = load_trace(empty.path(), "latest").unwrap_err();
    assert!(matches!(error, TraceError::UnknownTrace { .. }), "{error}");
    assert!(error.to_string().contains("holds no traces yet"), "{error}");
}

#[test]
fn dead_backend_shows_faults_on_the_k8s_edge() {
    let path = fixture("traces_dead_backend.jsonl");
    let map = service_map(&path, None).unwrap().map;
    let k8s = map.edge("kubernetes-agent", "k8s-backend").unwrap();
    assert_eq!(k8s.stats.requests(), 3, "one request per attempt");
    assert_eq!(k8s.stats.faults(), 3);
    assert_eq!(k8s.stats.errors(), 0);
    assert!((k8s.stats.fault_rate() - 1.0).abs() < 1e-9);
    let node = map.node("k8s-backend").unwrap();
    assert_eq!(node.kind, NodeKind::Remote, "no span of its own");
    assert_eq!(node.stats.faults(), 3);
    let logs = map.edge("logs-agent", "logs-backend").unwrap();
    assert_eq!(
        logs.stats.requests(),
        1,
        "client and server span of one call count once"
    );
    assert_eq!(logs.stats.faults(), 0);
    assert_eq!(map.node("logs-backend").unwrap().kind, NodeKind::Service);
    assert_eq!(
        map.edge("sre-agent", "kubernetes-agent")
            .unwrap()
            .stats
            .faults(),
        1
    );

    let mermaid = service_map(&path, None)
        .unwrap()
        .render(MapFormat::Mermaid)
        .unwrap();
    assert!(
        mermaid
            .lines()
            .any(|l| l.contains("-->|\"3 req") && l.contains("100% fault")),
        "{mermaid}"
    );

    let (trace, _) = load_trace(&path, "6b013360c0ffee").unwrap();
    let text = render_waterfall(&trace, &WaterfallOptions::default());
    for attempt in 1..=3 {
        assert!(
            text.lines().any(|l| l.contains("tools/call get_pod_status")
                && l.contains(&format!("attempt {attempt}"))
                && l.contains("✗ connection_refused")),
            "attempt {attempt}\n{text}"
        );
    }
    assert!(
        text.contains("Retries: tools/call get_pod_status → k8s-backend: 3 attempts, 3 failed"),
        "{text}"
    );
    let listing = list_traces(&path, &ListOptions::default()).unwrap();
    assert_eq!(listing.traces[0].status, TraceStatus::Partial);
    assert_eq!(listing.traces[0].faults, 5);
}

#[test]
fn backends_in_separate_processes_join_the_trace() {
    let path = fixture("traces_multi_process.jsonl");
    let report = service_map(&path, None).unwrap();
    let map = &report.map;
    let k8s = map.edge("kubernetes-agent", "k8s-backend").unwrap();
    assert_eq!(k8s.stats.requests(), 3);
    assert_eq!(
        map.node("k8s-backend").unwrap().kind,
        NodeKind::Service,
        "named by its resource service.name"
    );
    let metrics = map.edge("metrics-agent", "metrics-backend").unwrap();
    assert_eq!(
        (
            metrics.stats.requests(),
            metrics.stats.errors(),
            metrics.stats.faults()
        ),
        (3, 1, 1),
        "invalid_params is an error, the timeout a fault, the retry succeeded"
    );
    let logs = map.edge("logs-agent", "logs-backend").unwrap();
    assert_eq!((logs.stats.requests(), logs.stats.errors()), (1, 1));

    let (trace, _) = load_trace(&path, "6b013360aaaa").unwrap();
    assert_eq!(
        trace.spans().len(),
        20,
        "spans from four lines and processes"
    );
    assert_eq!(
        trace.roots().len(),
        1,
        "every backend span finds its parent"
    );

    let newer = list_traces(&path, &ListOptions::default()).unwrap().traces[0].start;
    let recent = service_map(&path, Some(newer)).unwrap();
    assert_eq!(recent.map.traces, 1);
    assert!(recent.map.edge("kubernetes-agent", "k8s-backend").is_none());
    assert!(recent.map.edge("logs-agent", "logs-backend").is_some());
    assert_eq!(
        recent.latest.unwrap().id().to_hex(),
        "6b013361bbbbbbbbbbbbbbbbbbbbbbb2"
    );
}

#[test]
fn corrupt_and_cut_off_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let real = std::fs::read_to_string(fixture("traces_real.jsonl")).unwrap();
    let mut lines: Vec<&str> = real.lines().collect();
    lines.insert(1, "{\"resourceSpans\": [ garbage");
    lines.insert(0, "\u{1b}[31mnot json\u{1b}[0m");
    let first = lines[1];
    let mut text = lines.join("\n");
    text.push('\n');
    text.push_str(&first[..first.len() / 2]);
    std::fs::write(&path, text).unwrap();

    let listing = list_traces(&path, &ListOptions::default()).unwrap();
    assert_eq!(listing.traces.len(), 2);
    assert_eq!(listing.stats.corrupt_lines, 2);
    assert_eq!(listing.stats.corrupt_line_numbers, [1, 3]);
    assert!(listing.stats.incomplete_last_line);
    let warning = listing.stats.warning().unwrap();
    assert!(
        warning.contains("skipped 2 corrupt lines (line 1, 3)"),
        "{warning}"
    );
    assert!(warning.contains("incomplete last line"), "{warning}");

    let report = service_map(&path, None).unwrap();
    assert_eq!(report.map.spans, 130, "no span lost, none counted twice");
    assert_eq!(report.stats.corrupt_lines, 2);
    let html = report.render(MapFormat::Html).unwrap();
    assert!(html.contains("skipped 2 corrupt lines"));
}

#[test]
fn unknown_and_ambiguous_ids_are_clear_errors() {
    let path = fixture("traces_real.jsonl");
    let unknown = load_trace(&path, "1-6b013e21-ffff").unwrap_err();
    assert!(unknown.is_usage());
    let message = unknown.to_string();
    assert!(
        message.contains(&format!(
            "recent traces: {CLUSTER_HEALTH_TRACE}, {CRASH_LOOP_TRACE}"
        )),
        "{message}"
    );
    let ambiguous = load_trace(&path, "6b013e2").unwrap_err();
    assert!(
        matches!(ambiguous, TraceError::AmbiguousTrace { ref matches, .. } if matches.len() == 2),
        "{ambiguous}"
    );
    assert!(matches!(
        load_trace(&path, "not-an-id").unwrap_err(),
        TraceError::InvalidId { .. }
    ));
    let missing = load_trace(Path::new("no/such/traces.jsonl"), CRASH_LOOP_TRACE).unwrap_err();
    assert!(matches!(missing, TraceError::Missing { .. }));
    assert!(!missing.is_usage());
}
