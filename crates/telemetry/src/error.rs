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
    /// The EMF metrics file or its directory could not be created.
    #[error("cannot open metrics file {path}: {source}")]
    MetricFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A socket an exporter needs (X-Ray daemon, CloudWatch agent, Prometheus listener) could not be opened.
    #[error("cannot open {purpose} socket for {address}: {source}")]
    Socket {
        purpose: &'static str,
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// An exporter could not be built from its configuration.
    #[error("cannot build the {exporter} exporter: {reason}")]
    Exporter {
        exporter: &'static str,
        reason: String,
    },
    /// A background thread or runtime for the exporters could not be started.
    #[error("cannot start telemetry worker {name}: {source}")]
    Worker {
        name: String,
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

impl TelemetryError {
    /// An [`TelemetryError::InvalidSetting`] for `variable` holding `value`.
    pub(crate) fn invalid(
        variable: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidSetting {
            variable,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
