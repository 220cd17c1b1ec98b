//! The agent loop against real MCP backends (in process, loopback) with a scripted model: arguments that fail
//! the tool's schema get a tool error naming the field and the model corrects them; unusable replies in a row
//! end the agent with a report saying why; a final answer that is not findings JSON gets one correction round;
//! tool output is cut with a note; the investigation's token budget stops its agents cleanly.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ractor::{Actor, rpc::CallResult};
use serde_json::{Value, json};
use sre_agents::{
    agent_loop::{AgentLoopConfig, ToolBox, run_agent},
    model::{
        ChatMessage, ChatRequest, ModelError, TokenUsage, ToolCall,
        budget::TokenBudget,
        scripted::{self, ScriptedModel},
    },
    progress::ProgressSink,
    protocol::{AgentKind, AgentOutcome, AgentReport, AgentTask, Envelope, InvestigationId},
    specialist::{Specialist, SpecialistArgs, SpecialistMsg},
    tool_client::{BackendEndpoint, ToolClient, ToolClientConfig},
};
use sre_mcp_backends::{domain::Domain, host::BackendSet, scenario};

const CRASHING_POD: &str = "database-pod-7b9c4d8f2a-x5m1q";

struct Backends {
    set: BackendSet,
}

impl Backends {
    async fn start() -> Self {
        let dataset = scenario::load_bundled(scenario::DEFAULT_SCENARIO, chrono::Utc::now())
            .expect("bundled scenario");
        let set = BackendSet::start_in_process(Arc::new(dataset))
            .await
            .expect("backends start");
        Self { set }
    }

    fn tools(&self, domain: Domain) -> Arc<ToolBox> {
        let client = ToolClient::new(
            BackendEndpoint::new(domain.service_name(), self.set.url(domain)),
            reqwest::Client::new(),
            ToolClientConfig::default(),
        );
        Arc::new(ToolBox::new(Arc::new(client)))
    }
}

fn task() -> AgentTask {
    AgentTask {
        question: "Why is the database crash looping in production?".into(),
        context: Vec::new(),
        progress: ProgressSink::none(),
        user_id: "tester".into(),
        investigation_id: "inv-test".into(),
    }
}

fn call(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: format!("call-{name}"),
        name: name.into(),
        arguments,
    }
}

fn pod_answer() -> String {
    json!({
        "summary": "The database pod crash-loops.",
        "findings": [{
            "kind": "pod_failure", "severity": "critical",
            "summary": "The database pod is in CrashLoopBackOff.",
            "subject": {"kind": "pod", "name": CRASHING_POD},
            "evidence": [{"tool": "get_pod_status", "detail": "CrashLoopBackOff"}]
        }]
    })
    .to_string()
}

/// The text of the last tool result the model was sent.
fn last_tool_result(request: &ChatRequest) -> Option<String> {
    request.messages.iter().rev().find_map(|m| match m {
        ChatMessage::Tool { result } => Some(result.content.clone()),
        _ => None,
    })
}

async fn run(
    model: &ScriptedModel,
    tools: &ToolBox,
    config: &AgentLoopConfig,
    budget: &TokenBudget,
) -> AgentReport {
    tokio::time::timeout(
        Duration::from_secs(30),
        run_agent(
            AgentKind::Kubernetes,
            model,
            tools,
            &task(),
            config,
            Instant::now() + Duration::from_secs(30),
            budget,
        ),
    )
    .await
    .expect("the agent ends")
    .expect("the agent reports")
}

#[tokio::test]
async fn schema_invalid_arguments_get_a_tool_error_naming_the_field_and_the_model_corrects() {
    let backends = Backends::start().await;
    let tools = backends.tools(Domain::K8s);
    let model = ScriptedModel::new(|request, n| match n {
        0 => Ok(scripted::tool_calls(vec![call(
            "get_pod_status",
            json!({"namespace": 5}),
        )])),
        1 => {
            let error = last_tool_result(request).unwrap_or_default();
            assert!(error.starts_with("Tool error: "), "{error}");
            assert!(error.contains("namespace: 5 is not of type"), "{error}");
            Ok(scripted::tool_calls(vec![call(
                "get_pod_status",
                json!({"namespace": "production"}),
            )]))
        }
        _ => Ok(scripted::text(pod_answer())),
    });
    let report = run(
        &model,
        &tools,
        &AgentLoopConfig::default(),
        &TokenBudget::unlimited(),
    )
    .await;
    let refused = report.tool_calls[0].error.as_deref().unwrap_or_default();
    assert!(
        refused.contains("do not fit its input schema") && refused.contains("namespace"),
        "{refused}"
    );
    assert_eq!(report.tool_calls[1].error, None);
    assert_eq!(
        report.outcome,
        AgentOutcome::Complete,
        "{:?}",
        report.unavailable
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].subject.name, CRASHING_POD);
    assert_eq!(model.calls(), 3);
    backends.set.shutdown().await;
}

