//! Telemetry configuration, built once by the binary and handed to [`crate::install`].

use std::path::PathBuf;

/// What to export and how the process identifies itself.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of the resource (`sre-agent`, `k8s-backend`, ...).
    pub service_name: String,
    /// `service.version` of the resource.
    pub service_version: String,
    /// `deployment.environment` of the resource (from `ENVIRONMENT`).
    pub environment: String,
    /// OTLP-JSON lines file that receives every finished span; `None` disables the file exporter.
    pub trace_file: Option<PathBuf>,
    /// Also print a line per finished span on stderr (`--debug` / `OTEL_DEBUG=true`).
    pub console: bool,
    /// `RUST_LOG`-style directives for human-readable logs on stderr.
    pub log_filter: String,
}

impl TelemetryConfig {
    /// A configuration for `service_name` that writes spans to `trace_file` and logs warnings only.
    pub fn new(service_name: impl Into<String>, trace_file: Option<PathBuf>) -> Self {
        Self {
            service_name: service_name.into(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: "local".to_owned(),
            trace_file,
            console: false,
            log_filter: "warn".to_owned(),
        }
    }
}
