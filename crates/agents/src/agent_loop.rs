//! The agent loop, the same for every model: ask the model, run the tool calls it asks for (concurrently,
//! each under a `tool.{name}` span), feed the results back, until it answers with findings or a limit is hit.

use std::{collections::BTreeSet, sync::Arc, time::Instant};

use futures::future::join_all;
use serde_json::Value;
use sre_telemetry::{convention::attr, redact, span};
use tokio::sync::OnceCell;
use tracing::Instrument;

use crate::{
    error::ToolError,
    finding::{AgentAnswer, Finding},
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, TokenUsage, ToolCall, ToolResult,
        ToolSpec, parse_json_answer, task_prompt, traced_chat,
    },
    progress::ProgressEvent,
    prompt,
    protocol::{AgentError, AgentKind, AgentOutcome, AgentReport, AgentTask, ToolCallRecord},
    tool_client::{BackendEndpoint, ToolClient},
};

/// Limits of one agent run.
#[derive(Debug, Clone, Copy)]
pub struct AgentLoopConfig {
    /// Model calls that may request tools; one more call is allowed for the final answer.
    pub max_steps: u32,
    /// Tool output longer than this many characters is cut before the model sees it.
    pub max_tool_output_chars: usize,
    /// Output token limit per model call.
    pub max_output_tokens: u32,
}

impl Default for AgentLoopConfig {
    fn default() -> Self {
        Self {
            max_steps: 8,
            max_tool_output_chars: 24_000,
            max_output_tokens: 4096,
        }
    }
}

/// The tools of one specialist: its backend's client and the tool list, fetched once.
#[derive(Debug)]
pub struct ToolBox {
    client: Arc<ToolClient>,
    specs: OnceCell<Vec<ToolSpec>>,
}

impl ToolBox {
    pub fn new(client: Arc<ToolClient>) -> Self {
        Self {
            client,
            specs: OnceCell::new(),
        }
    }

    /// The backend behind these tools.
    pub fn backend(&self) -> &BackendEndpoint {
        self.client.endpoint()
    }

    /// The tool list (`tools/list` on first use; retried on later uses until it succeeds).
    pub async fn specs(&self) -> Result<&[ToolSpec], ToolError> {
        self.specs
            .get_or_try_init(|| self.client.list_tools())
            .await
            .map(Vec::as_slice)
    }

    /// Calls one tool.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<crate::tool_client::ToolOutput, ToolError> {
        self.client.call(tool, arguments).await
    }
}

/// Runs one specialist on `task` until it answers. Expected failures (a dead backend, a bad model answer)
/// become a `Partial` report; only a failing model or the deadline is an error.
pub async fn run_agent(
    kind: AgentKind,
    model: &dyn ChatModel,
    tools: &ToolBox,
    task: &AgentTask,
    config: &AgentLoopConfig,
    deadline: Instant,
) -> Result<AgentReport, AgentError> {
    let started = Instant::now();
    let mut run = Run::new(kind, started);
    let agent_span = tracing::Span::current();

    let specs = match tools.specs().await {
        Ok(specs) => {
            agent_span.record(attr::SRE_TOOLS_AVAILABLE, specs.len() as i64);
            specs.to_vec()
        }
        Err(e) => {
            run.unavailable
                .insert(format!("{}: {e}", tools.backend().service));
            return Ok(run.finish(
                AgentAnswer {
                    summary: format!(
                        "No data: the {} tools could not be listed ({e}).",
                        kind.title()
                    ),
                    findings: Vec::new(),
                },
                &agent_span,
            ));
        }
    };

    let mut messages = vec![
        ChatMessage::System {
            text: prompt::specialist(kind),
        },
        ChatMessage::User {
            text: task_prompt(&task.question, &task.context),
        },
    ];
    let mut step = 0;
    loop {
        let out_of_steps = step >= config.max_steps;
        let out_of_time = Instant::now() >= deadline;
        if out_of_steps || out_of_time {
            let why = if out_of_time {
                "the time budget is used up"
            } else {
                "the step limit is reached"
            };
            messages.push(ChatMessage::User {
                text: format!(
                    "Stop: {why}. Answer now with the findings the data so far supports."
                ),
            });
        }
        let request = ChatRequest {
            purpose: ChatPurpose::Investigate(kind),
            messages: messages.clone(),
            tools: if out_of_steps || out_of_time {
                Vec::new()
            } else {
                specs.clone()
            },
            max_output_tokens: config.max_output_tokens,
        };
        let response = traced_chat(model, request)
            .await
            .map_err(|e| AgentError::Model {
                agent: kind,
                message: e.to_string(),
            })?;
        run.model_calls += 1;
        run.usage += response.usage;

        if response.tool_calls.is_empty() || out_of_steps || out_of_time {
            let text = response.text.unwrap_or_default();
            let answer = match parse_json_answer::<AgentAnswer>(&text) {
                Ok(answer) => answer,
                Err(problem) => {
                    run.unavailable.insert(format!(
                        "{} agent's answer was not valid findings JSON: {problem}",
                        kind.title()
                    ));
                    AgentAnswer {
                        summary: redact::truncate_chars(text.trim(), 600),
                        findings: Vec::new(),
                    }
                }
            };
            if !response.tool_calls.is_empty() {
                run.unavailable.insert(format!(
                    "{} agent stopped before it finished ({} tool calls not made)",
                    kind.title(),
                    response.tool_calls.len()
                ));
            }
            return Ok(run.finish(answer, &agent_span));
        }

        messages.push(ChatMessage::Assistant {
            text: response.text.clone(),
            tool_calls: response.tool_calls.clone(),
        });
        let results = join_all(
            response
                .tool_calls
                .iter()
                .map(|call| execute(kind, tools, &specs, call, task, config)),
        )
        .await;
        for (result, record, corpus_text, failure) in results {
            if let Some(text) = corpus_text {
                run.corpus.push(text);
            }
            if let Some(line) = failure {
                run.unavailable.insert(line);
            }
            run.tool_calls.push(record);
            messages.push(ChatMessage::Tool { result });
        }
        step += 1;
    }
}

