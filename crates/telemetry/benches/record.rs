//! Cost of the hot-path calls an actor makes: one metric `record`, and one span created, entered and closed
//! through the real layer stack (OpenTelemetry layer + bounded batch processor).

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use sre_telemetry::{
    TelemetryConfig,
    config::BatchConfig,
    exporter::{BatchExportProcessor, ExportRuntime},
    metric::{MetricBatch, MetricId, MetricSink, MetricSinkError, Recorder},
    pipeline::{self, resource},
};
use tracing_subscriber::layer::SubscriberExt;

/// Discards batches, so the benchmark measures recording, not I/O.
struct Discard;

impl MetricSink for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
        black_box(batch.points.len());
        Ok(())
    }
}

/// Discards spans.
#[derive(Debug)]
struct NoSpans;

impl opentelemetry_sdk::trace::SpanExporter for NoSpans {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch.len());
        Ok(())
    }
}

fn metric_record(c: &mut Criterion) {
    let recorder = Recorder::builder()
        .interval(Duration::from_millis(200))
        .sink(Box::new(Discard))
        .build()
        .expect("recorder starts");
    c.bench_function("metric record (2 dimensions)", |b| {
        b.iter(|| {
            recorder.record(
                MetricId::AgentInvocation,
                black_box(1234.0),
                &[("AgentName", "kubernetes"), ("UserID", "alice")],
            );
        })
    });
    let stats = recorder.shutdown(Duration::from_secs(5));
    println!(
        "metric record: accepted {} dropped {} (a full queue drops rather than blocks)",
        stats.accepted, stats.dropped
    );
}

fn span_lifecycle(c: &mut Criterion) {
    let config = TelemetryConfig::new("bench", None);
    let processor = BatchExportProcessor::builder(BatchConfig::default(), 4096, resource(&config))
        .exporter("discard", NoSpans, ExportRuntime::Thread)
        .expect("lane starts")
        .build();
    // The provider and layer exactly as `install` builds them (baggage copy, layer settings, sre filter).
    let provider = pipeline::provider_builder(&config, processor).build();
    let subscriber = tracing_subscriber::registry().with(pipeline::otel_layer(&provider, "bench"));
    let _default = tracing::subscriber::set_default(subscriber);
    let params = serde_json::json!({"namespace": "production"});
    c.bench_function("span (tool.{name}) create + enter + close", |b| {
        b.iter(|| {
            let span = sre_telemetry::span::tool("get_pod_status", &params);
            let _entered = span.enter();
        })
    });
    let _ = provider.shutdown();
}

criterion_group!(benches, metric_record, span_lifecycle);
criterion_main!(benches);
