//! One investigation, end to end: analyse the question, route, fan out to the specialists in parallel,
//! aggregate — all under the `sre.investigation` root span.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::future::join_all;
use ractor::{ActorRef, rpc::CallResult};
use sre_agents::{
    model::{ChatModel, TokenUsage},
    progress::{ProgressEvent, ProgressSink},
    protocol::{AgentError, AgentKind, AgentOutcome, AgentTask, Envelope},
    specialist::SpecialistMsg,
};
use sre_memory::{KnowledgeKind, Memory, MemoryContext, SessionId, UserId};
use sre_telemetry::{
    convention::attr,
    metric::{self, MetricId, dim},
    span,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    aggregation,
    error::InvestigationError,
    knowledge,
    personalization::Personalization,
    report::{AgentSection, InvestigationReport},
    routing,
    supervisor::{InvestigationReply, SupervisorMsg},
};

/// Largest accepted question, in bytes.
pub const MAX_QUESTION_BYTES: usize = 16 * 1024;

/// Time kept back from the specialists' deadline for the final assessment.
const AGGREGATION_RESERVE: Duration = Duration::from_secs(5);

/// What the user asks.
#[derive(Debug, Clone)]
pub struct InvestigationRequest {
    pub question: String,
    pub user_id: UserId,
    pub session_id: SessionId,
    /// Earlier turns of this session, oldest first ("Q: ... → root cause: ...").
    pub history: Vec<String>,
    pub progress: ProgressSink,
}

/// Checks a question before anything runs: not blank, not larger than [`MAX_QUESTION_BYTES`].
pub fn validate_question(question: &str) -> Result<(), InvestigationError> {
    if question.trim().is_empty() {
        return Err(InvestigationError::InvalidRequest(
            "the question is empty; describe the incident, e.g. --prompt \"Why are the database pods crash looping?\"".into(),
        ));
    }
    if question.len() > MAX_QUESTION_BYTES {
        return Err(InvestigationError::InvalidRequest(format!(
            "the question is {} bytes; the limit is {} bytes (16 KiB). Summarise the incident and attach details as context instead",
            question.len(),
            MAX_QUESTION_BYTES
        )));
    }
    Ok(())
}

/// Runs one investigation and records its `InvestigationRequests` and `InvestigationDuration` (by outcome:
/// `success`, `partial`, `invalid`, `cancelled`, `failure`) and, when it fails, an `Errors` data point.
pub(crate) async fn run_investigation(
    supervisor: ActorRef<SupervisorMsg>,
    model: Arc<dyn ChatModel>,
    memory: Option<Arc<Memory>>,
    envelope: Envelope<InvestigationRequest>,
    cancel: CancellationToken,
) -> InvestigationReply {
    let started = std::time::Instant::now();
    let id = envelope.investigation_id.to_string();
    let reply = investigate(supervisor, model, memory, envelope, cancel).await;
    let (outcome, error_type) = match &reply {
        Ok(report) if report.partial => ("partial", None),
        Ok(_) => ("success", None),
        Err(InvestigationError::InvalidRequest(_)) => ("invalid", Some("invalid_request")),
        Err(InvestigationError::Cancelled(_)) => ("cancelled", Some("cancelled")),
        Err(InvestigationError::Failed(_)) => ("failure", Some("all_agents_failed")),
    };
    let trace_id = reply.as_ref().ok().and_then(|r| r.trace_id.as_deref());
    let [investigation, trace] = metric::investigation_properties(&id, trace_id);
    let dims = [(dim::OUTCOME, outcome), investigation, trace];
    metric::record(MetricId::InvestigationRequests, 1.0, &dims);
    metric::record(
        MetricId::InvestigationDuration,
        started.elapsed().as_secs_f64() * 1000.0,
        &dims,
    );
    if let Some(error_type) = error_type {
        metric::record(
            MetricId::Errors,
            1.0,
            &[
                (dim::COMPONENT, "supervisor"),
                (dim::ERROR_TYPE, error_type),
            ],
        );
    }
    reply
}

