//! Errors of the supervisor crate, by operation family.

use std::path::PathBuf;

/// Why an investigation produced no report.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvestigationError {
    /// The request itself is unusable (empty or oversized question, bad ids).
    #[error("{0}")]
    InvalidRequest(String),
    /// The investigation was cancelled.
    #[error("investigation {0} was cancelled")]
    Cancelled(String),
    /// No specialist could run and nothing could be concluded.
    #[error("investigation failed: {0}")]
    Failed(String),
}

/// Why the application could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A command-line value is unusable; exit code 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Telemetry(#[from] sre_telemetry::TelemetryError),
    #[error("cannot start the {what}: {message}")]
    Startup { what: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Investigation(#[from] InvestigationError),
    /// A trace command could not answer (`traces list|show|service-map`).
    #[error(transparent)]
    Trace(#[from] crate::traces::TraceError),
}

impl AppError {
    /// Process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) => 2,
            AppError::Investigation(InvestigationError::InvalidRequest(_)) => 2,
            AppError::Trace(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}
