//! Supervision: a specialist that faults is restarted within its budget, and the next investigation works.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use sre_agents::{
    model::{ChatModel, ChatPurpose, ChatRequest, ChatResponse, ModelError, offline::OfflineModel},
    progress::ProgressSink,
    protocol::{AgentError, AgentKind},
};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest, SupervisorMsg,
    system::{System, SystemOptions},
};

/// The offline model, except that the first Logs call panics (a bug in the agent's task).
#[derive(Debug)]
struct FaultyOnce {
    inner: OfflineModel,
    fired: AtomicBool,
}

#[async_trait::async_trait]
impl ChatModel for FaultyOnce {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        if request.purpose == ChatPurpose::Investigate(AgentKind::Logs)
            && !self.fired.swap(true, Ordering::SeqCst)
        {
            panic!("injected fault in the logs agent");
        }
        self.inner.chat(request).await
    }
}

fn request() -> InvestigationRequest {
    InvestigationRequest {
        question: "Why are the database pods crash looping in production?".into(),
        user_id: UserId::parse("bob").expect("valid user id"),
        session_id: SessionId::parse("session-restart").expect("valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

async fn restarts(system: &System, kind: AgentKind) -> usize {
    ractor::call!(system.supervisor(), SupervisorMsg::Restarts)
        .expect("the supervisor answers")
        .get(&kind)
        .copied()
        .unwrap_or(0)
}

async fn wait_for_restarts(system: &System, kind: AgentKind, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while restarts(system, kind).await < expected {
        assert!(Instant::now() < deadline, "{kind} agent was not restarted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_specialist_is_restarted_and_the_next_investigation_succeeds() {
    let model = FaultyOnce {
        inner: OfflineModel::new(),
        fired: AtomicBool::new(false),
    };
    let system = System::start(SystemOptions::new(Arc::new(model)))
        .await
        .unwrap();

    let first = system
        .investigate(request())
        .await
        .expect("the investigation survives one crashed agent");
    let logs = first
        .agents
        .iter()
        .find(|s| s.kind == AgentKind::Logs)
        .expect("logs agent was routed");
    assert!(
        matches!(logs.result, Err(AgentError::Crashed { .. })),
        "{:?}",
        logs.result
    );
    assert!(first.partial);
    assert!(
        first.to_markdown().contains("injected fault"),
        "the report says what failed"
    );

    wait_for_restarts(&system, AgentKind::Logs, 1).await;
    let second = system.investigate(request()).await.unwrap();
    assert!(
        second.agents.iter().all(|s| s.result.is_ok()),
        "all agents answer after the restart"
    );
    assert!(!second.partial);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_specialist_is_replaced() {
    let system = System::start(SystemOptions::new(Arc::new(OfflineModel::new())))
        .await
        .unwrap();
    let before = ractor::call!(
        system.supervisor(),
        SupervisorMsg::Specialist,
        AgentKind::Kubernetes
    )
    .unwrap()
    .expect("kubernetes agent runs");
    before.kill();
    wait_for_restarts(&system, AgentKind::Kubernetes, 1).await;
    let after = ractor::call!(
        system.supervisor(),
        SupervisorMsg::Specialist,
        AgentKind::Kubernetes
    )
    .unwrap()
    .expect("kubernetes agent was replaced");
    assert_ne!(before.get_id(), after.get_id());
    let report = system.investigate(request()).await.unwrap();
    assert!(report.agents.iter().all(|s| s.result.is_ok()));
    system.shutdown().await;
}