async fn investigate(
    supervisor: ActorRef<SupervisorMsg>,
    model: Arc<dyn ChatModel>,
    memory: Option<Arc<Memory>>,
    envelope: Envelope<InvestigationRequest>,
    cancel: CancellationToken,
) -> InvestigationReply {
    let request = &envelope.body;
    validate_question(&request.question)?;
    let id = envelope.investigation_id.clone();
    let root = span::investigation(
        &envelope.trace,
        id.as_str(),
        request.user_id.as_str(),
        request.session_id.as_str(),
        &request.question,
    );
    // Only a recorded trace is worth pointing at (report, memory, metric lines).
    let trace_id = span::recorded_trace_id(&root).map(|t| t.to_string());
    let run = async {
        let started_at = Utc::now();
        let started = std::time::Instant::now();

        // Memory is read concurrently (three strategies) inside the analysis step.
        let recalled = match &memory {
            Some(memory) => Some(
                memory
                    .retrieve_context(&request.user_id, &request.session_id, &request.question)
                    .instrument(span::analyze_query())
                    .await,
            ),
            None => {
                let _analyze = span::analyze_query().entered();
                None
            }
        };
        let context = analyze_query(request, recalled.as_ref());

        // One token budget for the whole investigation: the planner, every specialist and the summary.
        let budget = envelope.budget.clone();
        let mut supervisor_usage = TokenUsage::default();
        let plan = {
            let route_span = span::route_decision();
            let (plan, usage) = routing::route(model.as_ref(), &request.question, &context)
                .instrument(route_span.clone())
                .await;
            supervisor_usage += usage;
            budget.charge(&usage);
            route_span.record(attr::SRE_ROUTING_REASON, plan.reason.as_str());
            span::set_string_list(
                &route_span,
                attr::SRE_AGENTS_SELECTED,
                plan.agents.iter().map(|a| a.to_string()),
            );
            span::set_string_list(
                &tracing::Span::current(),
                attr::SRE_AGENTS_SELECTED,
                plan.agents.iter().map(|a| a.to_string()),
            );
            plan
        };
        request.progress.emit(ProgressEvent::Routed {
            agents: plan.agents.clone(),
            reason: plan.reason.clone(),
        });

        let specialist_deadline = envelope
            .deadline
            .checked_sub(AGGREGATION_RESERVE)
            .filter(|d| *d > std::time::Instant::now())
            .unwrap_or(envelope.deadline);
        let asks = plan.agents.iter().map(|&kind| {
            let task = Envelope::new(
                id.clone(),
                specialist_deadline,
                AgentTask {
                    question: request.question.clone(),
                    context: context_for(kind, request, recalled.as_ref()),
                    progress: request.progress.clone(),
                    user_id: request.user_id.to_string(),
                    investigation_id: id.to_string(),
                },
            )
            .with_budget(budget.clone());
            let supervisor = supervisor.clone();
            async move {
                AgentSection {
                    kind,
                    result: ask(&supervisor, kind, task).await,
                }
            }
        });
        let sections = tokio::select! {
            sections = join_all(asks) => sections,
            () = cancel.cancelled() => return Err(InvestigationError::Cancelled(id.to_string())),
        };

        request.progress.emit(ProgressEvent::Aggregating);
        // A budget used up before the summary leaves the conclusion to the findings alone.
        let summary_skipped = budget.is_exhausted();
        let assessment = {
            let aggregate_span = span::aggregate_results(sections.len());
            let (assessment, usage) =
                aggregation::assess(model.as_ref(), &request.question, &sections, &budget)
                    .instrument(aggregate_span.clone())
                    .await;
            supervisor_usage += usage;
            budget.charge(&usage);
            let findings: usize = sections
                .iter()
                .filter_map(|s| s.result.as_ref().ok())
                .map(|r| r.findings.len())
                .sum();
            aggregate_span.record(attr::SRE_FINDINGS_COUNT, findings as i64);
            aggregate_span.record(attr::SRE_SEVERITY, assessment.severity.as_str());
            assessment
        };

        let partial = summary_skipped
            || sections.iter().any(|s| match &s.result {
                Ok(report) => report.outcome == AgentOutcome::Partial,
                Err(_) => true,
            });
        if sections.iter().all(|s| s.result.is_err()) {
            let reasons: Vec<String> = sections
                .iter()
                .filter_map(|s| s.result.as_ref().err().map(ToString::to_string))
                .collect();
            let message = format!("no specialist produced a report: {}", reasons.join("; "));
            span::record_error(&tracing::Span::current(), "all_agents_failed", &message);
            return Err(InvestigationError::Failed(message));
        }
        let current = tracing::Span::current();
        current.record(attr::SRE_SEVERITY, assessment.severity.as_str());
        current.record(attr::SRE_PARTIAL, partial);
        current.record(
            attr::SRE_OUTCOME,
            if partial { "partial" } else { "complete" },
        );

        let personalization =
            Personalization::decide(recalled.as_ref(), assessment.severity, Utc::now());
        if personalization.escalation.escalate {
            let escalation = &personalization.escalation;
            let escalate_span = span::escalate(escalation.escalation_type.as_str());
            metric::record(
                MetricId::EscalationTriggered,
                1.0,
                &[
                    (dim::USER_ID, request.user_id.as_str()),
                    (dim::ESCALATION_TYPE, escalation.escalation_type.as_str()),
                ],
            );
            span::add_event(
                &escalate_span,
                "escalation.decided",
                &[
                    ("contacts", escalation.contacts.join(", ")),
                    ("channels", escalation.channels.join(", ")),
                    ("reason", escalation.reason.clone()),
                ],
            );
        }
        if let Some(memory) = &memory {
            let learned = Learned {
                assessment: &assessment,
                sections: &sections,
                trace_id: trace_id.as_deref(),
                started_at,
            };
            remember(memory, request, id.as_str(), learned).await;
        }

        Ok(InvestigationReport {
            id: id.clone(),
            question: request.question.clone(),
            user_id: request.user_id.to_string(),
            session_id: request.session_id.to_string(),
            trace_id: trace_id.clone(),
            started_at,
            duration: started.elapsed(),
            provider: format!("{}/{}", model.provider(), model.model()),
            plan,
            assessment,
            agents: sections,
            partial,
            supervisor_usage,
            budget,
            personalization,
        })
    };
    run.instrument(root).await
}

