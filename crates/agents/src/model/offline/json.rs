//! Lenient readers for tool output JSON: a missing or mistyped field is `None`, never a panic.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|n| n.is_finite())
}

pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
}

pub(crate) fn flag(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

pub(crate) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    str_of(v, key)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub(crate) fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key)
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// `HH:MM UTC` for summaries.
pub(crate) fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// A number without trailing zeros: `150`, `2.5`, `99.99`.
pub(crate) fn fmt_num(n: f64) -> String {
    if (n - n.round()).abs() < 0.005 {
        format!("{}", n.round() as i64)
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_tolerate_missing_and_mistyped_fields() {
        let v = json!({"a": "x", "n": 2.5, "i": 3, "b": true, "l": [1, "s"], "t": "2026-11-21T10:00:00Z"});
        assert_eq!(str_of(&v, "a"), Some("x"));
        assert_eq!(str_of(&v, "n"), None);
        assert_eq!(num(&v, "i"), Some(3.0));
        assert_eq!(int(&v, "n"), Some(2));
        assert_eq!(flag(&v, "b"), Some(true));
        assert_eq!(list(&v, "missing").len(), 0);
        assert_eq!(strings(&v, "l"), vec!["s".to_owned()]);
        assert_eq!(time(&v, "t").map(clock).as_deref(), Some("10:00 UTC"));
        assert_eq!(fmt_num(150.0), "150");
        assert_eq!(fmt_num(99.99), "99.99");
        assert_eq!(fmt_num(2.50), "2.5");
    }
}
