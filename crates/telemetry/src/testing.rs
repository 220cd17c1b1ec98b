//! Span capture for tests: a process-global subscriber that exports every sre span into memory, so tests that
//! run the whole multi-threaded system can assert on the trace. Tests filter by their own trace id. And the
//! process-wide metrics, flushed and read back as Prometheus text.

use std::{sync::OnceLock, time::Duration};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter},
};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};

use crate::{TelemetryConfig, pipeline, redact::cap_span};

/// Captured spans of this test process.
#[derive(Debug)]
pub struct SpanCapture {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
}

impl SpanCapture {
    /// Every span finished so far.
    pub fn all(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// Finished spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> Vec<SpanData> {
        self.all()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .collect()
    }
}

/// Installs (once per process) a global subscriber exporting synchronously into memory, and returns it.
///
/// Panics if another global subscriber was installed first: that is a test setup error.
pub fn capture() -> &'static SpanCapture {
    static CAPTURE: OnceLock<SpanCapture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let config = TelemetryConfig::new(crate::convention::AGENT_SERVICE_NAME, None);
        let provider = pipeline::provider_builder(
            &config,
            SimpleSpanProcessor::new(Capped {
                inner: exporter.clone(),
                limit: config.attribute_value_limit,
            }),
        )
        .build();
        #[allow(clippy::expect_used)]
        tracing_subscriber::registry()
            .with(pipeline::otel_layer(&provider, "test"))
            .try_init()
            .expect("span capture must be the first global subscriber of the test process");
        SpanCapture {
            exporter,
            _provider: provider,
        }
    })
}

/// Aggregates everything recorded so far through the process-wide recorder and returns it as Prometheus
/// text. Panics when no recorder was set (a test setup error).
pub async fn flushed_prometheus_text() -> String {
    #[allow(clippy::expect_used)]
    let recorder = crate::metric::global()
        .expect("a process-wide metric recorder is set")
        .clone();
    #[allow(clippy::expect_used)]
    tokio::task::spawn_blocking(move || {
        recorder.flush(Duration::from_secs(5));
        recorder.prometheus_text()
    })
    .await
    .expect("the flush task completes")
}

/// Applies the attribute value cap of the real pipeline before capture.
#[derive(Debug)]
struct Capped {
    inner: InMemorySpanExporter,
    limit: usize,
}

impl SpanExporter for Capped {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            cap_span(span, self.limit);
        }
        self.inner.export(batch).await
    }
}

/// Attribute value of `key` on `span` as a string, if present.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}
