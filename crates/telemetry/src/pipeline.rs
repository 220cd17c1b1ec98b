//! Installs the process-wide telemetry pipeline once — tracing subscriber (structured logs + OpenTelemetry),
//! span exporters behind bounded queues, the global context propagator, the metric recorder and its sinks —
//! and flushes it within a bounded time on shutdown.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use opentelemetry::{
    Context, KeyValue,
    baggage::BaggageExt,
    propagation::{TextMapCompositePropagator, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    propagation::{BaggagePropagator, TraceContextPropagator},
    trace::{SdkTracerProvider, Span, SpanData, SpanProcessor, TracerProviderBuilder},
};
use tokio::runtime::Handle;
use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, filter::Targets, layer::SubscriberExt, registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::{
    TelemetryConfig, TelemetryError,
    config::{EmfTarget, Propagator, XrayTarget, env},
    convention::attr,
    exporter::{
        BatchExportProcessor, ConsoleExporter, ExportRuntime, OtlpJsonFileExporter, otlp, xray,
    },
    metric::{
        self, Recorder,
        cloudwatch::CloudWatchSink,
        emf::{EmfOptions, EmfSink},
        otlp::OtlpMetricSink,
    },
};

/// Longest time shutdown waits for the span exporters, and again for the metric sinks, so a stuck exporter
/// (a collector that is down) cannot hang the process.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the pipeline alive; [`TelemetryGuard::shutdown`] (or drop) flushes every pending span and metric.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    trace_file: Option<PathBuf>,
    metric_file: Option<PathBuf>,
    recorder: Recorder,
    span_drops: Arc<AtomicU64>,
    prometheus: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    runtime: Option<tokio::runtime::Runtime>,
    shut_down: bool,
}

impl TelemetryGuard {
    /// The OTLP-JSON lines file spans are written to, if the file exporter is on.
    pub fn trace_file(&self) -> Option<&Path> {
        self.trace_file.as_deref()
    }

    /// The EMF lines file metrics are written to, if the EMF file sink is on.
    pub fn metric_file(&self) -> Option<&Path> {
        self.metric_file.as_deref()
    }

    /// The process-wide metric recorder (also reachable through [`metric::record`]).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Address of the Prometheus `/metrics` listener, if on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus.as_ref().map(|(addr, _)| *addr)
    }

    /// Spans lost so far (full queue, failed export, or shutdown out of time).
    pub fn dropped_spans(&self) -> u64 {
        self.span_drops.load(Ordering::Relaxed)
    }

    /// A handle that exports every finished span when asked, from any thread, so a flush of the spans can
    /// overlap other work (and one of the metrics, [`Recorder::flush`] on a clone of
    /// [`TelemetryGuard::recorder`]).
    pub fn span_flusher(&self) -> SpanFlusher {
        SpanFlusher(self.provider.clone())
    }

    /// Flushes and stops the span exporters, then the metric sinks, waiting at most [`SHUTDOWN_TIMEOUT`] for
    /// each. Blocking: from async code call it via `spawn_blocking`.
    pub fn shutdown(mut self) -> OTelSdkResult {
        self.stop()
    }

    fn stop(&mut self) -> OTelSdkResult {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let spans = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        // After the spans, so spans dropped at shutdown are in the last TelemetryDropped value.
        let stats = self.recorder.shutdown(SHUTDOWN_TIMEOUT);
        let lost = stats.dropped + stats.overflowed + stats.sink_dropped;
        if lost > 0 {
            tracing::warn!(
                dropped = stats.dropped,
                overflowed = stats.overflowed,
                sink_dropped = stats.sink_dropped,
                "{lost} metric value(s) were dropped"
            );
        }
        if let Some((_, task)) = self.prometheus.take() {
            task.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        spans
    }
}

/// Exports the finished spans of a pipeline on demand; see [`TelemetryGuard::span_flusher`].
#[derive(Debug, Clone)]
pub struct SpanFlusher(SdkTracerProvider);

impl SpanFlusher {
    /// Exports every span finished so far, waiting for the exporters (each within its export timeout).
    /// Blocking: from async code call it via `spawn_blocking`.
    pub fn flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Installs the global tracing subscriber and the metric recorder for this process, as `config` asks:
/// logs on stderr (JSON or text, filtered by `RUST_LOG`, else `config.log_filter`), every sre span to each
/// configured exporter, metrics to each configured sink. With `config.enabled` false (`OTEL_SDK_DISABLED`)
/// only the logs: no span recorded, no context propagated, no metric recorded.
///
/// Call it once, from `main`, preferably inside the tokio runtime (gRPC and AWS exporters run on it; without
/// one a small runtime of their own is started).
pub fn install(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (handle, owned_runtime) = match Handle::try_current() {
        Ok(handle) => (handle, None),
        Err(_) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sre-telemetry")
                .enable_all()
                .build()
                .map_err(|source| TelemetryError::Worker {
                    name: "sre-telemetry runtime".into(),
                    source,
                })?;
            (runtime.handle().clone(), Some(runtime))
        }
    };

