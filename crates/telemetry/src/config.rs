//! Telemetry configuration, built once by the binary and handed to [`crate::install`]: either by hand with
//! [`TelemetryConfig::new`] or from the standard OpenTelemetry / AWS variables with [`TelemetryConfig::from_env`].

pub mod env;

use std::{
    net::{SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    time::Duration,
};

use crate::TelemetryError;

/// Default CloudWatch namespace of every metric.
pub const DEFAULT_NAMESPACE: &str = "SREAgent/Production";
/// Default longest attribute value kept on a span, in characters.
pub const DEFAULT_ATTRIBUTE_VALUE_LIMIT: usize = 4096;
/// Default X-Ray daemon address.
pub const DEFAULT_XRAY_DAEMON: &str = "127.0.0.1:2000";
/// Default CloudWatch agent EMF endpoint.
pub const DEFAULT_EMF_AGENT_ENDPOINT: &str = "tcp://127.0.0.1:25888";
/// Trace file under the data dir.
pub const TRACE_FILE: &str = "traces/traces.jsonl";
/// EMF metrics file under the data dir.
pub const METRIC_FILE: &str = "metrics/emf.jsonl";
/// Default size above which the local trace and EMF files are rotated when a process starts: 64 MiB, about
/// 550 investigations of spans.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 64 * 1024 * 1024;

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
    /// Size above which the trace file and the EMF file are rotated at install (see [`crate::rotation`]);
    /// `None` lets them grow (`SRE_TELEMETRY_FILE_MAX_MB=0`).
    pub file_max_bytes: Option<u64>,
    /// Also print a line per finished span on stderr (`--debug` / `OTEL_DEBUG=true`).
    pub console: bool,
    /// `RUST_LOG`-style directives for logs on stderr (a set `RUST_LOG` wins at install).
    pub log_filter: String,
    /// False turns OpenTelemetry off (`OTEL_SDK_DISABLED=true`, `OTEL_ENABLED=false`): no span recorded or
    /// exported, no context propagated, no metric recorded; logs stay.
    pub enabled: bool,
    /// Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource_attributes: Vec<(String, String)>,
    /// OTLP span export (towards an ADOT collector), if on.
    pub otlp_traces: Option<OtlpConfig>,
    /// Direct X-Ray span export, if on.
    pub xray: Option<XrayTarget>,
    /// Which traces are recorded.
    pub sampler: SamplerConfig,
    /// How context crosses process boundaries (the global text map propagator).
    pub propagators: Vec<Propagator>,
    /// Queueing and batching of every span exporter.
    pub span_batch: BatchConfig,
    /// Longest attribute value, in characters, kept on any exported span.
    pub attribute_value_limit: usize,
    /// Record tool arguments and results on spans (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`).
    pub capture_message_content: bool,
    /// Log line format on stderr.
    pub log_format: LogFormat,
    /// Colours in text logs (off with `NO_COLOR` or when stderr is not a terminal).
    pub log_ansi: bool,
    /// Metric sinks and aggregation.
    pub metrics: MetricsConfig,
}

/// One OTLP destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// Full URL: for HTTP including the signal path (`/v1/traces`), for gRPC the collector address.
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Headers (gRPC metadata) sent with every export.
    pub headers: Vec<(String, String)>,
    /// Longest time one export may take.
    pub timeout: Duration,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `grpc`
    Grpc,
    /// `http/protobuf`
    HttpProtobuf,
}

/// Where direct X-Ray export sends segment documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrayTarget {
    /// UDP datagrams to the X-Ray daemon (or the CloudWatch agent's X-Ray listener).
    Daemon(SocketAddr),
    /// `PutTraceSegments` through the AWS SDK (credentials and region from the default AWS chain).
    Api,
}

/// Sampler named by `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Record every trace.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record this fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; record every root.
    ParentBasedAlwaysOn,
    /// Follow the parent's decision; record no root.
    ParentBasedAlwaysOff,
    /// Follow the parent's decision; record this fraction of roots.
    ParentBasedTraceIdRatio(f64),
}

/// A context propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// AWS `X-Amzn-Trace-Id`.
    Xray,
}

/// Span queueing shared by every exporter (each exporter has its own queue of this size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans waiting per exporter; more are dropped and counted.
    pub max_queue_size: usize,
    /// Most spans per export.
    pub max_export_batch_size: usize,
    /// Delay between two exports.
    pub scheduled_delay: Duration,
    /// Longest time one export may take before it is given up.
    pub export_timeout: Duration,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Where EMF lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmfTarget {
    /// Standard output (Lambda, containers whose stdout goes to CloudWatch Logs).
    Stdout,
    /// Appended to a file.
    File(PathBuf),
    /// The CloudWatch agent over TCP (`host:port`).
    Tcp(String),
    /// The CloudWatch agent over UDP (`host:port`).
    Udp(String),
}