/// What the supervisor knows before routing: earlier turns of the session and everything memory recalled.
fn analyze_query(request: &InvestigationRequest, recalled: Option<&MemoryContext>) -> Vec<String> {
    let mut context = session_turns(request);
    if let Some(recalled) = recalled {
        context.extend(recalled.prompt_lines());
    }
    context
}

fn session_turns(request: &InvestigationRequest) -> Vec<String> {
    request
        .history
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|turn| format!("Earlier in this session: {turn}"))
        .collect()
}

/// What one specialist is told: the session's turns, and the remembered knowledge of its domain —
/// dependencies for the logs and Kubernetes agents, configuration for Kubernetes, baselines for metrics —
/// plus what that agent itself established before. Runbooks get past investigations (their fixes).
fn context_for(
    kind: AgentKind,
    request: &InvestigationRequest,
    recalled: Option<&MemoryContext>,
) -> Vec<String> {
    let mut context = session_turns(request);
    let Some(recalled) = recalled else {
        return context;
    };
    for record in &recalled.knowledge {
        let fact = &record.body;
        let relevant = fact.source_agent == kind.service_name()
            || match fact.kind {
                KnowledgeKind::Dependency => {
                    matches!(kind, AgentKind::Logs | AgentKind::Kubernetes)
                }
                KnowledgeKind::Config => kind == AgentKind::Kubernetes,
                KnowledgeKind::Baseline => kind == AgentKind::Metrics,
                KnowledgeKind::Pattern => true,
            };
        if relevant {
            context.push(format!("Known infrastructure: {}", fact.describe()));
        }
    }
    if kind == AgentKind::Runbooks {
        context.extend(
            recalled
                .investigations
                .iter()
                .map(|i| format!("Past investigation: {}", i.body.describe())),
        );
    }
    context
}

/// What an investigation produced that memory keeps.
struct Learned<'a> {
    assessment: &'a sre_agents::finding::Assessment,
    sections: &'a [AgentSection],
    trace_id: Option<&'a str>,
    started_at: chrono::DateTime<Utc>,
}

/// Saves the investigation and the facts it established. A failure is logged and costs only the memory.
async fn remember(memory: &Memory, request: &InvestigationRequest, id: &str, learned: Learned<'_>) {
    let Learned {
        assessment,
        sections,
        trace_id,
        started_at,
    } = learned;
    let summary = knowledge::summary(id, &request.question, assessment, trace_id, started_at);
    if let Err(e) = memory
        .save_investigation(&request.user_id, &request.session_id, &summary)
        .await
    {
        tracing::warn!("could not save investigation {id} to memory: {e}");
    }
    let facts = knowledge::facts(sections, id);
    if !facts.is_empty()
        && let Err(e) = memory
            .save_knowledge(&request.user_id, &request.session_id, &facts)
            .await
    {
        tracing::warn!("could not save what investigation {id} learned to memory: {e}");
    }
}

/// Asks one specialist and waits for its reply within the envelope's deadline.
async fn ask(
    supervisor: &ActorRef<SupervisorMsg>,
    kind: AgentKind,
    task: Envelope<AgentTask>,
) -> Result<sre_agents::protocol::AgentReport, AgentError> {
    let down = |message: String| AgentError::Crashed {
        agent: kind,
        message,
    };
    let specialist = ractor::call!(supervisor, SupervisorMsg::Specialist, kind)
        .map_err(|e| down(format!("the supervisor did not answer: {e}")))?
        .ok_or_else(|| down("the agent is down after repeated crashes".into()))?;
    let timeout = task.remaining();
    let started = std::time::Instant::now();
    match specialist
        .call(
            |port| SpecialistMsg::Investigate(Box::new(task), port),
            Some(timeout),
        )
        .await
    {
        Ok(CallResult::Success(reply)) => reply,
        Ok(CallResult::Timeout) => Err(AgentError::DeadlineExceeded {
            agent: kind,
            elapsed: started.elapsed(),
        }),
        Ok(CallResult::SenderError) => Err(down("the agent stopped before answering".into())),
        Err(e) => Err(down(format!("the agent could not be reached: {e}"))),
    }
}
