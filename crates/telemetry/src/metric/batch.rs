//! [`MetricBatch`]: what the aggregator hands to every sink at each flush — one point per series.

use std::time::SystemTime;

use super::catalog::{MetricDef, MetricId};

/// Everything aggregated during one flush interval.
#[derive(Debug, Clone)]
pub struct MetricBatch {
    /// When the interval was closed.
    pub timestamp: SystemTime,
    /// One point per series (metric, dimension values, properties).
    pub points: Vec<MetricPoint>,
}

/// One series' aggregate for the interval.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Which metric.
    pub id: MetricId,
    /// Dimension values, in the order of [`MetricDef::dimensions`].
    pub dimensions: Vec<String>,
    /// High-cardinality properties (`investigation_id`, `trace_id`) that came with the values.
    pub properties: Vec<(&'static str, String)>,
    /// The aggregate.
    pub value: PointValue,
}

/// The aggregate of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// Sum of a counter's values during the interval.
    Sum(f64),
    /// Current value of a gauge or up-down counter.
    Gauge(f64),
    /// Values of a histogram during the interval.
    Distribution(Distribution),
}

/// Distinct values with their counts, and exact summary statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Distinct values, ascending, with how often each was recorded.
    pub values: Vec<(f64, u64)>,
    /// Number of values.
    pub count: u64,
    /// Sum of values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl MetricPoint {
    /// The catalog entry of this point's metric.
    pub fn def(&self) -> &'static MetricDef {
        self.id.def()
    }

    /// Dimension name/value pairs.
    pub fn dimension_pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.def()
            .dimensions
            .iter()
            .copied()
            .zip(self.dimensions.iter().map(String::as_str))
    }

    /// How many values this point stands for (1 for sums and gauges).
    pub fn sample_count(&self) -> u64 {
        match &self.value {
            PointValue::Distribution(d) => d.count,
            _ => 1,
        }
    }
}

impl Distribution {
    /// Builds a distribution from raw values (non-finite values must be filtered out before).
    pub fn from_values(mut raw: Vec<f64>) -> Self {
        raw.sort_by(f64::total_cmp);
        let mut values: Vec<(f64, u64)> = Vec::new();
        let mut sum = 0.0;
        for v in &raw {
            sum += v;
            match values.last_mut() {
                Some((last, n)) if last.to_bits() == v.to_bits() => *n += 1,
                _ => values.push((*v, 1)),
            }
        }
        Self {
            count: raw.len() as u64,
            sum,
            min: raw.first().copied().unwrap_or_default(),
            max: raw.last().copied().unwrap_or_default(),
            values,
        }
    }

    /// Every value, repeated by its count.
    pub fn expanded(&self) -> impl Iterator<Item = f64> + '_ {
        self.values
            .iter()
            .flat_map(|(v, n)| std::iter::repeat_n(*v, *n as usize))
    }
}
