//! Each real provider — Bedrock Converse, the Anthropic Messages API, OpenAI-compatible chat completions —
//! built through `ProviderConfig` exactly as a run builds it, against a local endpoint that speaks the
//! provider's wire format: a two-round tool-use conversation, throttling with `Retry-After`, 5xx retries, a
//! malformed reply, an unknown tool inside a real agent run, usage and cost, and the `chat` span.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sre_agents::{
    agent_loop::{AgentLoopConfig, ToolBox, run_agent},
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, FinishReason, ModelError, TokenUsage,
        ToolResult, ToolSpec,
        budget::TokenBudget,
        provider::{ProviderConfig, ProviderKind},
        retry::RetryPolicy,
        testing::{FakeAnthropic, FakeBedrock, FakeOpenAi, FakeReply, FakeScript, FakeServer},
        traced_chat,
    },
    progress::ProgressSink,
    protocol::{AgentKind, AgentOutcome, AgentTask},
    tool_client::{BackendEndpoint, ToolClient, ToolClientConfig},
};
use sre_mcp_backends::{domain::Domain, host::BackendSet, scenario};

const REMOTE: [ProviderKind; 3] = [
    ProviderKind::Bedrock,
    ProviderKind::Anthropic,
    ProviderKind::OpenAi,
];
const ANTHROPIC_KEY: &str = "sk-ant-test-key";
const OPENAI_KEY: &str = "sk-openai-test-key";
/// A pod of the bundled `database-crashloop` scenario.
const CRASHING_POD: &str = "database-pod-7b9c4d8f2a-x5m1q";

async fn fake(kind: ProviderKind, script: FakeScript) -> FakeServer {
    let started = match kind {
        ProviderKind::Bedrock => FakeBedrock::start(script).await,
        ProviderKind::Anthropic => FakeAnthropic::start(script).await,
        ProviderKind::OpenAi => FakeOpenAi::start(script).await,
        ProviderKind::Offline => panic!("the offline engine has no endpoint"),
    };
    started.expect("the fake endpoint starts")
}

/// The environment a user would set to point `kind` at `url`.
fn environment(kind: ProviderKind, url: &str) -> HashMap<String, String> {
    let pairs: Vec<(&str, &str)> = match kind {
        ProviderKind::Bedrock => vec![
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url),
        ],
        ProviderKind::Anthropic => vec![
            ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            ("ANTHROPIC_BASE_URL", url),
        ],
        ProviderKind::OpenAi => vec![("OPENAI_API_KEY", OPENAI_KEY), ("OPENAI_BASE_URL", url)],
        ProviderKind::Offline => vec![],
    };
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The model a run would build for `kind` at `url`, with quick backoff so only `Retry-After` takes time.
async fn model(kind: ProviderKind, url: &str) -> Arc<dyn ChatModel> {
    let env = environment(kind, url);
    let mut config = ProviderConfig::from_env(kind, None, |k| env.get(k).cloned())
        .expect("the settings are complete");
    config.options.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    config.options.request_timeout = Duration::from_secs(10);
    config.build().await.expect("the model builds")
}

fn pod_status_spec() -> ToolSpec {
    ToolSpec {
        name: "get_pod_status".into(),
        description: "Status of the pods of a namespace".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"namespace": {"type": "string"}},
        }),
    }
}

fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        ..TokenUsage::default()
    }
}

/// Cache writes cannot be expressed in OpenAI's usage: its fake reports none.
fn expected_usage(kind: ProviderKind, sent: TokenUsage) -> TokenUsage {
    match kind {
        ProviderKind::OpenAi => TokenUsage {
            cache_write_tokens: 0,
            ..sent
        },
        _ => sent,
    }
}

/// Expected cost from the built-in price table (USD per million tokens): Claude Haiku 4.5 on Bedrock's global
/// profile and on Anthropic's API (1 / 5 / 0.10 / 1.25), gpt-4o-mini (0.15 / 0.60 / 0.075).
fn expected_cost(kind: ProviderKind, u: &TokenUsage) -> f64 {
    let (input, output, read, write) = match kind {
        ProviderKind::OpenAi => (0.15, 0.60, 0.075, 0.0),
        _ => (1.0, 5.0, 0.10, 1.25),
    };
    (u.input_tokens as f64 * input
        + u.output_tokens as f64 * output
        + u.cache_read_tokens as f64 * read
        + u.cache_write_tokens as f64 * write)
        / 1e6
}

fn request(messages: Vec<ChatMessage>, tools: Vec<ToolSpec>) -> ChatRequest {
    ChatRequest {
        purpose: ChatPurpose::Investigate(AgentKind::Kubernetes),
        messages,
        tools,
        max_output_tokens: 512,
    }
}

