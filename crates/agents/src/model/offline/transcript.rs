//! Rebuilds what the engine knows from a conversation: the question, and each tool call with its result.

use serde_json::Value;

use super::question::Question;
use crate::finding::{AgentAnswer, SummaryInput};
use crate::model::{ChatMessage, ModelError, parse_task_prompt};

/// One tool call and what came back.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub tool: String,
    pub arguments: Value,
    /// Parsed JSON output of a successful call.
    pub output: Option<Value>,
    /// The error text of a failed call (tool error or transport failure).
    pub error: Option<String>,
}

/// The conversation so far, as data.
#[derive(Debug, Clone)]
pub(crate) struct Transcript {
    pub question: Question,
    pub calls: Vec<Exchange>,
    /// The loop asked for a final answer (step or time limit).
    pub must_answer: bool,
    user_text: String,
}

impl Transcript {
    pub fn read(messages: &[ChatMessage]) -> Result<Self, ModelError> {
        let mut user_text: Option<&str> = None;
        let mut must_answer = false;
        let mut calls: Vec<(String, Exchange)> = Vec::new();
        for message in messages {
            match message {
                ChatMessage::System { .. } => {}
                ChatMessage::User { text } => match user_text {
                    None => user_text = Some(text),
                    Some(_) => must_answer |= text.trim_start().starts_with("Stop:"),
                },
                ChatMessage::Assistant { tool_calls, .. } => {
                    for call in tool_calls {
                        calls.push((
                            call.id.clone(),
                            Exchange {
                                tool: call.name.clone(),
                                arguments: call.arguments.clone(),
                                output: None,
                                error: None,
                            },
                        ));
                    }
                }
                ChatMessage::Tool { result } => {
                    if let Some((_, exchange)) =
                        calls.iter_mut().find(|(id, _)| *id == result.call_id)
                    {
                        if result.is_error {
                            exchange.error = Some(result.content.clone());
                        } else {
                            match serde_json::from_str::<Value>(&result.content) {
                                Ok(value) => exchange.output = Some(value),
                                Err(e) => {
                                    exchange.error = Some(format!("output was not JSON: {e}"))
                                }
                            }
                        }
                    }
                }
            }
        }
        let user_text = user_text
            .ok_or_else(|| {
                ModelError::InvalidRequest("the conversation has no user message".into())
            })?
            .to_owned();
        let (question, context) = parse_task_prompt(&user_text);
        Ok(Self {
            question: Question::parse(&question).with_memory(&context),
            calls: calls.into_iter().map(|(_, e)| e).collect(),
            must_answer,
            user_text,
        })
    }

    /// The summary input carried as JSON in the user message.
    pub fn payload(&self) -> Result<SummaryInput, ModelError> {
        serde_json::from_str(&self.user_text).map_err(|e| {
            ModelError::InvalidRequest(format!("the summary input is not valid JSON: {e}"))
        })
    }

    /// True when `tool` was already called with exactly these arguments.
    pub fn was_called(&self, tool: &str, arguments: &Value) -> bool {
        self.calls
            .iter()
            .any(|c| c.tool == tool && &c.arguments == arguments)
    }

    /// Successful outputs of `tool`, with the arguments used.
    pub fn outputs<'a>(
        &'a self,
        tool: &str,
    ) -> impl Iterator<Item = (&'a Value, &'a Value)> + use<'a> {
        let tool = tool.to_owned();
        self.calls
            .iter()
            .filter(move |c| c.tool == tool)
            .filter_map(|c| c.output.as_ref().map(|o| (&c.arguments, o)))
    }

    /// The first successful output of `tool`.
    pub fn output(&self, tool: &str) -> Option<&Value> {
        self.outputs(tool).next().map(|(_, o)| o)
    }

    /// Calls that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Exchange> {
        self.calls.iter().filter(|c| c.error.is_some())
    }

    /// The answer when the `area` tools gave nothing to analyse: which calls failed and why, or else that they
    /// returned `empty`. Never a guess.
    pub fn no_data(&self, area: &str, empty: &str) -> AgentAnswer {
        let failures: Vec<String> = self
            .failures()
            .map(|f| format!("{}: {}", f.tool, f.error.as_deref().unwrap_or_default()))
            .collect();
        let summary = if failures.is_empty() {
            format!("No data: the {area} tools returned {empty}.")
        } else {
            format!(
                "No data: the {area} tools failed ({}).",
                failures.join("; ")
            )
        };
        AgentAnswer {
            summary,
            findings: Vec::new(),
        }
    }
}
