//! Memory and metrics through whole investigations: the crash-loop scenario as Alice and as Carol gives the
//! same findings and differently shaped reports, only Carol's run escalates (and records
//! `EscalationTriggered`), a second run by Alice recalls the first, and the investigation, agent, tool, memory
//! and LLM metrics of the catalog are recorded on the way.

use std::sync::Arc;

use sre_agents::{model::offline::OfflineModel, progress::ProgressSink};
use sre_memory::{Memory, MemoryConfig, SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest,
    app::record_memory_operation,
    report::InvestigationReport,
    system::{System, SystemOptions},
};
use sre_telemetry::metric::{self, Recorder};

const QUESTION: &str = "Database pods are crash looping in production";

fn request(user: &str, session: &str) -> InvestigationRequest {
    InvestigationRequest {
        question: QUESTION.to_owned(),
        user_id: UserId::parse(user).expect("valid user id"),
        session_id: SessionId::parse(session).expect("valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

/// What the agents found, independent of who asked.
fn findings(report: &InvestigationReport) -> Vec<String> {
    let mut all: Vec<String> = report
        .agents
        .iter()
        .filter_map(|s| s.result.as_ref().ok())
        .flat_map(|r| r.findings.iter().map(|f| f.summary.clone()))
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alice_and_carol_get_the_same_findings_in_their_own_report_and_only_carol_escalates() {
    // This test process's metrics go to an in-memory recorder (no sink) read back as Prometheus text.
    assert!(metric::set_global(
        Recorder::builder().build().expect("a recorder")
    ));
    let data = tempfile::tempdir().expect("temp dir");
    let memory = Memory::open(&MemoryConfig::sqlite_in(data.path()), None)
        .await
        .expect("memory opens")
        .with_observer(record_memory_operation);
    memory.seed_bundled_users().await.expect("personas seeded");
    let mut options = SystemOptions::new(Arc::new(OfflineModel::new()));
    options.memory = Some(Arc::new(memory));
    let system = System::start(options).await.expect("system starts");

    let alice = system
        .investigate(request("Alice", "session-alice-1"))
        .await
        .expect("alice's investigation");
    let carol = system
        .investigate(request("Carol", "session-carol-1"))
        .await
        .expect("carol's investigation");
    let alice_again = system
        .investigate(request("Alice", "session-alice-2"))
        .await
        .expect("alice's second investigation");
    system.shutdown().await;

    // Same data, same conclusions.
    assert_eq!(findings(&alice), findings(&carol));
    assert_eq!(
        alice.assessment.root_cause_entities,
        carol.assessment.root_cause_entities
    );
    assert_eq!(alice.assessment.severity, carol.assessment.severity);
    assert_eq!(alice.assessment.severity.as_str(), "critical");

    // Different readers, different reports: Alice gets the technical report with troubleshooting detail,
    // Carol a business-impact brief.
    let alice_md = alice.to_markdown();
    let carol_md = carol.to_markdown();
    assert!(alice_md.contains("## Key findings"), "{alice_md}");
    assert!(alice_md.contains("### Next steps"), "{alice_md}");
    assert!(carol_md.contains("## Business impact"), "{carol_md}");
    assert!(!carol_md.contains("## Key findings"), "{carol_md}");
    assert!(carol_md.len() < alice_md.len());

    // Escalation: Carol's critical incident pages her contact; Alice's is at most scheduled.
    let carol_escalation = &carol.personalization.escalation;
    assert!(carol_escalation.escalate, "{carol_escalation:?}");
    assert!(
        carol_escalation
            .contacts
            .iter()
            .any(|c| c == "carol.director@company.com"),
        "{carol_escalation:?}"
    );
    assert!(
        carol_md.contains("carol.director@company.com"),
        "{carol_md}"
    );
    assert!(!alice.personalization.escalation.escalate);

    // Alice's second investigation recalls her first.
    assert!(
        alice_again
            .personalization
            .recalled
            .iter()
            .any(|line| line.contains(QUESTION) && line.contains("Past investigation")),
        "{:?}",
        alice_again.personalization.recalled
    );

    // The metrics of the catalog, read back as Prometheus text.
    let flushed = sre_telemetry::testing::flushed_prometheus_text().await;
    for needle in [
        r#"sre_escalations_total{user_id="Carol",escalation_type="#,
        r#"sre_investigation_requests_total{outcome="success"} 3"#,
        r#"sre_agent_invocation_duration_seconds_count{agent_name="kubernetes",user_id="Alice"} 2"#,
        r#"sre_agent_invocation_duration_seconds_count{agent_name="kubernetes",user_id="Carol"} 1"#,
        r#"sre_tool_execution_duration_seconds_count{tool_name="get_pod_status",agent_name="kubernetes"}"#,
        r#"sre_tool_calls_total{tool_name="get_pod_status",agent_name="kubernetes"}"#,
        r#"sre_memory_operation_duration_seconds_count{operation="retrieve",strategy="user_preferences"}"#,
        r#"sre_memory_operation_duration_seconds_count{operation="save",strategy="investigation_history"}"#,
        r#"sre_cache_misses_total{cache="preferences"}"#,
        r#"sre_llm_requests_total{provider="sre.offline",model="offline-analyst-1"}"#,
        r#"sre_llm_tokens_total{provider="sre.offline",model="offline-analyst-1",token_type="input"}"#,
        r#"gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat""#,
        r#"sre_active_agent_runs{agent_name="kubernetes"} 0"#,
        r#"sre_mcp_call_duration_seconds_count{tool_name="get_pod_status",backend="k8s-backend"}"#,
        r#"sre_cache_misses_total{cache="tool"}"#,
        r#"sre_circuit_breaker_state{backend="k8s-backend"} 0"#,
    ] {
        assert!(flushed.contains(needle), "missing {needle} in:\n{flushed}");
    }
    let escalations = flushed
        .lines()
        .find(|l| l.starts_with("sre_escalations_total{") && l.contains(r#"user_id="Carol""#))
        .expect("an escalation series for carol");
    assert!(escalations.ends_with(" 1"), "{escalations}");
    assert!(
        !flushed
            .lines()
            .any(|l| l.starts_with("sre_escalations_total{") && l.contains(r#"user_id="Alice""#)),
        "alice did not escalate:\n{flushed}"
    );
}
