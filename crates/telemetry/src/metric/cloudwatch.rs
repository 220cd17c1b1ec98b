//! CloudWatch `PutMetricData` through the AWS SDK: one datum per series (values + counts, or a statistic set
//! for long distributions), requests of at most 1000 datums and under 1 MB, retried with exponential backoff
//! on throttling, 5xx and transport errors.

use std::time::Duration;

use aws_sdk_cloudwatch::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    types::{Dimension, MetricDatum, StandardUnit, StatisticSet},
};
use aws_smithy_types::{DateTime, retry::RetryConfig};
use tokio::runtime::Handle;

use super::{
    batch::{MetricBatch, PointValue},
    sink::{MetricSink, MetricSinkError},
};

/// Most datums in one request.
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;
/// Request size budget (CloudWatch accepts up to 1 MB); estimated generously per datum.
pub const MAX_REQUEST_BYTES: usize = 900_000;
/// Most distinct values in one datum's `Values`; longer distributions become a `StatisticValues` set.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Most dimensions in one datum.
pub const MAX_DIMENSIONS_PER_DATUM: usize = 30;

/// Sends each batch with `PutMetricData`.
#[derive(Debug)]
pub struct CloudWatchSink {
    client: Option<Client>,
    namespace: String,
    runtime: Handle,
    timeout: Duration,
    max_attempts: u32,
    base_backoff: Duration,
}

impl CloudWatchSink {
    /// A sink using `client` (its own retries should be off: this sink retries). `runtime` runs the SDK calls.
    pub fn new(
        client: Client,
        namespace: impl Into<String>,
        runtime: Handle,
        timeout: Duration,
    ) -> Self {
        Self {
            client: Some(client),
            namespace: namespace.into(),
            runtime,
            timeout,
            max_attempts: 4,
            base_backoff: Duration::from_millis(200),
        }
    }

    /// A sink whose client comes from `sdk_config`, with SDK retries off (this sink retries).
    pub fn from_sdk_config(
        sdk_config: &aws_config::SdkConfig,
        namespace: impl Into<String>,
        runtime: Handle,
        timeout: Duration,
    ) -> Self {
        let config = aws_sdk_cloudwatch::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::disabled())
            .build();
        Self::new(Client::from_conf(config), namespace, runtime, timeout)
    }

    /// A sink that loads the default AWS configuration (region, credential chain) on its first export, on its
    /// own thread, so installation never waits on AWS.
    pub fn from_default_chain(
        namespace: impl Into<String>,
        runtime: Handle,
        timeout: Duration,
    ) -> Self {
        Self {
            client: None,
            namespace: namespace.into(),
            runtime,
            timeout,
            max_attempts: 4,
            base_backoff: Duration::from_millis(200),
        }
    }

    /// Attempts per request (at least 1) and the first backoff, doubled at each retry.
    pub fn with_retry(mut self, max_attempts: u32, base_backoff: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.base_backoff = base_backoff;
        self
    }

    fn client(&mut self) -> &Client {
        let runtime = self.runtime.clone();
        self.client.get_or_insert_with(|| {
            let sdk = runtime.block_on(aws_config::load_defaults(
                aws_config::BehaviorVersion::latest(),
            ));
            let config = aws_sdk_cloudwatch::config::Builder::from(&sdk)
                .retry_config(RetryConfig::disabled())
                .build();
            Client::from_conf(config)
        })
    }
}

impl MetricSink for CloudWatchSink {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
        let all = datums(batch);
        if all.is_empty() {
            return Ok(());
        }
        let client = self.client().clone();
        let mut failures = Vec::new();
        for request in requests(all) {
            let result = self.runtime.block_on(send_with_retry(
                &client,
                &self.namespace,
                request,
                self.timeout,
                self.max_attempts,
                self.base_backoff,
            ));
            if let Err(reason) = result {
                failures.push(reason);
            }
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => Err(MetricSinkError::Request {
                sink: "cloudwatch",
                reason: format!("{} request(s) failed; first: {first}", failures.len()),
            }),
        }
    }
}

/// One datum per point of `batch`.
pub fn datums(batch: &MetricBatch) -> Vec<MetricDatum> {
    let timestamp = DateTime::from(batch.timestamp);
    batch
        .points
        .iter()
        .map(|point| {
            let def = point.def();
            let dimensions = point
                .dimension_pairs()
                .take(MAX_DIMENSIONS_PER_DATUM)
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect();
            let builder = MetricDatum::builder()
                .metric_name(def.name)
                .set_dimensions(Some(dimensions))
                .timestamp(timestamp)
                .unit(StandardUnit::from(def.unit.cloudwatch()));
            let builder = match &point.value {
                PointValue::Sum(v) | PointValue::Gauge(v) => builder.value(*v),
                PointValue::Distribution(d) if d.values.len() <= MAX_VALUES_PER_DATUM => builder
                    .set_values(Some(d.values.iter().map(|(v, _)| *v).collect()))
                    .set_counts(Some(d.values.iter().map(|(_, n)| *n as f64).collect())),
                PointValue::Distribution(d) => builder.statistic_values(
                    StatisticSet::builder()
                        .sample_count(d.count as f64)
                        .sum(d.sum)
                        .minimum(d.min)
                        .maximum(d.max)
                        .build(),
                ),
            };
            builder.build()
        })
        .collect()
}

