//! A scripted [`ChatModel`] for tests: each call is answered by a closure that sees the request, so a test can
//! play a provider, return malformed answers, fail, or panic to inject a fault.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use super::{ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, TokenUsage, ToolCall};

type Handler = dyn Fn(&ChatRequest, u32) -> Result<ChatResponse, ModelError> + Send + Sync;

/// A model whose answers come from a closure `(request, call_number) -> response`.
#[derive(Clone)]
pub struct ScriptedModel {
    handler: Arc<Handler>,
    calls: Arc<AtomicU32>,
}

impl std::fmt::Debug for ScriptedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedModel")
            .field("calls", &self.calls())
            .finish()
    }
}

impl ScriptedModel {
    pub fn new(
        handler: impl Fn(&ChatRequest, u32) -> Result<ChatResponse, ModelError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            handler: Arc::new(handler),
            calls: Arc::new(AtomicU32::new(0)),
        }
    }

    /// How many calls were made.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A final text answer.
pub fn text(answer: impl Into<String>) -> ChatResponse {
    ChatResponse {
        text: Some(answer.into()),
        tool_calls: Vec::new(),
        usage: TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            ..TokenUsage::default()
        },
        finish_reason: FinishReason::Stop,
    }
}

/// A request for tool calls.
pub fn tool_calls(calls: Vec<ToolCall>) -> ChatResponse {
    ChatResponse {
        text: None,
        tool_calls: calls,
        usage: TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            ..TokenUsage::default()
        },
        finish_reason: FinishReason::ToolUse,
    }
}

#[async_trait::async_trait]
impl ChatModel for ScriptedModel {
    fn provider(&self) -> &str {
        "scripted"
    }

    fn model(&self) -> &str {
        "scripted"
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        (self.handler)(&request, n)
    }
}
