//! Names of every environment variable telemetry reads. Standard OpenTelemetry and AWS names come first; the
//! `SRE_*` names exist only where no standard one does.

/// `true` turns every signal off (logs stay on). OpenTelemetry standard.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `false` turns every signal off (logs stay on). Product variable, the inverse of `OTEL_SDK_DISABLED`.
pub const OTEL_ENABLED: &str = "OTEL_ENABLED";
/// `service.name` of the resource.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes, `key=value,key2=value2` (values percent-decoded).
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `deployment.environment` of the resource.
pub const ENVIRONMENT: &str = "ENVIRONMENT";

/// Base OTLP endpoint for every signal (`/v1/traces`, `/v1/metrics` appended for HTTP).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// OTLP endpoint for traces, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// OTLP endpoint for metrics, used as is.
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// OTLP transport for every signal: `grpc` or `http/protobuf`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// OTLP transport for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// OTLP transport for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Headers sent with every OTLP export, `key=value,key2=value2`.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers sent with OTLP trace exports.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Headers sent with OTLP metric exports.
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Longest time one OTLP export may take, in milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Longest time one OTLP trace export may take, in milliseconds.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// Longest time one OTLP metric export may take, in milliseconds.
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";

/// Trace exporters, comma separated: `otlp`, `console`, `file`, `xray`, `xray-daemon`, `xray-api`, `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// Metric exporters, comma separated: `emf`, `cloudwatch`, `otlp`, `prometheus`, `none`.
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Sampler: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`,
/// `parentbased_traceidratio`.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// Sampler argument: the ratio in `[0, 1]` of the `*traceidratio` samplers.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Context propagators, comma separated: `tracecontext`, `baggage`, `xray`, `none`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// Delay between two span batch exports, in milliseconds.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Longest time one span batch export may take, in milliseconds.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Spans waiting for export per exporter; beyond it spans are dropped and counted.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Most spans in one export.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Longest attribute value (characters) kept on any span.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Longest span attribute value (characters); wins over `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";

/// Interval between two metric flushes, in milliseconds.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Longest time one metric export may take, in milliseconds.
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// Host the Prometheus `/metrics` listener binds.
pub const OTEL_EXPORTER_PROMETHEUS_HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
/// Port the Prometheus `/metrics` listener binds.
pub const OTEL_EXPORTER_PROMETHEUS_PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";

/// Record tool arguments and results (and other message content) on spans: `true`/`false`.
pub const OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: &str =
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// Print every finished span on stderr. Product variable.
pub const OTEL_DEBUG: &str = "OTEL_DEBUG";

/// CloudWatch namespace of every metric. Product variable.
pub const CLOUDWATCH_METRICS_NAMESPACE: &str = "CLOUDWATCH_METRICS_NAMESPACE";
/// CloudWatch namespace as the AWS EMF libraries name it; `CLOUDWATCH_METRICS_NAMESPACE` wins.
pub const AWS_EMF_NAMESPACE: &str = "AWS_EMF_NAMESPACE";
/// Where EMF lines go, as the AWS EMF libraries name it: `Local`/`Lambda` (stdout), `Agent`/`EC2`/`ECS` (the
/// CloudWatch agent).
pub const AWS_EMF_ENVIRONMENT: &str = "AWS_EMF_ENVIRONMENT";
/// CloudWatch agent endpoint for EMF lines: `tcp://127.0.0.1:25888` or `udp://127.0.0.1:25888`.
pub const AWS_EMF_AGENT_ENDPOINT: &str = "AWS_EMF_AGENT_ENDPOINT";
/// Log group the CloudWatch agent writes EMF lines to (`_aws.LogGroupName`).
pub const AWS_EMF_LOG_GROUP_NAME: &str = "AWS_EMF_LOG_GROUP_NAME";
/// Log stream the CloudWatch agent writes EMF lines to (`_aws.LogStreamName`).
pub const AWS_EMF_LOG_STREAM_NAME: &str = "AWS_EMF_LOG_STREAM_NAME";
/// X-Ray daemon address, `host:port` or `udp:host:port tcp:host:port`.
pub const AWS_XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// Log format on stderr: `json` or `text`. Invented: no standard exists.
pub const SRE_LOG_FORMAT: &str = "SRE_LOG_FORMAT";
/// Log filter directives (tracing `EnvFilter` syntax).
pub const RUST_LOG: &str = "RUST_LOG";
/// Any value turns colours off in text logs (no-color.org).
pub const NO_COLOR: &str = "NO_COLOR";
/// Most distinct `UserID` dimension values before further users are reported as `other`. Invented.
pub const SRE_METRICS_MAX_USER_IDS: &str = "SRE_METRICS_MAX_USER_IDS";
/// Capacity of the metric recording queue; records beyond it are dropped and counted. Invented.
pub const SRE_METRICS_QUEUE_SIZE: &str = "SRE_METRICS_QUEUE_SIZE";
/// Size in MiB above which a local telemetry file (trace file, EMF file) is rotated at start; 0 never
/// rotates. Invented.
pub const SRE_TELEMETRY_FILE_MAX_MB: &str = "SRE_TELEMETRY_FILE_MAX_MB";
