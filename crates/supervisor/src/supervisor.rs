//! The supervisor actor: owns the four specialists (spawned linked), restarts a crashed one within a bounded
//! budget, and runs each investigation in its own task so investigations never queue behind each other.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use sre_agents::{
    model::ChatModel,
    protocol::{AgentKind, Envelope, InvestigationId},
    specialist::{Specialist, SpecialistArgs, SpecialistMsg},
};
use sre_memory::Memory;
use sre_telemetry::{
    metric::{self, MetricId, dim},
    span,
};
use tokio_util::sync::CancellationToken;

use crate::{
    error::InvestigationError,
    investigation::{InvestigationRequest, run_investigation},
    report::InvestigationReport,
};

/// The reply to [`SupervisorMsg::Investigate`].
pub type InvestigationReply = Result<InvestigationReport, InvestigationError>;

/// At most `max_restarts` restarts of one specialist within `window`; beyond that it stays down.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub max_restarts: usize,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// Messages of the supervisor.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// Run an investigation and answer on the port.
    Investigate(
        Box<Envelope<InvestigationRequest>>,
        RpcReplyPort<InvestigationReply>,
    ),
    /// Cancel a running investigation.
    Cancel(InvestigationId),
    /// The current actor of a specialist (`None` when it is down for good).
    Specialist(AgentKind, RpcReplyPort<Option<ActorRef<SpecialistMsg>>>),
    /// Restart counts per specialist.
    Restarts(RpcReplyPort<HashMap<AgentKind, usize>>),
    /// Internal: an investigation task ended.
    Finished(InvestigationId),
}

/// What the supervisor is built from.
#[derive(Debug, Clone)]
pub struct SupervisorArgs {
    /// The model for planning and the final assessment.
    pub model: Arc<dyn ChatModel>,
    /// One entry per specialist to run.
    pub specialists: Vec<SpecialistArgs>,
    pub restart: RestartPolicy,
    /// Memory for context, personalisation and learning; `None` runs without.
    pub memory: Option<Arc<Memory>>,
}

/// Supervisor state.
#[derive(Debug)]
pub struct SupervisorState {
    args: SupervisorArgs,
    specialists: HashMap<AgentKind, ActorRef<SpecialistMsg>>,
    kinds: HashMap<ActorId, AgentKind>,
    recent_restarts: HashMap<AgentKind, VecDeque<Instant>>,
    total_restarts: HashMap<AgentKind, usize>,
    running: HashMap<InvestigationId, CancellationToken>,
}

/// The supervisor actor.
#[derive(Debug, Default)]
pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = SupervisorState {
            args,
            specialists: HashMap::new(),
            kinds: HashMap::new(),
            recent_restarts: HashMap::new(),
            total_restarts: HashMap::new(),
            running: HashMap::new(),
        };
        for specialist in state.args.specialists.clone() {
            spawn_specialist(&myself, &mut state, specialist).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Investigate(envelope, reply) => {
                let token = CancellationToken::new();
                state
                    .running
                    .insert(envelope.investigation_id.clone(), token.clone());
                let model = state.args.model.clone();
                let memory = state.args.memory.clone();
                let id = envelope.investigation_id.clone();
                tokio::spawn(async move {
                    let result =
                        run_investigation(myself.clone(), model, memory, *envelope, token).await;
                    let _ = reply.send(result);
                    let _ = myself.cast(SupervisorMsg::Finished(id));
                });
            }
            SupervisorMsg::Cancel(id) => {
                if let Some(token) = state.running.remove(&id) {
                    token.cancel();
                }
                for specialist in state.specialists.values() {
                    let _ = specialist.cast(SpecialistMsg::Cancel(id.clone()));
                }
            }
            SupervisorMsg::Specialist(kind, reply) => {
                let _ = reply.send(state.specialists.get(&kind).cloned());
            }
            SupervisorMsg::Restarts(reply) => {
                let _ = reply.send(state.total_restarts.clone());
            }
            SupervisorMsg::Finished(id) => {
                state.running.remove(&id);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".to_owned()))
            }
            _ => return Ok(()),
        };
        let Some(kind) = state.kinds.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.specialists.remove(&kind);
        restart(&myself, state, kind, &reason).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for token in state.running.values() {
            token.cancel();
        }
        // Children are unlinked first so their exit is not taken for a crash.
        for specialist in state.specialists.values() {
            specialist.unlink(myself.get_cell());
            specialist.stop(None);
        }
        Ok(())
    }
}

async fn spawn_specialist(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    args: SpecialistArgs,
) -> Result<(), ActorProcessingErr> {
    let kind = args.kind;
    // Unnamed: names are global, and a restart could race the old registration.
    let (actor, _handle) = Actor::spawn_linked(None, Specialist, args, myself.get_cell()).await?;
    state.kinds.insert(actor.get_id(), kind);
    state.specialists.insert(kind, actor);
    Ok(())
}

async fn restart(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    kind: AgentKind,
    reason: &str,
) {
    let now = Instant::now();
    let window = state.args.restart.window;
    let recent = state.recent_restarts.entry(kind).or_default();
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) > window)
    {
        recent.pop_front();
    }
    let supervise_span = tracing::info_span!("supervisor.restart", sre.agent_type = kind.as_str());
    if recent.len() >= state.args.restart.max_restarts {
        span::record_error(&supervise_span, "restart_budget_exhausted", reason);
        metric::record(
            MetricId::Errors,
            1.0,
            &[
                (dim::COMPONENT, "supervisor"),
                (dim::ERROR_TYPE, "restart_budget_exhausted"),
            ],
        );
        tracing::error!(
            agent = kind.as_str(),
            reason,
            "{kind} agent failed {} times within {window:?}; it stays down",
            recent.len() + 1
        );
        return;
    }
    recent.push_back(now);
    let Some(args) = state
        .args
        .specialists
        .iter()
        .find(|s| s.kind == kind)
        .cloned()
    else {
        return;
    };
    match spawn_specialist(myself, state, args).await {
        Ok(()) => {
            *state.total_restarts.entry(kind).or_default() += 1;
            metric::record(
                MetricId::AgentRestarts,
                1.0,
                &[(dim::AGENT_NAME, kind.as_str())],
            );
            span::add_event(
                &supervise_span,
                "agent.restarted",
                &[
                    ("sre.agent_type", kind.as_str().to_owned()),
                    ("reason", reason.to_owned()),
                ],
            );
            tracing::warn!(
                agent = kind.as_str(),
                reason,
                "{kind} agent crashed and was restarted"
            );
        }
        Err(e) => {
            span::record_error(&supervise_span, "restart_failed", &e.to_string());
            tracing::error!(
                agent = kind.as_str(),
                "restarting the {kind} agent failed: {e}"
            );
        }
    }
}
