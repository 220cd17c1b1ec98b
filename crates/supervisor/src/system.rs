//! The running system: the four MCP backends, their tool clients, the specialists and the supervisor,
//! started together so the binary and the tests run exactly the same assembly.

use std::{collections::HashMap, sync::Arc, time::Duration};

use ractor::{Actor, ActorRef, rpc::CallResult};
use sre_agents::{
    agent_loop::{AgentLoopConfig, ToolBox},
    model::{ChatModel, budget::TokenBudget},
    protocol::{AgentKind, Envelope, InvestigationId},
    specialist::SpecialistArgs,
    tool_client::{BackendEndpoint, KnownTool, ToolClient, ToolClientConfig},
};
use sre_mcp_backends::{DatasetSource, domain::Domain, host::BackendSet, tool_catalog};
use sre_memory::Memory;
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
    /// Tool client settings; its credentials are sent to remote backends only.
    pub tools: ToolClientConfig,
    pub restart: RestartPolicy,
    /// What the in-process backends serve.
    pub data: DatasetSource,
    /// Backends reached over the network (streamable HTTP URLs), by domain; the other domains are served
    /// in-process.
    pub remote: HashMap<Domain, String>,
    /// Longest time one investigation may take.
    pub investigation_timeout: Duration,
    /// Memory for context, personalisation and learning; `None` runs without (neutral reports, no escalation).
    pub memory: Option<Arc<Memory>>,
    /// Model tokens one investigation may use (supervisor and every specialist); `None` is unlimited.
    pub max_tokens: Option<u64>,
}

impl SystemOptions {
    /// Defaults around `model`: in-process backends on the bundled default scenario, two-minute investigations.
    pub fn new(model: Arc<dyn ChatModel>) -> Self {
        Self {
            model,
            agent: AgentLoopConfig::default(),
            tools: ToolClientConfig::default(),
            restart: RestartPolicy::default(),
            data: DatasetSource::default(),
            remote: HashMap::new(),
            investigation_timeout: Duration::from_secs(120),
            memory: None,
            max_tokens: None,
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

/// The tools of `domain`'s backend as the tool client knows them without asking the backend.
pub fn known_tools(domain: Domain) -> Vec<KnownTool> {
    tool_catalog(domain)
        .iter()
        .map(KnownTool::from_mcp)
        .collect()
}

/// A started system.
pub struct System {
    supervisor: ActorRef<SupervisorMsg>,
    supervisor_task: JoinHandle<()>,
    /// The in-process backends, when any domain is served in-process.
    backends: Option<BackendSet>,
    timeout: Duration,
    max_tokens: Option<u64>,
}

impl System {
    /// Starts the in-process backends (for the domains without a remote URL) on loopback, and the actors.
    pub async fn start(options: SystemOptions) -> Result<Self, AppError> {
        let startup = |what: &str, message: String| AppError::Startup {
            what: what.to_owned(),
            message,
        };
        let all_remote = Domain::ALL.iter().all(|d| options.remote.contains_key(d));
        let backends = if all_remote {
            None
        } else {
            let dataset = options
                .data
                .load(chrono::Utc::now())
                .map_err(|e| startup("scenario", e.to_string()))?;
            let set = BackendSet::start_in_process(Arc::new(dataset))
                .await
                .map_err(|e| startup("MCP backends", e.to_string()))?;
            Some(set)
        };
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| startup("HTTP client", e.to_string()))?;
        // Every client knows its backend's tools up front: a backend that is down at start-up still gets its
        // tools called, and each call fails visibly (retries, breaker, error spans, a gap in the report).
        let client_for = |domain: Domain| -> Option<ToolClient> {
            let client = match (options.remote.get(&domain), backends.as_ref()) {
                (Some(url), _) => ToolClient::new(
                    BackendEndpoint::new(domain.service_name(), url.clone()),
                    http.clone(),
                    options.tools.clone(),
                ),
                (None, Some(set)) => ToolClient::new(
                    BackendEndpoint::new(domain.service_name(), set.url(domain)),
                    http.clone(),
                    ToolClientConfig {
                        auth: None,
                        ..options.tools.clone()
                    },
                ),
                (None, None) => return None,
            };
            Some(client.with_catalog(known_tools(domain)))
        };
        let specialists = AgentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let client = Arc::new(client_for(domain_of(kind))?);
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
            memory: options.memory.clone(),
        };
        let (supervisor, supervisor_task) = Actor::spawn(None, Supervisor, args)
            .await
            .map_err(|e| startup("supervisor", e.to_string()))?;
        Ok(Self {
            supervisor,
            supervisor_task,
            backends,
            timeout: options.investigation_timeout,
            max_tokens: options.max_tokens,
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
        self.investigate_under(request, None).await
    }

    /// [`System::investigate`] as part of a caller's trace: with an `upstream` carrying a W3C `traceparent`
    /// (an inbound HTTP request's headers), the investigation's root span is its child and its baggage
    /// travels on; without one (or one without a `traceparent`) the current span's context is used.
    pub async fn investigate_under(
        &self,
        request: InvestigationRequest,
        upstream: Option<sre_telemetry::TraceCarrier>,
    ) -> Result<InvestigationReport, InvestigationError> {
        let deadline = std::time::Instant::now() + self.timeout;
        let budget = self
            .max_tokens
            .map_or_else(TokenBudget::unlimited, TokenBudget::new);
        let mut envelope =
            Envelope::new(InvestigationId::new(), deadline, request).with_budget(budget);
        if let Some(upstream) = upstream.filter(|u| u.traceparent.is_some()) {
            envelope.trace = upstream;
        }
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
        if let Some(backends) = self.backends {
            backends.shutdown().await;
        }
    }
}
