//! The metrics backend: performance, error-rate, resource and availability series of the scenario's services,
//! and trend/anomaly analysis against a baseline.

use std::sync::Arc;
use std::time::Duration;

use super::parameters::Parameters;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::stats::{
    PointOut, SeriesStats, baseline, in_window, mean, print_points, round1, round2, std_dev,
    summarize,
};
use super::window::{Window, lookback, range};
use super::{ToolResult, respond, to_json};
use crate::dataset::Dataset;
use crate::dataset::metrics::{MetricSeries, Point, ServiceMetrics};
use crate::dataset::time::{Timestamp, rfc3339};
use crate::domain::Domain;
use crate::error::ToolError;

/// Availability objective of every service, percent.
pub const SLO_TARGET_PCT: f64 = 99.9;
/// Default `anomaly_threshold` of `analyze_trends`, in baseline standard deviations.
pub const DEFAULT_ANOMALY_THRESHOLD: f64 = 2.0;
/// The baseline spread never counts as less than this share of the baseline mean, so flat baselines work.
const SIGMA_FLOOR_SHARE: f64 = 0.05;
/// Absolute floor of the baseline spread, for baselines whose mean is zero.
const SIGMA_FLOOR_MIN: f64 = 0.01;
/// `latest` within this share of the baseline counts as a stable trend.
const STABLE_SHARE: f64 = 0.10;

/// Accepted `metric_type` values of `get_performance_metrics`.
const PERFORMANCE_METRICS: &[(&str, MetricSeries)] = &[
    ("response_time", MetricSeries::ResponseTimeMs),
    ("throughput", MetricSeries::ThroughputRps),
    ("cpu_usage", MetricSeries::CpuPct),
    ("memory_usage", MetricSeries::MemoryPct),
];

/// Accepted `resource_type` values of `get_resource_metrics`.
const RESOURCE_METRICS: &[(&str, MetricSeries)] = &[
    ("cpu", MetricSeries::CpuPct),
    ("memory", MetricSeries::MemoryPct),
    ("disk", MetricSeries::DiskPct),
    ("network", MetricSeries::NetworkMbps),
];

/// Accepted `metric_name` values of `analyze_trends`.
const TREND_METRICS: &[(&str, MetricSeries)] = &[
    ("response_time", MetricSeries::ResponseTimeMs),
    ("throughput", MetricSeries::ThroughputRps),
    ("error_rate", MetricSeries::ErrorRatePct),
    ("availability", MetricSeries::AvailabilityPct),
    ("cpu_usage", MetricSeries::CpuPct),
    ("memory_usage", MetricSeries::MemoryPct),
    ("disk_usage", MetricSeries::DiskPct),
    ("network", MetricSeries::NetworkMbps),
];

/// The MCP server of the metrics domain.
#[derive(Debug, Clone)]
pub struct MetricsServer {
    dataset: Arc<Dataset>,
    tool_router: ToolRouter<Self>,
}

/// Parameters of `get_performance_metrics`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerformanceParams {
    /// "response_time" (ms, default), "throughput" (requests/s), "cpu_usage" (%) or "memory_usage" (%).
    pub metric_type: Option<String>,
    /// Window start: RFC 3339 timestamp, or a duration such as "2h" meaning that long ago. Default: one hour before
    /// `end_time`.
    pub start_time: Option<String>,
    /// Window end: RFC 3339 timestamp, or a duration meaning that long ago. Default: now.
    pub end_time: Option<String>,
    /// Exact service name, e.g. "web-service"; every service when omitted.
    pub service: Option<String>,
}

/// Parameters of `get_error_rates`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRatesParams {
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub time_window: Option<String>,
    /// Exact service name, e.g. "api-service"; every service when omitted.
    pub service: Option<String>,
}

/// Parameters of `get_resource_metrics`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceMetricsParams {
    /// "cpu" (%, default), "memory" (%), "disk" (%) or "network" (Mbit/s).
    pub resource_type: Option<String>,
    /// Exact service name, e.g. "web-service"; every service when omitted.
    pub service: Option<String>,
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub time_window: Option<String>,
}

