//! Series arithmetic of the metrics tools: window selection, summary statistics, baselines and rounding.

use serde::Serialize;

use super::window::Window;
use crate::dataset::metrics::Point;
use crate::dataset::time::rfc3339;

/// A point as tools print it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PointOut {
    /// RFC 3339 time.
    pub timestamp: String,
    /// The value.
    pub value: f64,
}

/// `first`, `latest`, `min`, `max`, `avg` and the points of a series over a window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct SeriesStats {
    /// Oldest value in the window.
    pub first: f64,
    /// Newest value in the window.
    pub latest: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub avg: f64,
    /// Every point, oldest first.
    pub points: Vec<PointOut>,
}

/// The points of an oldest-first series that fall inside `window`.
pub(crate) fn in_window(points: &[Point], window: &Window) -> Vec<Point> {
    points
        .iter()
        .filter(|p| window.contains(p.at))
        .copied()
        .collect()
}

/// Statistics of oldest-first `points`; `None` when there are none.
pub(crate) fn summarize(points: &[Point]) -> Option<SeriesStats> {
    let first = points.first()?.value;
    let latest = points.last()?.value;
    let values = || points.iter().map(|p| p.value);
    Some(SeriesStats {
        first,
        latest,
        min: round2(values().fold(f64::INFINITY, f64::min)),
        max: round2(values().fold(f64::NEG_INFINITY, f64::max)),
        avg: round2(mean(values())?),
        points: print_points(points),
    })
}

/// The points as printed in answers.
pub(crate) fn print_points(points: &[Point]) -> Vec<PointOut> {
    points
        .iter()
        .map(|p| PointOut {
            timestamp: rfc3339(p.at),
            value: p.value,
        })
        .collect()
}

/// The oldest quarter of oldest-first `points` (at least one point when there is any).
pub(crate) fn baseline(points: &[Point]) -> &[Point] {
    let count = points.len().div_ceil(4);
    points.get(..count).unwrap_or(points)
}

/// Arithmetic mean; `None` for no values.
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0_u32), |(sum, count), v| (sum + v, count + 1));
    (count > 0).then(|| sum / f64::from(count))
}

/// Population standard deviation around `mean`; `None` for no values.
pub(crate) fn std_dev(values: impl Iterator<Item = f64>, mean_value: f64) -> Option<f64> {
    mean(values.map(|v| (v - mean_value).powi(2))).map(f64::sqrt)
}

/// Rounds to two decimals.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Rounds to one decimal.
pub(crate) fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::now;
    use chrono::TimeDelta;

    fn series(values: &[f64]) -> Vec<Point> {
        let count = i64::try_from(values.len()).unwrap();
        values
            .iter()
            .zip(0..)
            .map(|(&value, i)| Point {
                at: now() - TimeDelta::minutes(5 * (count - 1 - i)),
                value,
            })
            .collect()
    }

    #[test]
    fn summary_covers_the_window() {
        let points = series(&[150.0, 152.0, 148.0, 900.0, 5000.0]);
        let stats = summarize(&points).unwrap();
        assert_eq!(
            (stats.first, stats.latest, stats.min, stats.max),
            (150.0, 5000.0, 148.0, 5000.0)
        );
        assert_eq!(stats.avg, 1270.0);
        assert_eq!(stats.points.len(), 5);
        assert_eq!(stats.points[4].timestamp, "2026-11-21T12:00:00Z");
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn baseline_is_the_oldest_quarter() {
        let points = series(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let base: Vec<f64> = baseline(&points).iter().map(|p| p.value).collect();
        assert_eq!(base, [1.0, 2.0, 3.0]);
        assert_eq!(baseline(&points[..1]).len(), 1);
        assert!(baseline(&[]).is_empty());
    }

    #[test]
    fn window_selection_is_inclusive() {
        let points = series(&[1.0, 2.0, 3.0]);
        let window = Window {
            start: now() - TimeDelta::minutes(5),
            end: now(),
        };
        let values: Vec<f64> = in_window(&points, &window)
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(values, [2.0, 3.0]);
    }

    #[test]
    fn deviation_and_rounding() {
        assert_eq!(
            std_dev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter(), 5.0),
            Some(2.0)
        );
        assert_eq!(round1(92.77), 92.8);
        assert_eq!(round2(1.005_1), 1.01);
    }
}
