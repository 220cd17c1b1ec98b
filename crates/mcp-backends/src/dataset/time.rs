//! Scenario time: relative `ago` values as written in the files, durations kept as written, and the RFC 3339
//! form every tool prints.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An absolute point in time, UTC.
pub type Timestamp = DateTime<Utc>;

/// The longest `ago` accepted: a century, so every resolved timestamp stays far inside chrono's range.
pub const MAX_AGO: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How a duration is written, for error messages.
pub(crate) const DURATION_SYNTAX: &str =
    "a duration such as \"90s\", \"12m\", \"2h\", \"1h 30m\" or \"3d\"";

/// A relative time as written in a scenario file (`"12m"` means twelve minutes before the load time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ago(Duration);

impl Ago {
    /// An `ago` of `duration`, or `None` beyond [`MAX_AGO`].
    pub fn new(duration: Duration) -> Option<Self> {
        (duration <= MAX_AGO).then_some(Self(duration))
    }

    /// The distance from the load time.
    pub fn duration(self) -> Duration {
        self.0
    }

    /// The absolute time this `ago` denotes when the scenario is loaded at `now`.
    pub fn before(self, now: Timestamp) -> Timestamp {
        subtract(now, self.0)
    }
}

impl<'de> Deserialize<'de> for Ago {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DurationVisitor).map(Ago)
    }
}

/// A duration kept exactly as written (`"15m"`), validated when the scenario is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanDuration {
    text: String,
    duration: Duration,
}

impl HumanDuration {
    /// The text as written in the file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let duration = parse_duration(&text)
            .ok_or_else(|| de::Error::invalid_value(Unexpected::Str(&text), &DurationVisitor))?;
        Ok(Self { text, duration })
    }
}

/// Parses a humantime duration up to [`MAX_AGO`]; `None` for anything else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim())
        .ok()
        .filter(|d| *d <= MAX_AGO)
}

/// `now - duration`, saturating at chrono's earliest time instead of overflowing.
pub fn subtract(now: Timestamp, duration: Duration) -> Timestamp {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| now.checked_sub_signed(delta))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `2026-11-21T10:15:00Z`: the timestamp form of every tool answer.
pub fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A short age such as `"45s"`, `"12m"`, `"2h"`, `"1h 30m"` or `"3d 4h"`: the two largest non-zero units.
pub fn compact_age(age: TimeDelta) -> String {
    let seconds = age.num_seconds().max(0);
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut rest = seconds;
    let parts: Vec<String> = units
        .iter()
        .filter_map(|(suffix, size)| {
            let count = rest / size;
            rest %= size;
            (count > 0).then(|| format!("{count}{suffix}"))
        })
        .take(2)
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DURATION_SYNTAX}, at most 36500d")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse_duration(text).ok_or_else(|| E::invalid_value(Unexpected::Str(text), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    #[test]
    fn ago_resolves_against_the_load_time() {
        let ago: Ago = serde_json::from_str("\"1h 30m\"").unwrap();
        assert_eq!(rfc3339(ago.before(now())), "2026-11-21T10:30:00Z");
        let zero: Ago = serde_json::from_str("\"0s\"").unwrap();
        assert_eq!(zero.before(now()), now());
    }

    #[test]
    fn malformed_ago_names_the_value_and_the_syntax() {
        let err = serde_json::from_str::<Ago>("\"5 minutes ago\"").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "invalid value: string \"5 minutes ago\", expected a duration such as \"90s\""
            ),
            "{err}"
        );
        let too_far = serde_json::from_str::<Ago>("\"40000d\"").unwrap_err();
        assert!(too_far.to_string().contains("at most 36500d"), "{too_far}");
    }

    #[test]
    fn human_duration_keeps_its_text() {
        let d: HumanDuration = serde_json::from_str("\"15m\"").unwrap();
        assert_eq!(d.duration(), Duration::from_secs(900));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"15m\"");
    }

    #[test]
    fn compact_age_keeps_two_units() {
        assert_eq!(compact_age(TimeDelta::seconds(45)), "45s");
        assert_eq!(compact_age(TimeDelta::minutes(120)), "2h");
        assert_eq!(compact_age(TimeDelta::seconds(5_430)), "1h 30m");
        assert_eq!(
            compact_age(TimeDelta::hours(76) + TimeDelta::seconds(7)),
            "3d 4h"
        );
        assert_eq!(compact_age(TimeDelta::seconds(-5)), "0s");
    }
}
