//! The [`ChatModel`] trait every reasoning backend implements — messages and tool specs in, text and/or tool
//! calls plus token usage out — and the providers behind it: the offline engine (default), Amazon Bedrock
//! Converse, the Anthropic Messages API and OpenAI-compatible chat completions, chosen with
//! [`provider::ProviderConfig`].

pub mod anthropic;
pub mod bedrock;
pub mod budget;
mod conversation;
pub mod offline;
pub mod openai;
pub mod pricing;
pub mod provider;
pub mod retry;
#[cfg(any(test, feature = "test-util"))]
pub mod scripted;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod tool_schema;
mod transport;

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::protocol::AgentKind;

/// What a model call is for. Real models learn it from the prompt; the offline engine dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "purpose", content = "agent")]
pub enum ChatPurpose {
    /// Choose specialists for a question; answer is a [`crate::finding::RoutePlan`] as JSON.
    Plan,
    /// Run one specialist; tool calls until the answer, an [`crate::finding::AgentAnswer`] as JSON.
    Investigate(AgentKind),
    /// Conclude over all reports; answer is an [`crate::finding::Assessment`] as JSON.
    Summarize,
}

/// A tool the model may call, with its JSON Schema (from the MCP `tools/list`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

/// A tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Id chosen by the model, echoed in the [`ToolResult`].
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// The answer to one [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub call_id: String,
    pub tool: String,
    /// The tool's text output (JSON for our MCP tools), or the error message.
    pub content: String,
    pub is_error: bool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ChatMessage {
    System {
        text: String,
    },
    User {
        text: String,
    },
    Assistant {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        result: ToolResult,
    },
}

/// A request to a model.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub purpose: ChatPurpose,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    /// Upper bound on output tokens.
    pub max_output_tokens: u32,
}

/// Token counts and estimated cost of one call (or a sum of calls).
///
/// `input_tokens` counts the input tokens that were neither read from nor written to the provider's prompt
/// cache; the cached ones are in `cache_read_tokens` and `cache_write_tokens` (Bedrock's and Anthropic's own
/// convention; OpenAI's cached tokens are moved out of its prompt count). Each kind has its own price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Estimated cost from the price table ([`pricing::PriceTable`]); summed along with the tokens.
    #[serde(default)]
    pub cost: Cost,
}

impl TokenUsage {
    /// Sum of all token counts.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }

    /// Every input token, cached or not (`gen_ai.usage.input_tokens` in the GenAI conventions).
    pub fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, rhs: Self) {
        self.input_tokens += rhs.input_tokens;
        self.output_tokens += rhs.output_tokens;
        self.cache_read_tokens += rhs.cache_read_tokens;
        self.cache_write_tokens += rhs.cache_write_tokens;
        self.cost += rhs.cost;
    }
}

/// Estimated cost in US dollars of one call or a sum of calls. A call whose model has no price is counted in
/// `unpriced_calls` and adds nothing to `usd`: its cost is unknown, not zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Sum over the calls that have a price.
    pub usd: f64,
    /// Calls whose model is not in the price table.
    #[serde(default)]
    pub unpriced_calls: u32,
}

impl Cost {
    /// A known cost.
    pub fn usd(usd: f64) -> Self {
        Self {
            usd,
            unpriced_calls: 0,
        }
    }

    /// The cost of one call whose model has no price.
    pub fn unknown() -> Self {
        Self {
            usd: 0.0,
            unpriced_calls: 1,
        }
    }

    /// The total when every call was priced, else `None`.
    pub fn known(&self) -> Option<f64> {
        (self.unpriced_calls == 0).then_some(self.usd)
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Self) {
        self.usd += rhs.usd;
        self.unpriced_calls += rhs.unpriced_calls;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A final answer.
    Stop,
    /// It wants tool results.
    ToolUse,
    /// Cut by the token limit.
    MaxTokens,
    Other(String),
}

impl FinishReason {
    /// The value for `gen_ai.response.finish_reasons`.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::ToolUse => "tool_use",
            FinishReason::MaxTokens => "max_tokens",
            FinishReason::Other(s) => s,
        }
    }
}

/// A model's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: TokenUsage,
    pub finish_reason: FinishReason,
}

/// Why a model call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// The request could not be understood by this model (bad conversation shape).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider could not be reached or answered with an error.
    #[error("{provider} is unavailable: {message}")]
    Unavailable { provider: String, message: String },
    /// The provider throttled us beyond the retry budget.
    #[error("{provider} throttled the request: {message}")]
    Throttled { provider: String, message: String },
    /// The call took longer than allowed.
    #[error("model call timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The provider refused the request for good: bad credentials, no access to the model, a request it
    /// does not accept. Retrying does not help.
    #[error("{provider} rejected the request: {message}")]
    Rejected { provider: String, message: String },
    /// The provider answered, but the answer is not a reply in its wire format.
    #[error("{provider} sent a malformed reply: {message}")]
    MalformedReply { provider: String, message: String },
}

