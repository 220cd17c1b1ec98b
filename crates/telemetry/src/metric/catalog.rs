//! The metric catalog: every metric sre-agent emits, defined once — CloudWatch name, unit and dimensions;
//! Prometheus name, labels, type and help. Dashboards and alarms use only these names.

/// CloudWatch dimension names (Prometheus labels are their snake_case, see [`prometheus_label`]).
pub mod dim {
    /// Specialist agent (`kubernetes`, `logs`, `metrics`, `runbooks`, `supervisor`).
    pub const AGENT_NAME: &str = "AgentName";
    /// Requesting user; capped in cardinality (overflow becomes `other`).
    pub const USER_ID: &str = "UserID";
    /// MCP tool name.
    pub const TOOL_NAME: &str = "ToolName";
    /// Memory operation (`retrieve`, `store`, ...).
    pub const OPERATION: &str = "Operation";
    /// Memory strategy.
    pub const STRATEGY: &str = "Strategy";
    /// Kind of escalation.
    pub const ESCALATION_TYPE: &str = "EscalationType";
    /// `success`, `partial`, `failure`, `timeout`, ...
    pub const OUTCOME: &str = "Outcome";
    /// Component that failed (`supervisor`, `agent`, `mcp`, `memory`, `llm`, ...).
    pub const COMPONENT: &str = "Component";
    /// Low-cardinality error class.
    pub const ERROR_TYPE: &str = "ErrorType";
    /// Cache name: `tool` or `preferences`.
    pub const CACHE: &str = "Cache";
    /// MCP backend service (`k8s-backend`, ...).
    pub const BACKEND: &str = "Backend";
    /// Model provider (`bedrock`, `anthropic`, `openai`, `offline`).
    pub const PROVIDER: &str = "Provider";
    /// Model id.
    pub const MODEL: &str = "Model";
    /// `input`, `output`, `cache_read`, `cache_creation`.
    pub const TOKEN_TYPE: &str = "TokenType";
    /// Telemetry signal that lost data: `spans` or `metrics`.
    pub const SIGNAL: &str = "Signal";
    /// `gen_ai.operation.name`
    pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
    /// `gen_ai.provider.name`
    pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// `gen_ai.request.model`
    pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
    /// `gen_ai.token.type`
    pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
}

/// High-cardinality ids accepted by `record` next to dimensions: they become EMF root fields (searchable in
/// Logs Insights, correlating metrics with traces and logs) and are never dimensions or labels.
pub mod property {
    /// The investigation id.
    pub const INVESTIGATION_ID: &str = "investigation_id";
    /// The W3C trace id (32 hex digits).
    pub const TRACE_ID: &str = "trace_id";
    /// Every property key, in storage order.
    pub const ALL: [&str; 2] = [INVESTIGATION_ID, TRACE_ID];
}

/// CloudWatch unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `Milliseconds`
    Milliseconds,
    /// `Seconds`
    Seconds,
    /// `Count`
    Count,
    /// `None` (dimensionless, e.g. US dollars or a state code)
    None,
}

impl Unit {
    /// The CloudWatch unit name.
    pub fn cloudwatch(self) -> &'static str {
        match self {
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
            Self::Count => "Count",
            Self::None => "None",
        }
    }

    /// The UCUM unit OpenTelemetry uses.
    pub fn ucum(self) -> &'static str {
        match self {
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::Count => "{count}",
            Self::None => "1",
        }
    }
}

/// How values of a metric combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic sum of recorded values (Prometheus counter).
    Counter,
    /// Last recorded value wins (Prometheus gauge).
    Gauge,
    /// Sum of recorded deltas, reported as its current value (Prometheus gauge), e.g. `+1` / `-1` around a run.
    UpDownCounter,
    /// Distribution of recorded values (Prometheus histogram).
    Histogram,
}