    // Before the exporters open the local files.
    let rotation_failures = if config.enabled {
        rotate_files(config)
    } else {
        Vec::new()
    };

    // `OTEL_SDK_DISABLED=true` (or `OTEL_ENABLED=false`): no OpenTelemetry at all, as the specification asks
    // of a disabled SDK. No layer records spans, no context is propagated, no metric is recorded: the
    // actors pay nothing for telemetry they turned off. Logs stay, with the investigation, user and session
    // ids of the enclosing spans.
    let (provider, span_drops) = if config.enabled {
        let processor = span_processor(config, &handle)?;
        let span_drops = processor.dropped();
        let provider = provider_builder(config, processor).build();
        opentelemetry::global::set_text_map_propagator(propagator(&config.propagators));
        (provider, span_drops)
    } else {
        (
            SdkTracerProvider::builder().build(),
            Arc::new(AtomicU64::new(0)),
        )
    };
    crate::span::set_capture_message_content(config.capture_message_content);

    let log_filter = match std::env::var(env::RUST_LOG) {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| {
                TelemetryError::invalid(env::RUST_LOG, directives.clone(), e.to_string())
            })?,
        _ => EnvFilter::try_new(&config.log_filter).map_err(|e| {
            TelemetryError::invalid(env::RUST_LOG, config.log_filter.clone(), e.to_string())
        })?,
    };
    let (correlation, line_format) = crate::log::layers(config.log_format, config.log_ansi);
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(line_format)
        .with_filter(log_filter);
    let otel = config
        .enabled
        .then(|| otel(&provider, &config.service_name));
    if tracing_subscriber::registry()
        .with(sre_layer(Layer::and_then(otel, correlation)))
        .with(logs)
        .try_init()
        .is_err()
    {
        let _ = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        return Err(TelemetryError::AlreadyInstalled);
    }

    for failure in rotation_failures {
        tracing::warn!("{failure}");
    }

    let built = if config.enabled {
        metric_pipeline(config, &handle, Arc::clone(&span_drops))
    } else {
        Ok((Recorder::off(), None))
    };
    let (recorder, metric_file) = match built {
        Ok(built) => built,
        Err(e) => {
            let _ = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
            return Err(e);
        }
    };
    if config.enabled {
        metric::set_global(recorder.clone());
    }
    let prometheus = match &config.metrics.prometheus_listen {
        Some(listen) => Some(metric::prometheus::serve(
            recorder.clone(),
            listen,
            &handle,
        )?),
        None => None,
    };

    Ok(TelemetryGuard {
        provider,
        trace_file: config.trace_file.clone(),
        metric_file,
        recorder,
        span_drops,
        prometheus,
        runtime: owned_runtime,
        shut_down: false,
    })
}

/// Rotates the local trace and EMF files that outgrew `config.file_max_bytes` (see [`crate::rotation`]),
/// before the exporters open them. A file that cannot be rotated is not fatal (the exporter keeps appending
/// to it): the failures are returned to be logged once logging is up.
fn rotate_files(config: &TelemetryConfig) -> Vec<String> {
    let Some(max_bytes) = config.file_max_bytes else {
        return Vec::new();
    };
    let emf_file = match &config.metrics.emf {
        Some(EmfTarget::File(path)) => Some(path),
        _ => None,
    };
    config
        .trace_file
        .iter()
        .chain(emf_file)
        .filter_map(|path| {
            crate::rotation::rotate_if_larger(path, max_bytes)
                .err()
                .map(|e| format!("cannot rotate {}: {e}; it keeps growing", path.display()))
        })
        .collect()
}

/// The provider every pipeline shares: X-Ray-compatible ids, the configured sampler, the service resource,
/// and `processor` behind the baggage-to-attribute copy.
///
/// One span processor only: with several, the SDK hands each its own deep copy of every finished span.
pub fn provider_builder<P: SpanProcessor + 'static>(
    config: &TelemetryConfig,
    processor: P,
) -> TracerProviderBuilder {
    SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_sampler(config.sampler.sampler())
        .with_resource(resource(config))
        .with_span_processor(BaggageAttributes(processor))
}

/// The OpenTelemetry layer as [`install`] configures it, limited to sre spans (for tests and benchmarks
/// that build their own subscriber).
pub fn otel_layer<S>(provider: &SdkTracerProvider, scope: &str) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    sre_layer(otel(provider, scope))
}

