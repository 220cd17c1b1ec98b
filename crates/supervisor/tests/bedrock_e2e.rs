//! End to end with the Bedrock provider: a whole investigation in-process, its model calls going over HTTP to
//! a local endpoint that speaks Bedrock Converse (SigV4 required) and answers from a script, its tools to the
//! real MCP servers on loopback. Checked through the report, the trace and the requests the endpoint saw.

use std::{collections::HashMap, time::Duration};

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use sre_agents::model::{
    TokenUsage,
    bedrock::DEFAULT_MODEL,
    provider::{ProviderConfig, ProviderKind},
    testing::{FakeBedrock, FakeReply, FakeScript, FakeServer, RecordedRequest},
};
use sre_agents::progress::ProgressSink;
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationReport, InvestigationRequest,
    system::{System, SystemOptions},
};
use sre_telemetry::{convention::attr, testing};

const QUESTION: &str = "Why are the database pods crash looping in production?";
const POD: &str = "database-pod-7b9c4d8f2a-x5m1q";
const ACCESS_KEY_ID: &str = "AKIDSREAGENTTEST";

/// What every scripted reply reports; six calls make 6,000 input, 600 output, 1,200 cache-read and 300
/// cache-write tokens, $0.009495 at the Claude Haiku 4.5 global price (1.00 / 5.00 / 0.10 / 1.25 per million).
fn usage() -> TokenUsage {
    TokenUsage {
        input_tokens: 1_000,
        output_tokens: 100,
        cache_read_tokens: 200,
        cache_write_tokens: 50,
        ..TokenUsage::default()
    }
}

/// The scripted model: routes on the prompt in the request body, as a real model reads its instructions.
fn model_reply(request: &RecordedRequest, _index: usize) -> FakeReply {
    let body = request.body.as_str();
    let has_tool_result = body.contains("\"toolResult\"");
    let reply = if body.contains("Choose which specialists") {
        FakeReply::text(
            json!({"agents": ["kubernetes", "logs"],
                   "reason": "Crash loops show in pod state and events, and their callers log the failures."})
            .to_string(),
        )
    } else if body.contains("every specialist's") {
        FakeReply::text(
            json!({
                "root_cause": format!("Pod {POD} crash-loops because ConfigMap database-config is missing; web-service fails its database calls."),
                "root_cause_entities": [POD, "database-config"],
                "impacted_services": ["web-service"],
                "severity": "critical",
                "summary": "The database is down since its config went missing, and web-service errors follow from it.",
                "next_steps": ["kubectl get configmap database-config -n production"],
                "confidence": 0.9
            })
            .to_string(),
        )
    } else if body.contains("You are the Kubernetes specialist") && !has_tool_result {
        FakeReply::tool_calls([
            (
                "get_pod_status".to_owned(),
                json!({"namespace": "production"}),
            ),
            (
                "get_cluster_events".to_owned(),
                json!({"since": "24h", "severity": "Warning"}),
            ),
        ])
    } else if body.contains("You are the Kubernetes specialist") {
        FakeReply::text(
            json!({
                "summary": format!("Pod {POD} is in CrashLoopBackOff because ConfigMap database-config is missing."),
                "findings": [{
                    "kind": "pod_failure", "severity": "critical",
                    "summary": format!("Pod {POD} is in CrashLoopBackOff with 15 restarts."),
                    "subject": {"kind": "pod", "name": POD},
                    "related": [{"relation": "caused_by", "entity": {"kind": "config_map", "name": "database-config"}}],
                    "evidence": [
                        {"tool": "get_pod_status", "detail": "status=CrashLoopBackOff restarts=15"},
                        {"tool": "get_cluster_events", "detail": "configmap \"database-config\" not found"}
                    ]
                }]
            })
            .to_string(),
        )
    } else if body.contains("You are the Logs specialist") && !has_tool_result {
        FakeReply::tool_call(
            "get_error_logs",
            json!({"since": "2h", "service": "web-service"}),
        )
    } else if body.contains("You are the Logs specialist") {
        FakeReply::text(
            json!({
                "summary": "web-service logs errors on its calls to the database.",
                "findings": [{
                    "kind": "error_spike", "severity": "high",
                    "summary": "web-service logs ERROR entries for failed database calls.",
                    "subject": {"kind": "service", "name": "web-service"},
                    "evidence": [{"tool": "get_error_logs", "detail": "ERROR entries from web-service"}]
                }]
            })
            .to_string(),
        )
    } else {
        return FakeReply::Raw {
            status: 400,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amzn-errortype".into(), "ValidationException".into()),
            ],
            body: json!({"message": "the fake has no script for this prompt"}).to_string(),
        };
    };
    reply.with_usage(usage())
}

