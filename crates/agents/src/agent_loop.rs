//! The agent loop, the same for every model: ask the model, run the tool calls it asks for (concurrently,
//! each under a `tool.{name}` span), feed the results back, until it answers with findings or a limit is hit.
//!
//! It never loops forever and never trusts a reply: a call to an unknown tool, arguments that are not a JSON
//! object or that fail the tool's input schema are answered with a tool error the model can correct; after
//! [`AgentLoopConfig::max_consecutive_failures`] unusable replies in a row the agent stops and reports why. A
//! final answer that is not findings JSON gets one correction round. The step limit, the deadline and the
//! investigation's token budget all end the run with a report.

use std::{collections::BTreeSet, sync::Arc, time::Instant};

use futures::future::join_all;
use serde_json::Value;
use sre_telemetry::{
    convention::attr,
    metric::{self, MetricId, dim},
    redact, span,
};
use tokio::sync::OnceCell;
use tracing::Instrument;

use crate::{
    error::ToolError,
    finding::{AgentAnswer, Finding},
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, ModelError, TokenUsage, ToolCall,
        ToolResult, ToolSpec,
        budget::TokenBudget,
        parse_json_answer, task_prompt,
        tool_schema::{CallProblem, ToolSchemas},
        traced_chat,
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
    /// Unusable model replies in a row (malformed, or only calls that cannot be made) before the agent stops.
    pub max_consecutive_failures: u32,
}