/// Metric aggregation and sinks.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// CloudWatch namespace.
    pub namespace: String,
    /// EMF sink, if on.
    pub emf: Option<EmfTarget>,
    /// `_aws.LogGroupName` of EMF lines (for the CloudWatch agent).
    pub emf_log_group: Option<String>,
    /// `_aws.LogStreamName` of EMF lines (for the CloudWatch agent).
    pub emf_log_stream: Option<String>,
    /// `PutMetricData` sink (AWS SDK, default credential chain).
    pub put_metric_data: bool,
    /// OTLP metric sink, if on.
    pub otlp: Option<OtlpConfig>,
    /// Address of a Prometheus `/metrics` listener, if on.
    pub prometheus_listen: Option<String>,
    /// Interval between two flushes to the sinks.
    pub interval: Duration,
    /// Longest time one sink export may take.
    pub export_timeout: Duration,
    /// Most distinct `UserID` dimension values; further users become `other`.
    pub max_user_ids: usize,
    /// Capacity of the recording queue.
    pub queue_capacity: usize,
}

impl TelemetryConfig {
    /// A configuration for `service_name` that writes spans to `trace_file`, logs warnings only as text, and
    /// records metrics in process (Prometheus text) without any metric sink.
    pub fn new(service_name: impl Into<String>, trace_file: Option<PathBuf>) -> Self {
        Self {
            service_name: service_name.into(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: "local".to_owned(),
            trace_file,
            file_max_bytes: Some(DEFAULT_FILE_MAX_BYTES),
            console: false,
            log_filter: "warn".to_owned(),
            enabled: true,
            resource_attributes: Vec::new(),
            otlp_traces: None,
            xray: None,
            sampler: SamplerConfig::ParentBasedAlwaysOn,
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
            span_batch: BatchConfig::default(),
            attribute_value_limit: DEFAULT_ATTRIBUTE_VALUE_LIMIT,
            capture_message_content: false,
            log_format: LogFormat::Text,
            log_ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            metrics: MetricsConfig::default(),
        }
    }

    /// The configuration the process environment asks for; see [`TelemetryConfig::from_lookup`].
    pub fn from_env(default_service_name: &str, data_dir: &Path) -> Result<Self, TelemetryError> {
        Self::from_lookup(default_service_name, data_dir, |key| {
            std::env::var(key).ok()
        })
    }

    /// The configuration the variables returned by `lookup` ask for (every key is a constant in [`env`]).
    ///
    /// With nothing set: spans go to `<data dir>/traces/traces.jsonl`, metrics to EMF lines in
    /// `<data dir>/metrics/emf.jsonl`, logs are JSON when stdout is not a terminal. Unset and empty variables
    /// are the same. A value that cannot be understood is an [`TelemetryError::InvalidSetting`] naming the
    /// variable and the value.
    pub fn from_lookup(
        default_service_name: &str,
        data_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let vars = Vars(&lookup);
        let mut config = Self::new(default_service_name, Some(data_dir.join(TRACE_FILE)));

        config.resource_attributes = match vars.get(env::OTEL_RESOURCE_ATTRIBUTES) {
            Some(raw) => parse_key_values(env::OTEL_RESOURCE_ATTRIBUTES, &raw)?,
            None => Vec::new(),
        };
        let from_resource = |key: &str| {
            config
                .resource_attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(name) = vars
            .get(env::OTEL_SERVICE_NAME)
            .or_else(|| from_resource("service.name"))
        {
            config.service_name = name;
        }
        if let Some(environment) = vars
            .get(env::ENVIRONMENT)
            .or_else(|| from_resource("deployment.environment.name"))
            .or_else(|| from_resource("deployment.environment"))
        {
            config.environment = environment;
        }

        let disabled = vars.flag(env::OTEL_SDK_DISABLED)?.unwrap_or(false);
        let enabled = vars.flag(env::OTEL_ENABLED)?.unwrap_or(true);
        config.enabled = enabled && !disabled;

        config.console = vars.flag(env::OTEL_DEBUG)?.unwrap_or(false);
        config.capture_message_content = vars
            .flag(env::OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)?
            .unwrap_or(false);
        config.log_format = match vars.get(env::SRE_LOG_FORMAT) {
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => {
                    return Err(TelemetryError::invalid(
                        env::SRE_LOG_FORMAT,
                        raw,
                        "expected `json` or `text`",
                    ));
                }
            },
            None if std::io::IsTerminal::is_terminal(&std::io::stdout()) => LogFormat::Text,
            None => LogFormat::Json,
        };
        if vars.get(env::NO_COLOR).is_some() {
            config.log_ansi = false;
        }
        if let Some(filter) = vars.get(env::RUST_LOG) {
            tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| {
                TelemetryError::invalid(env::RUST_LOG, filter.clone(), e.to_string())
            })?;
            config.log_filter = filter;
        }

        config.sampler = parse_sampler(&vars)?;
        config.propagators = parse_propagators(&vars)?;
        config.span_batch = parse_batch(&vars)?;
        if let Some(limit) = vars
            .positive(env::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)?
            .or(vars.positive(env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)?)
        {
            config.attribute_value_limit = limit;
        }

        let traces_otlp_configured = vars.get(env::OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
            || vars.get(env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_some();
        let trace_exporters = match vars.get(env::OTEL_TRACES_EXPORTER) {
            Some(raw) => parse_list(env::OTEL_TRACES_EXPORTER, &raw, TraceExporter::parse)?,
            None if traces_otlp_configured => vec![TraceExporter::File, TraceExporter::Otlp],
            None => vec![TraceExporter::File],
        };
        if !trace_exporters.contains(&TraceExporter::File) {
            config.trace_file = None;
        }
        if trace_exporters.contains(&TraceExporter::Console) {
            config.console = true;
        }
        if trace_exporters.contains(&TraceExporter::Otlp) {
            config.otlp_traces = Some(parse_otlp(&vars, Signal::Traces)?);
        }
        let daemon = || parse_daemon_address(&vars);
        config.xray = if trace_exporters.contains(&TraceExporter::XrayDaemon) {
            Some(XrayTarget::Daemon(daemon()?))
        } else if trace_exporters.contains(&TraceExporter::XrayApi) {
            Some(XrayTarget::Api)
        } else if trace_exporters.contains(&TraceExporter::Xray) {
            match vars.get(env::AWS_XRAY_DAEMON_ADDRESS) {
                Some(_) => Some(XrayTarget::Daemon(daemon()?)),
                None => Some(XrayTarget::Api),
            }
        } else {
            None
        };

        config.metrics = parse_metrics(&vars, data_dir)?;
        if let Some(raw) = vars.get(env::SRE_TELEMETRY_FILE_MAX_MB) {
            config.file_max_bytes = match raw.parse::<u64>() {
                Ok(0) => None,
                Ok(mib) if mib <= u64::MAX / (1024 * 1024) => Some(mib * 1024 * 1024),
                _ => {
                    return Err(TelemetryError::invalid(
                        env::SRE_TELEMETRY_FILE_MAX_MB,
                        raw,
                        "expected a whole number of MiB (0 never rotates)",
                    ));
                }
            };
        }

        if !config.enabled {
            config.trace_file = None;
            config.console = false;
            config.otlp_traces = None;
            config.xray = None;
            config.metrics.emf = None;
            config.metrics.put_metric_data = false;
            config.metrics.otlp = None;
            config.metrics.prometheus_listen = None;
        }
        Ok(config)
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for MetricsConfig {
    /// In-process aggregation only (Prometheus text), no sink.
    fn default() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            emf: None,
            emf_log_group: None,
            emf_log_stream: None,
            put_metric_data: false,
            otlp: None,
            prometheus_listen: None,
            interval: Duration::from_secs(60),
            export_timeout: Duration::from_secs(30),
            max_user_ids: 100,
            queue_capacity: 65_536,
        }
    }
}

impl SamplerConfig {
    /// The SDK sampler.
    pub fn sampler(&self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler;
        match *self {
            Self::AlwaysOn => Sampler::AlwaysOn,
            Self::AlwaysOff => Sampler::AlwaysOff,
            Self::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
            Self::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            Self::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Self::ParentBasedTraceIdRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TraceExporter {
    Otlp,
    Console,
    File,
    Xray,
    XrayDaemon,
    XrayApi,
}

impl TraceExporter {
    fn parse(value: &str) -> Result<Option<Self>, String> {
        Ok(Some(match value {
            "otlp" => Self::Otlp,
            "console" | "logging" => Self::Console,
            "file" => Self::File,
            "xray" => Self::Xray,
            "xray-daemon" => Self::XrayDaemon,
            "xray-api" => Self::XrayApi,
            "none" => return Ok(None),
            "zipkin" | "jaeger" => return Err(format!("`{value}` is not built into sre-agent")),
            _ => {
                return Err(format!(
                    "unknown exporter `{value}`; expected otlp, console, file, xray, xray-daemon, xray-api or none"
                ));
            }
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricExporter {
    Emf,
    Cloudwatch,
    Otlp,
    Prometheus,
}

impl MetricExporter {
    fn parse(value: &str) -> Result<Option<Self>, String> {
        Ok(Some(match value {
            "emf" => Self::Emf,
            "cloudwatch" => Self::Cloudwatch,
            "otlp" => Self::Otlp,
            "prometheus" => Self::Prometheus,
            "none" => return Ok(None),
            _ => {
                return Err(format!(
                    "unknown exporter `{value}`; expected emf, cloudwatch, otlp, prometheus or none"
                ));
            }
        }))
    }
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

/// Reads variables, treating empty values as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.0)(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &'static str) -> Result<Option<bool>, TelemetryError> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(TelemetryError::invalid(
                key,
                raw,
                "expected `true` or `false`",
            )),
        }
    }

    fn positive(&self, key: &'static str) -> Result<Option<usize>, TelemetryError> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        match raw.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(TelemetryError::invalid(
                key,
                raw,
                "expected a positive integer",
            )),
        }
    }

    fn millis(&self, key: &'static str) -> Result<Option<Duration>, TelemetryError> {
        Ok(self
            .positive(key)?
            .map(|ms| Duration::from_millis(ms as u64)))
    }
}

fn parse_list<T: PartialEq>(
    variable: &'static str,
    raw: &str,
    parse: impl Fn(&str) -> Result<Option<T>, String>,
) -> Result<Vec<T>, TelemetryError> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let item = item.to_ascii_lowercase();
        match parse(&item) {
            Ok(Some(value)) if !out.contains(&value) => out.push(value),
            Ok(_) => {}
            Err(reason) => return Err(TelemetryError::invalid(variable, raw, reason)),
        }
    }
    Ok(out)
}

fn parse_sampler(vars: &Vars<'_>) -> Result<SamplerConfig, TelemetryError> {
    let ratio = || -> Result<f64, TelemetryError> {
        let Some(raw) = vars.get(env::OTEL_TRACES_SAMPLER_ARG) else {
            return Ok(1.0);
        };
        match raw.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(TelemetryError::invalid(
                env::OTEL_TRACES_SAMPLER_ARG,
                raw,
                "expected a ratio between 0 and 1",
            )),
        }
    };
    let Some(raw) = vars.get(env::OTEL_TRACES_SAMPLER) else {
        return Ok(SamplerConfig::ParentBasedAlwaysOn);
    };
    Ok(match raw.to_ascii_lowercase().as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
        _ => {
            return Err(TelemetryError::invalid(
                env::OTEL_TRACES_SAMPLER,
                raw,
                "expected always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio",
            ));
        }
    })
}

