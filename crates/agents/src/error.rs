//! Errors of the agents crate, one enum per operation family.

use std::time::Duration;

/// Why a tool call produced no tool output. (A tool that answers with an error result is not a `ToolError`:
/// that answer goes back to the model.)
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    /// The backend could not be reached (refused, DNS, TLS, reset before a response).
    #[error("{backend} at {url} is unreachable: {message}")]
    Unreachable {
        backend: String,
        url: String,
        message: String,
    },
    /// No answer within the per-call timeout.
    #[error("{backend} did not answer {tool} within {after:?}")]
    Timeout {
        backend: String,
        tool: String,
        after: Duration,
    },
    /// The backend answered with a protocol-level error (unknown tool, invalid parameters, HTTP 5xx, ...).
    #[error("{backend} rejected {tool}: {message}")]
    Rejected {
        backend: String,
        tool: String,
        kind: RejectKind,
        message: String,
    },
    /// No backend serves this tool.
    #[error("no backend offers tool {tool:?}")]
    UnknownTool { tool: String },
    /// The backend's circuit breaker is open after repeated failures; nothing was sent.
    #[error("{backend} is failing: its circuit breaker is open (next probe in {retry_in:?})")]
    CircuitOpen { backend: String, retry_in: Duration },
    /// Credentials for the backend are missing, refused or could not be obtained.
    #[error("{backend} refused our credentials: {message}")]
    Unauthorized { backend: String, message: String },
    /// Every attempt failed, or the circuit breaker opened and refused the retries (`breaker_opened`);
    /// `attempts` counts the attempts actually sent, `last` is the final failure of one of them.
    #[error("{tool} on {backend} failed after {}: {last}", attempts_text(*attempts, *breaker_opened))]
    GaveUp {
        backend: String,
        tool: String,
        attempts: u32,
        breaker_opened: bool,
        last: Box<ToolError>,
    },
}

/// "3 attempts", or "1 attempt (the circuit breaker then opened and refused the retry)".
pub(crate) fn attempts_text(attempts: u32, breaker_opened: bool) -> String {
    let plural = if attempts == 1 { "" } else { "s" };
    if breaker_opened {
        format!(
            "{attempts} attempt{plural} (the circuit breaker then opened and refused the retry)"
        )
    } else {
        format!("{attempts} attempt{plural}")
    }
}

/// Sub-kinds of [`ToolError::Rejected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// JSON-RPC invalid params (the arguments do not fit the tool's schema).
    InvalidParams,
    /// JSON-RPC method or tool not found.
    NotFound,
    /// HTTP 5xx or an internal server error.
    ServerError,
    /// Anything else the protocol reported.
    Protocol,
}

impl ToolError {
    /// Low-cardinality `error.type` for spans and metrics.
    pub fn error_type(&self) -> &'static str {
        match self {
            ToolError::Unreachable { message, .. } if message.contains("refused") => {
                "connection_refused"
            }
            ToolError::Unreachable { .. } => "unreachable",
            ToolError::Timeout { .. } => "timeout",
            ToolError::Rejected {
                kind: RejectKind::InvalidParams,
                ..
            } => "invalid_params",
            ToolError::Rejected {
                kind: RejectKind::NotFound,
                ..
            } => "tool_not_found",
            ToolError::Rejected {
                kind: RejectKind::ServerError,
                ..
            } => "server_error",
            ToolError::Rejected {
                kind: RejectKind::Protocol,
                ..
            } => "protocol_error",
            ToolError::UnknownTool { .. } => "tool_not_found",
            ToolError::CircuitOpen { .. } => "circuit_open",
            ToolError::Unauthorized { .. } => "unauthorized",
            ToolError::GaveUp { last, .. } => last.error_type(),
        }
    }

    /// True when another attempt may succeed: the connection failed, the call timed out, or the server erred.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ToolError::Unreachable { .. }
                | ToolError::Timeout { .. }
                | ToolError::Rejected {
                    kind: RejectKind::ServerError,
                    ..
                }
        )
    }

    /// True when the backend itself is down or slow, as opposed to a bad request.
    pub fn is_backend_failure(&self) -> bool {
        matches!(
            self,
            ToolError::Unreachable { .. }
                | ToolError::Timeout { .. }
                | ToolError::Rejected {
                    kind: RejectKind::ServerError,
                    ..
                }
        )
    }
}
