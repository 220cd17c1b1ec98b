//! Time parameters of the tools: durations (`since`, `time_window`) and instants (`start_time`, `end_time`)
//! turned into a closed [`Window`] ending at the query time.

use std::time::Duration;

use chrono::DateTime;

use crate::dataset::time::{Timestamp, parse_duration, rfc3339, subtract};
use crate::error::ToolError;

/// How a duration parameter is written, for error messages.
const DURATION_EXPECTED: &str =
    "a duration such as \"30m\", \"1h\", \"24h\" or \"2d\" (at most 36500d)";
/// How an instant parameter is written, for error messages.
const INSTANT_EXPECTED: &str = "an RFC 3339 timestamp such as \"2026-11-21T10:15:00Z\" or a duration such as \"30m\" meaning that long ago";

/// A closed time interval `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// First instant included.
    pub start: Timestamp,
    /// Last instant included.
    pub end: Timestamp,
}

impl Window {
    /// Whether `at` lies inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at <= self.end
    }
}

/// A duration parameter as a window ending `now`; `default` applies when the parameter is absent.
///
/// Returns the window and the duration text to echo back (`"1h"`).
pub(crate) fn lookback(
    param: &'static str,
    value: Option<&str>,
    default: &'static str,
    now: Timestamp,
) -> Result<(Window, String), ToolError> {
    let text = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default);
    let duration = duration(param, text)?;
    let window = Window {
        start: subtract(now, duration),
        end: now,
    };
    Ok((window, text.to_owned()))
}

/// `start_time` / `end_time` as a window; `end` defaults to `now`, `start` to `default_span` before `end`.
pub(crate) fn range(
    start: Option<&str>,
    end: Option<&str>,
    default_span: Duration,
    now: Timestamp,
) -> Result<Window, ToolError> {
    let end_at = match present(end) {
        Some(text) => instant("end_time", text, now)?,
        None => now,
    };
    let start_at = match present(start) {
        Some(text) => instant("start_time", text, now)?,
        None => subtract(end_at, default_span),
    };
    if start_at > end_at {
        return Err(ToolError::invalid(
            "start_time",
            start.unwrap_or_default(),
            format!("a time before end_time ({})", rfc3339(end_at)),
        ));
    }
    Ok(Window {
        start: start_at,
        end: end_at,
    })
}

/// Parses a duration parameter.
pub(crate) fn duration(param: &'static str, text: &str) -> Result<Duration, ToolError> {
    parse_duration(text).ok_or_else(|| ToolError::invalid(param, text, DURATION_EXPECTED))
}

/// Parses an instant parameter: RFC 3339, or a duration meaning that long before `now`.
fn instant(param: &'static str, text: &str, now: Timestamp) -> Result<Timestamp, ToolError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    parse_duration(text)
        .map(|ago| subtract(now, ago))
        .ok_or_else(|| ToolError::invalid(param, text, INSTANT_EXPECTED))
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::now;

    #[test]
    fn lookback_ends_now_and_echoes_the_text() {
        let (window, text) = lookback("since", Some("30m"), "1h", now()).unwrap();
        assert_eq!(rfc3339(window.start), "2026-11-21T11:30:00Z");
        assert_eq!(window.end, now());
        assert_eq!(text, "30m");
        let (default, text) = lookback("since", None, "1h", now()).unwrap();
        assert_eq!(rfc3339(default.start), "2026-11-21T11:00:00Z");
        assert_eq!(text, "1h");
    }

    #[test]
    fn invalid_duration_names_parameter_and_syntax() {
        let err = lookback("time_window", Some("an hour"), "1h", now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid time_window \"an hour\": expected a duration such as \"30m\", \"1h\", \"24h\" or \"2d\" (at most 36500d)"
        );
    }

    #[test]
    fn range_accepts_timestamps_and_durations() {
        let w = range(
            Some("2026-11-21T10:00:00+01:00"),
            Some("10m"),
            Duration::from_secs(3600),
            now(),
        )
        .unwrap();
        assert_eq!(rfc3339(w.start), "2026-11-21T09:00:00Z");
        assert_eq!(rfc3339(w.end), "2026-11-21T11:50:00Z");
        let default = range(None, Some("2h"), Duration::from_secs(3600), now()).unwrap();
        assert_eq!(rfc3339(default.start), "2026-11-21T09:00:00Z");
    }

    #[test]
    fn range_rejects_reversed_and_malformed_bounds() {
        let reversed =
            range(Some("10m"), Some("1h"), Duration::from_secs(3600), now()).unwrap_err();
        assert_eq!(
            reversed.to_string(),
            "invalid start_time \"10m\": expected a time before end_time (2026-11-21T11:00:00Z)"
        );
        let malformed =
            range(Some("yesterday"), None, Duration::from_secs(3600), now()).unwrap_err();
        assert!(
            malformed
                .to_string()
                .starts_with("invalid start_time \"yesterday\": expected an RFC 3339")
        );
    }
}
