//! An investigation never hangs: a cancelled one stops its specialists' work, and a specialist that overruns
//! the deadline is reported as such while the others' findings are kept.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use ractor::rpc::CallResult;
use sre_agents::{
    model::{ChatModel, ChatPurpose, ChatRequest, ChatResponse, ModelError, offline::OfflineModel},
    progress::ProgressSink,
    protocol::{AgentError, AgentKind, Envelope, InvestigationId},
};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationError, InvestigationRequest, SupervisorMsg,
    system::{System, SystemOptions},
};
use tokio::sync::Notify;

/// The offline model, except that every Logs call never returns. Dropping such a call flips `dropped`.
#[derive(Debug)]
struct StuckLogs {
    inner: OfflineModel,
    entered: Arc<Notify>,
    dropped: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl ChatModel for StuckLogs {
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        if request.purpose == ChatPurpose::Investigate(AgentKind::Logs) {
            let _flag = DropFlag(self.dropped.clone());
            self.entered.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.chat(request).await
    }
}

fn request() -> InvestigationRequest {
    InvestigationRequest {
        question: "Why are the database pods crash looping in production?".into(),
        user_id: UserId::parse("carol").expect("valid user id"),
        session_id: SessionId::parse("session-deadline").expect("valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

fn stuck() -> (StuckLogs, Arc<Notify>, Arc<AtomicBool>) {
    let entered = Arc::new(Notify::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let model = StuckLogs {
        inner: OfflineModel::new(),
        entered: entered.clone(),
        dropped: dropped.clone(),
    };
    (model, entered, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_running_investigation_and_its_agents() {
    let (model, entered, dropped) = stuck();
    let system = System::start(SystemOptions::new(Arc::new(model)))
        .await
        .unwrap();
    let supervisor = system.supervisor().clone();
    let id = InvestigationId::new();
    let envelope = Envelope::new(
        id.clone(),
        Instant::now() + Duration::from_secs(300),
        request(),
    );
    let running = tokio::spawn({
        let supervisor = supervisor.clone();
        async move {
            supervisor
                .call(
                    |port| SupervisorMsg::Investigate(Box::new(envelope), port),
                    Some(Duration::from_secs(30)),
                )
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), entered.notified())
        .await
        .expect("the logs agent is working");
    supervisor.cast(SupervisorMsg::Cancel(id)).unwrap();

    let reply = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("cancel answers promptly")
        .unwrap();
    assert!(
        matches!(
            reply,
            Ok(CallResult::Success(Err(InvestigationError::Cancelled(_))))
        ),
        "{reply:?}"
    );
    wait_until_dropped(&dropped).await;
    system.shutdown().await;
}

async fn wait_until_dropped(dropped: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the logs agent's work was not stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_past_the_deadline_is_reported_and_the_rest_kept() {
    let capture = sre_telemetry::testing::capture();
    let (model, _entered, dropped) = stuck();
    let mut options = SystemOptions::new(Arc::new(model));
    options.investigation_timeout = Duration::from_secs(2);
    let system = System::start(options).await.unwrap();

    let report = system
        .investigate(request())
        .await
        .expect("the investigation completes without the logs agent");
    let logs = report
        .agents
        .iter()
        .find(|s| s.kind == AgentKind::Logs)
        .expect("logs was routed");
    assert!(
        matches!(logs.result, Err(AgentError::DeadlineExceeded { .. })),
        "{:?}",
        logs.result
    );
    assert!(report.partial);
    let kubernetes = report
        .agents
        .iter()
        .find(|s| s.kind == AgentKind::Kubernetes)
        .unwrap();
    assert!(
        kubernetes
            .result
            .as_ref()
            .is_ok_and(|r| !r.findings.is_empty()),
        "other findings are kept"
    );
    assert!(
        report
            .assessment
            .root_cause_entities
            .iter()
            .any(|e| e == "database-config")
    );
    assert!(report.to_markdown().contains("ran out of time"));
    wait_until_dropped(&dropped).await;
    system.shutdown().await;

    // The model call cut off by the deadline ends as cancelled, not as a success.
    let trace = report.trace_id.as_deref().expect("a recorded trace");
    let trace = opentelemetry::trace::TraceId::from_hex(trace).expect("a trace id");
    let spans = capture.trace(trace);
    let cut_off: Vec<_> = spans
        .iter()
        .filter(|s| s.name.starts_with("chat "))
        .filter(|s| {
            sre_telemetry::testing::attribute(s, "error.type").as_deref() == Some("cancelled")
        })
        .collect();
    assert!(
        !cut_off.is_empty(),
        "no cancelled chat span among {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert!(
        cut_off
            .iter()
            .all(|s| matches!(s.status, opentelemetry::trace::Status::Error { .. }))
    );
}
