//! Span names, attribute keys and id formats. Every name that reaches a trace backend is defined here once;
//! dashboards and queries refer to these strings.

use opentelemetry::trace::TraceId;

/// Span names of the investigation tree.
pub mod span_name {
    /// Root of one investigation (SERVER).
    pub const INVESTIGATION: &str = "sre.investigation";
    /// The supervisor reads the question and its context.
    pub const ANALYZE_QUERY: &str = "supervisor.analyze_query";
    /// The supervisor chooses the specialists.
    pub const ROUTE_DECISION: &str = "supervisor.route_decision";
    /// The supervisor merges the specialists' findings into a report.
    pub const AGGREGATE_RESULTS: &str = "supervisor.aggregate_results";
    /// An escalation was decided.
    pub const ESCALATE: &str = "supervisor.escalate";
    /// Memory retrieval for one strategy.
    pub const MEMORY_RETRIEVE: &str = "memory.retrieve";
    /// The store query of one retrieval.
    pub const MEMORY_VECTOR_SEARCH: &str = "memory.vector_search";
    /// Decoding, de-duplicating and trimming what the store returned.
    pub const MEMORY_POST_PROCESS: &str = "memory.post_process";
    /// One write of records to a namespace.
    pub const MEMORY_SAVE: &str = "memory.save";
    /// Loading a users file (or the bundled personas) into the preferences strategy: the parent of one
    /// `memory.save` per user.
    pub const MEMORY_LOAD_PREFERENCES: &str = "memory.load_preferences";
    /// MCP `tools/call` method name, also the prefix of the client and server span names.
    pub const MCP_TOOLS_CALL: &str = "tools/call";

    /// `agent.{kind}.execute`
    pub fn agent_execute(kind: &str) -> String {
        format!("agent.{kind}.execute")
    }
    /// `tool.{tool_name}`
    pub fn tool(tool_name: &str) -> String {
        format!("tool.{tool_name}")
    }
    /// `tools/call {tool_name}`
    pub fn mcp_call(tool_name: &str) -> String {
        format!("{MCP_TOOLS_CALL} {tool_name}")
    }
    /// `chat {model}`
    pub fn chat(model: &str) -> String {
        format!("chat {model}")
    }
}

/// Attribute keys.
pub mod attr {
    pub const SRE_INVESTIGATION_ID: &str = "sre.investigation_id";
    pub const SRE_USER_ID: &str = "sre.user_id";
    pub const SRE_SESSION_ID: &str = "sre.session_id";
    pub const SRE_QUERY: &str = "sre.query";
    pub const SRE_AGENTS_SELECTED: &str = "sre.agents_selected";
    pub const SRE_ROUTING_REASON: &str = "sre.routing_reason";
    pub const SRE_AGENT_TYPE: &str = "sre.agent_type";
    pub const SRE_TOOLS_AVAILABLE: &str = "sre.tools_available";
    pub const SRE_TOOLS_INVOKED: &str = "sre.tools_invoked";
    pub const SRE_FINDINGS_COUNT: &str = "sre.findings_count";
    pub const SRE_TOOL_NAME: &str = "sre.tool_name";
    pub const SRE_TOOL_PARAMS: &str = "sre.tool_params";
    pub const SRE_SEVERITY: &str = "sre.severity";
    pub const SRE_OUTCOME: &str = "sre.outcome";
    pub const SRE_PARTIAL: &str = "sre.partial";
    pub const SRE_ESCALATION_TYPE: &str = "sre.escalation_type";
    pub const SRE_RESTART_COUNT: &str = "sre.restart_count";
    pub const SESSION_ID: &str = "session.id";
    pub const USER_ID: &str = "user.id";

    pub const AWS_LOCAL_SERVICE: &str = "aws.local.service";
    pub const AWS_REMOTE_SERVICE: &str = "aws.remote.service";
    pub const PEER_SERVICE: &str = "peer.service";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const SERVER_PORT: &str = "server.port";

    pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
    pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
    pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
    pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
    pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
    pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
    pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    pub const GEN_AI_USAGE_CACHE_READ_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    pub const GEN_AI_USAGE_CACHE_CREATION_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
    pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
    pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
    /// Estimated cost of a model call or an investigation, in US dollars.
    pub const SRE_COST_USD: &str = "sre.cost_usd";

    pub const MCP_METHOD_NAME: &str = "mcp.method.name";
    pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
    pub const RETRY_ATTEMPT: &str = "retry.attempt";
    /// On a `tool.{name}` span: the result came from the tool-result cache.
    pub const TOOL_CACHE_HIT: &str = "tool.cache_hit";
    /// On a `tools/call` CLIENT span: the backend's circuit breaker state when the attempt started.
    pub const CIRCUIT_BREAKER_STATE: &str = "sre.circuit_breaker.state";
    pub const ERROR_TYPE: &str = "error.type";

    pub const MEMORY_NAMESPACE: &str = "memory.namespace";
    pub const MEMORY_STRATEGY: &str = "memory.strategy";
    pub const MEMORY_RESULTS_COUNT: &str = "memory.results_count";
    pub const MEMORY_CACHE_HIT: &str = "memory.cache_hit";

    pub const EXCEPTION_EVENT: &str = "exception";
    pub const EXCEPTION_TYPE: &str = "exception.type";
    pub const EXCEPTION_MESSAGE: &str = "exception.message";

    /// Keys the ADOT collector's X-Ray exporter turns into (searchable) annotations.
    pub const AWS_XRAY_ANNOTATIONS: &str = "aws.xray.annotations";
    /// Tool arguments (redacted, capped), only with message-content capture on.
    pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    /// Tool result (redacted, capped), only with message-content capture on.
    pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
}

/// Values of `gen_ai.operation.name`.
pub mod operation {
    pub const INVOKE_AGENT: &str = "invoke_agent";
    pub const EXECUTE_TOOL: &str = "execute_tool";
    pub const CHAT: &str = "chat";
}

/// `service.name` of the agent process.
pub const AGENT_SERVICE_NAME: &str = "sre-agent";

/// Longest `sre.query` value kept on a span.
pub const MAX_QUERY_CHARS: usize = 200;

/// Longest tool argument or result text recorded on a span.
pub const MAX_TOOL_IO_CHARS: usize = 2048;

/// Span attributes indexed as X-Ray annotations (searchable: `annotation.user_id = "alice"`): listed in
/// `aws.xray.annotations` for the ADOT collector and indexed by the direct X-Ray exporter.
pub const XRAY_ANNOTATION_KEYS: [&str; 4] = [
    attr::USER_ID,
    attr::SESSION_ID,
    attr::SRE_AGENT_TYPE,
    attr::SRE_INVESTIGATION_ID,
];

/// The X-Ray form of a W3C trace id (32 hex digits): `1-{first 8 hex}-{remaining 24 hex}`; `None` when `hex` is
/// not a trace id.
///
/// Trace ids from the X-Ray id generator start with the epoch seconds, so the console link works.
pub fn xray_trace_id(hex: &str) -> Option<String> {
    TraceId::from_hex(hex)
        .ok()
        .filter(|id| *id != TraceId::INVALID)?;
    (hex.len() == 32).then(|| format!("1-{}-{}", &hex[..8], &hex[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_id_splits_epoch_and_random_parts() {
        assert_eq!(
            xray_trace_id("5759e988bd862e3fe1be46a994272793").as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(xray_trace_id("not-a-trace-id"), None);
        assert_eq!(xray_trace_id("5759e988"), None);
        assert_eq!(xray_trace_id(&"0".repeat(32)), None);
    }

    #[test]
    fn dynamic_span_names_follow_the_tree() {
        assert_eq!(span_name::agent_execute("logs"), "agent.logs.execute");
        assert_eq!(span_name::tool("get_pod_status"), "tool.get_pod_status");
        assert_eq!(
            span_name::mcp_call("get_pod_status"),
            "tools/call get_pod_status"
        );
        assert_eq!(span_name::chat("offline"), "chat offline");
    }
}
