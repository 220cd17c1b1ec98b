//! Observability for sre-agent: the one place that configures tracing, OpenTelemetry, structured logs and
//! metrics, names every span, attribute and metric, and carries W3C trace context across actors, tasks and
//! MCP calls.
//!
//! Libraries create spans through [`span`], record metrics with [`metric::record`] and propagate context with
//! [`TraceCarrier`]; only a binary builds a [`TelemetryConfig`] (usually [`TelemetryConfig::from_env`]), calls
//! [`install`] and keeps the returned [`TelemetryGuard`] until it has flushed.

pub mod carrier;
pub mod config;
pub mod convention;
mod doorbell;
pub mod error;
pub mod exporter;
pub mod log;
pub mod metric;
pub mod pipeline;
pub mod redact;
pub mod rotation;
pub mod span;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use carrier::TraceCarrier;
pub use config::TelemetryConfig;
pub use error::TelemetryError;
pub use pipeline::{SpanFlusher, TelemetryGuard, install};
