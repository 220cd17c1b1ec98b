//! OpenAI-compatible chat completions (`POST {OPENAI_BASE_URL}/chat/completions`) as a [`ChatModel`], for
//! OpenAI itself and for local servers that speak the same API (Ollama, vLLM, LM Studio, llama.cpp): tools as
//! functions, `tool_calls` / `tool` message rounds, finish reasons, and usage with cached prompt tokens.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, TokenUsage,
    ToolCall,
    provider::{ModelOptions, ProviderError, ProviderKind, host_of},
    record_response_model,
    transport::JsonEndpoint,
};

/// `gen_ai.provider.name` of OpenAI-compatible servers.
pub const PROVIDER: &str = "openai";
/// Model used when none is given. Local servers (Ollama, vLLM) need `--model` with one they serve.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Base URL used when `OPENAI_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The host whose newer models take `max_completion_tokens` instead of `max_tokens`.
const OPENAI_HOST: &str = "api.openai.com";

/// A model behind an OpenAI-compatible chat completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiModel {
    endpoint: JsonEndpoint,
    model: String,
    options: ModelOptions,
    address: Option<String>,
}

impl OpenAiModel {
    /// A model at `base_url` (up to and including `/v1`); `api_key` is sent as a bearer token when given.
    pub fn new(
        base_url: &str,
        api_key: Option<&str>,
        model: impl Into<String>,
        options: ModelOptions,
    ) -> Result<Self, ProviderError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key.map(str::trim).filter(|k| !k.is_empty()) {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ProviderError::Invalid {
                    provider: ProviderKind::OpenAi,
                    message: "OPENAI_API_KEY contains characters that cannot go in an HTTP header"
                        .into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let client = options.http_client(ProviderKind::OpenAi)?;
        Ok(Self {
            endpoint: JsonEndpoint {
                client,
                url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
                headers,
                provider: PROVIDER,
                timeout: options.request_timeout,
                retry: options.retry,
            },
            model: model.into(),
            address: host_of(base_url),
            options,
        })
    }

    /// The request body for `request` (the chat completions wire format).
    fn body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("messages".into(), Value::Array(messages));
        // OpenAI's newer models refuse `max_tokens`; many compatible servers know only `max_tokens`.
        let limit_key = if self.address.as_deref() == Some(OPENAI_HOST) {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(limit_key.into(), json!(request.max_output_tokens));
        if !request.tools.is_empty() {
            let tools = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.input_schema,
                        }
                    })
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        Value::Object(body)
    }

    /// Maps a reply body to a [`ChatResponse`].
    fn response(&self, reply: Value) -> Result<ChatResponse, ModelError> {
        let malformed = |message: String| ModelError::MalformedReply {
            provider: PROVIDER.to_owned(),
            message,
        };
        let reply: CompletionReply = serde_json::from_value(reply)
            .map_err(|e| malformed(format!("not a chat completion: {e}")))?;
        if let Some(model) = &reply.model {
            record_response_model(model);
        }
        let choice = reply
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| malformed("the completion has no choices".into()))?;
        let tool_calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(i, call)| ToolCall {
                id: call
                    .id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("call_{i}")),
                name: call.function.name,
                arguments: parse_arguments(call.function.arguments),
            })
            .collect();
        let finish_reason = match choice.finish_reason.as_deref() {
            Some("stop") => FinishReason::Stop,
            Some("tool_calls") | Some("function_call") => FinishReason::ToolUse,
            Some("length") => FinishReason::MaxTokens,
            Some(other) => FinishReason::Other(other.to_owned()),
            None if tool_calls.is_empty() => FinishReason::Stop,
            None => FinishReason::ToolUse,
        };
        let usage = reply.usage.unwrap_or_default();
        let cached = usage
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
            .min(usage.prompt_tokens);
        let mut usage = TokenUsage {
            // OpenAI counts cached tokens inside the prompt tokens; ours are apart.
            input_tokens: usage.prompt_tokens - cached,
            output_tokens: usage.completion_tokens,
            cache_read_tokens: cached,
            ..TokenUsage::default()
        };
        usage.cost =
            self.options
                .prices
                .cost(PROVIDER, &self.model, reply.model.as_deref(), &usage);
        let text = choice
            .message
            .content
            .filter(|t| !t.trim().is_empty())
            .or(choice.message.refusal);
        Ok(ChatResponse {
            text,
            tool_calls,
            usage,
            finish_reason,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for OpenAiModel {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn server_address(&self) -> Option<String> {
        self.address.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let body = self.body(&request);
        let reply = self.endpoint.post(&body).await?;
        self.response(reply)
    }
}

#[derive(Debug, Deserialize)]
struct CompletionReply {
    #[serde(default)]
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<CompletionUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: ReplyMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReplyMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    tool_calls: Vec<ReplyToolCall>,
}

#[derive(Debug, Deserialize)]
struct ReplyToolCall {
    #[serde(default)]
    id: Option<String>,
    function: ReplyFunction,
}

#[derive(Debug, Deserialize)]
struct ReplyFunction {
    name: String,
    /// A JSON text in OpenAI's API; some compatible servers send the object itself.
    #[serde(default)]
    arguments: Value,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Tool arguments from the reply: the parsed JSON text, or the text itself when it does not parse (the agent
/// loop answers that with a tool error the model can act on).
fn parse_arguments(arguments: Value) -> Value {
    match arguments {
        Value::String(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Value::Null => Value::Object(Map::new()),
        other => other,
    }
}

/// Arguments as OpenAI's history wants them: a JSON text, replayed verbatim when the model's own text did not
/// parse.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn message_json(message: &ChatMessage) -> Value {
    match message {
        ChatMessage::System { text } => json!({"role": "system", "content": text}),
        ChatMessage::User { text } => json!({"role": "user", "content": text}),
        ChatMessage::Assistant { text, tool_calls } => {
            let mut m = Map::new();
            m.insert("role".into(), json!("assistant"));
            let content = text.as_deref().filter(|t| !t.trim().is_empty());
            m.insert("content".into(), json!(content));
            if !tool_calls.is_empty() {
                let calls = tool_calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": arguments_text(&c.arguments)},
                        })
                    })
                    .collect();
                m.insert("tool_calls".into(), Value::Array(calls));
            }
            Value::Object(m)
        }
        ChatMessage::Tool { result } => {
            // The API has no error flag on tool messages: say it in the content.
            let content = if result.is_error && !result.content.starts_with("Tool error") {
                format!("Tool error: {}", result.content)
            } else {
                result.content.clone()
            };
            json!({"role": "tool", "tool_call_id": result.call_id, "content": content})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_or_stay_text() {
        assert_eq!(
            parse_arguments(json!("{\"namespace\":\"production\"}")),
            json!({"namespace": "production"})
        );
        assert_eq!(
            parse_arguments(json!("{\"namespace\":")),
            json!("{\"namespace\":")
        );
        assert_eq!(parse_arguments(json!("")), json!({}));
        assert_eq!(parse_arguments(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(arguments_text(&json!("{broken")), "{broken");
        assert_eq!(arguments_text(&json!({"a": 1})), "{\"a\":1}");
    }
}
