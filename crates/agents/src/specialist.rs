//! The specialist actor, one type for all four [`AgentKind`]s. Each request runs in its own task carrying the
//! envelope's trace context and deadline, so concurrent investigations never queue behind each other and
//! `Cancel` is handled while work runs. A panicking task is a real fault: the actor fails and its supervisor
//! restarts it.

use std::{collections::HashMap, sync::Arc};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sre_telemetry::{
    convention::attr,
    metric::{self, MetricId, dim},
    span,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    agent_loop::{AgentLoopConfig, ToolBox, run_agent},
    model::ChatModel,
    progress::ProgressEvent,
    protocol::{AgentError, AgentKind, AgentReport, AgentTask, Envelope, InvestigationId},
};

/// The reply to [`SpecialistMsg::Investigate`].
pub type AgentReply = Result<AgentReport, AgentError>;

/// Messages of a specialist.
#[derive(Debug)]
pub enum SpecialistMsg {
    /// Investigate and answer on the port (boxed: the task is large next to the other messages).
    Investigate(Box<Envelope<AgentTask>>, RpcReplyPort<AgentReply>),
    /// Stop the work of one investigation (its reply becomes `Cancelled`).
    Cancel(InvestigationId),
    /// Internal: a task finished normally.
    Finished(InvestigationId),
    /// Internal: a task panicked.
    Faulted(InvestigationId, String),
}

/// Everything a specialist needs, shared by restarts.
#[derive(Debug, Clone)]
pub struct SpecialistArgs {
    pub kind: AgentKind,
    pub model: Arc<dyn ChatModel>,
    pub tools: Arc<ToolBox>,
    pub config: AgentLoopConfig,
}

/// State: the arguments and the cancellation handles of running work.
#[derive(Debug)]
pub struct SpecialistState {
    args: SpecialistArgs,
    running: HashMap<InvestigationId, CancellationToken>,
}

/// The specialist actor.
#[derive(Debug, Default)]
pub struct Specialist;