fn request() -> InvestigationRequest {
    InvestigationRequest {
        question: QUESTION.to_owned(),
        user_id: UserId::parse("alice").expect("valid user id"),
        session_id: SessionId::parse("session-bedrock").expect("valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

/// The Bedrock provider as the binary builds it, from an environment pointing at `fake`.
async fn bedrock_system(fake: &FakeServer, max_tokens: Option<u64>) -> System {
    let env: HashMap<&str, String> = HashMap::from([
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url().to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSRETEST".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]);
    let provider =
        ProviderConfig::from_env(ProviderKind::Bedrock, None, |key| env.get(key).cloned())
            .expect("provider settings");
    provider
        .preflight()
        .await
        .expect("the fake endpoint answers");
    let model = provider.build().await.expect("model");
    let mut options = SystemOptions::new(model);
    options.max_tokens = max_tokens;
    System::start(options).await.expect("system starts")
}

fn converse_requests(fake: &FakeServer) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/converse"))
        .collect()
}

fn attr_of(span: &SpanData, key: &str) -> Option<String> {
    testing::attribute(span, key)
}

fn trace_of(report: &InvestigationReport) -> Vec<SpanData> {
    let trace_id = TraceId::from_hex(report.trace_id.as_deref().expect("trace id")).expect("hex");
    testing::capture().trace(trace_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bedrock_investigation_reports_the_scripted_cause_with_the_offline_trace_shape_and_its_cost()
 {
    testing::capture();
    // OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: tool spans carry arguments and results.
    sre_telemetry::span::set_capture_message_content(true);
    let fake = FakeBedrock::start(FakeScript::from_fn(model_reply))
        .await
        .expect("fake starts");
    let system = bedrock_system(&fake, Some(200_000)).await;
    let report = tokio::time::timeout(Duration::from_secs(60), system.investigate(request()))
        .await
        .expect("the investigation ends")
        .expect("a report");
    system.shutdown().await;

    // The report carries what the scripted model concluded, grounded in the tool data.
    let a = &report.assessment;
    assert!(
        a.root_cause.contains("database-config") && a.root_cause.contains(POD),
        "root cause: {}",
        a.root_cause
    );
    assert_eq!(a.root_cause_entities, vec![POD, "database-config"]);
    assert_eq!(a.impacted_services, vec!["web-service"]);
    assert!(!report.partial, "{:?}", report.gaps());
    assert_eq!(report.agents.len(), 2);
    for section in &report.agents {
        let agent = section.result.as_ref().expect("agent report");
        assert_eq!(agent.findings.len(), 1, "{:?}", agent);
        assert_eq!(agent.usage.total(), 2 * usage().total());
    }
    assert_eq!(report.provider, format!("aws.bedrock/{DEFAULT_MODEL}"));

    // Six calls (planner, two rounds per specialist, summary), every one signed with SigV4.
    let calls = converse_requests(&fake);
    assert_eq!(
        calls.len(),
        6,
        "{:?}",
        calls.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert!(
            call.path
                .starts_with("/model/global.anthropic.claude-haiku-4-5"),
            "{}",
            call.path
        );
        let auth = call.header("authorization").expect("signed");
        assert!(
            auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/"))
                && auth.contains("/us-east-1/bedrock/aws4_request")
                && auth.contains("Signature="),
            "{auth}"
        );
        assert!(call.header("x-amz-date").is_some());
    }

    // Tokens and cost of the whole investigation, in the totals and in the footer of the report.
    let total = report.usage();
    assert_eq!(
        (
            total.input_tokens,
            total.output_tokens,
            total.cache_read_tokens,
            total.cache_write_tokens
        ),
        (6_000, 600, 1_200, 300)
    );
    let cost = total.cost.known().expect("the default model has a price");
    assert!((cost - 0.009_495).abs() < 1e-9, "cost {cost}");
    assert_eq!(report.budget.used(), 8_100);
    let markdown = report.to_markdown();
    let footer = markdown.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        footer,
        format!(
            "**Model:** `aws.bedrock/{DEFAULT_MODEL}` · **Tokens:** 8,100 of a 200,000-token budget \
             (6,000 input · 600 output · 1,200 cache read · 300 cache write) · **Estimated cost:** $0.0095"
        )
    );

    // The trace has the offline engine's shape, plus a chat CLIENT span per model call.
    let spans = trace_of(&report);
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let parent_name = |s: &SpanData| {
        by_id
            .get(&s.parent_span_id)
            .map(|p| p.name.to_string())
            .unwrap_or_default()
    };
    let named = |prefix: &str| {
        spans
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let root = named("sre.investigation");
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].span_kind, SpanKind::Server);
    assert_eq!(root[0].parent_span_id, SpanId::INVALID);
    for name in [
        "supervisor.analyze_query",
        "supervisor.route_decision",
        "supervisor.aggregate_results",
    ] {
        let span = named(name);
        assert_eq!(span.len(), 1, "{name}");
        assert_eq!(parent_name(span[0]), "sre.investigation", "{name}");
    }
    let mut agents: Vec<String> = named("agent.").iter().map(|s| s.name.to_string()).collect();
    agents.sort();
    assert_eq!(agents, ["agent.kubernetes.execute", "agent.logs.execute"]);
    for agent in named("agent.") {
        assert_eq!(agent.span_kind, SpanKind::Server);
        assert_eq!(parent_name(agent), "sre.investigation");
    }

    let chats = named("chat ");
    assert_eq!(chats.len(), 6, "one chat span per model call");
    let mut chat_parents: Vec<String> = chats.iter().map(|c| parent_name(c)).collect();
    chat_parents.sort();
    assert_eq!(
        chat_parents,
        [
            "agent.kubernetes.execute",
            "agent.kubernetes.execute",
            "agent.logs.execute",
            "agent.logs.execute",
            "supervisor.aggregate_results",
            "supervisor.route_decision",
        ]
    );
    for chat in &chats {
        assert_eq!(chat.name, format!("chat {DEFAULT_MODEL}"));
        assert_eq!(chat.span_kind, SpanKind::Client);
        for (key, value) in [
            (attr::GEN_AI_OPERATION_NAME, "chat"),
            (attr::GEN_AI_PROVIDER_NAME, "aws.bedrock"),
            (attr::GEN_AI_REQUEST_MODEL, DEFAULT_MODEL),
            // Input tokens in the GenAI conventions include the cached ones.
            (attr::GEN_AI_USAGE_INPUT_TOKENS, "1250"),
            (attr::GEN_AI_USAGE_OUTPUT_TOKENS, "100"),
            (attr::SERVER_ADDRESS, "127.0.0.1"),
        ] {
            assert_eq!(
                attr_of(chat, key).as_deref(),
                Some(value),
                "{} {key}",
                chat.name
            );
        }
    }

    let tools = named("tool.");
    let mut tool_names: Vec<String> = tools.iter().map(|s| s.name.to_string()).collect();
    tool_names.sort();
    assert_eq!(
        tool_names,
        [
            "tool.get_cluster_events",
            "tool.get_error_logs",
            "tool.get_pod_status"
        ]
    );
    for tool in &tools {
        assert!(parent_name(tool).starts_with("agent."), "{}", tool.name);
        let arguments = attr_of(tool, attr::GEN_AI_TOOL_CALL_ARGUMENTS).unwrap_or_default();
        let result = attr_of(tool, attr::GEN_AI_TOOL_CALL_RESULT).unwrap_or_default();
        assert!(arguments.starts_with('{'), "{}: {arguments:?}", tool.name);
        assert!(!result.is_empty(), "{}: no captured result", tool.name);
        assert_eq!(
            attr_of(tool, attr::GEN_AI_OPERATION_NAME).as_deref(),
            Some("execute_tool")
        );
    }
    let mcp_calls = named("tools/call ");
    let clients: Vec<_> = mcp_calls
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    let servers: Vec<_> = mcp_calls
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(clients.len(), tools.len(), "one MCP call per tool use");
    assert_eq!(
        servers.len(),
        clients.len(),
        "every call reached its server"
    );
    for client in &clients {
        assert!(parent_name(client).starts_with("tool."));
        assert!(
            attr_of(client, attr::PEER_SERVICE).is_some_and(|p| p.ends_with("-backend")),
            "{}",
            client.name
        );
    }
    for server in &servers {
        let parent = by_id.get(&server.parent_span_id).expect("parent in trace");
        assert_eq!(
            (parent.span_kind.clone(), &parent.name),
            (SpanKind::Client, &server.name)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_up_token_budget_stops_the_agents_and_skips_the_summary_with_a_partial_report() {
    testing::capture();
    let fake = FakeBedrock::start(FakeScript::from_fn(model_reply))
        .await
        .expect("fake starts");
    // The planner's 1,350 tokens fit; the first specialist round does not.
    let system = bedrock_system(&fake, Some(2_000)).await;
    let report = tokio::time::timeout(Duration::from_secs(60), system.investigate(request()))
        .await
        .expect("the investigation ends")
        .expect("a partial report, not an error");
    system.shutdown().await;

    assert!(report.partial);
    assert!(
        report.assessment.root_cause.contains(
            "the investigation's token budget (2000 tokens) was used up before the summary"
        ),
        "{}",
        report.assessment.root_cause
    );
    for section in &report.agents {
        let agent = section.result.as_ref().expect("a partial agent report");
        assert!(
            agent
                .unavailable
                .iter()
                .any(|u| u.contains("token budget of 2000 tokens is used up")),
            "{:?}",
            agent.unavailable
        );
    }
    let calls = converse_requests(&fake);
    assert!(
        calls[0].body.contains("Choose which specialists"),
        "the planner ran first"
    );
    assert!(
        (2..=3).contains(&calls.len())
            && calls.iter().all(|c| !c.body.contains("every specialist's")),
        "no second specialist round and no summary: {} calls",
        calls.len()
    );
    assert!(report.budget.used() > 2_000 && report.budget.used() <= 3 * usage().total());
    assert!(
        report.to_markdown().contains(" of a 2,000-token budget"),
        "the footer shows the budget"
    );

    let events: Vec<_> = trace_of(&report)
        .into_iter()
        .filter(|s| s.name == "supervisor.aggregate_results")
        .flat_map(|s| s.events.events.clone())
        .collect();
    assert!(
        events.iter().any(|e| e.name == "token_budget.exhausted"),
        "{events:?}"
    );
}