impl ModelError {
    /// Low-cardinality `error.type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            ModelError::InvalidRequest(_) => "invalid_request",
            ModelError::Unavailable { .. } => "unavailable",
            ModelError::Throttled { .. } => "throttled",
            ModelError::Timeout(_) => "timeout",
            ModelError::Rejected { .. } => "rejected",
            ModelError::MalformedReply { .. } => "malformed_reply",
        }
    }
}

/// A reasoning backend. Implementations are cheap to share (`Arc<dyn ChatModel>`) and safe to call concurrently.
///
/// Providers compute [`TokenUsage::cost`] from their price table and record `gen_ai.response.model` with
/// [`record_response_model`]; [`traced_chat`] records the rest of the `chat {model}` span.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync + fmt::Debug {
    /// `gen_ai.provider.name` (`aws.bedrock`, `anthropic`, `openai`, `sre.offline`).
    fn provider(&self) -> &str;
    /// `gen_ai.request.model`.
    fn model(&self) -> &str;
    /// `server.address`: the host the calls go to, for remote providers.
    fn server_address(&self) -> Option<String> {
        None
    }
    /// One model call.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError>;
}

/// What one traced model call did, for metrics: who answered, how long it took, what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCallStats {
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// `gen_ai.request.model`.
    pub model: String,
    /// What the call was for.
    pub purpose: ChatPurpose,
    /// Wall time of the call, retries included.
    pub duration: Duration,
    /// Tokens and cost (zero when the call failed).
    pub usage: TokenUsage,
    /// Why the model stopped, when it answered.
    pub finish_reason: Option<FinishReason>,
    /// `error.type` when the call failed.
    pub error_type: Option<&'static str>,
}

/// Rough token count of a text (about four characters per token), for engines that do not count tokens.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The user message that starts a planning or specialist conversation:
///
/// ```text
/// Question: <the user's question>
/// Context:
/// - <one line per context item>
/// ```
pub fn task_prompt(question: &str, context: &[String]) -> String {
    let mut text = format!("Question: {}", question.trim());
    if !context.is_empty() {
        text.push_str("\nContext:");
        for line in context {
            text.push_str("\n- ");
            text.push_str(line.trim());
        }
    }
    text
}

/// Splits a [`task_prompt`] back into the question and its context lines. Text without the `Question:`
/// prefix is taken whole as the question.
pub fn parse_task_prompt(text: &str) -> (String, Vec<String>) {
    let Some(rest) = text.trim_start().strip_prefix("Question:") else {
        return (text.trim().to_owned(), Vec::new());
    };
    let (question, context) = match rest.split_once("\nContext:") {
        Some((q, c)) => (q, c),
        None => (rest, ""),
    };
    let context = context
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ").map(|l| l.trim().to_owned()))
        .filter(|l| !l.is_empty())
        .collect();
    (question.trim().to_owned(), context)
}

/// Calls `model` under a `chat {model}` CLIENT span, recording usage, cost, finish reason and failures.
pub async fn traced_chat(
    model: &dyn ChatModel,
    request: ChatRequest,
) -> Result<ChatResponse, ModelError> {
    traced_chat_with_stats(model, request).await.0
}

/// [`traced_chat`], also returning what the call did (duration, usage, cost) for metrics.
pub async fn traced_chat_with_stats(
    model: &dyn ChatModel,
    request: ChatRequest,
) -> (Result<ChatResponse, ModelError>, ChatCallStats) {
    use sre_telemetry::convention::attr;
    use tracing::Instrument;

    let span = sre_telemetry::span::chat(model.provider(), model.model());
    if let Some(address) = model.server_address() {
        span.record(attr::SERVER_ADDRESS, address.as_str());
    }
    let purpose = request.purpose;
    let started = std::time::Instant::now();
    let cancelled = sre_telemetry::span::CancelGuard::new(&span);
    let result = model.chat(request).instrument(span.clone()).await;
    cancelled.finished();
    let duration = started.elapsed();
    let mut stats = ChatCallStats {
        provider: model.provider().to_owned(),
        model: model.model().to_owned(),
        purpose,
        duration,
        usage: TokenUsage::default(),
        finish_reason: None,
        error_type: None,
    };
    match &result {
        Ok(response) => {
            let usage = &response.usage;
            span.record(attr::GEN_AI_USAGE_INPUT_TOKENS, usage.total_input() as i64);
            span.record(attr::GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens as i64);
            span.record(
                attr::GEN_AI_USAGE_CACHE_READ_TOKENS,
                usage.cache_read_tokens as i64,
            );
            span.record(
                attr::GEN_AI_USAGE_CACHE_CREATION_TOKENS,
                usage.cache_write_tokens as i64,
            );
            if let Some(usd) = usage.cost.known() {
                span.record(attr::SRE_COST_USD, usd);
            }
            sre_telemetry::span::set_string_list(
                &span,
                attr::GEN_AI_RESPONSE_FINISH_REASONS,
                [response.finish_reason.as_str().to_owned()],
            );
            stats.usage = *usage;
            stats.finish_reason = Some(response.finish_reason.clone());
        }
        Err(e) => {
            sre_telemetry::span::record_error(&span, e.error_type(), &e.to_string());
            stats.error_type = Some(e.error_type());
        }
    }
    record_chat_metrics(&stats);
    (result, stats)
}

