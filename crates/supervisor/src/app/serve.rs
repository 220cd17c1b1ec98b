//! `sre-agent serve`: the agent as an HTTP service with the Amazon Bedrock AgentCore Runtime contract —
//! `POST /invocations` runs one investigation and answers with its report, `GET /ping` reports health
//! (`Healthy`, or `HealthyBusy` while investigations run). One system (supervisor, specialists, tool
//! clients, memory) serves every request; concurrent requests investigate concurrently. An inbound W3C
//! `traceparent` / `baggage` makes the investigation part of the caller's trace.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use sre_agents::progress::ProgressSink;
use sre_memory::{SessionId, UserId};
use sre_telemetry::TraceCarrier;

use crate::{
    cli::AgentServeArgs,
    config::AppConfig,
    error::{AppError, InvestigationError},
    investigation::InvestigationRequest,
    system::System,
};

/// Header with which AgentCore Runtime names the session of an invocation.
pub const SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";
/// Largest request body accepted (a question is at most a few kilobytes).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The body of `POST /invocations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    /// The question.
    pub prompt: String,
    /// Who asks (default: the server's `--user-id`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The session (default: the AgentCore session header, else a new one).
    #[serde(default)]
    pub session_id: Option<String>,
}

/// The answer of `POST /invocations`.
#[derive(Debug, Serialize)]
pub struct InvocationReply {
    pub investigation_id: String,
    pub trace_id: Option<String>,
    pub xray_trace_id: Option<String>,
    pub severity: String,
    pub partial: bool,
    pub root_cause: String,
    /// The Markdown report, as `--prompt` prints it.
    pub report: String,
}

#[derive(Clone)]
struct ServeState {
    system: Arc<System>,
    default_user: UserId,
    active: Arc<AtomicUsize>,
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(
    system: System,
    config: &AppConfig,
    args: &AgentServeArgs,
) -> Result<(), AppError> {
    let address = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| AppError::Startup {
            what: format!("the HTTP listener on {address}"),
            message: e.to_string(),
        })?;
    let bound = listener.local_addr().unwrap_or(address);
    let shutdown = sre_mcp_backends::host::shutdown_on_signal().map_err(|e| AppError::Startup {
        what: "signal handler".into(),
        message: e.to_string(),
    })?;
    let system = Arc::new(system);
    let app = router(ServeState {
        system: Arc::clone(&system),
        default_user: config.user_id.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    });
    eprintln!(
        "sre-agent serving POST http://{bound}/invocations and GET http://{bound}/ping until SIGTERM or Ctrl-C"
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| AppError::Startup {
            what: "the HTTP server".into(),
            message: e.to_string(),
        });
    if let Ok(system) = Arc::try_unwrap(system) {
        system.shutdown().await;
    }
    served
}

fn router(state: ServeState) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/invocations", post(invoke))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn ping(State(state): State<ServeState>) -> Json<serde_json::Value> {
    let status = if state.active.load(Ordering::Relaxed) > 0 {
        "HealthyBusy"
    } else {
        "Healthy"
    };
    Json(serde_json::json!({
        "status": status,
        "time_of_last_update": chrono::Utc::now().timestamp(),
    }))
}

/// A `{"error": ...}` answer.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn invoke(
    State(state): State<ServeState>,
    headers: HeaderMap,
    body: Result<Json<Invocation>, JsonRejection>,
) -> Response {
    let Json(invocation) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return refuse(
                rejection.status(),
                format!(
                    "{}; expected {{\"prompt\": \"...\", \"user_id\"?: \"...\", \"session_id\"?: \"...\"}}",
                    rejection.body_text()
                ),
            );
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let user_id = match invocation.user_id.as_deref() {
        None => state.default_user.clone(),
        Some(id) => match UserId::parse(id) {
            Ok(id) => id,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("user_id: {e}")),
        },
    };
    let session_id = match invocation.session_id.as_deref().or(header(SESSION_HEADER)) {
        None => match SessionId::parse(&format!("session-{}", uuid_like())) {
            Ok(id) => id,
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        Some(id) => match SessionId::parse(id) {
            Ok(id) => id,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("session_id: {e}")),
        },
    };
    let upstream = TraceCarrier::from_parts(
        header("traceparent"),
        header("tracestate"),
        header("baggage"),
    );
    let request = InvestigationRequest {
        question: invocation.prompt,
        user_id,
        session_id,
        history: Vec::new(),
        progress: ProgressSink::none(),
    };
    state.active.fetch_add(1, Ordering::Relaxed);
    let result = state
        .system
        .investigate_under(request, Some(upstream))
        .await;
    state.active.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(report) => Json(InvocationReply {
            investigation_id: report.id.to_string(),
            xray_trace_id: report.xray_trace_id(),
            trace_id: report.trace_id.clone(),
            severity: report.assessment.severity.to_string(),
            partial: report.partial,
            root_cause: report.assessment.root_cause.clone(),
            report: report.to_markdown(),
        })
        .into_response(),
        Err(InvestigationError::InvalidRequest(message)) => {
            refuse(StatusCode::BAD_REQUEST, message)
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A fresh session id suffix: the invocation time and a process-wide counter.
fn uuid_like() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
