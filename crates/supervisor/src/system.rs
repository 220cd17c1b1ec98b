//! The running system: the four MCP backends, their tool clients, the specialists and the supervisor,
//! started together so the binary and the tests run exactly the same assembly.

use std::{collections::HashMap, sync::Arc, time::Duration};

use ractor::{Actor, ActorRef, rpc::CallResult};
use sre_agents::{
    agent_loop::{AgentLoopConfig, ToolBox},
    model::ChatModel,
    protocol::{AgentKind, Envelope, InvestigationId},
    specialist::SpecialistArgs,
    tool_client::{BackendEndpoint, ToolClient, ToolClientConfig},
};
use sre_mcp_backends::{
    domain::Domain,
    host::BackendSet,
    scenario::{self, DEFAULT_SCENARIO},
};
use tokio::task::JoinHandle;

use crate::{
    error::{AppError, InvestigationError},
    investigation::InvestigationRequest,
    report::InvestigationReport,
    supervisor::{RestartPolicy, Supervisor, SupervisorArgs, SupervisorMsg},
};

/// How to assemble the system.
#[derive(Debug, Clone)]
pub struct SystemOptions {
    pub model: Arc<dyn ChatModel>,
    pub agent: AgentLoopConfig,
    pub tools: ToolClientConfig,
    pub restart: RestartPolicy,
    /// Bundled scenario the in-process backends serve.
    pub scenario: String,
    /// Longest time one investigation may take.
    pub investigation_timeout: Duration,
}

impl SystemOptions {
    /// Defaults around `model`: the bundled default scenario, two-minute investigations.
    pub fn new(model: Arc<dyn ChatModel>) -> Self {
        Self {
            model,
            agent: AgentLoopConfig::default(),
            tools: ToolClientConfig::default(),
            restart: RestartPolicy::default(),
            scenario: DEFAULT_SCENARIO.to_owned(),
            investigation_timeout: Duration::from_secs(120),
        }
    }
}

/// The backend that serves a specialist's tools.
pub fn domain_of(kind: AgentKind) -> Domain {
    match kind {
        AgentKind::Kubernetes => Domain::K8s,
        AgentKind::Logs => Domain::Logs,
        AgentKind::Metrics => Domain::Metrics,
        AgentKind::Runbooks => Domain::Runbooks,
    }
}

/// A started system.
pub struct System {
    supervisor: ActorRef<SupervisorMsg>,
    supervisor_task: JoinHandle<()>,
    backends: BackendSet,
    timeout: Duration,
}

impl System {
    /// Starts the in-process backends on loopback and the actors.
    pub async fn start(options: SystemOptions) -> Result<Self, AppError> {
        let startup = |what: &str, message: String| AppError::Startup {
            what: what.to_owned(),
            message,
        };
        let dataset = scenario::load_bundled(&options.scenario, chrono::Utc::now())
            .map_err(|e| startup("scenario", e.to_string()))?;
        let backends = BackendSet::start_in_process(Arc::new(dataset))
            .await
            .map_err(|e| startup("MCP backends", e.to_string()))?;
        let endpoints: HashMap<Domain, BackendEndpoint> = Domain::ALL
            .into_iter()
            .map(|d| (d, BackendEndpoint::new(d.service_name(), backends.url(d))))
            .collect();

        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| startup("HTTP client", e.to_string()))?;
        let specialists = AgentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let endpoint = endpoints.get(&domain_of(kind))?.clone();
                let client = Arc::new(ToolClient::new(
                    endpoint,
                    http.clone(),
                    options.tools.clone(),
                ));
                Some(SpecialistArgs {
                    kind,
                    model: options.model.clone(),
                    tools: Arc::new(ToolBox::new(client)),
                    config: options.agent,
                })
            })
            .collect();
        let args = SupervisorArgs {
            model: options.model.clone(),
            specialists,
            restart: options.restart,
        };
        let (supervisor, supervisor_task) = Actor::spawn(None, Supervisor, args)
            .await
            .map_err(|e| startup("supervisor", e.to_string()))?;
        Ok(Self {
            supervisor,
            supervisor_task,
            backends,
            timeout: options.investigation_timeout,
        })
    }

    /// The supervisor actor.
    pub fn supervisor(&self) -> &ActorRef<SupervisorMsg> {
        &self.supervisor
    }

    /// Runs one investigation to its end (report or error) within the configured timeout.
    pub async fn investigate(
        &self,
        request: InvestigationRequest,
    ) -> Result<InvestigationReport, InvestigationError> {
        let deadline = std::time::Instant::now() + self.timeout;
        let envelope = Envelope::new(InvestigationId::new(), deadline, request);
        let id = envelope.investigation_id.to_string();
        // The supervisor answers by the deadline; the grace covers the final assessment after it.
        let wait = self.timeout + Duration::from_secs(10);
        match self
            .supervisor
            .call(
                |port| SupervisorMsg::Investigate(Box::new(envelope), port),
                Some(wait),
            )
            .await
        {
            Ok(CallResult::Success(result)) => result,
            Ok(CallResult::Timeout) => Err(InvestigationError::Failed(format!(
                "investigation {id} did not finish within {:?}",
                self.timeout
            ))),
            Ok(CallResult::SenderError) => Err(InvestigationError::Failed(format!(
                "the supervisor stopped while running investigation {id}"
            ))),
            Err(e) => Err(InvestigationError::Failed(format!(
                "the supervisor is not running: {e}"
            ))),
        }
    }

    /// Stops the actors and the backends.
    pub async fn shutdown(self) {
        self.supervisor.stop(None);
        let _ = self.supervisor_task.await;
        self.backends.shutdown().await;
    }
}
