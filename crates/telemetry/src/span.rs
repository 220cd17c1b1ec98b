//! Constructors for every span of the investigation tree, so names, kinds and attribute sets are decided
//! in one place. Attributes known only later are declared `Empty` here and recorded by the caller.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::{KeyValue, baggage::BaggageExt, trace::Status};
use tracing::{Span, field::Empty, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TraceCarrier;
use crate::convention::{
    MAX_QUERY_CHARS, MAX_TOOL_IO_CHARS, XRAY_ANNOTATION_KEYS, attr, operation, span_name,
};
use crate::redact::{redact_json_text, redacted_json, truncate_chars};

/// Longest `sre.tool_params` value kept on a span.
pub const MAX_TOOL_PARAMS_CHARS: usize = 1024;

static CAPTURE_MESSAGE_CONTENT: AtomicBool = AtomicBool::new(false);

/// Turns recording of tool arguments and results ([`record_tool_io`]) on or off for the process;
/// [`crate::install`] sets it from `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
pub fn set_capture_message_content(on: bool) {
    CAPTURE_MESSAGE_CONTENT.store(on, Ordering::Relaxed);
}

/// Whether tool arguments and results are recorded on spans.
pub fn capture_message_content() -> bool {
    CAPTURE_MESSAGE_CONTENT.load(Ordering::Relaxed)
}

/// Records a tool call's `arguments` and `result` on `span` as `gen_ai.tool.call.arguments` /
/// `gen_ai.tool.call.result` — secrets redacted, each cut to [`MAX_TOOL_IO_CHARS`] — and only when message
/// content capture is on; otherwise does nothing.
pub fn record_tool_io(span: &Span, arguments: &serde_json::Value, result: &str) {
    if !capture_message_content() {
        return;
    }
    span.set_attribute(
        attr::GEN_AI_TOOL_CALL_ARGUMENTS,
        redacted_json(arguments, MAX_TOOL_IO_CHARS),
    );
    span.set_attribute(
        attr::GEN_AI_TOOL_CALL_RESULT,
        redact_json_text(result, MAX_TOOL_IO_CHARS),
    );
}

/// Root span of one investigation (SERVER kind, so X-Ray keeps it as a segment). `parent` is the caller's
/// context when the investigation was requested with one (an upstream service), else empty.
///
/// The user and session ids also travel as W3C baggage from here, so every descendant span — in this
/// process or behind an MCP call — can be tagged with them; the provider's baggage processor sets
/// `session.id`, `user.id` and `gen_ai.conversation.id` on this span too (once: they are not fields here).
pub fn investigation(
    parent: &TraceCarrier,
    investigation_id: &str,
    user_id: &str,
    session_id: &str,
    query: &str,
) -> Span {
    let query = truncate_chars(query, MAX_QUERY_CHARS);
    let span = info_span!(
        "sre.investigation",
        otel.name = span_name::INVESTIGATION,
        otel.kind = "server",
        { attr::SRE_INVESTIGATION_ID } = investigation_id,
        { attr::SRE_USER_ID } = user_id,
        { attr::SRE_SESSION_ID } = session_id,
        { attr::SRE_QUERY } = %query,
        { attr::SRE_AGENTS_SELECTED } = Empty,
        { attr::SRE_SEVERITY } = Empty,
        { attr::SRE_OUTCOME } = Empty,
        { attr::SRE_PARTIAL } = Empty,
        { attr::ERROR_TYPE } = Empty,
    );
    let upstream = parent.context();
    let mut entries: Vec<KeyValue> = upstream
        .baggage()
        .iter()
        .filter(|(k, _)| k.as_str() != attr::SESSION_ID && k.as_str() != attr::USER_ID)
        .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
        .collect();
    entries.push(KeyValue::new(attr::SESSION_ID, session_id.to_owned()));
    entries.push(KeyValue::new(attr::USER_ID, user_id.to_owned()));
    // Fails only when the span is disabled (no subscriber); nothing to attach to then.
    let _ = span.set_parent(upstream.with_baggage(entries));
    set_xray_annotations(&span);
    span
}

/// Lists [`XRAY_ANNOTATION_KEYS`] in `aws.xray.annotations`, so the ADOT collector indexes them in X-Ray.
fn set_xray_annotations(span: &Span) {
    set_string_list(
        span,
        attr::AWS_XRAY_ANNOTATIONS,
        XRAY_ANNOTATION_KEYS.iter().map(|k| (*k).to_owned()),
    );
}

/// `supervisor.analyze_query`
pub fn analyze_query() -> Span {
    info_span!(
        "supervisor.analyze_query",
        otel.name = span_name::ANALYZE_QUERY
    )
}

/// `supervisor.route_decision`; record `sre.agents_selected` with [`set_string_list`] and
/// `sre.routing_reason` with `Span::record`.
pub fn route_decision() -> Span {
    info_span!(
        "supervisor.route_decision",
        otel.name = span_name::ROUTE_DECISION,
        { attr::SRE_ROUTING_REASON } = Empty,
    )
}

/// `supervisor.aggregate_results`
pub fn aggregate_results(agents_reporting: usize) -> Span {
    info_span!(
        "supervisor.aggregate_results",
        otel.name = span_name::AGGREGATE_RESULTS,
        { attr::SRE_FINDINGS_COUNT } = Empty,
        { attr::SRE_SEVERITY } = Empty,
        sre.agents_reporting = agents_reporting as i64,
    )
}

/// `supervisor.escalate`
pub fn escalate(escalation_type: &str) -> Span {
    info_span!(
        "supervisor.escalate",
        otel.name = span_name::ESCALATE,
        { attr::SRE_ESCALATION_TYPE } = escalation_type,
    )
}

/// `agent.{kind}.execute`: the SERVER-kind entry of a specialist, which X-Ray draws as the `{kind}-agent` node.
/// Record `sre.tools_available` once the tool list is known.
pub fn agent_execute(kind: &str, investigation_id: &str) -> Span {
    let agent_name = format!("{kind}-agent");
    let span = info_span!(
        "agent.execute",
        otel.name = %span_name::agent_execute(kind),
        otel.kind = "server",
        { attr::AWS_LOCAL_SERVICE } = %agent_name,
        { attr::SRE_AGENT_TYPE } = kind,
        { attr::SRE_INVESTIGATION_ID } = investigation_id,
        { attr::GEN_AI_OPERATION_NAME } = operation::INVOKE_AGENT,
        { attr::GEN_AI_AGENT_NAME } = %agent_name,
        { attr::SRE_TOOLS_AVAILABLE } = Empty,
        { attr::SRE_TOOLS_INVOKED } = Empty,
        { attr::SRE_FINDINGS_COUNT } = Empty,
        { attr::SRE_OUTCOME } = Empty,
        { attr::ERROR_TYPE } = Empty,
    );
    set_xray_annotations(&span);
    span
}

/// `chat {model}`: one model call (CLIENT).
pub fn chat(provider: &str, model: &str) -> Span {
    info_span!(
        "chat",
        otel.name = %span_name::chat(model),
        otel.kind = "client",
        { attr::GEN_AI_OPERATION_NAME } = operation::CHAT,
        { attr::GEN_AI_PROVIDER_NAME } = provider,
        { attr::GEN_AI_REQUEST_MODEL } = model,
        { attr::GEN_AI_USAGE_INPUT_TOKENS } = Empty,
        { attr::GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
        { attr::GEN_AI_USAGE_CACHE_READ_TOKENS } = Empty,
        { attr::GEN_AI_USAGE_CACHE_CREATION_TOKENS } = Empty,
        { attr::GEN_AI_RESPONSE_MODEL } = Empty,
        { attr::GEN_AI_RESPONSE_FINISH_REASONS } = Empty,
        { attr::SRE_COST_USD } = Empty,
        { attr::SERVER_ADDRESS } = Empty,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// `tool.{tool_name}`: the agent's view of one tool use. `params` (the call's arguments) are written here as
/// JSON with values under secret-looking keys as `[REDACTED]`, cut to [`MAX_TOOL_PARAMS_CHARS`].
pub fn tool(tool_name: &str, params: &serde_json::Value) -> Span {
    let params = redacted_json(params, MAX_TOOL_PARAMS_CHARS);
    info_span!(
        "tool",
        otel.name = %span_name::tool(tool_name),
        { attr::GEN_AI_OPERATION_NAME } = operation::EXECUTE_TOOL,
        { attr::GEN_AI_TOOL_NAME } = tool_name,
        { attr::SRE_TOOL_NAME } = tool_name,
        { attr::SRE_TOOL_PARAMS } = %params,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// `tools/call {tool_name}` on the client side: one attempt of an MCP call to `remote_service`.
pub fn mcp_client(
    tool_name: &str,
    remote_service: &str,
    server_address: &str,
    attempt: u32,
) -> Span {
    info_span!(
        "tools/call",
        otel.name = %span_name::mcp_call(tool_name),
        otel.kind = "client",
        { attr::MCP_METHOD_NAME } = span_name::MCP_TOOLS_CALL,
        { attr::GEN_AI_TOOL_NAME } = tool_name,
        { attr::PEER_SERVICE } = remote_service,
        { attr::AWS_REMOTE_SERVICE } = remote_service,
        { attr::SERVER_ADDRESS } = server_address,
        { attr::RETRY_ATTEMPT } = i64::from(attempt),
        { attr::JSONRPC_REQUEST_ID } = Empty,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// `tools/call {tool_name}` on the server side (SERVER), in the service `local_service` (`k8s-backend`, ...).
pub fn mcp_server(tool_name: &str, local_service: &str) -> Span {
    info_span!(
        "tools/call",
        otel.name = %span_name::mcp_call(tool_name),
        otel.kind = "server",
        { attr::MCP_METHOD_NAME } = span_name::MCP_TOOLS_CALL,
        { attr::GEN_AI_TOOL_NAME } = tool_name,
        { attr::AWS_LOCAL_SERVICE } = local_service,
        { attr::JSONRPC_REQUEST_ID } = Empty,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// Marks `span` as failed: status Error with `message`, low-cardinality `error.type`, and an `exception` event.
pub fn record_error(span: &Span, error_type: &str, message: &str) {
    span.record(attr::ERROR_TYPE, error_type);
    span.set_status(Status::error(message.to_owned()));
    span.add_event(
        attr::EXCEPTION_EVENT,
        vec![
            KeyValue::new(attr::EXCEPTION_TYPE, error_type.to_owned()),
            KeyValue::new(attr::EXCEPTION_MESSAGE, message.to_owned()),
        ],
    );
}

/// Marks a span as cancelled when the work it covers is dropped before it finished (an investigation
/// deadline, a cancelled agent): without it such a span would end with status unset, like a success.
/// Call [`CancelGuard::finished`] when the work completed, whatever its outcome.
#[must_use = "a guard dropped at once marks its span cancelled"]
pub struct CancelGuard {
    span: Option<Span>,
}

impl CancelGuard {
    /// Guards `span`.
    pub fn new(span: &Span) -> Self {
        Self {
            span: Some(span.clone()),
        }
    }

    /// The work completed (its own outcome is recorded by the caller).
    pub fn finished(mut self) {
        self.span = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            record_error(&span, "cancelled", "cancelled before it finished");
        }
    }
}

/// Records a list of strings (e.g. `sre.agents_selected`) as an OpenTelemetry string array.
pub fn set_string_list(span: &Span, key: &'static str, values: impl IntoIterator<Item = String>) {
    let values: Vec<opentelemetry::StringValue> = values.into_iter().map(Into::into).collect();
    span.set_attribute(key, opentelemetry::Value::Array(values.into()));
}

/// Adds a named event to `span` with string attributes.
pub fn add_event(span: &Span, name: &'static str, attributes: &[(&'static str, String)]) {
    let attributes = attributes
        .iter()
        .map(|(k, v)| KeyValue::new(*k, v.clone()))
        .collect();
    span.add_event(name, attributes);
}

/// The trace id of `span`, when OpenTelemetry gave it one (recorded or not: see [`recorded_trace_id`]).
pub fn trace_id(span: &Span) -> Option<opentelemetry::trace::TraceId> {
    use opentelemetry::trace::TraceContextExt;
    let cx = span.context();
    let id = cx.span().span_context().trace_id();
    (id != opentelemetry::trace::TraceId::INVALID).then_some(id)
}

/// The trace id of `span` when its trace is recorded: `None` when the sampler dropped it
/// (`OTEL_TRACES_SAMPLER=always_off`, a ratio that did not pick it) or tracing is off.
pub fn recorded_trace_id(span: &Span) -> Option<opentelemetry::trace::TraceId> {
    use opentelemetry::trace::TraceContextExt;
    let cx = span.context();
    let sampled = cx.span().span_context().is_sampled();
    trace_id(span).filter(|_| sampled)
}