fn parse_propagators(vars: &Vars<'_>) -> Result<Vec<Propagator>, TelemetryError> {
    let Some(raw) = vars.get(env::OTEL_PROPAGATORS) else {
        return Ok(vec![Propagator::TraceContext, Propagator::Baggage]);
    };
    parse_list(env::OTEL_PROPAGATORS, &raw, |item| match item {
        "tracecontext" => Ok(Some(Propagator::TraceContext)),
        "baggage" => Ok(Some(Propagator::Baggage)),
        "xray" => Ok(Some(Propagator::Xray)),
        "none" => Ok(None),
        _ => Err(format!(
            "unknown propagator `{item}`; expected tracecontext, baggage, xray or none"
        )),
    })
}

fn parse_batch(vars: &Vars<'_>) -> Result<BatchConfig, TelemetryError> {
    let mut batch = BatchConfig::default();
    if let Some(n) = vars.positive(env::OTEL_BSP_MAX_QUEUE_SIZE)? {
        batch.max_queue_size = n;
    }
    if let Some(n) = vars.positive(env::OTEL_BSP_MAX_EXPORT_BATCH_SIZE)? {
        batch.max_export_batch_size = n;
    }
    batch.max_export_batch_size = batch.max_export_batch_size.min(batch.max_queue_size);
    if let Some(d) = vars.millis(env::OTEL_BSP_SCHEDULE_DELAY)? {
        batch.scheduled_delay = d;
    }
    if let Some(d) = vars.millis(env::OTEL_BSP_EXPORT_TIMEOUT)? {
        batch.export_timeout = d;
    }
    Ok(batch)
}