fn opening() -> Vec<ChatMessage> {
    vec![
        ChatMessage::System {
            text: "You are the Kubernetes specialist.".into(),
        },
        ChatMessage::User {
            text: "Question: Why is the database crash looping?".into(),
        },
    ]
}

/// The request body as JSON.
fn body(server: &FakeServer, index: usize) -> Value {
    server.requests()[index]
        .json()
        .expect("the provider sends JSON")
}

/// Wire-format checks of the first request (system prompt, tool schema, authentication) and of the second
/// (the assistant's tool call and our result, tied by the call id).
fn assert_wire(kind: ProviderKind, server: &FakeServer, call_id: &str) {
    let requests = server.requests();
    let first = body(server, 0);
    let second = body(server, 1);
    match kind {
        ProviderKind::Bedrock => {
            let r = &requests[0];
            assert_eq!(r.method, "POST");
            assert!(
                r.path
                    .starts_with("/model/global.anthropic.claude-haiku-4-5-20251001-v1")
                    && r.path.ends_with("/converse"),
                "{}",
                r.path
            );
            let auth = r.header("authorization").unwrap_or_default();
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                    && auth.contains("/us-east-1/bedrock/aws4_request"),
                "SigV4 signed: {auth}"
            );
            assert_eq!(
                first["system"][0]["text"],
                "You are the Kubernetes specialist."
            );
            assert_eq!(
                first["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["namespace"]
                    ["type"],
                "string"
            );
            assert_eq!(first["inferenceConfig"]["maxTokens"], 512);
            let messages = second["messages"].as_array().expect("messages");
            assert_eq!(
                messages[1]["content"][0]["toolUse"]["toolUseId"], call_id,
                "{second}"
            );
            assert_eq!(
                messages[1]["content"][0]["toolUse"]["input"]["namespace"],
                "production"
            );
            let result = &messages[2]["content"][0]["toolResult"];
            assert_eq!(result["toolUseId"], call_id);
            assert_eq!(result["content"][0]["text"], "{\"pods\": []}");
        }
        ProviderKind::Anthropic => {
            let r = &requests[0];
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
            assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(first["model"], "claude-haiku-4-5-20251001");
            assert_eq!(
                first["system"][0]["text"],
                "You are the Kubernetes specialist."
            );
            assert_eq!(first["system"][0]["cache_control"]["type"], "ephemeral");
            assert_eq!(first["tools"][0]["input_schema"]["type"], "object");
            let messages = second["messages"].as_array().expect("messages");
            assert_eq!(messages[1]["content"][0]["type"], "tool_use");
            assert_eq!(messages[1]["content"][0]["id"], call_id);
            assert_eq!(messages[2]["content"][0]["type"], "tool_result");
            assert_eq!(messages[2]["content"][0]["tool_use_id"], call_id);
            assert_eq!(messages[2]["content"][0]["is_error"], false);
        }
        ProviderKind::OpenAi => {
            let r = &requests[0];
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {OPENAI_KEY}").as_str())
            );
            assert_eq!(first["model"], "gpt-4o-mini");
            assert_eq!(first["messages"][0]["role"], "system");
            assert_eq!(first["max_tokens"], 512);
            assert_eq!(first["tools"][0]["type"], "function");
            assert_eq!(first["tools"][0]["function"]["name"], "get_pod_status");
            let messages = second["messages"].as_array().expect("messages");
            let call = &messages[2]["tool_calls"][0];
            assert_eq!(call["id"], call_id);
            let arguments: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().expect("a JSON text"))
                    .expect("arguments are JSON");
            assert_eq!(arguments, json!({"namespace": "production"}));
            assert_eq!(messages[3]["role"], "tool");
            assert_eq!(messages[3]["tool_call_id"], call_id);
        }
        ProviderKind::Offline => unreachable!(),
    }
}

