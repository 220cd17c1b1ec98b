//! Installs the process-wide telemetry pipeline once (tracing subscriber + OpenTelemetry provider) and
//! flushes it on shutdown.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use opentelemetry::{Context, KeyValue, baggage::BaggageExt, trace::TracerProvider as _};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SdkTracerProvider, Span, SpanData, SpanProcessor, TracerProviderBuilder},
};
use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, filter::Targets, layer::SubscriberExt, registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::{
    TelemetryConfig, TelemetryError,
    convention::attr,
    exporter::{ConsoleExporter, OtlpJsonFileExporter},
};

/// Longest time shutdown waits for exporters, so a stuck exporter cannot hang the process.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the pipeline alive; [`TelemetryGuard::shutdown`] (or drop) flushes every pending span.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    trace_file: Option<PathBuf>,
    shut_down: bool,
}

impl TelemetryGuard {
    /// The OTLP-JSON lines file spans are written to, if the file exporter is on.
    pub fn trace_file(&self) -> Option<&Path> {
        self.trace_file.as_deref()
    }

    /// Exports every finished span now. Blocking: from async code call it via `spawn_blocking`.
    pub fn flush(&self) -> OTelSdkResult {
        self.provider.force_flush()
    }

    /// Flushes and stops the exporters, waiting at most [`SHUTDOWN_TIMEOUT`].
    pub fn shutdown(mut self) -> OTelSdkResult {
        self.shut_down = true;
        self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if !self.shut_down {
            let _ = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

/// Installs the global tracing subscriber for this process: human-readable logs on stderr filtered by
/// `RUST_LOG` (else `config.log_filter`), and every sre span exported as configured.
pub fn install(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let mut builder = provider_builder(config);
    if let Some(path) = &config.trace_file {
        builder = builder.with_batch_exporter(OtlpJsonFileExporter::create(path)?);
    }
    if config.console {
        builder = builder.with_batch_exporter(ConsoleExporter);
    }
    let provider = builder.build();

    let log_filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .map_err(|e| TelemetryError::InvalidSetting {
            variable: "RUST_LOG",
            value: config.log_filter.clone(),
            reason: e.to_string(),
        })?;
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(log_filter);
    tracing_subscriber::registry()
        .with(otel_layer(&provider, &config.service_name))
        .with(logs)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;

    Ok(TelemetryGuard {
        provider,
        trace_file: config.trace_file.clone(),
        shut_down: false,
    })
}

/// The provider every pipeline shares: X-Ray-compatible ids, the service resource, baggage-to-attribute copy.
pub(crate) fn provider_builder(config: &TelemetryConfig) -> TracerProviderBuilder {
    SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_resource(resource(config))
        .with_span_processor(BaggageAttributes)
}

/// The OpenTelemetry layer, limited to sre spans at INFO and above so dependency internals stay out of traces.
pub(crate) fn otel_layer<S>(provider: &SdkTracerProvider, scope: &str) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let targets = Targets::new()
        .with_target("sre_telemetry", tracing::Level::INFO)
        .with_target("sre_memory", tracing::Level::INFO)
        .with_target("sre_mcp_backends", tracing::Level::INFO)
        .with_target("sre_agents", tracing::Level::INFO)
        .with_target("sre_supervisor", tracing::Level::INFO);
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(scope.to_owned()))
        .with_filter(targets)
}

fn resource(config: &TelemetryConfig) -> Resource {
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("deployment.environment", config.environment.clone()),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .build()
}

/// Copies the investigation's `session.id` and `user.id` baggage onto every span that starts under it,
/// and mirrors the session as `gen_ai.conversation.id`.
#[derive(Debug)]
struct BaggageAttributes;

impl SpanProcessor for BaggageAttributes {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        let baggage = cx.baggage();
        if let Some(session) = baggage.get(attr::SESSION_ID) {
            span.set_attribute(KeyValue::new(attr::SESSION_ID, session.clone()));
            span.set_attribute(KeyValue::new(attr::GEN_AI_CONVERSATION_ID, session.clone()));
        }
        if let Some(user) = baggage.get(attr::USER_ID) {
            span.set_attribute(KeyValue::new(attr::USER_ID, user.clone()));
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
