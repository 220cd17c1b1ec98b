//! The offline reasoning engine: a deterministic, rule-based SRE analyst behind the [`ChatModel`] trait.
//!
//! It keeps no state between calls. Each call rebuilds what it knows from the conversation — the question
//! and every tool result so far — then either asks for the tools that data points to next, or answers with
//! findings derived from that data. Nothing in it knows scenario names or expects particular entity names:
//! the rules read Kubernetes states and events, log levels and message templates, metric baselines and
//! trends, and runbook text, and relate them through the names the data itself uses.

mod entity;
mod json;
mod kubernetes;
mod logs;
mod metrics;
mod planner;
mod question;
mod runbooks;
mod summary;
mod transcript;

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    ChatMessage, ChatModel, ChatPurpose, ChatRequest, ChatResponse, FinishReason, ModelError,
    TokenUsage, ToolCall, estimate_tokens,
};
use crate::finding::AgentAnswer;
use crate::protocol::AgentKind;
use transcript::Transcript;

/// `gen_ai.provider.name` of the offline engine.
pub const PROVIDER: &str = "sre.offline";
/// `gen_ai.request.model` of the offline engine.
pub const MODEL: &str = "offline-analyst-1";

/// The deterministic offline analyst.
#[derive(Debug, Clone, Default)]
pub struct OfflineModel;

impl OfflineModel {
    pub fn new() -> Self {
        Self
    }
}

/// A tool call an analyst wants, before it gets an id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wanted {
    pub tool: &'static str,
    pub arguments: Value,
}

impl Wanted {
    pub fn new(tool: &'static str, arguments: Value) -> Self {
        Self { tool, arguments }
    }
}

#[async_trait::async_trait]
impl ChatModel for OfflineModel {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn model(&self) -> &str {
        MODEL
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let input_tokens: u64 = request.messages.iter().map(message_tokens).sum();
        let transcript = Transcript::read(&request.messages)?;
        let reply = match request.purpose {
            ChatPurpose::Plan => Reply::Text(to_json(&planner::plan(&transcript.question))?),
            ChatPurpose::Summarize => {
                Reply::Text(to_json(&summary::assess(transcript.payload()?)?)?)
            }
            ChatPurpose::Investigate(kind) => investigate(kind, &transcript, &request),
        };
        let (text, tool_calls, finish_reason) = match reply {
            Reply::Text(text) => (Some(text), Vec::new(), FinishReason::Stop),
            Reply::Calls(calls) => (None, calls, FinishReason::ToolUse),
        };
        let output_tokens = text.as_deref().map_or(0, estimate_tokens)
            + tool_calls
                .iter()
                .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments.to_string()))
                .sum::<u64>();
        Ok(ChatResponse {
            text,
            tool_calls,
            usage: TokenUsage {
                input_tokens,
                output_tokens,
                ..TokenUsage::default()
            },
            finish_reason,
        })
    }
}

enum Reply {
    Text(String),
    Calls(Vec<ToolCall>),
}

/// One specialist step: the calls the data asks for that were not made yet, or the conclusion.
fn investigate(kind: AgentKind, transcript: &Transcript, request: &ChatRequest) -> Reply {
    let available: BTreeSet<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    if !transcript.must_answer && !available.is_empty() {
        let wanted = match kind {
            AgentKind::Kubernetes => kubernetes::next_calls(transcript),
            AgentKind::Logs => logs::next_calls(transcript),
            AgentKind::Metrics => metrics::next_calls(transcript),
            AgentKind::Runbooks => runbooks::next_calls(transcript),
        };
        let fresh: Vec<Wanted> = wanted
            .into_iter()
            .filter(|w| available.contains(w.tool) && !transcript.was_called(w.tool, &w.arguments))
            .fold(Vec::new(), |mut acc, w| {
                if !acc.contains(&w) {
                    acc.push(w);
                }
                acc
            });
        if !fresh.is_empty() {
            let first_id = transcript.calls.len() + 1;
            let calls = fresh
                .into_iter()
                .enumerate()
                .map(|(i, w)| ToolCall {
                    id: format!("call_{}", first_id + i),
                    name: w.tool.to_owned(),
                    arguments: w.arguments,
                })
                .collect();
            return Reply::Calls(calls);
        }
    }
    let answer: AgentAnswer = match kind {
        AgentKind::Kubernetes => kubernetes::conclude(transcript),
        AgentKind::Logs => logs::conclude(transcript),
        AgentKind::Metrics => metrics::conclude(transcript),
        AgentKind::Runbooks => runbooks::conclude(transcript),
    };
    // Serialising our own types cannot fail; an empty object keeps the loop's error path honest if it did.
    Reply::Text(serde_json::to_string(&answer).unwrap_or_else(|_| "{}".to_owned()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ModelError> {
    serde_json::to_string(value)
        .map_err(|e| ModelError::InvalidRequest(format!("encoding the answer: {e}")))
}

fn message_tokens(message: &ChatMessage) -> u64 {
    match message {
        ChatMessage::System { text } | ChatMessage::User { text } => estimate_tokens(text),
        ChatMessage::Assistant { text, tool_calls } => {
            text.as_deref().map_or(0, estimate_tokens)
                + tool_calls
                    .iter()
                    .map(|c| estimate_tokens(&c.arguments.to_string()) + estimate_tokens(&c.name))
                    .sum::<u64>()
        }
        ChatMessage::Tool { result } => estimate_tokens(&result.content),
    }
}