/// The OpenTelemetry layer. No source location, thread, busy/idle timing or target attributes: they say
/// nothing about the system, were a third of the trace file, and timing every poll of every instrumented
/// future costs the actors. No context activation either: nothing here reads OpenTelemetry's thread-local
/// current context (spans, carriers and log lines go through the tracing span), and activating it on every
/// poll of every instrumented future is a clone, an attach and a detach each time.
fn otel<S>(provider: &SdkTracerProvider, scope: &str) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(scope.to_owned()))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
        .with_context_activation(false)
}

/// The spans and events of the project's own crates at INFO and above: what the OpenTelemetry layer records
/// (dependency internals stay out of traces and their trace-level callsites stay disabled).
pub fn sre_targets() -> Targets {
    Targets::new()
        .with_target("sre_telemetry", tracing::Level::INFO)
        .with_target("sre_memory", tracing::Level::INFO)
        .with_target("sre_mcp_backends", tracing::Level::INFO)
        .with_target("sre_agents", tracing::Level::INFO)
        .with_target("sre_supervisor", tracing::Level::INFO)
}

/// Limits `layer` to [`sre_targets`]. The layers that look at sre spans share this one filter: each filter
/// costs a span look-up on every enter and exit.
fn sre_layer<S, L>(layer: L) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    layer.with_filter(sre_targets())
}

/// The resource of every span and metric: service, version, environment, then `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource(config: &TelemetryConfig) -> Resource {
    let custom = config
        .resource_attributes
        .iter()
        .filter(|(k, _)| k != "service.name")
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    Resource::builder()
        .with_attributes(custom)
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("deployment.environment", config.environment.clone()),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .build()
}

/// The composite propagator `OTEL_PROPAGATORS` names.
pub fn propagator(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = propagators
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::Xray => Box::new(XrayPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

fn span_processor(
    config: &TelemetryConfig,
    handle: &Handle,
) -> Result<BatchExportProcessor, TelemetryError> {
    let mut builder = BatchExportProcessor::builder(
        config.span_batch,
        config.attribute_value_limit,
        resource(config),
    );
    if let Some(path) = &config.trace_file {
        builder = builder.exporter(
            "file",
            OtlpJsonFileExporter::create(path)?,
            ExportRuntime::Thread,
        )?;
    }
    if config.console {
        builder = builder.exporter("console", ConsoleExporter, ExportRuntime::Thread)?;
    }
    if let Some(otlp_config) = &config.otlp_traces {
        let (exporter, runtime) = otlp::span_exporter(otlp_config, handle)?;
        builder = builder.exporter("otlp", exporter, runtime)?;
    }
    match &config.xray {
        Some(XrayTarget::Daemon(address)) => {
            builder = builder.exporter(
                "xray",
                xray::daemon_exporter(*address)?,
                ExportRuntime::Thread,
            )?;
        }
        Some(XrayTarget::Api) => {
            let exporter = xray::api_exporter_from_default_chain(
                handle.clone(),
                config.span_batch.export_timeout,
            );
            builder = builder.exporter("xray", exporter, ExportRuntime::Thread)?;
        }
        None => {}
    }
    Ok(builder.build())
}

fn metric_pipeline(
    config: &TelemetryConfig,
    handle: &Handle,
    span_drops: Arc<AtomicU64>,
) -> Result<(Recorder, Option<PathBuf>), TelemetryError> {
    let m = &config.metrics;
    let mut builder = Recorder::builder()
        .interval(m.interval)
        .queue_capacity(m.queue_capacity)
        .max_user_ids(m.max_user_ids)
        .span_drops(span_drops);
    let mut metric_file = None;
    if let Some(target) = &m.emf {
        if let EmfTarget::File(path) = target {
            metric_file = Some(path.clone());
        }
        let options = EmfOptions {
            namespace: m.namespace.clone(),
            log_group: m.emf_log_group.clone(),
            log_stream: m.emf_log_stream.clone(),
        };
        builder = builder.sink(Box::new(EmfSink::new(target, options, m.export_timeout)?));
    }
    if m.put_metric_data {
        builder = builder.sink(Box::new(CloudWatchSink::from_default_chain(
            m.namespace.clone(),
            handle.clone(),
            m.export_timeout,
        )));
    }
    if let Some(otlp_config) = &m.otlp {
        builder = builder.sink(Box::new(OtlpMetricSink::new(
            otlp_config,
            resource(config),
            handle,
        )?));
    }
    Ok((builder.build()?, metric_file))
}

/// Copies the investigation's `session.id` and `user.id` baggage onto every span that starts under it,
/// mirrors the session as `gen_ai.conversation.id`, and hands every span to the wrapped processor.
#[derive(Debug)]
struct BaggageAttributes<P>(P);

impl<P: SpanProcessor> SpanProcessor for BaggageAttributes<P> {
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
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