fn parse_otlp(vars: &Vars<'_>, signal: Signal) -> Result<OtlpConfig, TelemetryError> {
    let (endpoint_var, protocol_var, headers_var, timeout_var, path) = match signal {
        Signal::Traces => (
            env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            env::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            env::OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            env::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            "/v1/traces",
        ),
        Signal::Metrics => (
            env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
            env::OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
            env::OTEL_EXPORTER_OTLP_METRICS_HEADERS,
            env::OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
            "/v1/metrics",
        ),
    };
    let (protocol_key, protocol_raw) = match vars.get(protocol_var) {
        Some(v) => (protocol_var, Some(v)),
        None => (
            env::OTEL_EXPORTER_OTLP_PROTOCOL,
            vars.get(env::OTEL_EXPORTER_OTLP_PROTOCOL),
        ),
    };
    let protocol = match protocol_raw {
        None => OtlpProtocol::HttpProtobuf,
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "grpc" => OtlpProtocol::Grpc,
            "http/protobuf" => OtlpProtocol::HttpProtobuf,
            "http/json" => {
                return Err(TelemetryError::invalid(
                    protocol_key,
                    raw,
                    "http/json is not built into sre-agent; use grpc or http/protobuf",
                ));
            }
            _ => {
                return Err(TelemetryError::invalid(
                    protocol_key,
                    raw,
                    "expected grpc or http/protobuf",
                ));
            }
        },
    };
    let endpoint = if let Some(raw) = vars.get(endpoint_var) {
        validate_url(endpoint_var, &raw)?;
        raw
    } else if let Some(raw) = vars.get(env::OTEL_EXPORTER_OTLP_ENDPOINT) {
        validate_url(env::OTEL_EXPORTER_OTLP_ENDPOINT, &raw)?;
        match protocol {
            OtlpProtocol::Grpc => raw,
            OtlpProtocol::HttpProtobuf => format!("{}{path}", raw.trim_end_matches('/')),
        }
    } else {
        match protocol {
            OtlpProtocol::Grpc => "http://localhost:4317".to_owned(),
            OtlpProtocol::HttpProtobuf => format!("http://localhost:4318{path}"),
        }
    };
    let headers = match vars.get(headers_var) {
        Some(raw) => parse_key_values(headers_var, &raw)?,
        None => match vars.get(env::OTEL_EXPORTER_OTLP_HEADERS) {
            Some(raw) => parse_key_values(env::OTEL_EXPORTER_OTLP_HEADERS, &raw)?,
            None => Vec::new(),
        },
    };
    for (name, _) in &headers {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            let var = if vars.get(headers_var).is_some() {
                headers_var
            } else {
                env::OTEL_EXPORTER_OTLP_HEADERS
            };
            return Err(TelemetryError::invalid(
                var,
                vars.get(var).unwrap_or_default(),
                format!("`{name}` is not a valid header name"),
            ));
        }
    }
    let timeout = match vars.millis(timeout_var)? {
        Some(t) => t,
        None => vars
            .millis(env::OTEL_EXPORTER_OTLP_TIMEOUT)?
            .unwrap_or(Duration::from_secs(10)),
    };
    Ok(OtlpConfig {
        endpoint,
        protocol,
        headers,
        timeout,
    })
}

