//! Errors raised while configuring or shutting down telemetry.

use std::path::PathBuf;

/// Failure to set up or flush the telemetry pipeline.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The trace file or its directory could not be created.
    #[error("cannot open trace file {path}: {source}")]
    TraceFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A global tracing subscriber was already installed by someone else.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
    /// A configuration value could not be understood.
    #[error("invalid {variable}={value:?}: {reason}")]
    InvalidSetting {
        variable: &'static str,
        value: String,
        reason: String,
    },
}
