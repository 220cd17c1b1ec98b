//! Observability for sre-agent: one place that configures tracing and OpenTelemetry, names every span and
//! attribute, and carries W3C trace context across actors, tasks and MCP calls.
//!
//! Libraries create spans through [`span`] and propagate context with [`TraceCarrier`]; only a binary calls
//! [`install`] and keeps the returned [`TelemetryGuard`] until it has flushed.

pub mod carrier;
pub mod config;
pub mod convention;
pub mod error;
pub mod exporter;
pub mod pipeline;
pub mod redact;
pub mod span;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use carrier::TraceCarrier;
pub use config::TelemetryConfig;
pub use error::TelemetryError;
pub use pipeline::{TelemetryGuard, install};