fn parse_metrics(vars: &Vars<'_>, data_dir: &Path) -> Result<MetricsConfig, TelemetryError> {
    let mut metrics = MetricsConfig::default();
    if let Some(ns) = vars
        .get(env::CLOUDWATCH_METRICS_NAMESPACE)
        .or_else(|| vars.get(env::AWS_EMF_NAMESPACE))
    {
        if ns.len() > 255
            || ns.starts_with(':')
            || !ns.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
        {
            let var = if vars.get(env::CLOUDWATCH_METRICS_NAMESPACE).is_some() {
                env::CLOUDWATCH_METRICS_NAMESPACE
            } else {
                env::AWS_EMF_NAMESPACE
            };
            return Err(TelemetryError::invalid(
                var,
                ns,
                "a CloudWatch namespace is 1-255 printable ASCII characters and does not start with `:`",
            ));
        }
        metrics.namespace = ns;
    }
    if let Some(interval) = vars.millis(env::OTEL_METRIC_EXPORT_INTERVAL)? {
        metrics.interval = interval;
    }
    if let Some(timeout) = vars.millis(env::OTEL_METRIC_EXPORT_TIMEOUT)? {
        metrics.export_timeout = timeout;
    }
    if let Some(n) = vars.positive(env::SRE_METRICS_MAX_USER_IDS)? {
        metrics.max_user_ids = n;
    }
    if let Some(n) = vars.positive(env::SRE_METRICS_QUEUE_SIZE)? {
        metrics.queue_capacity = n;
    }
    metrics.emf_log_group = vars.get(env::AWS_EMF_LOG_GROUP_NAME);
    metrics.emf_log_stream = vars.get(env::AWS_EMF_LOG_STREAM_NAME);

    let otlp_configured = vars.get(env::OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
        || vars.get(env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT).is_some();
    let exporters = match vars.get(env::OTEL_METRICS_EXPORTER) {
        Some(raw) => parse_list(env::OTEL_METRICS_EXPORTER, &raw, MetricExporter::parse)?,
        None if otlp_configured => vec![MetricExporter::Emf, MetricExporter::Otlp],
        None => vec![MetricExporter::Emf],
    };
    if exporters.contains(&MetricExporter::Emf) {
        metrics.emf = Some(parse_emf_target(vars, data_dir)?);
    }
    metrics.put_metric_data = exporters.contains(&MetricExporter::Cloudwatch);
    if exporters.contains(&MetricExporter::Otlp) {
        metrics.otlp = Some(parse_otlp(vars, Signal::Metrics)?);
    }
    if exporters.contains(&MetricExporter::Prometheus) {
        let host = vars
            .get(env::OTEL_EXPORTER_PROMETHEUS_HOST)
            .unwrap_or_else(|| "localhost".to_owned());
        let port = match vars.get(env::OTEL_EXPORTER_PROMETHEUS_PORT) {
            None => 9464,
            Some(raw) => raw.parse::<u16>().map_err(|_| {
                TelemetryError::invalid(
                    env::OTEL_EXPORTER_PROMETHEUS_PORT,
                    raw,
                    "expected a port number (0-65535)",
                )
            })?,
        };
        let listen = join_host_port(&host, port);
        resolve(env::OTEL_EXPORTER_PROMETHEUS_HOST, &host, &listen)?;
        metrics.prometheus_listen = Some(listen);
    }
    Ok(metrics)
}

fn parse_emf_target(vars: &Vars<'_>, data_dir: &Path) -> Result<EmfTarget, TelemetryError> {
    if let Some(raw) = vars.get(env::AWS_EMF_AGENT_ENDPOINT) {
        return parse_agent_endpoint(env::AWS_EMF_AGENT_ENDPOINT, &raw);
    }
    match vars.get(env::AWS_EMF_ENVIRONMENT) {
        None => Ok(EmfTarget::File(data_dir.join(METRIC_FILE))),
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "local" | "lambda" => Ok(EmfTarget::Stdout),
            "agent" | "ec2" | "ecs" => {
                parse_agent_endpoint(env::AWS_EMF_AGENT_ENDPOINT, DEFAULT_EMF_AGENT_ENDPOINT)
            }
            _ => Err(TelemetryError::invalid(
                env::AWS_EMF_ENVIRONMENT,
                raw,
                "expected Local, Lambda, Agent, EC2 or ECS",
            )),
        },
    }
}