/// Splits datums into requests of at most [`MAX_DATUMS_PER_REQUEST`] and [`MAX_REQUEST_BYTES`].
pub fn requests(datums: Vec<MetricDatum>) -> Vec<Vec<MetricDatum>> {
    let mut out: Vec<Vec<MetricDatum>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for datum in datums {
        let size = estimated_size(&datum);
        if !current.is_empty()
            && (current.len() == MAX_DATUMS_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(datum);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// An upper bound of a datum's encoded size (JSON-like framing, larger than the CBOR the SDK sends).
fn estimated_size(datum: &MetricDatum) -> usize {
    let dims: usize = datum
        .dimensions()
        .iter()
        .map(|d| d.name().map_or(0, str::len) + d.value().map_or(0, str::len) + 32)
        .sum();
    128 + datum.metric_name().map_or(0, str::len)
        + dims
        + 24 * (datum.values().len() + datum.counts().len())
}

async fn send_with_retry(
    client: &Client,
    namespace: &str,
    data: Vec<MetricDatum>,
    timeout: Duration,
    max_attempts: u32,
    base_backoff: Duration,
) -> Result<(), String> {
    let mut attempt = 1;
    loop {
        let call = client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data.clone()))
            .send();
        let (retryable, reason) = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => (is_retryable(&e), describe(&e)),
            Err(_) => (true, format!("no answer within {timeout:?}")),
        };
        if !retryable || attempt >= max_attempts {
            return Err(format!("{reason} (attempt {attempt} of {max_attempts})"));
        }
        // Exponential backoff with a little jitter so several processes do not retry in step.
        let jitter = u64::from(std::process::id() % 7 + attempt) * 3;
        let delay = base_backoff * 2u32.saturating_pow(attempt - 1) + Duration::from_millis(jitter);
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

fn is_retryable<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            code.contains("Throttl")
                || matches!(
                    code,
                    "RequestLimitExceeded"
                        | "ServiceUnavailable"
                        | "InternalServiceFault"
                        | "InternalFailure"
                )
                || service.raw().status().as_u16() == 429
                || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> String {
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("service error"),
            service.err().message().unwrap_or_default()
        ),
        other => aws_sdk_cloudwatch::error::DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Distribution, MetricId, MetricPoint};
    use std::time::SystemTime;

    fn point(id: MetricId, dims: &[&str], value: PointValue) -> MetricPoint {
        MetricPoint {
            id,
            dimensions: dims.iter().map(|s| (*s).to_owned()).collect(),
            properties: Vec::new(),
            value,
        }
    }

    #[test]
    fn long_distributions_become_statistic_sets() {
        let short = Distribution::from_values(vec![1.0, 1.0, 2.0]);
        let long = Distribution::from_values((0..500).map(f64::from).collect());
        let batch = MetricBatch {
            timestamp: SystemTime::now(),
            points: vec![
                point(
                    MetricId::LlmDuration,
                    &["bedrock", "claude"],
                    PointValue::Distribution(short),
                ),
                point(
                    MetricId::McpCallDuration,
                    &["t", "k8s-backend"],
                    PointValue::Distribution(long),
                ),
            ],
        };
        let d = datums(&batch);
        assert_eq!(d[0].values(), [1.0, 2.0]);
        assert_eq!(d[0].counts(), [2.0, 1.0]);
        assert_eq!(d[0].unit(), Some(&StandardUnit::Milliseconds));
        let stats = d[1].statistic_values().expect("statistic set");
        assert_eq!(stats.sample_count(), Some(500.0));
        assert_eq!(stats.maximum(), Some(499.0));
        assert!(d[1].values().is_empty());
    }

    #[test]
    fn requests_respect_count_and_size() {
        let many: Vec<MetricDatum> = (0..2500)
            .map(|i| {
                MetricDatum::builder()
                    .metric_name(format!("m{i}"))
                    .value(1.0)
                    .build()
            })
            .collect();
        let reqs = requests(many);
        assert_eq!(
            reqs.iter().map(Vec::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let big: Vec<MetricDatum> = (0..100)
            .map(|_| {
                MetricDatum::builder()
                    .metric_name("x")
                    .set_values(Some(vec![1.0; 150]))
                    .set_counts(Some(vec![1.0; 150]))
                    .set_dimensions(Some(
                        (0..30)
                            .map(|_| {
                                Dimension::builder()
                                    .name("n".repeat(250))
                                    .value("v".repeat(1000))
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        for req in requests(big) {
            assert!(req.iter().map(estimated_size).sum::<usize>() <= MAX_REQUEST_BYTES);
        }
    }
}
