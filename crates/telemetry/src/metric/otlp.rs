//! OTLP metrics: each batch is replayed into OpenTelemetry SDK instruments (named like the CloudWatch
//! metrics, attributes named like the dimensions) and pushed with `opentelemetry-otlp` (gRPC or HTTP/protobuf).

use std::{collections::HashMap, time::Duration};

use opentelemetry::{
    KeyValue,
    metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _},
};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    metrics::{
        PeriodicReader, SdkMeterProvider, Temporality, data::ResourceMetrics,
        exporter::PushMetricExporter,
    },
};
use tokio::runtime::Handle;

use super::{
    batch::{MetricBatch, PointValue},
    catalog::{Kind, MetricId},
    sink::{MetricSink, MetricSinkError},
};
use crate::{
    TelemetryError,
    config::{OtlpConfig, OtlpProtocol},
};

/// Pushes every batch over OTLP.
pub struct OtlpMetricSink {
    provider: SdkMeterProvider,
    meter: Meter,
    instruments: HashMap<MetricId, Instrument>,
    timeout: Duration,
}

impl std::fmt::Debug for OtlpMetricSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpMetricSink").finish_non_exhaustive()
    }
}

enum Instrument {
    Counter(Counter<f64>),
    Gauge(Gauge<f64>),
    Histogram(Histogram<f64>),
}

impl OtlpMetricSink {
    /// A sink exporting to `config` with `resource`; a gRPC exporter is built on, and exports through,
    /// `runtime`.
    pub fn new(
        config: &OtlpConfig,
        resource: Resource,
        runtime: &Handle,
    ) -> Result<Self, TelemetryError> {
        let build_err = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
            exporter: "OTLP metrics",
            reason: e.to_string(),
        };
        let exporter = match config.protocol {
            OtlpProtocol::Grpc => {
                let _entered = runtime.enter();
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_metadata(crate::exporter::otlp::metadata(&config.headers)?)
                    .build()
                    .map_err(build_err)?;
                OnRuntime {
                    inner: exporter,
                    runtime: Some(runtime.clone()),
                }
            }
            OtlpProtocol::HttpProtobuf => {
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_headers(config.headers.iter().cloned().collect())
                    .build()
                    .map_err(build_err)?;
                OnRuntime {
                    inner: exporter,
                    runtime: None,
                }
            }
        };
        Ok(Self::with_exporter(exporter, resource, config.timeout))
    }

    /// A sink pushing through any metric exporter.
    pub fn with_exporter(
        exporter: impl PushMetricExporter,
        resource: Resource,
        timeout: Duration,
    ) -> Self {
        // Batches are pushed by `export` (force_flush); the periodic reader's own timer only backs it up.
        let reader = PeriodicReader::builder(exporter)
            .with_interval(Duration::from_secs(24 * 3600))
            .build();
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader)
            .build();
        let meter = provider.meter("sre-telemetry");
        Self {
            provider,
            meter,
            instruments: HashMap::new(),
            timeout,
        }
    }

    fn instrument(&mut self, id: MetricId) -> &Instrument {
        let meter = &self.meter;
        self.instruments.entry(id).or_insert_with(|| {
            let def = id.def();
            match def.kind {
                Kind::Counter => Instrument::Counter(
                    meter
                        .f64_counter(def.name)
                        .with_unit(def.unit.ucum())
                        .with_description(def.help)
                        .build(),
                ),
                Kind::Gauge | Kind::UpDownCounter => Instrument::Gauge(
                    meter
                        .f64_gauge(def.name)
                        .with_unit(def.unit.ucum())
                        .with_description(def.help)
                        .build(),
                ),
                Kind::Histogram => Instrument::Histogram(
                    meter
                        .f64_histogram(def.name)
                        .with_unit(def.unit.ucum())
                        .with_description(def.help)
                        .with_boundaries(
                            def.buckets
                                .iter()
                                .map(|b| b / def.prometheus_scale)
                                .collect(),
                        )
                        .build(),
                ),
            }
        })
    }
}

impl MetricSink for OtlpMetricSink {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
        for point in &batch.points {
            let attributes: Vec<KeyValue> = point
                .dimension_pairs()
                .map(|(k, v)| KeyValue::new(k, v.to_owned()))
                .collect();
            match (self.instrument(point.id), &point.value) {
                (Instrument::Counter(c), PointValue::Sum(v)) => c.add(*v, &attributes),
                (Instrument::Gauge(g), PointValue::Gauge(v)) => g.record(*v, &attributes),
                (Instrument::Histogram(h), PointValue::Distribution(d)) => {
                    for value in d.expanded() {
                        h.record(value, &attributes);
                    }
                }
                _ => {}
            }
        }
        self.provider
            .force_flush()
            .map_err(|e| MetricSinkError::Request {
                sink: "otlp",
                reason: e.to_string(),
            })
    }

    fn shutdown(&mut self) -> Result<(), MetricSinkError> {
        self.provider
            .shutdown_with_timeout(self.timeout)
            .map_err(|e| MetricSinkError::Request {
                sink: "otlp",
                reason: e.to_string(),
            })
    }
}

/// Runs a metric exporter's `export` on a tokio runtime when it needs one (tonic), from the reader's thread.
struct OnRuntime<E> {
    inner: E,
    runtime: Option<Handle>,
}

impl<E: PushMetricExporter> PushMetricExporter for OnRuntime<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match &self.runtime {
            Some(runtime) if Handle::try_current().is_err() => {
                runtime.block_on(self.inner.export(metrics))
            }
            _ => self.inner.export(metrics).await,
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