/// Runs one tool call: (what the model sees, the record, the output for grounding, an unavailability line).
async fn execute(
    kind: AgentKind,
    tools: &ToolBox,
    specs: &[ToolSpec],
    call: &ToolCall,
    task: &AgentTask,
    config: &AgentLoopConfig,
) -> (ToolResult, ToolCallRecord, Option<String>, Option<String>) {
    let params = redact::redact_json(&call.arguments).to_string();
    let tool_span = span::tool(&call.name, &redact::truncate_chars(&params, 1024));
    task.progress.emit(ProgressEvent::ToolStarted {
        agent: kind,
        tool: call.name.clone(),
        arguments: redact::redact_json(&call.arguments),
    });
    let started = Instant::now();
    let outcome = async {
        if !specs.iter().any(|s| s.name == call.name) {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err((
                ToolError::UnknownTool {
                    tool: call.name.clone(),
                },
                names.join(", "),
            ));
        }
        tools
            .call(&call.name, call.arguments.clone())
            .await
            .map_err(|e| (e, String::new()))
    }
    .instrument(tool_span.clone())
    .await;
    let duration = started.elapsed();

    let (content, is_error, corpus, failure) = match outcome {
        Ok(out) if out.is_error => {
            tool_span.record(attr::ERROR_TYPE, "tool_error");
            (out.text, true, None, None)
        }
        Ok(out) => {
            let shown = cut(&out.text, config.max_tool_output_chars);
            (shown, false, Some(out.text), None)
        }
        Err((e, available)) => {
            span::record_error(&tool_span, e.error_type(), &e.to_string());
            let failure = e
                .is_backend_failure()
                .then(|| format!("{}: {} failed: {e}", tools.backend().service, call.name));
            let mut text = format!("Tool error: {e}");
            if !available.is_empty() {
                text.push_str(&format!(". Available tools: {available}"));
            }
            (text, true, None, failure)
        }
    };
    task.progress.emit(ProgressEvent::ToolFinished {
        agent: kind,
        tool: call.name.clone(),
        arguments: redact::redact_json(&call.arguments),
        duration,
        error: is_error.then(|| redact::truncate_chars(&content, 200)),
    });
    let record = ToolCallRecord {
        tool: call.name.clone(),
        arguments: redact::redact_json(&call.arguments),
        duration,
        error: is_error.then(|| content.clone()),
    };
    let result = ToolResult {
        call_id: call.id.clone(),
        tool: call.name.clone(),
        content,
        is_error,
    };
    (result, record, corpus, failure)
}

/// `text` cut to `max` characters with a note saying so.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut shown = redact::truncate_chars(text, max);
    shown.push_str(&format!("\n[output truncated to {max} characters]"));
    shown
}

/// Accumulated state of one run.
struct Run {
    kind: AgentKind,
    started: Instant,
    tool_calls: Vec<ToolCallRecord>,
    corpus: Vec<String>,
    unavailable: BTreeSet<String>,
    model_calls: u32,
    usage: TokenUsage,
}

impl Run {
    fn new(kind: AgentKind, started: Instant) -> Self {
        Self {
            kind,
            started,
            tool_calls: Vec::new(),
            corpus: Vec::new(),
            unavailable: BTreeSet::new(),
            model_calls: 0,
            usage: TokenUsage::default(),
        }
    }

    fn finish(self, answer: AgentAnswer, agent_span: &tracing::Span) -> AgentReport {
        let called: BTreeSet<&str> = self.tool_calls.iter().map(|c| c.tool.as_str()).collect();
        let findings = ground(answer.findings, &self.corpus, &called);
        let outcome = if self.unavailable.is_empty() {
            AgentOutcome::Complete
        } else {
            AgentOutcome::Partial
        };
        agent_span.record(attr::SRE_TOOLS_INVOKED, self.tool_calls.len() as i64);
        agent_span.record(attr::SRE_FINDINGS_COUNT, findings.len() as i64);
        agent_span.record(
            attr::SRE_OUTCOME,
            match outcome {
                AgentOutcome::Complete => "complete",
                AgentOutcome::Partial => "partial",
            },
        );
        AgentReport {
            kind: self.kind,
            outcome,
            summary: answer.summary,
            findings,
            tool_calls: self.tool_calls,
            unavailable: self.unavailable.into_iter().collect(),
            model_calls: self.model_calls,
            usage: self.usage,
            duration: self.started.elapsed(),
        }
    }
}

/// Keeps only what tool data supports: a finding's subject must occur in some tool output, related entities
/// that occur nowhere are dropped, and evidence must cite a tool that was called. Models (ours included) can
/// state nothing the tools did not return.
pub fn ground(findings: Vec<Finding>, corpus: &[String], called: &BTreeSet<&str>) -> Vec<Finding> {
    let occurs =
        |name: &str| !name.trim().is_empty() && corpus.iter().any(|text| text.contains(name));
    findings
        .into_iter()
        .filter_map(|mut f| {
            if !occurs(&f.subject.name) {
                return None;
            }
            f.related.retain(|r| occurs(&r.entity.name));
            f.evidence.retain(|e| called.contains(e.tool.as_str()));
            (!f.evidence.is_empty()).then_some(f)
        })
        .collect()
}
