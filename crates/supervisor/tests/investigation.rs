//! End to end: a whole offline investigation in-process against the real MCP servers on loopback, checked
//! through its report and its spans.

use std::{collections::HashMap, sync::Arc, time::Duration};

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use sre_agents::{
    model::{ChatModel, ChatPurpose, ChatRequest, ChatResponse, ModelError, offline::OfflineModel},
    progress::ProgressSink,
    protocol::AgentKind,
};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest,
    system::{System, SystemOptions},
};
use sre_telemetry::{convention::attr, testing};

fn request(question: &str) -> InvestigationRequest {
    InvestigationRequest {
        question: question.to_owned(),
        user_id: UserId::parse("alice").expect("valid user id"),
        session_id: SessionId::parse("session-e2e").expect("valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

fn attr_of(span: &SpanData, key: &str) -> Option<String> {
    testing::attribute(span, key)
}

fn require(span: &SpanData, keys: &[&str]) {
    for key in keys {
        assert!(
            attr_of(span, key).is_some_and(|v| !v.is_empty()),
            "span {} lacks {key}",
            span.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashloop_investigation_is_one_parallel_trace() {
    let capture = testing::capture();
    let system = System::start(SystemOptions::new(Arc::new(OfflineModel::new())))
        .await
        .unwrap();
    let report = system
        .investigate(request(
            "Why are the database pods crash looping in production?",
        ))
        .await
        .unwrap();
    system.shutdown().await;

    // The report names the root cause and the impact from the data.
    let a = &report.assessment;
    assert!(
        a.root_cause.contains("database-config"),
        "root cause: {}",
        a.root_cause
    );
    assert!(
        a.root_cause_entities
            .iter()
            .any(|e| e == "database-pod-7b9c4d8f2a-x5m1q"),
        "{:?}",
        a.root_cause_entities
    );
    assert!(
        a.root_cause_entities.iter().any(|e| e == "database-config"),
        "{:?}",
        a.root_cause_entities
    );
    for service in ["web-service", "api-service"] {
        assert!(
            a.impacted_services.iter().any(|s| s == service),
            "{service} not impacted: {:?}",
            a.impacted_services
        );
    }
    assert!(
        !a.impacted_services
            .iter()
            .any(|s| s == "product-catalog-service"),
        "the control is not impacted"
    );
    assert!(report.agents.len() >= 3 && report.agents.iter().all(|s| s.result.is_ok()));
    let markdown = report.to_markdown();
    assert!(markdown.contains("## Executive summary") && markdown.contains("## Key findings"));
    assert!(
        markdown.contains(report.trace_id.as_deref().unwrap()),
        "the report carries the trace id"
    );

    // One trace from the root down to every MCP server span.
    let trace_id = TraceId::from_hex(report.trace_id.as_deref().unwrap()).unwrap();
    let spans = capture.trace(trace_id);
    let named = |prefix: &str| {
        spans
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let root = named("sre.investigation");
    assert_eq!(root.len(), 1);
    let root = root[0];
    assert_eq!(root.span_kind, SpanKind::Server);
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    require(
        root,
        &[
            attr::SRE_USER_ID,
            attr::SRE_SESSION_ID,
            attr::SRE_QUERY,
            attr::SESSION_ID,
            attr::USER_ID,
        ],
    );

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
    for name in [
        "supervisor.analyze_query",
        "supervisor.route_decision",
        "supervisor.aggregate_results",
    ] {
        let span = named(name);
        assert_eq!(span.len(), 1, "{name}");
        assert_eq!(
            span[0].parent_span_id,
            root.span_context.span_id(),
            "{name} hangs off the root"
        );
    }
    require(
        named("supervisor.route_decision")[0],
        &[attr::SRE_AGENTS_SELECTED, attr::SRE_ROUTING_REASON],
    );

    let agents = named("agent.");
    assert!(
        agents.len() >= 3,
        "at least three specialists: {:?}",
        agents.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for agent in &agents {
        assert_eq!(agent.span_kind, SpanKind::Server);
        assert_eq!(agent.parent_span_id, root.span_context.span_id());
        require(
            agent,
            &[
                attr::AWS_LOCAL_SERVICE,
                attr::SRE_AGENT_TYPE,
                attr::SRE_TOOLS_AVAILABLE,
                attr::SRE_TOOLS_INVOKED,
                attr::GEN_AI_AGENT_NAME,
            ],
        );
        assert_eq!(
            attr_of(agent, attr::GEN_AI_OPERATION_NAME).as_deref(),
            Some("invoke_agent")
        );
        assert!(
            attr_of(agent, attr::AWS_LOCAL_SERVICE)
                .unwrap()
                .ends_with("-agent")
        );
    }
    // Parallel: every agent started before any agent finished.
    let latest_start = agents.iter().map(|s| s.start_time).max().unwrap();
    let earliest_end = agents.iter().map(|s| s.end_time).min().unwrap();
    assert!(latest_start < earliest_end, "agent spans do not overlap");

    let chats = named("chat ");
    assert!(
        chats.len() >= agents.len() + 2,
        "planner, summary and agent model calls"
    );
    for chat in &chats {
        assert_eq!(chat.span_kind, SpanKind::Client);
        require(
            chat,
            &[
                attr::GEN_AI_PROVIDER_NAME,
                attr::GEN_AI_REQUEST_MODEL,
                attr::GEN_AI_USAGE_INPUT_TOKENS,
            ],
        );
    }

    let tools = named("tool.");
    assert!(!tools.is_empty());
    for tool in &tools {
        assert!(
            parent_name(tool).starts_with("agent."),
            "{} under {}",
            tool.name,
            parent_name(tool)
        );
        require(tool, &[attr::SRE_TOOL_NAME, attr::SRE_TOOL_PARAMS]);
        assert_eq!(
            attr_of(tool, attr::GEN_AI_OPERATION_NAME).as_deref(),
            Some("execute_tool")
        );
    }

    let calls: Vec<&SpanData> = named("tools/call ");
    let clients: Vec<&&SpanData> = calls
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    let servers: Vec<&&SpanData> = calls
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    assert_eq!(clients.len(), tools.len(), "one client span per tool use");
    assert_eq!(
        servers.len(),
        clients.len(),
        "every call reached a server span in the same trace"
    );
    for client in &clients {
        assert!(parent_name(client).starts_with("tool."));
        require(
            client,
            &[
                attr::MCP_METHOD_NAME,
                attr::PEER_SERVICE,
                attr::AWS_REMOTE_SERVICE,
            ],
        );
        assert!(
            attr_of(client, attr::PEER_SERVICE)
                .unwrap()
                .ends_with("-backend")
        );
    }
    for server in &servers {
        let parent = by_id
            .get(&server.parent_span_id)
            .expect("server span parent is in the trace");
        assert_eq!(
            parent.span_kind,
            SpanKind::Client,
            "server span {} parent",
            server.name
        );
        assert_eq!(
            parent.name, server.name,
            "server span is the child of its own call"
        );
        assert!(
            attr_of(server, attr::AWS_LOCAL_SERVICE)
                .unwrap()
                .ends_with("-backend")
        );
    }
    // Baggage put the session and user on every span, including the servers'.
    for span in &spans {
        assert_eq!(
            attr_of(span, attr::SESSION_ID).as_deref(),
            Some("session-e2e"),
            "{}",
            span.name
        );
        assert_eq!(
            attr_of(span, attr::USER_ID).as_deref(),
            Some("alice"),
            "{}",
            span.name
        );
        // Each attribute once: a key set by the span and again by the baggage processor is exported twice.
        let mut keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "{} repeats an attribute key", span.name);
    }
}

/// Holds each investigation's first Kubernetes model call until both investigations have made theirs: if
/// the specialist handled requests one at a time, the first would wait forever and the test would time out.
#[derive(Debug)]
struct Rendezvous {
    inner: OfflineModel,
    barrier: Arc<tokio::sync::Barrier>,
}

#[async_trait::async_trait]
impl ChatModel for Rendezvous {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let first_turn = request.messages.len() == 2;
        if request.purpose == ChatPurpose::Investigate(AgentKind::Kubernetes) && first_turn {
            self.barrier.wait().await;
        }
        self.inner.chat(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_investigations_do_not_queue_in_a_specialist() {
    testing::capture();
    let model = Rendezvous {
        inner: OfflineModel::new(),
        barrier: Arc::new(tokio::sync::Barrier::new(2)),
    };
    let system = System::start(SystemOptions::new(Arc::new(model)))
        .await
        .unwrap();
    let both = async {
        tokio::join!(
            system.investigate(request("Why are the database pods crash looping?")),
            system.investigate(request("Are any pods restarting in production?")),
        )
    };
    let (first, second) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("both investigations finish: the Kubernetes specialist served them concurrently");
    assert!(first.is_ok() && second.is_ok());
    system.shutdown().await;
}