#[tokio::test]
async fn a_two_round_tool_use_conversation_with_usage_and_cost() {
    for kind in REMOTE {
        let first_usage = usage(1000, 200, 3000, 400);
        let second_usage = usage(1200, 80, 3400, 0);
        let server = fake(
            kind,
            FakeScript::sequence([
                FakeReply::tool_call("get_pod_status", json!({"namespace": "production"}))
                    .with_usage(first_usage),
                FakeReply::text("{\"summary\": \"no data\", \"findings\": []}")
                    .with_usage(second_usage),
            ]),
        )
        .await;
        let model = model(kind, server.url()).await;
        assert_eq!(model.provider(), kind.gen_ai_name());
        assert_eq!(model.model(), kind.default_model());
        assert_eq!(model.server_address().as_deref(), Some("127.0.0.1"));

        let first = model
            .chat(request(opening(), vec![pod_status_spec()]))
            .await
            .unwrap_or_else(|e| panic!("{kind}: first round: {e}"));
        assert_eq!(first.finish_reason, FinishReason::ToolUse, "{kind}");
        assert_eq!(first.tool_calls.len(), 1, "{kind}");
        let call = first.tool_calls[0].clone();
        assert_eq!(call.name, "get_pod_status");
        assert_eq!(call.arguments, json!({"namespace": "production"}));
        assert!(!call.id.is_empty());
        let expected = expected_usage(kind, first_usage);
        assert_eq!(
            (
                first.usage.input_tokens,
                first.usage.output_tokens,
                first.usage.cache_read_tokens,
                first.usage.cache_write_tokens
            ),
            (
                expected.input_tokens,
                expected.output_tokens,
                expected.cache_read_tokens,
                expected.cache_write_tokens
            ),
            "{kind}"
        );
        let cost = first
            .usage
            .cost
            .known()
            .expect("the default model has a price");
        assert!(
            (cost - expected_cost(kind, &expected)).abs() < 1e-12,
            "{kind}: {cost}"
        );

        let mut messages = opening();
        messages.push(ChatMessage::Assistant {
            text: first.text.clone(),
            tool_calls: first.tool_calls.clone(),
        });
        messages.push(ChatMessage::Tool {
            result: ToolResult {
                call_id: call.id.clone(),
                tool: call.name.clone(),
                content: "{\"pods\": []}".into(),
                is_error: false,
            },
        });
        let second = model
            .chat(request(messages, vec![pod_status_spec()]))
            .await
            .unwrap_or_else(|e| panic!("{kind}: second round: {e}"));
        assert_eq!(second.finish_reason, FinishReason::Stop, "{kind}");
        assert!(second.tool_calls.is_empty());
        assert_eq!(
            second.text.as_deref(),
            Some("{\"summary\": \"no data\", \"findings\": []}")
        );
        let mut total = first.usage;
        total += second.usage;
        let expected_total = expected_cost(kind, &expected)
            + expected_cost(kind, &expected_usage(kind, second_usage));
        assert!((total.cost.usd - expected_total).abs() < 1e-12, "{kind}");
        assert_eq!(total.cost.unpriced_calls, 0);

        assert_eq!(server.requests().len(), 2, "{kind}");
        assert_wire(kind, &server, &call.id);
    }
}

#[tokio::test]
async fn a_throttled_call_waits_for_retry_after_then_succeeds() {
    for kind in REMOTE {
        let server = fake(
            kind,
            FakeScript::sequence([FakeReply::throttled(Some(1)), FakeReply::text("done")]),
        )
        .await;
        let model = model(kind, server.url()).await;
        let response = model
            .chat(request(opening(), Vec::new()))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(response.text.as_deref(), Some("done"));
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{kind}: one retry");
        let waited = requests[1].received_at - requests[0].received_at;
        // The policy's own backoff is 10-50 ms: only Retry-After explains a one-second wait.
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(4),
            "{kind}: waited {waited:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_are_retried_and_persistent_throttling_gives_up_clearly() {
    for kind in REMOTE {
        let server = fake(
            kind,
            FakeScript::sequence([
                FakeReply::server_error(503),
                FakeReply::server_error(500),
                FakeReply::text("recovered"),
            ]),
        )
        .await;
        let model = model(kind, server.url()).await;
        let response = model.chat(request(opening(), Vec::new())).await;
        assert_eq!(
            response.map(|r| r.text).ok().flatten().as_deref(),
            Some("recovered"),
            "{kind}"
        );
        assert_eq!(server.requests().len(), 3);

        let server = fake(kind, FakeScript::from_fn(|_, _| FakeReply::throttled(None))).await;
        let model = self::model(kind, server.url()).await;
        let error = model
            .chat(request(opening(), Vec::new()))
            .await
            .expect_err("throttled every time");
        assert!(
            matches!(error, ModelError::Throttled { .. }),
            "{kind}: {error}"
        );
        assert!(error.to_string().contains("after 3 attempts"), "{error}");
        assert_eq!(server.requests().len(), 3, "{kind}: max_attempts");
    }
}

#[tokio::test]
async fn a_malformed_reply_is_a_clear_error_not_a_panic() {
    for kind in REMOTE {
        for body in ["this is not json", "{\"unexpected\": true}", "[]"] {
            let server = fake(kind, FakeScript::sequence([FakeReply::malformed(body)])).await;
            let model = model(kind, server.url()).await;
            let error = model
                .chat(request(opening(), Vec::new()))
                .await
                .expect_err("a malformed reply is an error");
            assert!(
                matches!(error, ModelError::MalformedReply { .. }),
                "{kind} {body:?}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{} sent a malformed reply", kind.gen_ai_name())),
                "{error}"
            );
            assert_eq!(server.requests().len(), 1, "{kind}: not retried");
        }
    }
}