impl Actor for Specialist {
    type Msg = SpecialistMsg;
    type State = SpecialistState;
    type Arguments = SpecialistArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SpecialistState {
            args,
            running: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SpecialistMsg::Investigate(envelope, reply) => {
                let token = CancellationToken::new();
                state
                    .running
                    .insert(envelope.investigation_id.clone(), token.clone());
                start(myself, state.args.clone(), *envelope, reply, token);
            }
            SpecialistMsg::Cancel(id) => {
                if let Some(token) = state.running.remove(&id) {
                    token.cancel();
                }
            }
            SpecialistMsg::Finished(id) => {
                state.running.remove(&id);
            }
            SpecialistMsg::Faulted(id, message) => {
                state.running.remove(&id);
                return Err(format!(
                    "{} agent task for {id} panicked: {message}",
                    state.args.kind
                )
                .into());
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for token in state.running.values() {
            token.cancel();
        }
        Ok(())
    }
}

/// Spawns the work for one request. The work runs in an inner task so a panic is observed here, answered,
/// and reported to the actor as a fault.
fn start(
    myself: ActorRef<SpecialistMsg>,
    args: SpecialistArgs,
    envelope: Envelope<AgentTask>,
    reply: RpcReplyPort<AgentReply>,
    token: CancellationToken,
) {
    let kind = args.kind;
    let id = envelope.investigation_id.clone();
    let progress = envelope.body.progress.clone();
    let deadline = envelope.deadline;
    let budget = envelope.budget.clone();
    let agent_span = span::agent_execute(kind.as_str(), id.as_str());
    envelope.trace.attach(&agent_span);
    // The task says who asked; the W3C baggage is the fallback for callers that leave it empty.
    let user = Some(envelope.body.user_id.clone())
        .filter(|u| !u.is_empty())
        .or_else(|| envelope.trace.baggage_entries().remove(attr::USER_ID))
        .unwrap_or_default();

    // Root fields of the agent's metric lines, so Logs Insights can group them by investigation and trace.
    let investigation_id = id.to_string();
    let trace_hex = envelope.trace.trace_id();

    let work = {
        let span = agent_span.clone();
        async move {
            let _active = ActiveRun::start(kind);
            progress.emit(ProgressEvent::AgentStarted { agent: kind });
            let run = run_agent(
                kind,
                args.model.as_ref(),
                &args.tools,
                &envelope.body,
                &args.config,
                deadline,
                &budget,
            );
            let started = std::time::Instant::now();
            let result = tokio::select! {
                result = tokio::time::timeout_at(deadline.into(), run) => match result {
                    Ok(result) => result,
                    Err(_) => Err(AgentError::DeadlineExceeded { agent: kind, elapsed: started.elapsed() }),
                },
                () = token.cancelled() => Err(AgentError::Cancelled { agent: kind }),
            };
            let [investigation, trace] =
                metric::investigation_properties(&investigation_id, trace_hex.as_deref());
            if let Err(e) = &result {
                span::record_error(&span, e.error_type(), &e.to_string());
                let dims = [
                    (dim::COMPONENT, "agent"),
                    (dim::ERROR_TYPE, e.error_type()),
                    investigation,
                    trace,
                ];
                metric::record(MetricId::Errors, 1.0, &dims);
            }
            let dims = [
                (dim::AGENT_NAME, kind.as_str()),
                (dim::USER_ID, user.as_str()),
                investigation,
                trace,
            ];
            metric::record(
                MetricId::AgentInvocation,
                started.elapsed().as_secs_f64() * 1000.0,
                &dims,
            );
            progress.emit(finished_event(kind, &result, started.elapsed()));
            result
        }
        .instrument(agent_span.clone())
    };

    tokio::spawn(async move {
        let (result, fault) = match tokio::spawn(work).await {
            Ok(result) => (result, None),
            Err(join_error) => {
                let message = panic_message(join_error);
                span::record_error(&agent_span, "agent_crashed", &message);
                (
                    Err(AgentError::Crashed {
                        agent: kind,
                        message: message.clone(),
                    }),
                    Some(message),
                )
            }
        };
        // A child span keeps its parent open: release the agent span before the supervisor gets the reply,
        // so the investigation's root span ends (and can be flushed) as soon as the investigation does.
        drop(agent_span);
        // The requester may have given up (its own deadline); nothing to do then.
        let _ = reply.send(result);
        let _ = match fault {
            None => myself.cast(SpecialistMsg::Finished(id)),
            Some(message) => myself.cast(SpecialistMsg::Faulted(id, message)),
        };
    });
}

/// Counts a run in `ActiveAgentRuns` for as long as it lives, panics included.
struct ActiveRun(AgentKind);

impl ActiveRun {
    fn start(kind: AgentKind) -> Self {
        metric::record(
            MetricId::ActiveAgentRuns,
            1.0,
            &[(dim::AGENT_NAME, kind.as_str())],
        );
        Self(kind)
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        metric::record(
            MetricId::ActiveAgentRuns,
            -1.0,
            &[(dim::AGENT_NAME, self.0.as_str())],
        );
    }
}

fn finished_event(
    kind: AgentKind,
    result: &AgentReply,
    duration: std::time::Duration,
) -> ProgressEvent {
    match result {
        Ok(report) => ProgressEvent::AgentFinished {
            agent: kind,
            duration,
            findings: report.findings.len(),
            tool_calls: report.tool_calls.len(),
            error: None,
        },
        Err(e) => ProgressEvent::AgentFinished {
            agent: kind,
            duration,
            findings: 0,
            tool_calls: 0,
            error: Some(e.to_string()),
        },
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    if error.is_cancelled() {
        return "task cancelled".to_owned();
    }
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned()),
        Err(e) => e.to_string(),
    }
}