/// Parameters of `get_availability_metrics`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityParams {
    /// Exact service name, e.g. "database"; every service when omitted.
    pub service: Option<String>,
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub time_window: Option<String>,
}

/// Parameters of `analyze_trends`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendsParams {
    /// One of "response_time", "throughput", "error_rate", "availability", "cpu_usage", "memory_usage",
    /// "disk_usage", "network".
    pub metric_name: String,
    /// Exact service name, e.g. "web-service"; every service when omitted.
    pub service: Option<String>,
    /// How far back to look, e.g. "1h", "2h", "24h"; default "2h". The oldest quarter is the baseline.
    pub time_window: Option<String>,
    /// How many baseline standard deviations make a point anomalous; default 2.0.
    pub anomaly_threshold: Option<f64>,
}

#[tool_router(vis = "pub(crate)")]
impl MetricsServer {
    #[tool(
        description = "Response time, throughput, CPU or memory series per service over a time range (default: the last \
                       hour) with first, latest, min, max and average.",
        annotations(read_only_hint = true)
    )]
    async fn get_performance_metrics(
        &self,
        Parameters(params): Parameters<PerformanceParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(performance_metrics(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Error-rate series (percent of failed requests) per service over a lookback window (default 1h), \
                       with current value, baseline (oldest quarter of the window) and peak.",
        annotations(read_only_hint = true)
    )]
    async fn get_error_rates(
        &self,
        Parameters(params): Parameters<ErrorRatesParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(error_rates(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "CPU, memory, disk (percent) or network (Mbit/s) series per service over a lookback window \
                       (default 1h) with first, latest, min, max and average.",
        annotations(read_only_hint = true)
    )]
    async fn get_resource_metrics(
        &self,
        Parameters(params): Parameters<ResourceMetricsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(resource_metrics(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Availability per service over a lookback window (default 1h): mean, latest and minimum, and \
                       whether the 99.9% SLO is met.",
        annotations(read_only_hint = true)
    )]
    async fn get_availability_metrics(
        &self,
        Parameters(params): Parameters<AvailabilityParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(availability_metrics(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Trend and anomaly detection for one metric per service over a window (default 2h): baseline \
                       from the oldest quarter, change in percent, trend direction, anomalous points beyond a number \
                       of standard deviations, and the onset of the anomaly.",
        annotations(read_only_hint = true)
    )]
    async fn analyze_trends(
        &self,
        Parameters(params): Parameters<TrendsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(analyze_trends(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }
}

impl MetricsServer {
    /// A server answering from `dataset`.
    pub fn new(dataset: Arc<Dataset>) -> Self {
        Self {
            dataset,
            tool_router: Self::tool_router(),
        }
    }
}

super::backend_handler!(
    MetricsServer,
    Domain::Metrics,
    "time series of every service (latency, throughput, errors, availability, resources) and trend analysis."
);

/// `get_performance_metrics`: one performance series per service over a time range.
pub fn performance_metrics(ds: &Dataset, params: &PerformanceParams, now: Timestamp) -> ToolResult {
    let (name, series) = series_param(
        "metric_type",
        params.metric_type.as_deref(),
        PERFORMANCE_METRICS,
    )?;
    let window = range(
        params.start_time.as_deref(),
        params.end_time.as_deref(),
        Duration::from_secs(3600),
        now,
    )?;
    let services = windowed(ds, params.service.as_deref(), series, &window)
        .filter_map(|(s, points)| {
            summarize(&points).map(|stats| PerformanceOut {
                service: &s.service,
                namespace: &s.namespace,
                stats,
            })
        })
        .collect();
    to_json(&PerformanceAnswer {
        metric_type: name,
        unit: series.unit(),
        services,
    })
}

/// `get_error_rates`: error-rate series with current, baseline and peak.
pub fn error_rates(ds: &Dataset, params: &ErrorRatesParams, now: Timestamp) -> ToolResult {
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "1h", now)?;
    let series = MetricSeries::ErrorRatePct;
    let services = windowed(ds, params.service.as_deref(), series, &window)
        .filter_map(|(s, points)| {
            let current = points.last()?.value;
            let base = mean(baseline(&points).iter().map(|p| p.value))?;
            let peak = points
                .iter()
                .map(|p| p.value)
                .fold(f64::NEG_INFINITY, f64::max);
            Some(ErrorRateOut {
                service: &s.service,
                unit: series.unit(),
                current,
                baseline: round2(base),
                peak,
                points: print_points(&points),
            })
        })
        .collect();
    to_json(&ErrorRatesAnswer {
        time_window,
        services,
    })
}

/// `get_resource_metrics`: one resource series per service over a lookback window.
pub fn resource_metrics(
    ds: &Dataset,
    params: &ResourceMetricsParams,
    now: Timestamp,
) -> ToolResult {
    let (name, series) = series_param(
        "resource_type",
        params.resource_type.as_deref(),
        RESOURCE_METRICS,
    )?;
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "1h", now)?;
    let services = windowed(ds, params.service.as_deref(), series, &window)
        .filter_map(|(s, points)| {
            summarize(&points).map(|stats| ResourceOut {
                service: &s.service,
                stats,
            })
        })
        .collect();
    to_json(&ResourceAnswer {
        resource_type: name,
        unit: series.unit(),
        time_window,
        services,
    })
}

/// `get_availability_metrics`: mean, latest and minimum availability against the SLO.
pub fn availability_metrics(
    ds: &Dataset,
    params: &AvailabilityParams,
    now: Timestamp,
) -> ToolResult {
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "1h", now)?;
    let services = windowed(
        ds,
        params.service.as_deref(),
        MetricSeries::AvailabilityPct,
        &window,
    )
    .filter_map(|(s, points)| {
        let availability = round2(mean(points.iter().map(|p| p.value))?);
        Some(AvailabilityOut {
            service: &s.service,
            availability,
            latest: points.last()?.value,
            min: points.iter().map(|p| p.value).fold(f64::INFINITY, f64::min),
            slo_met: availability >= SLO_TARGET_PCT,
        })
    })
    .collect();
    to_json(&AvailabilityAnswer {
        time_window,
        slo_target: SLO_TARGET_PCT,
        services,
    })
}

/// `analyze_trends`: baseline, change, direction and anomalies of one metric per service.
pub fn analyze_trends(ds: &Dataset, params: &TrendsParams, now: Timestamp) -> ToolResult {
    let (name, series) = series_param(
        "metric_name",
        Some(params.metric_name.as_str()),
        TREND_METRICS,
    )?;
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "2h", now)?;
    let threshold = params
        .anomaly_threshold
        .unwrap_or(DEFAULT_ANOMALY_THRESHOLD);
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 100.0) {
        return Err(ToolError::invalid(
            "anomaly_threshold",
            threshold.to_string(),
            "a number of standard deviations greater than 0 and at most 100, e.g. 2.0",
        ));
    }
    let services = windowed(ds, params.service.as_deref(), series, &window)
        .filter_map(|(s, points)| {
            trend(
                &s.service,
                &points,
                threshold,
                series == MetricSeries::AvailabilityPct,
            )
        })
        .collect();
    to_json(&TrendsAnswer {
        metric_name: name,
        unit: series.unit(),
        time_window,
        services,
    })
}

