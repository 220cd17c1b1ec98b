//! Metrics: the catalog ([`MetricId`], one definition per metric), the non-blocking [`Recorder`], and the
//! sinks it flushes to — CloudWatch EMF, PutMetricData, OTLP — plus Prometheus text exposition.
//!
//! Libraries call the free function [`record`]; it goes to the recorder [`crate::install`] set up, and does
//! nothing before that (like `tracing` without a subscriber).
//!
//! ```
//! use sre_telemetry::metric::{self, MetricId};
//! metric::record(MetricId::AgentInvocation, 1234.0, &[("AgentName", "kubernetes"), ("UserID", "alice")]);
//! ```

pub mod batch;
pub mod catalog;
pub mod cloudwatch;
pub mod emf;
pub mod otlp;
pub mod prometheus;
pub mod recorder;
pub mod sink;

use std::sync::OnceLock;

pub use batch::{Distribution, MetricBatch, MetricPoint, PointValue};
pub use catalog::{CATALOG, Kind, MetricDef, MetricId, Unit, dim, property};
pub use recorder::{Recorder, RecorderBuilder, RecorderStats};
pub use sink::{MetricSink, MetricSinkError};

static GLOBAL: OnceLock<Recorder> = OnceLock::new();

/// Records `value` for `id` on the process-wide recorder; a no-op before [`crate::install`].
/// See [`Recorder::record`] for the meaning of `dimensions`.
pub fn record(id: MetricId, value: f64, dimensions: &[(&str, &str)]) {
    if let Some(recorder) = GLOBAL.get() {
        recorder.record(id, value, dimensions);
    }
}

/// The `investigation_id` and `trace_id` root fields of a metric line of one investigation (EMF properties,
/// never dimensions), to append to a metric's dimension pairs. An empty or missing value is left out of the
/// line.
pub fn investigation_properties<'a>(
    investigation_id: &'a str,
    trace_id: Option<&'a str>,
) -> [(&'static str, &'a str); 2] {
    [
        (property::INVESTIGATION_ID, investigation_id),
        (property::TRACE_ID, trace_id.unwrap_or_default()),
    ]
}

/// The process-wide recorder, once installed.
pub fn global() -> Option<&'static Recorder> {
    GLOBAL.get()
}

/// Makes `recorder` the process-wide recorder. Returns false (and leaves the first one) when one is already
/// set. [`crate::install`] calls this; tests may call it directly.
pub fn set_global(recorder: Recorder) -> bool {
    GLOBAL.set(recorder).is_ok()
}

/// Prometheus text exposition of the process-wide recorder (empty before install). Serve it with
/// `Content-Type:` [`prometheus::CONTENT_TYPE`].
pub fn prometheus_text() -> String {
    GLOBAL
        .get()
        .map(Recorder::prometheus_text)
        .unwrap_or_default()
}
