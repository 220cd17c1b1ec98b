//! `metrics.json`: per-service time series.

use serde::Deserialize;

use super::time::{Ago, Timestamp};

/// The metrics of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsData<T = Timestamp> {
    /// One entry per service.
    pub services: Vec<ServiceMetrics<T>>,
}

/// The series of one service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMetrics<T = Timestamp> {
    /// Service name.
    pub service: String,
    /// Namespace of the service.
    pub namespace: String,
    /// The series it reports.
    pub series: SeriesSet<T>,
}

impl ServiceMetrics {
    /// The points of `series`, oldest first; empty when the service does not report it.
    pub fn points(&self, series: MetricSeries) -> &[Point] {
        self.series.get(series)
    }
}

/// The eight optional series of a service; an absent series is empty. Points are oldest first once loaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSet<T = Timestamp> {
    /// Mean response time, milliseconds.
    #[serde(default = "Vec::new")]
    pub response_time_ms: Vec<Point<T>>,
    /// Requests per second.
    #[serde(default = "Vec::new")]
    pub throughput_rps: Vec<Point<T>>,
    /// Share of failed requests, percent.
    #[serde(default = "Vec::new")]
    pub error_rate_pct: Vec<Point<T>>,
    /// Share of successful health checks, percent.
    #[serde(default = "Vec::new")]
    pub availability_pct: Vec<Point<T>>,
    /// CPU utilisation, percent.
    #[serde(default = "Vec::new")]
    pub cpu_pct: Vec<Point<T>>,
    /// Memory utilisation, percent.
    #[serde(default = "Vec::new")]
    pub memory_pct: Vec<Point<T>>,
    /// Disk utilisation, percent.
    #[serde(default = "Vec::new")]
    pub disk_pct: Vec<Point<T>>,
    /// Network traffic, Mbit/s.
    #[serde(default = "Vec::new")]
    pub network_mbps: Vec<Point<T>>,
}

impl<T> SeriesSet<T> {
    /// The points of one series.
    pub fn get(&self, series: MetricSeries) -> &[Point<T>] {
        match series {
            MetricSeries::ResponseTimeMs => &self.response_time_ms,
            MetricSeries::ThroughputRps => &self.throughput_rps,
            MetricSeries::ErrorRatePct => &self.error_rate_pct,
            MetricSeries::AvailabilityPct => &self.availability_pct,
            MetricSeries::CpuPct => &self.cpu_pct,
            MetricSeries::MemoryPct => &self.memory_pct,
            MetricSeries::DiskPct => &self.disk_pct,
            MetricSeries::NetworkMbps => &self.network_mbps,
        }
    }

    fn get_mut(&mut self, series: MetricSeries) -> &mut Vec<Point<T>> {
        match series {
            MetricSeries::ResponseTimeMs => &mut self.response_time_ms,
            MetricSeries::ThroughputRps => &mut self.throughput_rps,
            MetricSeries::ErrorRatePct => &mut self.error_rate_pct,
            MetricSeries::AvailabilityPct => &mut self.availability_pct,
            MetricSeries::CpuPct => &mut self.cpu_pct,
            MetricSeries::MemoryPct => &mut self.memory_pct,
            MetricSeries::DiskPct => &mut self.disk_pct,
            MetricSeries::NetworkMbps => &mut self.network_mbps,
        }
    }

    /// Every non-empty series with its points.
    pub fn iter(&self) -> impl Iterator<Item = (MetricSeries, &[Point<T>])> {
        MetricSeries::ALL
            .into_iter()
            .map(|series| (series, self.get(series)))
            .filter(|(_, points)| !points.is_empty())
    }
}

/// One sample.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point<T = Timestamp> {
    /// When it was sampled (`ago` in the file).
    #[serde(rename = "ago")]
    pub at: T,
    /// The value, in the unit of its series.
    pub value: f64,
}