fn parse_agent_endpoint(variable: &'static str, raw: &str) -> Result<EmfTarget, TelemetryError> {
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
        TelemetryError::invalid(variable, raw, "expected tcp://host:port or udp://host:port")
    })?;
    let address = rest.trim_end_matches('/');
    let (host, port) = split_host_port(address).ok_or_else(|| {
        TelemetryError::invalid(variable, raw, "expected host:port after the scheme")
    })?;
    let address = join_host_port(host, port);
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" => Ok(EmfTarget::Tcp(address)),
        "udp" => Ok(EmfTarget::Udp(address)),
        _ => Err(TelemetryError::invalid(
            variable,
            raw,
            "the scheme must be tcp or udp",
        )),
    }
}

fn parse_daemon_address(vars: &Vars<'_>) -> Result<SocketAddr, TelemetryError> {
    let raw = vars
        .get(env::AWS_XRAY_DAEMON_ADDRESS)
        .unwrap_or_else(|| DEFAULT_XRAY_DAEMON.to_owned());
    // `udp:host:port tcp:host:port` (the daemon's two listeners) or a plain `host:port` used for both.
    let udp = raw
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .or_else(|| (!raw.contains(' ') && !raw.starts_with("tcp:")).then_some(raw.as_str()));
    let Some(udp) = udp else {
        return Err(TelemetryError::invalid(
            env::AWS_XRAY_DAEMON_ADDRESS,
            raw.clone(),
            "expected host:port or `udp:host:port tcp:host:port`",
        ));
    };
    let (host, port) = split_host_port(udp).ok_or_else(|| {
        TelemetryError::invalid(
            env::AWS_XRAY_DAEMON_ADDRESS,
            raw.clone(),
            "expected host:port",
        )
    })?;
    resolve(
        env::AWS_XRAY_DAEMON_ADDRESS,
        &raw,
        &join_host_port(host, port),
    )
}

fn resolve(variable: &'static str, raw: &str, address: &str) -> Result<SocketAddr, TelemetryError> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| TelemetryError::invalid(variable, raw, format!("cannot resolve {address}")))
}

/// `host:port` → (host, port); accepts `[v6]:port`.
fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then_some((host, port))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Checks `scheme://host[:port][/path]` with an http(s) scheme.
fn validate_url(variable: &'static str, raw: &str) -> Result<(), TelemetryError> {
    let bad = |reason: &str| TelemetryError::invalid(variable, raw, reason.to_owned());
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("expected an http:// or https:// URL"))?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains(char::is_whitespace) || authority.contains('@') {
        return Err(bad("the URL has no valid host"));
    }
    let host_end = if authority.starts_with('[') {
        authority
            .find(']')
            .map(|i| i + 1)
            .ok_or_else(|| bad("unclosed IPv6 host"))?
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at(host_end);
    if host.is_empty() || host == "[]" {
        return Err(bad("the URL has no host"));
    }
    if let Some(port) = port.strip_prefix(':')
        && port.parse::<u16>().is_err()
    {
        return Err(bad("the port is not a number between 0 and 65535"));
    }
    if !port.is_empty() && !port.starts_with(':') {
        return Err(bad("unexpected characters after the host"));
    }
    Ok(())
}

