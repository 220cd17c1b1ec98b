//! A backend that refuses our credentials fails as visibly as a dead one: the agent still calls its tools,
//! each attempt is a failed `tools/call` CLIENT span with `error.type=unauthorized` (so the backend is on the
//! service map) and an `McpCallErrors` data point, and the report says which backend refused us and how, in
//! words rather than transport internals.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

use opentelemetry::trace::{SpanKind, Status, TraceId};
use sre_agents::{
    model::offline::OfflineModel,
    progress::ProgressSink,
    protocol::{AgentKind, AgentOutcome},
    tool_client::BackendAuth,
};
use sre_mcp_backends::{Auth, BackendSet, DatasetSource, Domain, HttpOptions};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest,
    system::{System, SystemOptions},
};
use sre_telemetry::{
    convention::attr,
    metric::{self, Recorder},
    testing,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backend_that_refuses_our_api_key_is_tried_traced_counted_and_reported() {
    let capture = testing::capture();
    // This test process's metrics go to an in-memory recorder (no sink) read back as Prometheus text.
    assert!(metric::set_global(
        Recorder::builder().build().expect("a recorder")
    ));
    let dataset = DatasetSource::default()
        .load(chrono::Utc::now())
        .expect("the default scenario loads");
    let guarded = HttpOptions {
        auth: Some(Auth::api_key("right").expect("a valid key")),
        ..HttpOptions::default()
    };
    let backends = BackendSet::start(Arc::new(dataset), &guarded, |_| {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    })
    .await
    .expect("the backends start");
    let mut options = SystemOptions::new(Arc::new(OfflineModel::new()));
    options
        .remote
        .insert(Domain::K8s, backends.url(Domain::K8s));
    options.tools.auth = Some(BackendAuth::ApiKey("wrong".into()));
    let system = System::start(options).await.expect("the system starts");
    let report = system
        .investigate(InvestigationRequest {
            question: "Check cluster health".into(),
            user_id: UserId::parse("alice").expect("valid user id"),
            session_id: SessionId::parse("session-refused").expect("valid session id"),
            history: Vec::new(),
            progress: ProgressSink::none(),
        })
        .await
        .expect("a partial report, not a failed investigation");
    system.shutdown().await;
    backends.shutdown().await;

    // The report: partial, the Kubernetes agent tried its tools, and each refusal reads clearly.
    assert!(report.partial);
    let k8s = report
        .agents
        .iter()
        .find(|s| s.kind == AgentKind::Kubernetes)
        .and_then(|s| s.result.as_ref().ok())
        .expect("the Kubernetes agent ran and reported");
    assert_eq!(k8s.outcome, AgentOutcome::Partial);
    assert!(
        !k8s.tool_calls.is_empty() && k8s.tool_calls.iter().all(|c| c.error.is_some()),
        "the agent did not try its tools: {:?}",
        k8s.tool_calls
    );
    assert!(!k8s.unavailable.is_empty());
    for line in &k8s.unavailable {
        assert!(
            line.starts_with("k8s-backend: ")
                && line.contains(
                    r#"failed after 1 attempt: k8s-backend refused our credentials: HTTP 401 Unauthorized (WWW-Authenticate: ApiKey header="X-API-Key")"#
                ),
            "{line}"
        );
        assert!(
            !line.contains("rmcp") && !line.contains("Transport"),
            "transport internals: {line}"
        );
    }
    let markdown = report.to_markdown();
    assert!(
        markdown.contains("- k8s-backend: ") && markdown.contains("refused our credentials"),
        "{markdown}"
    );

    // The trace: one failed CLIENT span per call, none retried.
    let trace_id = TraceId::from_hex(report.trace_id.as_deref().expect("traced")).expect("hex");
    let calls: Vec<_> = capture
        .trace(trace_id)
        .into_iter()
        .filter(|s| {
            s.span_kind == SpanKind::Client
                && testing::attribute(s, attr::PEER_SERVICE).as_deref() == Some("k8s-backend")
        })
        .collect();
    assert_eq!(
        calls.len(),
        k8s.tool_calls.len(),
        "one attempt per tool call"
    );
    for call in &calls {
        assert!(call.name.starts_with("tools/call "), "{}", call.name);
        assert!(
            matches!(call.status, Status::Error { .. }),
            "{} ended without error",
            call.name
        );
        assert_eq!(
            testing::attribute(call, attr::ERROR_TYPE).as_deref(),
            Some("unauthorized"),
            "{}",
            call.name
        );
        assert_eq!(
            testing::attribute(call, attr::RETRY_ATTEMPT).as_deref(),
            Some("1"),
            "{} was retried",
            call.name
        );
    }

    // The metrics: the refused calls by error type, and the backend's breaker state.
    let flushed = sre_telemetry::testing::flushed_prometheus_text().await;
    for needle in [
        r#"sre_mcp_call_errors_total{backend="k8s-backend",error_type="unauthorized"}"#,
        r#"sre_circuit_breaker_state{backend="k8s-backend"}"#,
    ] {
        assert!(flushed.contains(needle), "missing {needle} in:\n{flushed}");
    }
}