#[derive(Serialize)]
struct PerformanceAnswer<'a> {
    metric_type: &'static str,
    unit: &'static str,
    services: Vec<PerformanceOut<'a>>,
}

#[derive(Serialize)]
struct PerformanceOut<'a> {
    service: &'a str,
    namespace: &'a str,
    #[serde(flatten)]
    stats: SeriesStats,
}

#[derive(Serialize)]
struct ErrorRatesAnswer<'a> {
    time_window: String,
    services: Vec<ErrorRateOut<'a>>,
}

#[derive(Serialize)]
struct ErrorRateOut<'a> {
    service: &'a str,
    unit: &'static str,
    current: f64,
    baseline: f64,
    peak: f64,
    points: Vec<PointOut>,
}

#[derive(Serialize)]
struct ResourceAnswer<'a> {
    resource_type: &'static str,
    unit: &'static str,
    time_window: String,
    services: Vec<ResourceOut<'a>>,
}

#[derive(Serialize)]
struct ResourceOut<'a> {
    service: &'a str,
    #[serde(flatten)]
    stats: SeriesStats,
}

#[derive(Serialize)]
struct AvailabilityAnswer<'a> {
    time_window: String,
    slo_target: f64,
    services: Vec<AvailabilityOut<'a>>,
}

#[derive(Serialize)]
struct AvailabilityOut<'a> {
    service: &'a str,
    availability: f64,
    latest: f64,
    min: f64,
    slo_met: bool,
}