#[tokio::test]
async fn a_refused_request_is_not_retried() {
    for kind in REMOTE {
        let server = fake(
            kind,
            FakeScript::sequence([FakeReply::Raw {
                status: 400,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("x-amzn-errortype".into(), "ValidationException".into()),
                ],
                body: r#"{"message": "bad input", "error": {"type": "invalid_request_error", "message": "bad input"}}"#.into(),
            }]),
        )
        .await;
        let model = model(kind, server.url()).await;
        let error = model
            .chat(request(opening(), Vec::new()))
            .await
            .expect_err("refused");
        assert!(
            matches!(error, ModelError::Rejected { .. }),
            "{kind}: {error:?}"
        );
        assert!(error.to_string().contains("bad input"), "{error}");
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_request_without_tools_sends_earlier_tool_rounds_as_text() {
    for kind in [ProviderKind::Bedrock, ProviderKind::Anthropic] {
        let server = fake(kind, FakeScript::sequence([FakeReply::text("final")])).await;
        let model = model(kind, server.url()).await;
        let mut messages = opening();
        messages.push(ChatMessage::Assistant {
            text: None,
            tool_calls: vec![sre_agents::model::ToolCall {
                id: "c1".into(),
                name: "get_pod_status".into(),
                arguments: json!({"namespace": "production"}),
            }],
        });
        messages.push(ChatMessage::Tool {
            result: ToolResult {
                call_id: "c1".into(),
                tool: "get_pod_status".into(),
                content: "{\"pods\": []}".into(),
                is_error: false,
            },
        });
        messages.push(ChatMessage::User {
            text: "Stop: answer now.".into(),
        });
        model
            .chat(request(messages, Vec::new()))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let sent = server.requests()[0].body.clone();
        assert!(
            !sent.contains("toolUse") && !sent.contains("tool_use") && !sent.contains("toolConfig"),
            "{kind}: {sent}"
        );
        assert!(
            sent.contains("called tool get_pod_status"),
            "{kind}: {sent}"
        );
    }
}

#[tokio::test]
async fn the_chat_span_carries_provider_model_usage_cost_and_address() {
    let capture = sre_telemetry::testing::capture();
    for kind in REMOTE {
        let server = fake(
            kind,
            FakeScript::sequence([FakeReply::text("ok").with_usage(usage(100, 10, 50, 20))]),
        )
        .await;
        let model = model(kind, server.url()).await;
        // The capture exports only sre targets.
        let root = tracing::info_span!(target: "sre_agents", "test.root");
        let trace_id = {
            let _entered = root.enter();
            sre_telemetry::span::trace_id(&tracing::Span::current())
        }
        .expect("spans are recorded");
        let response = {
            use tracing::Instrument;
            traced_chat(model.as_ref(), request(opening(), Vec::new()))
                .instrument(root.clone())
                .await
                .expect("answered")
        };
        drop(root);
        let deadline = Instant::now() + Duration::from_secs(5);
        let chat = loop {
            let spans = capture.trace(trace_id);
            if let Some(span) = spans
                .into_iter()
                .find(|s| s.name == format!("chat {}", kind.default_model()))
            {
                break span;
            }
            assert!(Instant::now() < deadline, "{kind}: no chat span");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let attr = |key: &str| sre_telemetry::testing::attribute(&chat, key);
        assert_eq!(
            attr("gen_ai.provider.name").as_deref(),
            Some(kind.gen_ai_name())
        );
        assert_eq!(
            attr("gen_ai.request.model").as_deref(),
            Some(kind.default_model())
        );
        assert_eq!(
            attr("gen_ai.response.model").as_deref(),
            Some(kind.default_model())
        );
        assert_eq!(attr("server.address").as_deref(), Some("127.0.0.1"));
        let sent = expected_usage(kind, usage(100, 10, 50, 20));
        assert_eq!(
            attr("gen_ai.usage.input_tokens"),
            Some(sent.total_input().to_string()),
            "{kind}: input tokens include cached ones"
        );
        assert_eq!(attr("gen_ai.usage.output_tokens").as_deref(), Some("10"));
        assert_eq!(
            attr("gen_ai.usage.cache_read.input_tokens").as_deref(),
            Some("50")
        );
        assert_eq!(
            attr("gen_ai.usage.cache_creation.input_tokens"),
            Some(sent.cache_write_tokens.to_string())
        );
        let cost: f64 = attr("sre.cost_usd")
            .expect("cost recorded")
            .parse()
            .expect("a number");
        assert!((cost - response.usage.cost.usd).abs() < 1e-12);
        assert!(attr("gen_ai.response.finish_reasons").is_some());
    }
}

/// A real agent run: the model calls a tool that does not exist, reads the tool error, corrects itself and
/// concludes from real tool data served by the in-process Kubernetes MCP backend.
#[tokio::test]
async fn an_unknown_tool_call_gets_a_tool_error_the_model_corrects() {
    let dataset = scenario::load_bundled(scenario::DEFAULT_SCENARIO, chrono::Utc::now())
        .expect("bundled scenario");
    let backends = BackendSet::start_in_process(Arc::new(dataset))
        .await
        .expect("backends start");
    let client = ToolClient::new(
        BackendEndpoint::new("k8s-backend", backends.url(Domain::K8s)),
        reqwest::Client::new(),
        ToolClientConfig::default(),
    );
    let tools = ToolBox::new(Arc::new(client));
    let answer = json!({
        "summary": "The database pod crash-loops.",
        "findings": [{
            "kind": "pod_failure", "severity": "critical",
            "summary": "The database pod is in CrashLoopBackOff.",
            "subject": {"kind": "pod", "name": CRASHING_POD},
            "evidence": [{"tool": "get_pod_status", "detail": "status CrashLoopBackOff"}]
        }]
    })
    .to_string();

    for kind in REMOTE {
        let server = fake(
            kind,
            FakeScript::sequence([
                FakeReply::tool_call("get_pods", json!({"namespace": "production"}))
                    .with_usage(usage(500, 20, 0, 0)),
                FakeReply::tool_call("get_pod_status", json!({"namespace": "production"}))
                    .with_usage(usage(700, 20, 0, 0)),
                FakeReply::text(answer.clone()).with_usage(usage(900, 60, 0, 0)),
            ]),
        )
        .await;
        let model = model(kind, server.url()).await;
        let task = AgentTask {
            question: "Why is the database crash looping?".into(),
            context: Vec::new(),
            progress: ProgressSink::none(),
            user_id: "tester".into(),
            investigation_id: "inv-test".into(),
        };
        let budget = TokenBudget::new(1_000_000);
        let report = run_agent(
            AgentKind::Kubernetes,
            model.as_ref(),
            &tools,
            &task,
            &AgentLoopConfig::default(),
            Instant::now() + Duration::from_secs(30),
            &budget,
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));

        let refused = report.tool_calls[0].error.as_deref().unwrap_or_default();
        assert!(
            refused.contains("there is no tool named \"get_pods\"")
                && refused.contains("get_pod_status"),
            "{kind}: the error names the tool and the available ones: {refused}"
        );
        assert_eq!(report.tool_calls[1].error, None, "{kind}");
        let second = server.requests()[1].body.clone();
        assert!(
            second.contains("there is no tool named") && second.contains("Available tools")
                || second.contains("there is no tool named") && second.contains("available tools"),
            "{kind}: the model saw the tool error: {second}"
        );
        match kind {
            ProviderKind::Bedrock => assert!(second.contains("\"status\":\"error\""), "{second}"),
            ProviderKind::Anthropic => assert!(second.contains("\"is_error\":true"), "{second}"),
            _ => {}
        }
        assert_eq!(
            report.outcome,
            AgentOutcome::Complete,
            "{kind}: {:?}",
            report.unavailable
        );
        let subjects: BTreeSet<&str> = report
            .findings
            .iter()
            .map(|f| f.subject.name.as_str())
            .collect();
        assert_eq!(subjects, BTreeSet::from([CRASHING_POD]), "{kind}");
        assert_eq!(report.model_calls, 3);
        assert_eq!(report.usage.input_tokens, 2100, "{kind}");
        assert_eq!(report.usage.output_tokens, 100, "{kind}");
        let expected = expected_cost(kind, &usage(2100, 100, 0, 0));
        assert!(
            (report.usage.cost.known().expect("priced") - expected).abs() < 1e-12,
            "{kind}"
        );
        assert_eq!(budget.used(), 2200, "{kind}: every call is charged");
    }
    backends.shutdown().await;
}
