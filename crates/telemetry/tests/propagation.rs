//! Trace context and baggage survive task hand-offs through a `TraceCarrier`, and the span constructors
//! produce the names and kinds of the investigation tree.

use opentelemetry::trace::{SpanKind, Status};
use sre_telemetry::{TraceCarrier, convention::attr, span, testing};
use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_links_spans_across_tasks_and_copies_baggage() {
    let capture = testing::capture();
    let root = span::investigation(
        &TraceCarrier::default(),
        "inv-1",
        "alice",
        "sess-1",
        &"q".repeat(500),
    );
    let trace_id = span::trace_id(&root).expect("root span is recorded");
    let carrier = TraceCarrier::from_span(&root);
    assert!(
        carrier
            .baggage
            .as_deref()
            .unwrap_or_default()
            .contains("user.id=alice")
    );

    // A different task, no tracing parent: the carrier alone links it.
    let handle = tokio::spawn(async move {
        let agent = span::agent_execute("logs", "inv-1");
        assert!(carrier.attach(&agent));
        async {
            let tool = span::tool("get_error_logs", &serde_json::json!({}));
            let client = tool
                .in_scope(|| span::mcp_client("get_error_logs", "logs-backend", "127.0.0.1:1", 1));
            span::record_error(&client, "timeout", "no answer in 5s");
            drop(client);
            drop(tool);
        }
        .instrument(agent)
        .await;
    });
    handle.await.unwrap();
    drop(root);

    let spans = capture.trace(trace_id);
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("span {n} missing"))
    };
    let root = by_name("sre.investigation");
    let agent = by_name("agent.logs.execute");
    let tool = by_name("tool.get_error_logs");
    let client = by_name("tools/call get_error_logs");

    assert_eq!(root.span_kind, SpanKind::Server);
    assert_eq!(agent.span_kind, SpanKind::Server);
    assert_eq!(client.span_kind, SpanKind::Client);
    assert_eq!(agent.parent_span_id, root.span_context.span_id());
    assert_eq!(tool.parent_span_id, agent.span_context.span_id());
    assert_eq!(client.parent_span_id, tool.span_context.span_id());

    for s in [root, agent, tool, client] {
        assert_eq!(
            testing::attribute(s, attr::SESSION_ID).as_deref(),
            Some("sess-1"),
            "{}",
            s.name
        );
        assert_eq!(
            testing::attribute(s, attr::USER_ID).as_deref(),
            Some("alice"),
            "{}",
            s.name
        );
    }
    assert_eq!(
        testing::attribute(root, attr::SRE_QUERY)
            .unwrap()
            .chars()
            .count(),
        201
    );
    assert_eq!(
        testing::attribute(agent, attr::AWS_LOCAL_SERVICE).as_deref(),
        Some("logs-agent")
    );
    assert_eq!(
        testing::attribute(client, attr::ERROR_TYPE).as_deref(),
        Some("timeout")
    );
    assert!(matches!(client.status, Status::Error { .. }));
    assert!(client.events.iter().any(|e| e.name == "exception"));
    // X-Ray ids: the first 8 hex digits are the epoch seconds of the trace start.
    let epoch = u32::from_str_radix(&trace_id.to_string()[..8], 16).unwrap() as u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(epoch) < 600);
}