impl Kind {
    /// The Prometheus `# TYPE`.
    pub fn prometheus_type(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge | Self::UpDownCounter => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric of the catalog.
#[derive(Debug)]
pub struct MetricDef {
    /// Its id.
    pub id: MetricId,
    /// CloudWatch metric name (also the OTLP instrument name).
    pub name: &'static str,
    /// CloudWatch unit of recorded values.
    pub unit: Unit,
    /// CloudWatch dimension names, in order.
    pub dimensions: &'static [&'static str],
    /// How values combine.
    pub kind: Kind,
    /// Prometheus metric family name.
    pub prometheus_name: &'static str,
    /// Factor from recorded values to Prometheus values (milliseconds are exposed as seconds).
    pub prometheus_scale: f64,
    /// Prometheus histogram bucket upper bounds, in Prometheus units.
    pub buckets: &'static [f64],
    /// Prometheus `# HELP` and OTLP description.
    pub help: &'static str,
}

impl MetricDef {
    /// Prometheus label names: the snake_case of the dimension names.
    pub fn prometheus_labels(&self) -> Vec<String> {
        self.dimensions
            .iter()
            .map(|d| prometheus_label(d))
            .collect()
    }

    /// Position of `dimension` in [`MetricDef::dimensions`].
    pub fn dimension_index(&self, dimension: &str) -> Option<usize> {
        self.dimensions.iter().position(|d| *d == dimension)
    }
}

const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Bucket boundaries the OTel GenAI semantic conventions recommend for `gen_ai.client.token.usage`.
const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Bucket boundaries the OTel GenAI semantic conventions recommend for `gen_ai.client.operation.duration`.
const GENAI_SECONDS_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

macro_rules! catalog {
    ($( $(#[$doc:meta])* $id:ident => {
        name: $name:expr, unit: $unit:ident, dims: [$($dim:expr),*], kind: $kind:ident,
        prom: $prom:expr, scale: $scale:expr, buckets: $buckets:expr, help: $help:expr $(,)?
    } ),+ $(,)?) => {
        /// Every metric of the catalog.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MetricId {
            $( $(#[$doc])* $id, )+
        }

        /// The catalog, indexed by `MetricId as usize`.
        pub static CATALOG: &[MetricDef] = &[
            $( MetricDef {
                id: MetricId::$id,
                name: $name,
                unit: Unit::$unit,
                dimensions: &[$($dim),*],
                kind: Kind::$kind,
                prometheus_name: $prom,
                prometheus_scale: $scale,
                buckets: $buckets,
                help: $help,
            }, )+
        ];
    };
}

catalog! {
    /// Duration of one specialist agent run.
    AgentInvocation => { name: "AgentInvocation", unit: Milliseconds, dims: [dim::AGENT_NAME, dim::USER_ID],
        kind: Histogram, prom: "sre_agent_invocation_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one specialist agent run." },
    /// Duration of one tool use by an agent.
    ToolExecution => { name: "ToolExecution", unit: Milliseconds, dims: [dim::TOOL_NAME, dim::AGENT_NAME],
        kind: Histogram, prom: "sre_tool_execution_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one tool use by an agent, retries included." },
    /// Duration of one memory operation.
    MemoryOperation => { name: "MemoryOperation", unit: Milliseconds, dims: [dim::OPERATION, dim::STRATEGY],
        kind: Histogram, prom: "sre_memory_operation_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one memory operation." },
    /// Escalations decided by the supervisor.
    EscalationTriggered => { name: "EscalationTriggered", unit: Count, dims: [dim::USER_ID, dim::ESCALATION_TYPE],
        kind: Counter, prom: "sre_escalations_total", scale: 1.0, buckets: &[],
        help: "Escalations decided by the supervisor." },
    /// Investigations requested, by outcome.
    InvestigationRequests => { name: "InvestigationRequests", unit: Count, dims: [dim::OUTCOME],
        kind: Counter, prom: "sre_investigation_requests_total", scale: 1.0, buckets: &[],
        help: "Investigations requested, by outcome." },
    /// Duration of one investigation.
    InvestigationDuration => { name: "InvestigationDuration", unit: Milliseconds, dims: [dim::OUTCOME],
        kind: Histogram, prom: "sre_investigation_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one investigation, from question to report." },
    /// Errors, by component and type.
    Errors => { name: "Errors", unit: Count, dims: [dim::COMPONENT, dim::ERROR_TYPE],
        kind: Counter, prom: "sre_errors_total", scale: 1.0, buckets: &[],
        help: "Errors, by component and error type." },
    /// Cache hits (`tool` or `preferences`).
    CacheHits => { name: "CacheHits", unit: Count, dims: [dim::CACHE],
        kind: Counter, prom: "sre_cache_hits_total", scale: 1.0, buckets: &[],
        help: "Cache hits, by cache." },
    /// Cache misses (`tool` or `preferences`).
    CacheMisses => { name: "CacheMisses", unit: Count, dims: [dim::CACHE],
        kind: Counter, prom: "sre_cache_misses_total", scale: 1.0, buckets: &[],
        help: "Cache misses, by cache." },
    /// Duration of one MCP `tools/call` attempt.
    McpCallDuration => { name: "McpCallDuration", unit: Milliseconds, dims: [dim::TOOL_NAME, dim::BACKEND],
        kind: Histogram, prom: "sre_mcp_call_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one MCP tools/call attempt." },
    /// Failed MCP calls.
    McpCallErrors => { name: "McpCallErrors", unit: Count, dims: [dim::BACKEND, dim::ERROR_TYPE],
        kind: Counter, prom: "sre_mcp_call_errors_total", scale: 1.0, buckets: &[],
        help: "Failed MCP tools/call attempts, by backend and error type." },
    /// Model requests.
    LlmRequests => { name: "LlmRequests", unit: Count, dims: [dim::PROVIDER, dim::MODEL],
        kind: Counter, prom: "sre_llm_requests_total", scale: 1.0, buckets: &[],
        help: "Model requests." },
    /// Duration of one model request.
    LlmDuration => { name: "LlmDuration", unit: Milliseconds, dims: [dim::PROVIDER, dim::MODEL],
        kind: Histogram, prom: "sre_llm_request_duration_seconds", scale: 0.001, buckets: SECONDS_BUCKETS,
        help: "Duration of one model request." },
    /// Tokens used, by token type.
    LlmTokens => { name: "LlmTokens", unit: Count, dims: [dim::PROVIDER, dim::MODEL, dim::TOKEN_TYPE],
        kind: Counter, prom: "sre_llm_tokens_total", scale: 1.0, buckets: &[],
        help: "Model tokens, by token type." },
    /// Estimated model cost in US dollars.
    LlmCost => { name: "LlmCost", unit: None, dims: [dim::PROVIDER, dim::MODEL],
        kind: Counter, prom: "sre_llm_cost_usd_total", scale: 1.0, buckets: &[],
        help: "Estimated model cost in US dollars." },
    /// Tool calls made by agents.
    ToolCalls => { name: "ToolCalls", unit: Count, dims: [dim::TOOL_NAME, dim::AGENT_NAME],
        kind: Counter, prom: "sre_tool_calls_total", scale: 1.0, buckets: &[],
        help: "Tool calls made by agents." },
    /// Agent runs in progress (record `+1` at start, `-1` at end).
    ActiveAgentRuns => { name: "ActiveAgentRuns", unit: Count, dims: [dim::AGENT_NAME],
        kind: UpDownCounter, prom: "sre_active_agent_runs", scale: 1.0, buckets: &[],
        help: "Agent runs in progress." },
    /// Specialist restarts by the supervisor.
    AgentRestarts => { name: "AgentRestarts", unit: Count, dims: [dim::AGENT_NAME],
        kind: Counter, prom: "sre_agent_restarts_total", scale: 1.0, buckets: &[],
        help: "Specialist restarts by the supervisor." },
    /// Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.
    CircuitBreakerState => { name: "CircuitBreakerState", unit: None, dims: [dim::BACKEND],
        kind: Gauge, prom: "sre_circuit_breaker_state", scale: 1.0, buckets: &[],
        help: "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open." },
    /// Tokens a user may still spend.
    TokenBudgetRemaining => { name: "TokenBudgetRemaining", unit: Count, dims: [dim::USER_ID],
        kind: Gauge, prom: "sre_token_budget_remaining", scale: 1.0, buckets: &[],
        help: "Tokens a user may still spend." },
    /// Telemetry lost because a queue was full or an exporter stalled (`spans` or `metrics`).
    TelemetryDropped => { name: "TelemetryDropped", unit: Count, dims: [dim::SIGNAL],
        kind: Counter, prom: "sre_telemetry_dropped_total", scale: 1.0, buckets: &[],
        help: "Spans or metric values dropped because a queue was full or an exporter stalled." },
    /// OTel GenAI: tokens used per model operation.
    GenAiClientTokenUsage => { name: "gen_ai.client.token.usage", unit: Count,
        dims: [dim::GEN_AI_OPERATION_NAME, dim::GEN_AI_PROVIDER_NAME, dim::GEN_AI_REQUEST_MODEL, dim::GEN_AI_TOKEN_TYPE],
        kind: Histogram, prom: "gen_ai_client_token_usage", scale: 1.0, buckets: TOKEN_BUCKETS,
        help: "Number of input and output tokens used (OTel GenAI semantic conventions)." },
    /// OTel GenAI: duration of one model operation, in seconds.
    GenAiClientOperationDuration => { name: "gen_ai.client.operation.duration", unit: Seconds,
        dims: [dim::GEN_AI_OPERATION_NAME, dim::GEN_AI_PROVIDER_NAME, dim::GEN_AI_REQUEST_MODEL],
        kind: Histogram, prom: "gen_ai_client_operation_duration_seconds", scale: 1.0, buckets: GENAI_SECONDS_BUCKETS,
        help: "GenAI operation duration (OTel GenAI semantic conventions)." },
}

impl MetricId {
    /// Its catalog entry.
    pub fn def(self) -> &'static MetricDef {
        &CATALOG[self as usize]
    }

    /// Every metric id.
    pub fn all() -> impl Iterator<Item = MetricId> {
        CATALOG.iter().map(|d| d.id)
    }

    /// The id of the metric with CloudWatch name `name`.
    pub fn from_name(name: &str) -> Option<MetricId> {
        CATALOG.iter().find(|d| d.name == name).map(|d| d.id)
    }
}

/// The Prometheus label for a dimension: `AgentName` → `agent_name`, `UserID` → `user_id`,
/// `gen_ai.operation.name` → `gen_ai_operation_name`.
pub fn prometheus_label(dimension: &str) -> String {
    let mut out = String::with_capacity(dimension.len() + 4);
    let chars: Vec<char> = dimension.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_indexed_by_id_and_names_are_unique() {
        for (i, def) in CATALOG.iter().enumerate() {
            assert_eq!(def.id as usize, i, "{}", def.name);
            assert_eq!(MetricId::from_name(def.name), Some(def.id));
            assert!(def.dimensions.len() <= 30);
            assert_eq!(
                def.kind == Kind::Histogram,
                !def.buckets.is_empty(),
                "{}",
                def.name
            );
            assert!(def.buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
        }
        let mut prom: Vec<_> = CATALOG.iter().map(|d| d.prometheus_name).collect();
        prom.sort_unstable();
        prom.dedup();
        assert_eq!(prom.len(), CATALOG.len());
    }

    #[test]
    fn seed_metrics_keep_their_dimensions() {
        assert_eq!(
            MetricId::AgentInvocation.def().dimensions,
            ["AgentName", "UserID"]
        );
        assert_eq!(
            MetricId::ToolExecution.def().dimensions,
            ["ToolName", "AgentName"]
        );
        assert_eq!(
            MetricId::MemoryOperation.def().dimensions,
            ["Operation", "Strategy"]
        );
        assert_eq!(
            MetricId::EscalationTriggered.def().dimensions,
            ["UserID", "EscalationType"]
        );
        assert_eq!(MetricId::AgentInvocation.def().unit, Unit::Milliseconds);
        assert_eq!(MetricId::EscalationTriggered.def().kind, Kind::Counter);
    }

    #[test]
    fn labels_are_snake_case() {
        assert_eq!(prometheus_label("AgentName"), "agent_name");
        assert_eq!(prometheus_label("UserID"), "user_id");
        assert_eq!(prometheus_label("ErrorType"), "error_type");
        assert_eq!(
            prometheus_label("gen_ai.operation.name"),
            "gen_ai_operation_name"
        );
        assert_eq!(
            MetricId::LlmTokens.def().prometheus_labels(),
            ["provider", "model", "token_type"]
        );
    }
}