#[tokio::test]
async fn three_malformed_replies_in_a_row_end_the_agent_with_a_report_saying_why() {
    let backends = Backends::start().await;
    let tools = backends.tools(Domain::K8s);
    let model = ScriptedModel::new(|_, _| {
        Err(ModelError::MalformedReply {
            provider: "scripted".into(),
            message: "the body is not JSON".into(),
        })
    });
    let report = run(
        &model,
        &tools,
        &AgentLoopConfig::default(),
        &TokenBudget::unlimited(),
    )
    .await;
    assert_eq!(model.calls(), 3, "stops after the third");
    assert_eq!(report.outcome, AgentOutcome::Partial);
    assert!(report.findings.is_empty());
    assert!(
        report.summary.contains("could not be used"),
        "{}",
        report.summary
    );
    let line = report.unavailable.join("\n");
    assert!(
        line.contains("3 unusable model replies in a row")
            && line.contains("malformed")
            && line.contains("the body is not JSON"),
        "{line}"
    );
    backends.set.shutdown().await;
}

#[tokio::test]
async fn replies_whose_calls_cannot_be_made_count_as_unusable_until_one_works() {
    let backends = Backends::start().await;
    let tools = backends.tools(Domain::K8s);
    // Unparsable arguments, an unknown tool, then a good call resets the count; three bad ones end the run.
    let model = ScriptedModel::new(|_, n| {
        Ok(scripted::tool_calls(vec![match n {
            0 => call("get_pod_status", json!("{\"namespace\": ")),
            1 => call("get_pods", json!({})),
            2 => call("get_pod_status", json!({"namespace": "production"})),
            _ => call("get_pod_status", json!({"namespace": ["production"]})),
        }]))
    });
    let report = run(
        &model,
        &tools,
        &AgentLoopConfig::default(),
        &TokenBudget::unlimited(),
    )
    .await;
    assert_eq!(model.calls(), 6, "2 bad, 1 good, 3 bad");
    assert_eq!(report.tool_calls.len(), 6);
    assert!(
        report.tool_calls[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("are not a JSON object"),
        "{:?}",
        report.tool_calls[0].error
    );
    assert!(
        report.tool_calls[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("there is no tool named \"get_pods\"")
    );
    let line = report.unavailable.join("\n");
    assert!(
        line.contains("3 unusable model replies in a row")
            && line.contains("none of its tool calls could be made"),
        "{line}"
    );
    assert_eq!(report.outcome, AgentOutcome::Partial);
    backends.set.shutdown().await;
}

#[tokio::test]
async fn a_final_answer_that_is_not_findings_json_gets_one_correction_round() {
    let backends = Backends::start().await;
    let tools = backends.tools(Domain::K8s);
    let model = ScriptedModel::new(|request, n| match n {
        0 => Ok(scripted::tool_calls(vec![call(
            "get_pod_status",
            json!({"namespace": "production"}),
        )])),
        1 => Ok(scripted::text(
            "The database pod is crash looping, I think.",
        )),
        _ => {
            assert!(request.tools.is_empty(), "no tools in the correction round");
            let Some(ChatMessage::User { text }) = request.messages.last() else {
                panic!("the correction is the last message");
            };
            assert!(text.contains("not valid findings JSON"), "{text}");
            Ok(scripted::text(pod_answer()))
        }
    });
    let report = run(
        &model,
        &tools,
        &AgentLoopConfig::default(),
        &TokenBudget::unlimited(),
    )
    .await;
    assert_eq!(model.calls(), 3);
    assert_eq!(
        report.outcome,
        AgentOutcome::Complete,
        "{:?}",
        report.unavailable
    );
    assert_eq!(report.findings.len(), 1);

    // Still not JSON after the correction: the text is kept as the summary and the problem is reported.
    let stubborn = ScriptedModel::new(|_, _| Ok(scripted::text("Just prose, no JSON.")));
    let report = run(
        &stubborn,
        &tools,
        &AgentLoopConfig::default(),
        &TokenBudget::unlimited(),
    )
    .await;
    assert_eq!(stubborn.calls(), 2, "one correction round, not more");
    assert_eq!(report.summary, "Just prose, no JSON.");
    assert!(report.unavailable[0].contains("not valid findings JSON"));
    backends.set.shutdown().await;
}

#[tokio::test]
async fn long_tool_output_is_cut_with_a_note_and_the_step_limit_forces_an_answer() {
    let backends = Backends::start().await;
    let tools = backends.tools(Domain::K8s);
    let config = AgentLoopConfig {
        max_steps: 2,
        max_tool_output_chars: 300,
        ..AgentLoopConfig::default()
    };
    let model = ScriptedModel::new(|request, n| {
        if n == 1 {
            let shown = last_tool_result(request).unwrap_or_default();
            assert!(
                shown.chars().count() < 450
                    && shown.contains("[output truncated: showing the first 300 of"),
                "{shown}"
            );
        }
        if request.tools.is_empty() {
            Ok(scripted::text(pod_answer()))
        } else {
            Ok(scripted::tool_calls(vec![call(
                "get_pod_status",
                json!({"namespace": "production"}),
            )]))
        }
    });
    let report = run(&model, &tools, &config, &TokenBudget::unlimited()).await;
    assert_eq!(model.calls(), 3, "two tool steps, then the answer");
    // Grounding uses the whole output, not the cut one.
    assert_eq!(report.findings.len(), 1);
    backends.set.shutdown().await;
}

#[tokio::test]
async fn the_token_budget_stops_every_agent_of_the_investigation_cleanly() {
    let backends = Backends::start().await;
    // A model that would call tools forever; each call uses 60 tokens.
    let hungry = ScriptedModel::new(|request, _| {
        let mut reply = if request.tools.is_empty() {
            scripted::text(pod_answer())
        } else {
            // Tools of either backend that need no arguments.
            let name = if request.tools.iter().any(|t| t.name == "get_pod_status") {
                "get_pod_status"
            } else {
                "get_error_logs"
            };
            scripted::tool_calls(vec![call(name, json!({}))])
        };
        reply.usage = TokenUsage {
            input_tokens: 50,
            output_tokens: 10,
            ..TokenUsage::default()
        };
        Ok(reply)
    });
    let budget = TokenBudget::new(150);
    let id = InvestigationId::new();
    let mut asks = Vec::new();
    let mut actors = Vec::new();
    for (kind, domain) in [
        (AgentKind::Kubernetes, Domain::K8s),
        (AgentKind::Logs, Domain::Logs),
    ] {
        let args = SpecialistArgs {
            kind,
            model: Arc::new(hungry.clone()),
            tools: backends.tools(domain),
            config: AgentLoopConfig {
                max_steps: 50,
                ..AgentLoopConfig::default()
            },
        };
        let (actor, handle) = Actor::spawn(None, Specialist, args).await.expect("spawn");
        let envelope = Envelope::new(id.clone(), Instant::now() + Duration::from_secs(30), task())
            .with_budget(budget.clone());
        let ask = {
            let actor = actor.clone();
            async move {
                actor
                    .call(
                        |port| SpecialistMsg::Investigate(Box::new(envelope), port),
                        Some(Duration::from_secs(30)),
                    )
                    .await
            }
        };
        asks.push(ask);
        actors.push((actor, handle));
    }
    let replies = futures::future::join_all(asks).await;
    for reply in replies {
        let Ok(CallResult::Success(Ok(report))) = reply else {
            panic!("each agent answers with a report: {reply:?}");
        };
        assert_eq!(report.outcome, AgentOutcome::Partial, "{:?}", report.kind);
        assert!(
            report
                .unavailable
                .iter()
                .any(|l| l.contains("token budget of 150 tokens is used up")),
            "{:?}",
            report.unavailable
        );
        assert!(report.summary.starts_with("Stopped before concluding"));
    }
    // At most one call in flight per agent overshoots the limit.
    assert!(
        budget.used() >= 150 && budget.used() <= 150 + 2 * 60,
        "{}",
        budget.used()
    );
    assert!(hungry.calls() <= 5, "{} calls", hungry.calls());
    for (actor, handle) in actors {
        actor.stop(None);
        let _ = handle.await;
    }
    backends.set.shutdown().await;
}