/// The eight series a service may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricSeries {
    /// Mean response time, milliseconds.
    ResponseTimeMs,
    /// Requests per second.
    ThroughputRps,
    /// Share of failed requests, percent.
    ErrorRatePct,
    /// Share of successful health checks, percent.
    AvailabilityPct,
    /// CPU utilisation, percent.
    CpuPct,
    /// Memory utilisation, percent.
    MemoryPct,
    /// Disk utilisation, percent.
    DiskPct,
    /// Network traffic, Mbit/s.
    NetworkMbps,
}

impl MetricSeries {
    /// Every series.
    pub const ALL: [MetricSeries; 8] = [
        MetricSeries::ResponseTimeMs,
        MetricSeries::ThroughputRps,
        MetricSeries::ErrorRatePct,
        MetricSeries::AvailabilityPct,
        MetricSeries::CpuPct,
        MetricSeries::MemoryPct,
        MetricSeries::DiskPct,
        MetricSeries::NetworkMbps,
    ];

    /// The key as written in `metrics.json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricSeries::ResponseTimeMs => "response_time_ms",
            MetricSeries::ThroughputRps => "throughput_rps",
            MetricSeries::ErrorRatePct => "error_rate_pct",
            MetricSeries::AvailabilityPct => "availability_pct",
            MetricSeries::CpuPct => "cpu_pct",
            MetricSeries::MemoryPct => "memory_pct",
            MetricSeries::DiskPct => "disk_pct",
            MetricSeries::NetworkMbps => "network_mbps",
        }
    }

    /// The unit tools report: `ms`, `requests/s`, `percent` or `Mbit/s`.
    pub const fn unit(self) -> &'static str {
        match self {
            MetricSeries::ResponseTimeMs => "ms",
            MetricSeries::ThroughputRps => "requests/s",
            MetricSeries::NetworkMbps => "Mbit/s",
            MetricSeries::ErrorRatePct
            | MetricSeries::AvailabilityPct
            | MetricSeries::CpuPct
            | MetricSeries::MemoryPct
            | MetricSeries::DiskPct => "percent",
        }
    }

    /// Whether values are percentages (0 to 100).
    pub const fn is_percentage(self) -> bool {
        matches!(
            self,
            MetricSeries::ErrorRatePct
                | MetricSeries::AvailabilityPct
                | MetricSeries::CpuPct
                | MetricSeries::MemoryPct
                | MetricSeries::DiskPct
        )
    }
}

impl MetricsData<Ago> {
    /// Turns every `ago` into a timestamp relative to `now`, keeping file order.
    pub(crate) fn resolve(self, now: Timestamp) -> MetricsData {
        let services = self
            .services
            .into_iter()
            .map(|s| ServiceMetrics {
                service: s.service,
                namespace: s.namespace,
                series: s.series.resolve(now),
            })
            .collect();
        MetricsData { services }
    }
}

impl SeriesSet<Ago> {
    fn resolve(self, now: Timestamp) -> SeriesSet {
        let SeriesSet {
            response_time_ms,
            throughput_rps,
            error_rate_pct,
            availability_pct,
            cpu_pct,
            memory_pct,
            disk_pct,
            network_mbps,
        } = self;
        SeriesSet {
            response_time_ms: resolve_points(response_time_ms, now),
            throughput_rps: resolve_points(throughput_rps, now),
            error_rate_pct: resolve_points(error_rate_pct, now),
            availability_pct: resolve_points(availability_pct, now),
            cpu_pct: resolve_points(cpu_pct, now),
            memory_pct: resolve_points(memory_pct, now),
            disk_pct: resolve_points(disk_pct, now),
            network_mbps: resolve_points(network_mbps, now),
        }
    }
}

impl MetricsData {
    /// Orders every series oldest first (stable, so equal times keep file order).
    pub(crate) fn sort(&mut self) {
        for service in &mut self.services {
            for series in MetricSeries::ALL {
                service.series.get_mut(series).sort_by_key(|p| p.at);
            }
        }
    }
}

fn resolve_points(points: Vec<Point<Ago>>, now: Timestamp) -> Vec<Point> {
    points
        .into_iter()
        .map(|p| Point {
            at: p.at.before(now),
            value: p.value,
        })
        .collect()
}
