//! The Anthropic Messages API (`POST {ANTHROPIC_BASE_URL}/v1/messages`) as a [`ChatModel`]: system prompt,
//! tools with their JSON Schemas, `tool_use` / `tool_result` rounds, stop reasons, and usage with prompt-cache
//! reads and writes.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, TokenUsage, ToolCall,
    conversation::{Block, Conversation, Role, arguments_object},
    provider::{ModelOptions, ProviderError, ProviderKind, host_of},
    record_response_model,
    transport::JsonEndpoint,
};

/// `gen_ai.provider.name` of the Anthropic API.
pub const PROVIDER: &str = "anthropic";
/// Model used when none is given.
pub const DEFAULT_MODEL: &str = "claude-haiku-4-5-20251001";
/// Base URL used when `ANTHROPIC_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header sent with every request.
pub const API_VERSION: &str = "2023-06-01";

/// A Claude model behind the Anthropic Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicModel {
    endpoint: JsonEndpoint,
    model: String,
    options: ModelOptions,
    address: Option<String>,
}

impl AnthropicModel {
    /// A model at `base_url` (without `/v1`), authenticated with `api_key`.
    pub fn new(
        base_url: &str,
        api_key: &str,
        model: impl Into<String>,
        options: ModelOptions,
    ) -> Result<Self, ProviderError> {
        let invalid = |what: &str| ProviderError::Invalid {
            provider: ProviderKind::Anthropic,
            message: format!("{what} contains characters that cannot go in an HTTP header"),
        };
        let mut headers = HeaderMap::new();
        let mut key =
            HeaderValue::from_str(api_key.trim()).map_err(|_| invalid("ANTHROPIC_API_KEY"))?;
        key.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        let client = options.http_client(ProviderKind::Anthropic)?;
        Ok(Self {
            endpoint: JsonEndpoint {
                client,
                url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
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

    /// The request body for `request` (the Messages API wire format).
    fn body(&self, request: &ChatRequest) -> Value {
        let tools_offered = !request.tools.is_empty();
        let conversation = Conversation::from_messages(&request.messages, tools_offered);
        let caching = self.options.prompt_caching;

        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("max_tokens".into(), json!(request.max_output_tokens));
        if !conversation.system.is_empty() {
            let mut blocks: Vec<Value> = conversation
                .system
                .iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect();
            if caching {
                mark_cache_breakpoint(blocks.last_mut());
            }
            body.insert("system".into(), Value::Array(blocks));
        }
        let mut messages: Vec<Value> = conversation.turns.iter().map(turn_json).collect();
        if caching && tools_offered {
            // A second breakpoint at the end of an agent's conversation lets its next step read the whole
            // history so far from the cache. One-shot calls (planning, the summary) would only pay for the
            // cache write.
            let last_block = messages
                .last_mut()
                .and_then(|m| m.get_mut("content"))
                .and_then(Value::as_array_mut)
                .and_then(|blocks| blocks.last_mut());
            mark_cache_breakpoint(last_block);
        }
        body.insert("messages".into(), Value::Array(messages));
        if tools_offered {
            let tools = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "input_schema": t.input_schema,
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
        let reply: MessagesReply = serde_json::from_value(reply)
            .map_err(|e| malformed(format!("not a Messages API reply: {e}")))?;
        if let Some(model) = &reply.model {
            record_response_model(model);
        }
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in reply.content {
            match block {
                ReplyBlock::Text { text } => texts.push(text),
                ReplyBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: input,
                }),
                ReplyBlock::Other => {}
            }
        }
        let finish_reason = match reply.stop_reason.as_deref() {
            Some("end_turn") | Some("stop_sequence") => FinishReason::Stop,
            Some("tool_use") => FinishReason::ToolUse,
            Some("max_tokens") => FinishReason::MaxTokens,
            Some(other) => FinishReason::Other(other.to_owned()),
            None if tool_calls.is_empty() => FinishReason::Stop,
            None => FinishReason::ToolUse,
        };
        let usage = reply.usage.unwrap_or_default();
        let mut usage = TokenUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_input_tokens.unwrap_or(0),
            cache_write_tokens: usage.cache_creation_input_tokens.unwrap_or(0),
            ..TokenUsage::default()
        };
        usage.cost =
            self.options
                .prices
                .cost(PROVIDER, &self.model, reply.model.as_deref(), &usage);
        let text = texts.join("\n");
        Ok(ChatResponse {
            text: (!text.is_empty()).then_some(text),
            tool_calls,
            usage,
            finish_reason,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for AnthropicModel {
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
struct MessagesReply {
    #[serde(default)]
    model: Option<String>,
    content: Vec<ReplyBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<ReplyUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ReplyBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
struct ReplyUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

fn turn_json(turn: &super::conversation::Turn) -> Value {
    let role = match turn.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let content: Vec<Value> = turn
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::ToolUse(call) => json!({
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments_object(&call.arguments),
            }),
            Block::ToolResult(result) => json!({
                "type": "tool_result",
                "tool_use_id": result.call_id,
                "content": if result.content.is_empty() { "(empty)" } else { result.content.as_str() },
                "is_error": result.is_error,
            }),
        })
        .collect();
    json!({"role": role, "content": content})
}

fn mark_cache_breakpoint(block: Option<&mut Value>) {
    if let Some(Value::Object(block)) = block {
        block.insert("cache_control".into(), json!({"type": "ephemeral"}));
    }
}
