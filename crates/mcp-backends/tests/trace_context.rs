//! A `tools/call` is one SERVER span of the backend's service, parented on the caller's W3C context from
//! `params._meta` (or, without it, from the HTTP headers), with the request id and, on a tool error, the error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use http::{HeaderName, HeaderValue};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use rmcp::model::{
    CallToolRequestParams, ClientConfig, InitializeRequestParams, RequestParamsMeta,
};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use sre_mcp_backends::{BackendSet, DEFAULT_SCENARIO, Domain, load_bundled};
use sre_telemetry::convention::attr;
use sre_telemetry::testing::{self, SpanCapture};

type Client = RunningService<RoleClient, InitializeRequestParams>;

const META_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const META_PARENT: &str = "00f067aa0ba902b7";
const ERROR_TRACE: &str = "5bf92f3577b34da6a3ce929d0e0e4737";
const HEADER_TRACE: &str = "6bf92f3577b34da6a3ce929d0e0e4738";
const HEADER_PARENT: &str = "a0f067aa0ba902b8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_continue_the_callers_trace() -> Result<()> {
    let capture = testing::capture();
    let backends =
        BackendSet::start_in_process(Arc::new(load_bundled(DEFAULT_SCENARIO, Utc::now())?)).await?;

    // Context in `_meta`.
    let k8s = connect(&backends, Domain::K8s, HashMap::new()).await?;
    let mut params = CallToolRequestParams::new("get_node_status");
    params.set_traceparent(&traceparent(META_TRACE, META_PARENT));
    params.set_baggage("user.id=alice,session.id=s-42");
    let answer = k8s.call_tool(params).await?;
    assert_eq!(answer.is_error, Some(false));
    let span = server_span(capture, META_TRACE, "tools/call get_node_status").await?;
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.parent_span_id, SpanId::from_hex(META_PARENT)?);
    assert_eq!(
        testing::attribute(&span, attr::AWS_LOCAL_SERVICE).as_deref(),
        Some("k8s-backend")
    );
    assert_eq!(
        testing::attribute(&span, attr::MCP_METHOD_NAME).as_deref(),
        Some("tools/call")
    );
    assert!(
        testing::attribute(&span, attr::JSONRPC_REQUEST_ID).is_some(),
        "request id recorded"
    );
    assert_eq!(
        testing::attribute(&span, attr::USER_ID).as_deref(),
        Some("alice"),
        "baggage reaches the server"
    );
    assert!(testing::attribute(&span, attr::ERROR_TYPE).is_none());

    // A tool error marks the span.
    let mut params = CallToolRequestParams::new("get_pod_status").with_arguments(
        serde_json::json!({"pod_name": "no-such-pod"})
            .as_object()
            .cloned()
            .context("arguments are an object")?,
    );
    params.set_traceparent(&traceparent(ERROR_TRACE, META_PARENT));
    let failed = k8s.call_tool(params).await?;
    assert_eq!(failed.is_error, Some(true));
    let span = server_span(capture, ERROR_TRACE, "tools/call get_pod_status").await?;
    assert_eq!(
        testing::attribute(&span, attr::ERROR_TYPE).as_deref(),
        Some("tool_error")
    );
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains("no-such-pod"))
    );
    assert!(span.events.iter().any(|e| e.name == attr::EXCEPTION_EVENT));
    k8s.cancel().await?;

    // No `_meta`: the HTTP headers carry the context.
    let headers = HashMap::from([(
        HeaderName::from_static("traceparent"),
        HeaderValue::from_str(&traceparent(HEADER_TRACE, HEADER_PARENT))?,
    )]);
    let logs = connect(&backends, Domain::Logs, headers).await?;
    let answer = logs
        .call_tool(CallToolRequestParams::new("get_recent_logs"))
        .await?;
    assert_eq!(answer.is_error, Some(false));
    let span = server_span(capture, HEADER_TRACE, "tools/call get_recent_logs").await?;
    assert_eq!(span.parent_span_id, SpanId::from_hex(HEADER_PARENT)?);
    assert_eq!(
        testing::attribute(&span, attr::AWS_LOCAL_SERVICE).as_deref(),
        Some("logs-backend")
    );
    logs.cancel().await?;

    backends.shutdown().await;
    Ok(())
}

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

async fn connect(
    backends: &BackendSet,
    domain: Domain,
    headers: HashMap<HeaderName, HeaderValue>,
) -> Result<Client> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(backends.url(domain)).custom_headers(headers);
    Ok(ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await?)
}

/// Polls the capture until the span of `trace` named `name` is exported (it ends just after the response).
async fn server_span(capture: &SpanCapture, trace: &str, name: &str) -> Result<SpanData> {
    let trace_id = TraceId::from_hex(trace)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(span) = capture.trace(trace_id).into_iter().find(|s| s.name == name) {
            return Ok(span);
        }
        if Instant::now() > deadline {
            bail!("no span {name} in trace {trace} after 5s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