#[derive(Serialize)]
struct TrendsAnswer<'a> {
    metric_name: &'static str,
    unit: &'static str,
    time_window: String,
    services: Vec<TrendOut<'a>>,
}

#[derive(Serialize)]
struct TrendOut<'a> {
    service: &'a str,
    trend: Trend,
    baseline: f64,
    latest: f64,
    change_pct: Option<f64>,
    anomalous: bool,
    onset: Option<String>,
    anomalies: Vec<AnomalyOut>,
}

#[derive(Serialize)]
struct AnomalyOut {
    timestamp: String,
    value: f64,
    deviation: f64,
}

/// Direction of the latest value relative to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Trend {
    Increasing,
    Decreasing,
    Stable,
}

/// Baseline, change and anomalies of one oldest-first series; `None` without points.
///
/// `percent_of_success` marks a series bounded by 100 % (availability): its spread floor is a share of the
/// shortfall from 100 %, since 99.9 → 95 % is an outage although it is only 5 % of the value.
fn trend<'a>(
    service: &'a str,
    points: &[Point],
    threshold: f64,
    percent_of_success: bool,
) -> Option<TrendOut<'a>> {
    let base_points = baseline(points);
    let base = mean(base_points.iter().map(|p| p.value))?;
    let spread = std_dev(base_points.iter().map(|p| p.value), base)?;
    let scale = if percent_of_success {
        (100.0 - base).max(0.1)
    } else {
        base.abs()
    };
    let sigma = spread.max(SIGMA_FLOOR_SHARE * scale).max(SIGMA_FLOOR_MIN);
    let latest = points.last()?.value;
    let anomalies: Vec<AnomalyOut> = points
        .get(base_points.len()..)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let deviation = (p.value - base) / sigma;
            (deviation.abs() > threshold).then(|| AnomalyOut {
                timestamp: rfc3339(p.at),
                value: p.value,
                deviation: round1(deviation),
            })
        })
        .collect();
    Some(TrendOut {
        service,
        trend: direction(
            base,
            latest,
            if percent_of_success {
                (100.0 - base).max(1.0)
            } else {
                base.abs()
            },
        ),
        baseline: round2(base),
        latest,
        change_pct: (base != 0.0).then(|| round1((latest - base) / base.abs() * 100.0)),
        anomalous: !anomalies.is_empty(),
        onset: anomalies.first().map(|a| a.timestamp.clone()),
        anomalies,
    })
}

fn direction(base: f64, latest: f64, scale: f64) -> Trend {
    if (latest - base).abs() <= STABLE_SHARE * scale {
        Trend::Stable
    } else if latest > base {
        Trend::Increasing
    } else {
        Trend::Decreasing
    }
}

/// The services matching `service` (all when absent) with their points of `series` inside `window`.
fn windowed<'a>(
    ds: &'a Dataset,
    service: Option<&'a str>,
    series: MetricSeries,
    window: &'a Window,
) -> impl Iterator<Item = (&'a ServiceMetrics, Vec<Point>)> {
    let service = service.map(str::trim).filter(|s| !s.is_empty());
    ds.metrics()
        .services
        .iter()
        .filter(move |s| service.is_none_or(|name| s.service == name))
        .map(move |s| (s, in_window(s.points(series), window)))
}

