//! The four rmcp servers and what they share: the traced `tools/call` dispatch, the server description and
//! the conversion of a tool answer into a `CallToolResult`.
//!
//! Each domain module holds its server type (a `ToolRouter` over `#[tool]` methods) and the plain functions
//! that compute the answers from a [`Dataset`], so the logic is testable without HTTP.

pub mod k8s;
pub mod logs;
pub mod metrics;
mod parameters;
pub mod runbooks;
mod search;
mod stats;
mod template;
mod window;

use http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode,
    Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::{MaybeSend, RequestContext};
use rmcp::{ErrorData, RoleServer};
use serde::Serialize;
use serde_json::Value;
use sre_telemetry::TraceCarrier;
use sre_telemetry::carrier::{BAGGAGE, TRACEPARENT, TRACESTATE};
use sre_telemetry::convention::attr;
use tracing::Instrument;

use crate::dataset::Dataset;
use crate::domain::Domain;
use crate::error::ToolError;

pub use k8s::K8sServer;
pub use logs::LogsServer;
pub use metrics::MetricsServer;
pub use runbooks::RunbooksServer;

/// What a tool function returns: the JSON answer, or a message for the model.
pub type ToolResult = Result<Value, ToolError>;

/// Span name used for calls to a tool the server does not have, so arbitrary names never reach span names.
const UNKNOWN_TOOL: &str = "unknown";

/// How many characters of an unknown tool name an error message repeats.
const MAX_SHOWN_NAME: usize = 64;

/// Implements `ServerHandler` for a domain server type with `dataset` and `tool_router` fields: the shared
/// traced `tools/call` dispatch, the tool list from the router, and the server description.
macro_rules! backend_handler {
    ($server:ty, $domain:expr, $summary:literal) => {
        impl rmcp::ServerHandler for $server {
            fn get_info(&self) -> rmcp::model::ServerConfig {
                $crate::server::server_config($domain, &self.dataset, $summary)
            }

            async fn call_tool(
                &self,
                request: rmcp::model::CallToolRequestParams,
                context: rmcp::service::RequestContext<rmcp::RoleServer>,
            ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
                $crate::server::call_tool(self, &self.tool_router, $domain, request, context).await
            }

            async fn list_tools(
                &self,
                _request: Option<rmcp::model::PaginatedRequestParams>,
                _context: rmcp::service::RequestContext<rmcp::RoleServer>,
            ) -> Result<rmcp::model::ListToolsResult, rmcp::ErrorData> {
                Ok(rmcp::model::ListToolsResult::with_all_items(
                    self.tool_router.list_all(),
                ))
            }

            fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
                self.tool_router.get(name).cloned()
            }
        }
    };
}
pub(crate) use backend_handler;

/// The `ServerConfig` of a backend: tools enabled, named after the service, with instructions naming the
/// domain and the scenario.
pub(crate) fn server_config(domain: Domain, dataset: &Dataset, summary: &str) -> ServerConfig {
    let scenario = dataset.scenario();
    ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
        .with_server_info(Implementation::new(domain.service_name(), env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "{} backend of sre-agent: {summary} Data comes from the incident scenario `{}` ({}). Durations such \
             as \"30m\" or \"2h\" count back from now; timestamps are RFC 3339 UTC.",
            domain.as_str(),
            scenario.name,
            scenario.title,
        ))
}

/// Runs one `tools/call` inside a SERVER span parented on the caller's W3C context.
///
/// The context comes from the request's `_meta` and, when that carries none, from the HTTP headers.
pub(crate) async fn call_tool<S>(
    server: &S,
    router: &ToolRouter<S>,
    domain: Domain,
    request: CallToolRequestParams,
    context: RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData>
where
    S: MaybeSend + 'static,
{
    let known = router.get(&request.name).is_some();
    let span_tool = if known {
        request.name.as_ref()
    } else {
        UNKNOWN_TOOL
    };
    let span = sre_telemetry::span::mcp_server(span_tool, domain.service_name());
    trace_carrier(&context).attach(&span);
    span.record(attr::JSONRPC_REQUEST_ID, context.id.to_string());

    let response = if known {
        router
            .call(ToolCallContext::new(server, request, context))
            .instrument(span.clone())
            .await
    } else {
        Err(unknown_tool(domain, &request.name))
    };
    record_outcome(&span, &response);
    response
}

/// Turns a tool answer into the MCP result: one text block with the JSON, or an error result the model reads.
pub(crate) fn respond(result: ToolResult) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
        Err(error) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
    }
}

/// Encodes an answer struct as JSON.
pub(crate) fn to_json<T: Serialize>(answer: &T) -> ToolResult {
    serde_json::to_value(answer).map_err(|e| ToolError::Encode {
        message: e.to_string(),
    })
}

/// The protocol error for a tool this backend does not have: it names the tool, the backend and its tools.
fn unknown_tool(domain: Domain, name: &str) -> ErrorData {
    let shown: String = name.chars().take(MAX_SHOWN_NAME).collect();
    let ellipsis = if shown.len() < name.len() { "…" } else { "" };
    ErrorData::invalid_params(
        format!(
            "tool `{shown}{ellipsis}` not found on {}; its tools are {}",
            domain.service_name(),
            domain.tool_names().join(", ")
        ),
        None,
    )
}

/// The caller's trace context: `_meta` first, HTTP headers as the fallback.
fn trace_carrier(context: &RequestContext<RoleServer>) -> TraceCarrier {
    let meta = &context.meta;
    if let Some(traceparent) = meta.get_traceparent() {
        return TraceCarrier::from_parts(
            Some(traceparent),
            meta.get_tracestate(),
            meta.get_baggage(),
        );
    }
    match context.extensions.get::<Parts>() {
        Some(parts) => {
            let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
            TraceCarrier::from_parts(header(TRACEPARENT), header(TRACESTATE), header(BAGGAGE))
        }
        None => TraceCarrier::default(),
    }
}

fn record_outcome(span: &tracing::Span, response: &Result<CallToolResponse, ErrorData>) {
    match response {
        Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
            let message = first_text(result);
            sre_telemetry::span::record_error(span, "tool_error", &message);
        }
        Ok(_) => {}
        Err(error) => {
            let error_type = match error.code {
                ErrorCode::INVALID_PARAMS => "invalid_params",
                ErrorCode::METHOD_NOT_FOUND => "method_not_found",
                _ => "mcp_error",
            };
            sre_telemetry::span::record_error(span, error_type, &error.message);
        }
    }
}

fn first_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|block| block.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_tool_is_named_with_the_backend_and_its_tools() {
        let err = unknown_tool(Domain::Logs, "get_pod_status");
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(
            err.message,
            "tool `get_pod_status` not found on logs-backend; its tools are search_logs, get_error_logs, \
             analyze_log_patterns, get_recent_logs, count_log_events"
        );
        let long = "x".repeat(500);
        let err = unknown_tool(Domain::K8s, &long);
        assert!(
            err.message
                .starts_with(&format!("tool `{}…` not found", "x".repeat(64)))
        );
    }

    #[test]
    fn answers_become_one_text_block() {
        let ok = respond(Ok(serde_json::json!({"a": 1})));
        assert_eq!(ok.is_error, Some(false));
        assert_eq!(first_text(&ok), r#"{"a":1}"#);

        let err = respond(Err(ToolError::invalid(
            "limit",
            "0",
            "an integer from 1 to 1000",
        )));
        assert_eq!(err.is_error, Some(true));
        assert_eq!(
            first_text(&err),
            r#"invalid limit "0": expected an integer from 1 to 1000"#
        );
    }
}