/// The LLM metric family and the OTel GenAI client histograms for one model call.
fn record_chat_metrics(stats: &ChatCallStats) {
    use sre_telemetry::metric::{MetricId, dim, record};

    let provider = stats.provider.as_str();
    let model = stats.model.as_str();
    let pm = [(dim::PROVIDER, provider), (dim::MODEL, model)];
    record(MetricId::LlmRequests, 1.0, &pm);
    record(
        MetricId::LlmDuration,
        stats.duration.as_secs_f64() * 1000.0,
        &pm,
    );
    let genai = [
        (dim::GEN_AI_OPERATION_NAME, "chat"),
        (dim::GEN_AI_PROVIDER_NAME, provider),
        (dim::GEN_AI_REQUEST_MODEL, model),
    ];
    record(
        MetricId::GenAiClientOperationDuration,
        stats.duration.as_secs_f64(),
        &genai,
    );
    if let Some(error_type) = stats.error_type {
        record(
            MetricId::Errors,
            1.0,
            &[(dim::COMPONENT, "llm"), (dim::ERROR_TYPE, error_type)],
        );
        return;
    }
    let usage = &stats.usage;
    for (token_type, tokens) in [
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_creation", usage.cache_write_tokens),
    ] {
        if tokens == 0 && token_type.starts_with("cache") {
            continue;
        }
        record(
            MetricId::LlmTokens,
            tokens as f64,
            &[
                (dim::PROVIDER, provider),
                (dim::MODEL, model),
                (dim::TOKEN_TYPE, token_type),
            ],
        );
    }
    // The GenAI histogram counts what the model read (input, cached or not) and what it wrote.
    for (token_type, tokens) in [
        ("input", usage.total_input()),
        ("output", usage.output_tokens),
    ] {
        record(
            MetricId::GenAiClientTokenUsage,
            tokens as f64,
            &[
                genai[0],
                genai[1],
                genai[2],
                (dim::GEN_AI_TOKEN_TYPE, token_type),
            ],
        );
    }
    if let Some(usd) = usage.cost.known() {
        record(MetricId::LlmCost, usd, &pm);
    }
}

/// Records `gen_ai.response.model` on the current span. Providers call it from [`ChatModel::chat`], which
/// [`traced_chat`] runs inside the `chat {model}` span.
pub fn record_response_model(model: &str) {
    tracing::Span::current().record(
        sre_telemetry::convention::attr::GEN_AI_RESPONSE_MODEL,
        model,
    );
}

/// The first JSON object in a model's text (bare, or inside a ```json fence), parsed as `T`.
pub fn parse_json_answer<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let start = text
        .find('{')
        .ok_or_else(|| "the answer contains no JSON object".to_owned())?;
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) => Err(format!("the answer's JSON does not fit: {e}")),
        None => Err("the answer contains no JSON object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_prompt_round_trips() {
        let context = vec![
            "user prefers technical detail".to_owned(),
            "namespace production".to_owned(),
        ];
        let text = task_prompt("Why is\nit slow?", &context);
        assert_eq!(
            parse_task_prompt(&text),
            ("Why is\nit slow?".to_owned(), context)
        );
        assert_eq!(
            parse_task_prompt("plain question"),
            ("plain question".to_owned(), vec![])
        );
    }

    #[test]
    fn json_answers_are_found_in_fenced_text() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct A {
            x: u32,
        }
        assert_eq!(
            parse_json_answer::<A>("Here you go:\n```json\n{\"x\": 3}\n```"),
            Ok(A { x: 3 })
        );
        assert!(
            parse_json_answer::<A>("no json")
                .unwrap_err()
                .contains("no JSON")
        );
        assert!(
            parse_json_answer::<A>("{\"y\": 1}")
                .unwrap_err()
                .contains("does not fit")
        );
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