/// Resolves a metric-name parameter against its accepted names; the first one is the default.
fn series_param(
    param: &'static str,
    value: Option<&str>,
    accepted: &[(&'static str, MetricSeries)],
) -> Result<(&'static str, MetricSeries), ToolError> {
    let text = value.map(str::trim).filter(|v| !v.is_empty());
    let found = match text {
        None => accepted.first().copied(),
        Some(text) => accepted
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .copied(),
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = accepted.iter().map(|(name, _)| *name).collect();
        ToolError::invalid(
            param,
            text.unwrap_or_default(),
            format!("one of {}", names.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::{dataset, now};
    use serde_json::{Value, json};

    fn services(answer: &Value) -> Vec<String> {
        answer["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["service"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn performance_defaults_to_response_time_over_the_last_hour() {
        let ds = dataset();
        let answer = performance_metrics(&ds, &PerformanceParams::default(), now()).unwrap();
        assert_eq!(answer["metric_type"], "response_time");
        assert_eq!(answer["unit"], "ms");
        assert_eq!(services(&answer), ["web", "catalog"]);
        let web = &answer["services"][0];
        assert_eq!(web["namespace"], "production");
        assert_eq!(
            (web["first"].clone(), web["latest"].clone()),
            (json!(151.0), json!(5000.0))
        );
        assert_eq!(
            web["points"].as_array().unwrap().len(),
            5,
            "1h, 45m, 30m, 15m, 0m"
        );
        assert_eq!(
            web["points"][0],
            json!({"timestamp": "2026-11-21T11:00:00Z", "value": 151.0})
        );
    }

    #[test]
    fn performance_filters_service_type_and_range() {
        let ds = dataset();
        let params = PerformanceParams {
            metric_type: Some("throughput".into()),
            start_time: Some("2h".into()),
            end_time: Some("30m".into()),
            service: Some("catalog".into()),
        };
        let answer = performance_metrics(&ds, &params, now()).unwrap();
        assert_eq!(answer["unit"], "requests/s");
        assert_eq!(services(&answer), ["catalog"]);
        assert_eq!(
            answer["services"][0]["points"].as_array().unwrap().len(),
            1,
            "only the 1h point"
        );

        let bad = PerformanceParams {
            metric_type: Some("latency".into()),
            ..PerformanceParams::default()
        };
        assert_eq!(
            performance_metrics(&ds, &bad, now())
                .unwrap_err()
                .to_string(),
            "invalid metric_type \"latency\": expected one of response_time, throughput, cpu_usage, memory_usage"
        );
    }

    #[test]
    fn error_rates_report_baseline_current_and_peak() {
        let ds = dataset();
        let answer = error_rates(&ds, &ErrorRatesParams::default(), now()).unwrap();
        assert_eq!(answer["time_window"], "1h");
        let web = &answer["services"][0];
        assert_eq!(web["service"], "web");
        assert_eq!(web["unit"], "percent");
        assert_eq!(
            (
                web["current"].clone(),
                web["baseline"].clone(),
                web["peak"].clone()
            ),
            (json!(75.0), json!(0.5), json!(75.0))
        );
        let recent = ErrorRatesParams {
            time_window: Some("20m".into()),
            service: Some("web".into()),
        };
        let answer = error_rates(&ds, &recent, now()).unwrap();
        assert_eq!(
            answer["services"][0]["baseline"], 50.0,
            "the baseline moves with the window"
        );
        let nobody = ErrorRatesParams {
            time_window: None,
            service: Some("billing".into()),
        };
        assert_eq!(
            error_rates(&ds, &nobody, now()).unwrap()["services"],
            json!([])
        );
    }

    #[test]
    fn resource_metrics_pick_the_series() {
        let ds = dataset();
        let params = ResourceMetricsParams {
            resource_type: Some("memory".into()),
            service: None,
            time_window: None,
        };
        let answer = resource_metrics(&ds, &params, now()).unwrap();
        assert_eq!(answer["unit"], "percent");
        assert_eq!(services(&answer), ["web"], "catalog reports no memory");
        assert_eq!(answer["services"][0]["max"], 100.0);
        let bad = ResourceMetricsParams {
            resource_type: Some("gpu".into()),
            ..ResourceMetricsParams::default()
        };
        assert_eq!(
            resource_metrics(&ds, &bad, now()).unwrap_err().to_string(),
            "invalid resource_type \"gpu\": expected one of cpu, memory, disk, network"
        );
    }

    #[test]
    fn availability_compares_the_mean_with_the_slo() {
        let ds = dataset();
        let answer = availability_metrics(&ds, &AvailabilityParams::default(), now()).unwrap();
        assert_eq!(answer["slo_target"], 99.9);
        assert_eq!(
            answer["services"],
            json!([
                {"service": "web", "availability": 68.32, "latest": 25.0, "min": 25.0, "slo_met": false},
                {"service": "catalog", "availability": 99.99, "latest": 99.99, "min": 99.99, "slo_met": true}
            ])
        );
    }

    #[test]
    fn trends_find_the_onset_of_the_anomaly() {
        let ds = dataset();
        let params = TrendsParams {
            metric_name: "response_time".into(),
            service: Some("web".into()),
            ..TrendsParams::default()
        };
        let answer = analyze_trends(&ds, &params, now()).unwrap();
        assert_eq!(answer["time_window"], "2h");
        let web = &answer["services"][0];
        assert_eq!(web["trend"], "increasing");
        assert_eq!(web["baseline"], 150.0);
        assert_eq!(web["change_pct"], 3233.3);
        assert_eq!(web["anomalous"], true);
        assert_eq!(web["onset"], "2026-11-21T11:15:00Z");
        assert_eq!(web["anomalies"].as_array().unwrap().len(), 4);
        assert_eq!(web["anomalies"][0]["value"], 900.0);
    }

    #[test]
    fn an_availability_drop_of_a_few_points_is_an_anomaly() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let values = [
            99.92, 99.9, 99.91, 99.9, 99.92, 99.9, 99.91, 99.9, 98.1, 96.5, 95.8, 95.7,
        ];
        let points: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                at: t0 + chrono::Duration::minutes(10 * i as i64),
                value: *v,
            })
            .collect();
        let row = trend("claims", &points, DEFAULT_ANOMALY_THRESHOLD, true).unwrap();
        assert!(row.anomalous, "a 4-point availability drop is an outage");
        assert_eq!(row.trend, Trend::Decreasing);
        assert_eq!(row.anomalies.first().map(|a| a.value), Some(98.1));
        // The same drop on a latency-like series is within 5 % of the value: not flagged.
        let relative = trend("claims", &points, DEFAULT_ANOMALY_THRESHOLD, false).unwrap();
        assert!(!relative.anomalous);
    }

    #[test]
    fn flat_series_are_stable_and_thresholds_validated() {
        let ds = dataset();
        let catalog = TrendsParams {
            metric_name: "Availability".into(),
            service: Some("catalog".into()),
            ..TrendsParams::default()
        };
        let answer = analyze_trends(&ds, &catalog, now()).unwrap();
        let row = &answer["services"][0];
        assert_eq!(
            (
                row["trend"].clone(),
                row["anomalous"].clone(),
                row["onset"].clone()
            ),
            (json!("stable"), json!(false), Value::Null)
        );

        for threshold in [0.0, -1.0, f64::INFINITY] {
            let params = TrendsParams {
                metric_name: "error_rate".into(),
                anomaly_threshold: Some(threshold),
                ..TrendsParams::default()
            };
            let err = analyze_trends(&ds, &params, now()).unwrap_err().to_string();
            assert!(err.starts_with("invalid anomaly_threshold"), "{err}");
        }
        let unknown = TrendsParams {
            metric_name: "latency".into(),
            ..TrendsParams::default()
        };
        assert!(analyze_trends(&ds, &unknown, now()).unwrap_err().to_string().starts_with(
            "invalid metric_name \"latency\": expected one of response_time, throughput, error_rate, availability"
        ));
    }
}