/// `key=value,key2=value2` with percent-encoded values (W3C baggage style, as OTel specifies).
fn parse_key_values(
    variable: &'static str,
    raw: &str,
) -> Result<Vec<(String, String)>, TelemetryError> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            TelemetryError::invalid(variable, raw, format!("`{pair}` is not key=value"))
        })?;
        let key = k.trim();
        if key.is_empty() {
            return Err(TelemetryError::invalid(
                variable,
                raw,
                format!("`{pair}` has an empty key"),
            ));
        }
        let value = percent_decode(v.trim()).ok_or_else(|| {
            TelemetryError::invalid(variable, raw, format!("`{pair}` has a bad percent escape"))
        })?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TelemetryConfig::from_lookup("sre-agent", Path::new("/data"), |k| map.get(k).cloned())
    }

    fn invalid_variable(vars: &[(&str, &str)]) -> (&'static str, String) {
        match config(vars) {
            Err(TelemetryError::InvalidSetting {
                variable, value, ..
            }) => (variable, value),
            other => panic!("expected InvalidSetting for {vars:?}, got {other:?}"),
        }
    }

    #[test]
    fn empty_environment_gives_local_files() {
        let c = config(&[]).unwrap();
        assert!(c.enabled);
        assert_eq!(c.service_name, "sre-agent");
        assert_eq!(c.environment, "local");
        assert_eq!(
            c.trace_file,
            Some(PathBuf::from("/data/traces/traces.jsonl"))
        );
        assert_eq!(c.file_max_bytes, Some(DEFAULT_FILE_MAX_BYTES));
        assert!(!c.console);
        assert_eq!(c.otlp_traces, None);
        assert_eq!(c.xray, None);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(
            c.propagators,
            vec![Propagator::TraceContext, Propagator::Baggage]
        );
        assert!(!c.capture_message_content);
        assert_eq!(c.log_filter, "warn");
        assert_eq!(c.metrics.namespace, DEFAULT_NAMESPACE);
        assert_eq!(
            c.metrics.emf,
            Some(EmfTarget::File(PathBuf::from("/data/metrics/emf.jsonl")))
        );
        assert!(!c.metrics.put_metric_data);
        assert_eq!(c.metrics.otlp, None);
        assert_eq!(c.metrics.prometheus_listen, None);
        assert_eq!(c.attribute_value_limit, DEFAULT_ATTRIBUTE_VALUE_LIMIT);
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            (env::OTEL_SDK_DISABLED, "maybe"),
            (env::OTEL_ENABLED, "perhaps"),
            (env::OTEL_DEBUG, "2"),
            (
                env::OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
                "sure",
            ),
            (env::OTEL_TRACES_SAMPLER, "sometimes"),
            (env::OTEL_PROPAGATORS, "tracecontext,b3"),
            (env::OTEL_TRACES_EXPORTER, "otlp,carrier-pigeon"),
            (env::OTEL_METRICS_EXPORTER, "statsd"),
            (env::OTEL_RESOURCE_ATTRIBUTES, "team"),
            (env::OTEL_RESOURCE_ATTRIBUTES, "team=%zz"),
            (env::SRE_LOG_FORMAT, "yaml"),
            (env::RUST_LOG, "sre=[["),
            (env::OTEL_BSP_MAX_QUEUE_SIZE, "-5"),
            (env::OTEL_BSP_SCHEDULE_DELAY, "soon"),
            (env::OTEL_METRIC_EXPORT_INTERVAL, "0"),
            (env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "big"),
            (env::SRE_METRICS_MAX_USER_IDS, "lots"),
            (env::SRE_METRICS_QUEUE_SIZE, "0"),
            (env::SRE_TELEMETRY_FILE_MAX_MB, "1GB"),
            (env::AWS_EMF_AGENT_ENDPOINT, "127.0.0.1:25888"),
            (env::AWS_EMF_AGENT_ENDPOINT, "http://127.0.0.1:25888"),
            (env::AWS_EMF_ENVIRONMENT, "Mars"),
            (env::CLOUDWATCH_METRICS_NAMESPACE, ":bad"),
        ];
        for (key, value) in cases {
            let (variable, got) = invalid_variable(&[(key, value)]);
            assert_eq!(variable, *key, "{key}={value}");
            assert_eq!(got, *value, "{key}={value}");
        }
    }

    #[test]
    fn file_rotation_size_is_in_mib_and_zero_never_rotates() {
        let c = config(&[(env::SRE_TELEMETRY_FILE_MAX_MB, "2")]).unwrap();
        assert_eq!(c.file_max_bytes, Some(2 * 1024 * 1024));
        let c = config(&[(env::SRE_TELEMETRY_FILE_MAX_MB, "0")]).unwrap();
        assert_eq!(c.file_max_bytes, None);
    }

    #[test]
    fn bad_sampler_ratio_and_endpoints_are_rejected() {
        let ratio = invalid_variable(&[
            (env::OTEL_TRACES_SAMPLER, "traceidratio"),
            (env::OTEL_TRACES_SAMPLER_ARG, "1.5"),
        ]);
        assert_eq!(ratio, (env::OTEL_TRACES_SAMPLER_ARG, "1.5".to_owned()));
        for endpoint in [
            "localhost:4317",
            "ftp://collector",
            "http://",
            "http://host:99999",
        ] {
            let got = invalid_variable(&[
                (env::OTEL_TRACES_EXPORTER, "otlp"),
                (env::OTEL_EXPORTER_OTLP_ENDPOINT, endpoint),
            ]);
            assert_eq!(got, (env::OTEL_EXPORTER_OTLP_ENDPOINT, endpoint.to_owned()));
        }
        let got = invalid_variable(&[
            (env::OTEL_TRACES_EXPORTER, "otlp"),
            (env::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "carrier"),
        ]);
        assert_eq!(got.0, env::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL);
        let got = invalid_variable(&[
            (env::OTEL_METRICS_EXPORTER, "otlp"),
            (env::OTEL_EXPORTER_OTLP_METRICS_HEADERS, "bad header=1"),
        ]);
        assert_eq!(got.0, env::OTEL_EXPORTER_OTLP_METRICS_HEADERS);
        let got = invalid_variable(&[
            (env::OTEL_TRACES_EXPORTER, "xray-daemon"),
            (env::AWS_XRAY_DAEMON_ADDRESS, "nowhere"),
        ]);
        assert_eq!(got, (env::AWS_XRAY_DAEMON_ADDRESS, "nowhere".to_owned()));
        let got = invalid_variable(&[
            (env::OTEL_METRICS_EXPORTER, "prometheus"),
            (env::OTEL_EXPORTER_PROMETHEUS_PORT, "http"),
        ]);
        assert_eq!(got.0, env::OTEL_EXPORTER_PROMETHEUS_PORT);
    }

    #[test]
    fn otlp_endpoints_follow_the_spec() {
        let c = config(&[
            (env::OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/"),
            (env::OTEL_EXPORTER_OTLP_HEADERS, "x-tenant=a%20b,auth=k"),
            (env::OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, "grpc"),
            (
                env::OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
                "http://collector:4317",
            ),
            (env::OTEL_EXPORTER_OTLP_TIMEOUT, "2500"),
        ])
        .unwrap();
        let traces = c.otlp_traces.expect("an endpoint turns OTLP on");
        assert_eq!(traces.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(traces.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            traces.headers,
            vec![
                ("x-tenant".to_owned(), "a b".to_owned()),
                ("auth".to_owned(), "k".to_owned())
            ]
        );
        assert_eq!(traces.timeout, Duration::from_millis(2500));
        assert!(c.trace_file.is_some(), "the local file stays on");
        let metrics = c.metrics.otlp.expect("metrics too");
        assert_eq!(metrics.endpoint, "http://collector:4317");
        assert_eq!(metrics.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn exporters_combine_and_disable() {
        let c = config(&[
            (env::OTEL_TRACES_EXPORTER, "otlp,console,xray-daemon"),
            (env::OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
            (
                env::AWS_XRAY_DAEMON_ADDRESS,
                "udp:127.0.0.1:3000 tcp:127.0.0.1:2000",
            ),
            (env::OTEL_METRICS_EXPORTER, "emf,cloudwatch,prometheus"),
            (env::AWS_EMF_AGENT_ENDPOINT, "udp://127.0.0.1:25888"),
            (env::OTEL_EXPORTER_PROMETHEUS_PORT, "0"),
            (env::CLOUDWATCH_METRICS_NAMESPACE, "SREAgent/Test"),
            (env::OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
            (env::OTEL_TRACES_SAMPLER_ARG, "0.25"),
            (env::OTEL_PROPAGATORS, "tracecontext,baggage,xray"),
            (env::OTEL_SERVICE_NAME, "k8s-backend"),
            (
                env::OTEL_RESOURCE_ATTRIBUTES,
                "deployment.environment=prod,team=sre",
            ),
            (env::SRE_LOG_FORMAT, "json"),
            (
                env::OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
                "true",
            ),
        ])
        .unwrap();
        assert_eq!(c.trace_file, None, "file is off unless listed");
        assert!(c.console);
        assert_eq!(
            c.otlp_traces.as_ref().map(|o| o.endpoint.as_str()),
            Some("http://localhost:4317")
        );
        assert_eq!(
            c.xray,
            Some(XrayTarget::Daemon("127.0.0.1:3000".parse().unwrap()))
        );
        assert_eq!(
            c.metrics.emf,
            Some(EmfTarget::Udp("127.0.0.1:25888".to_owned()))
        );
        assert!(c.metrics.put_metric_data);
        assert_eq!(c.metrics.prometheus_listen.as_deref(), Some("localhost:0"));
        assert_eq!(c.metrics.namespace, "SREAgent/Test");
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
        assert_eq!(c.propagators.len(), 3);
        assert_eq!(c.service_name, "k8s-backend");
        assert_eq!(c.environment, "prod");
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.capture_message_content);

        let off = config(&[(env::OTEL_SDK_DISABLED, "true"), (env::OTEL_DEBUG, "true")]).unwrap();
        assert!(!off.enabled);
        assert_eq!(off.trace_file, None);
        assert!(!off.console);
        assert_eq!(off.metrics.emf, None);
        let off = config(&[(env::OTEL_ENABLED, "false")]).unwrap();
        assert!(!off.enabled);

        let api = config(&[(env::OTEL_TRACES_EXPORTER, "xray")]).unwrap();
        assert_eq!(api.xray, Some(XrayTarget::Api));
        let none = config(&[
            (env::OTEL_TRACES_EXPORTER, "none"),
            (env::OTEL_METRICS_EXPORTER, "none"),
        ])
        .unwrap();
        assert_eq!(none.trace_file, None);
        assert_eq!(none.metrics.emf, None);
        let lambda = config(&[(env::AWS_EMF_ENVIRONMENT, "Lambda")]).unwrap();
        assert_eq!(lambda.metrics.emf, Some(EmfTarget::Stdout));
        let agent = config(&[(env::AWS_EMF_ENVIRONMENT, "ECS")]).unwrap();
        assert_eq!(
            agent.metrics.emf,
            Some(EmfTarget::Tcp("127.0.0.1:25888".to_owned()))
        );
    }
}