impl Default for AgentLoopConfig {
    fn default() -> Self {
        Self {
            max_steps: 8,
            max_tool_output_chars: 24_000,
            max_output_tokens: 4096,
            max_consecutive_failures: 3,
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

/// Runs one specialist on `task` until it answers. Expected failures (a dead backend, a bad model answer, a
/// used-up token budget) become a `Partial` report; only a failing model or the deadline is an error. Every
/// model call is charged to `budget`.
pub async fn run_agent(
    kind: AgentKind,
    model: &dyn ChatModel,
    tools: &ToolBox,
    task: &AgentTask,
    config: &AgentLoopConfig,
    deadline: Instant,
    budget: &TokenBudget,
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
    let schemas = ToolSchemas::compile(&specs);

    let mut messages = vec![
        ChatMessage::System {
            text: prompt::specialist(kind),
        },
        ChatMessage::User {
            text: task_prompt(&task.question, &task.context),
        },
    ];
    let mut step = 0;
    // Tools are withheld and a final answer is due (step limit, deadline, or a correction round).
    let mut answer_due = false;
    let mut corrected = false;
    let mut failures = 0;
    loop {
        if budget.is_exhausted() {
            return Ok(run.stop_for_budget(budget, &agent_span));
        }
        if !answer_due && (step >= config.max_steps || Instant::now() >= deadline) {
            let why = if Instant::now() >= deadline {
                "the time budget is used up"
            } else {
                "the step limit is reached"
            };
            messages.push(ChatMessage::User {
                text: format!(
                    "Stop: {why}. Answer now with the findings the data so far supports."
                ),
            });
            answer_due = true;
        }
        let request = ChatRequest {
            purpose: ChatPurpose::Investigate(kind),
            messages: messages.clone(),
            tools: if answer_due {
                Vec::new()
            } else {
                specs.clone()
            },
            max_output_tokens: config.max_output_tokens,
        };
        let response = match traced_chat(model, request).await {
            Ok(response) => response,
            Err(ModelError::MalformedReply { message, .. }) => {
                run.model_calls += 1;
                failures += 1;
                let problem = format!("the model's reply was malformed ({message})");
                if failures >= config.max_consecutive_failures {
                    return Ok(run.give_up(failures, &problem, &agent_span));
                }
                continue;
            }
            Err(e) => {
                return Err(AgentError::Model {
                    agent: kind,
                    message: e.to_string(),
                });
            }
        };
        run.model_calls += 1;
        run.usage += response.usage;
        budget.charge(&response.usage);

        if response.tool_calls.is_empty() || answer_due {
            let text = response.text.clone().unwrap_or_default();
            let answer = match parse_json_answer::<AgentAnswer>(&text) {
                Ok(answer) => answer,
                Err(problem)
                    if !corrected && Instant::now() < deadline && !budget.is_exhausted() =>
                {
                    corrected = true;
                    answer_due = true;
                    if !text.trim().is_empty() {
                        messages.push(ChatMessage::Assistant {
                            text: Some(text),
                            tool_calls: Vec::new(),
                        });
                    }
                    messages.push(ChatMessage::User {
                        text: format!(
                            "Your answer is not valid findings JSON: {problem}. Answer again with only \
                             the JSON object in the format of your instructions, and call no tools."
                        ),
                    });
                    continue;
                }
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
                .map(|call| execute(kind, tools, &schemas, call, task, config)),
        )
        .await;
        let mut refused = Vec::new();
        let mut any_made = false;
        for executed in results {
            if let Some(text) = executed.corpus {
                run.corpus.push(text);
            }
            if let Some(line) = executed.failure {
                run.unavailable.insert(line);
            }
            match executed.refusal {
                Some(problem) => refused.push(problem),
                None => any_made = true,
            }
            run.tool_calls.push(executed.record);
            messages.push(ChatMessage::Tool {
                result: executed.result,
            });
        }
        if any_made {
            failures = 0;
        } else {
            failures += 1;
            if failures >= config.max_consecutive_failures {
                let problem = format!(
                    "none of its tool calls could be made ({})",
                    refused.join("; ")
                );
                return Ok(run.give_up(failures, &problem, &agent_span));
            }
        }
        step += 1;
    }
}

/// The outcome of one tool call as the loop uses it.
struct Executed {
    /// What the model sees.
    result: ToolResult,
    record: ToolCallRecord,
    /// The full output, for grounding findings.
    corpus: Option<String>,
    /// A line for `unavailable` when the backend failed.
    failure: Option<String>,
    /// Why the call was not made at all (unknown tool, bad arguments).
    refusal: Option<String>,
}

/// Runs one tool call, after checking it against the tool list and the tool's input schema.
async fn execute(
    kind: AgentKind,
    tools: &ToolBox,
    schemas: &ToolSchemas,
    call: &ToolCall,
    task: &AgentTask,
    config: &AgentLoopConfig,
) -> Executed {
    let tool_span = span::tool(&call.name, &call.arguments);
    // What the progress line and the call record show: the arguments with secrets redacted, made once.
    let shown_arguments = redact::redact_json(&call.arguments);
    task.progress.emit(ProgressEvent::ToolStarted {
        agent: kind,
        tool: call.name.clone(),
        arguments: shown_arguments.clone(),
    });
    let started = Instant::now();
    let cancelled = span::CancelGuard::new(&tool_span);
    let outcome = async {
        schemas.check(call).map_err(Refusal::Problem)?;
        tools
            .call(&call.name, call.arguments.clone())
            .await
            .map_err(Refusal::Tool)
    }
    .instrument(tool_span.clone())
    .await;
    cancelled.finished();
    let duration = started.elapsed();
    // A name the model made up is not a tool: keep it out of the metric's dimensions.
    let tool_name = if schemas.knows(&call.name) {
        call.name.as_str()
    } else {
        "unknown"
    };
    let trace_id = span::trace_id(&tool_span).map(|id| id.to_string());
    let [investigation, trace] =
        metric::investigation_properties(&task.investigation_id, trace_id.as_deref());
    let dims = [
        (dim::TOOL_NAME, tool_name),
        (dim::AGENT_NAME, kind.as_str()),
        investigation,
        trace,
    ];
    metric::record(MetricId::ToolCalls, 1.0, &dims);
    metric::record(
        MetricId::ToolExecution,
        duration.as_secs_f64() * 1000.0,
        &dims,
    );

    let (content, is_error, corpus, failure, refusal) = match outcome {
        Ok(out) if out.is_error => {
            tool_span.record(attr::ERROR_TYPE, "tool_error");
            let shown = cut(&out.text, config.max_tool_output_chars);
            (shown, true, None, None, None)
        }
        Ok(out) => {
            let shown = cut(&out.text, config.max_tool_output_chars);
            (shown, false, Some(out.text), None, None)
        }
        Err(Refusal::Problem(problem)) => {
            span::record_error(&tool_span, problem.error_type(), &problem.to_string());
            let text = format!("Tool error: {problem}. Correct the call and try again.");
            (text, true, None, None, Some(problem.to_string()))
        }
        Err(Refusal::Tool(e)) => {
            span::record_error(&tool_span, e.error_type(), &e.to_string());
            let failure = tools.client.unavailable_line(&call.name, &e);
            let refusal = matches!(e, ToolError::UnknownTool { .. }).then(|| e.to_string());
            (format!("Tool error: {e}"), true, None, failure, refusal)
        }
    };
    // The arguments and what the model is shown, only with message-content capture on.
    span::record_tool_io(&tool_span, &call.arguments, &content);
    task.progress.emit(ProgressEvent::ToolFinished {
        agent: kind,
        tool: call.name.clone(),
        arguments: shown_arguments.clone(),
        duration,
        error: is_error.then(|| redact::truncate_chars(&content, 200)),
    });
    let record = ToolCallRecord {
        tool: call.name.clone(),
        arguments: shown_arguments,
        duration,
        error: is_error.then(|| content.clone()),
    };
    let result = ToolResult {
        call_id: call.id.clone(),
        tool: call.name.clone(),
        content,
        is_error,
    };
    Executed {
        result,
        record,
        corpus,
        failure,
        refusal,
    }
}

/// Why a tool call produced no output.
enum Refusal {
    /// The call was not made: it does not fit the tool list or the schema.
    Problem(CallProblem),
    /// The tool client failed.
    Tool(ToolError),
}

/// `text` cut to `max` characters with a note saying so, so the model knows data is missing. A JSON object
/// stays valid JSON: its lists are shortened (see [`shrink_json`]) rather than the text cut mid-value.
fn cut(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text)
        && let Some(shrunk) = shrink_json(object, max)
    {
        return shrunk;
    }
    let mut shown = redact::truncate_chars(text, max);
    shown.push_str(&format!(
        "\n[output truncated: showing the first {max} of {total} characters; narrow the query for the rest]"
    ));
    shown
}

/// Key of the note [`shrink_json`] adds to a shortened object.
pub const TRUNCATED_KEY: &str = "_truncated";

/// `object` serialised within `max` characters by halving its biggest lists until it fits: a top-level list
/// (log entries, events — tools put the newest first) keeps its head; a nested list (a series' points) keeps
/// every other element and always its last, so a trend keeps its shape and its latest value. A
/// `"_truncated"` note says what was left out. `None` when no list is left to shorten.
fn shrink_json(mut object: serde_json::Map<String, Value>, max: usize) -> Option<String> {
    let mut notes: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut thinned: BTreeSet<String> = BTreeSet::new();
    loop {
        if !notes.is_empty() || !thinned.is_empty() {
            let text = notes
                .iter()
                .map(|(path, (kept, total))| format!("{path}: kept the first {kept} of {total}"))
                .chain(
                    thinned
                        .iter()
                        .map(|path| format!("{path}: thinned to every other point, last kept")),
                )
                .collect::<Vec<_>>()
                .join("; ");
            object.insert(
                TRUNCATED_KEY.to_owned(),
                Value::String(format!(
                    "output shortened to fit {max} characters ({text}); narrow the query for the rest"
                )),
            );
        }
        let text = Value::Object(object.clone()).to_string();
        if text.chars().count() <= max {
            return Some(text);
        }
        object.remove(TRUNCATED_KEY);
        let mut biggest: Option<(Vec<PathStep>, usize)> = None;
        for (key, value) in &object {
            find_biggest_list(value, vec![PathStep::Key(key.clone())], &mut biggest);
        }
        let (path, _) = biggest?;
        let label = path_label(&path);
        let top_level = path.len() == 1;
        let list = list_at(&mut object, &path)?;
        let before = list.len();
        if top_level {
            list.truncate(before / 2);
        } else {
            let last = list.pop();
            let mut kept: Vec<Value> = std::mem::take(list).into_iter().step_by(2).collect();
            kept.extend(last);
            *list = kept;
        }
        let after = list.len();
        if top_level {
            notes.entry(label).or_insert((before, before)).0 = after;
        } else {
            thinned.insert(label);
        }
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// The list with the longest serialisation under `value` that can still be shortened.
fn find_biggest_list(
    value: &Value,
    path: Vec<PathStep>,
    biggest: &mut Option<(Vec<PathStep>, usize)>,
) {
    match value {
        Value::Array(items) => {
            if items.len() > 2 || (path.len() == 1 && items.len() > 1) {
                let size = value.to_string().len();
                if biggest.as_ref().is_none_or(|(_, s)| size > *s) {
                    *biggest = Some((path.clone(), size));
                }
            }
            for (i, item) in items.iter().enumerate() {
                let mut child = path.clone();
                child.push(PathStep::Index(i));
                find_biggest_list(item, child, biggest);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let mut child = path.clone();
                child.push(PathStep::Key(key.clone()));
                find_biggest_list(item, child, biggest);
            }
        }
        _ => {}
    }
}

fn list_at<'a>(
    object: &'a mut serde_json::Map<String, Value>,
    path: &[PathStep],
) -> Option<&'a mut Vec<Value>> {
    let (PathStep::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let mut current = object.get_mut(first)?;
    for step in rest {
        current = match step {
            PathStep::Key(key) => current.get_mut(key)?,
            PathStep::Index(i) => current.get_mut(*i)?,
        };
    }
    current.as_array_mut()
}

/// `entries`, `services[].points`: the list's place, with indexes folded so one note covers every series.
fn path_label(path: &[PathStep]) -> String {
    let mut label = String::new();
    for step in path {
        match step {
            PathStep::Key(key) => {
                if !label.is_empty() {
                    label.push('.');
                }
                label.push_str(key);
            }
            PathStep::Index(_) => label.push_str("[]"),
        }
    }
    label
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

    /// Ends a run whose model kept sending unusable replies.
    fn give_up(mut self, failures: u32, problem: &str, agent_span: &tracing::Span) -> AgentReport {
        let line = format!(
            "{} agent stopped after {failures} unusable model replies in a row: {problem}",
            self.kind.title()
        );
        tracing::warn!(agent = self.kind.as_str(), "{line}");
        self.unavailable.insert(redact::truncate_chars(&line, 1000));
        let summary = format!(
            "No findings: the {} agent stopped because the model's replies could not be used ({failures} in a row).",
            self.kind.title()
        );
        self.finish(
            AgentAnswer {
                summary,
                findings: Vec::new(),
            },
            agent_span,
        )
    }

    /// Ends a run whose investigation used up its token budget.
    fn stop_for_budget(mut self, budget: &TokenBudget, agent_span: &tracing::Span) -> AgentReport {
        let limit = budget.limit().unwrap_or_default();
        self.unavailable.insert(format!(
            "{} agent stopped: the investigation's token budget of {limit} tokens is used up ({} used)",
            self.kind.title(),
            budget.used()
        ));
        let summary = format!(
            "Stopped before concluding: the investigation's token budget ({limit} tokens) is used up after {} model calls and {} tool calls.",
            self.model_calls,
            self.tool_calls.len()
        );
        self.finish(
            AgentAnswer {
                summary,
                findings: Vec::new(),
            },
            agent_span,
        )
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

#[cfg(test)]
mod truncation_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_output_is_untouched_and_plain_text_is_cut_with_a_note() {
        assert_eq!(cut("hello", 10), "hello");
        let cut_text = cut(&"x".repeat(50), 10);
        assert!(
            cut_text.starts_with("xxxxxxxxxx…\n[output truncated"),
            "{cut_text}"
        );
    }

    #[test]
    fn long_json_keeps_valid_json_the_newest_entries_and_says_what_was_left_out() {
        let entries: Vec<Value> = (0..200)
            .map(|i| json!({"n": i, "message": format!("error number {i} with some padding text")}))
            .collect();
        let text = json!({"total": 200, "entries": entries}).to_string();
        let shown = cut(&text, 2_000);
        assert!(shown.chars().count() <= 2_000, "{}", shown.len());
        let value: Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(value["total"], 200);
        let kept = value["entries"].as_array().expect("entries kept").len();
        assert!(kept > 0 && kept < 200);
        assert_eq!(value["entries"][0]["n"], 0, "the head (newest) is kept");
        let note = value[TRUNCATED_KEY].as_str().expect("a note");
        assert!(
            note.contains(&format!("entries: kept the first {kept} of 200")),
            "{note}"
        );
    }

    #[test]
    fn nested_series_are_thinned_keeping_their_last_point() {
        let points: Vec<Value> = (0..300)
            .map(|i| json!({"t": i, "value": f64::from(i) * 1.5}))
            .collect();
        let text = json!({"services": [{"service": "api", "points": points}]}).to_string();
        let shown = cut(&text, 3_000);
        let value: Value = serde_json::from_str(&shown).expect("still JSON");
        let kept = value["services"][0]["points"].as_array().expect("points");
        assert!(kept.len() < 300 && kept.len() > 10, "{}", kept.len());
        assert_eq!(
            kept.last().expect("a point")["t"],
            299,
            "the latest point survives"
        );
        assert_eq!(value["services"][0]["service"], "api");
        assert!(
            value[TRUNCATED_KEY]
                .as_str()
                .expect("a note")
                .contains("services[].points: thinned")
        );
    }
}
