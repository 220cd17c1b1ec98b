//! Redaction and size caps for values that end up on spans and in logs.

use opentelemetry::{Array, KeyValue, StringValue};
use opentelemetry_sdk::trace::SpanData;
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

/// Replacement for a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments that mark a value as secret.
const SECRET_KEY_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "credential",
    "private_key",
    "session_key",
    "access_key",
];

/// True when a JSON object key names a secret (`password`, `apiKey`, `X-Api-Key`, `client_secret`, ...).
pub fn is_secret_key(key: &str) -> bool {
    // Keys are short: comparing windows in place beats lower-casing a copy of every key.
    let key = key.as_bytes();
    SECRET_KEY_FRAGMENTS.iter().any(|fragment| {
        key.windows(fragment.len())
            .any(|window| window.eq_ignore_ascii_case(fragment.as_bytes()))
    })
}

/// A copy of `value` in which every value under a secret-looking key is replaced by [`REDACTED`].
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// `value` as compact JSON with every value under a secret-looking key written as [`REDACTED`], cut to
/// `max_chars`: the text of [`redact_json`]`(value)`, written in one pass without copying `value`.
pub fn redacted_json(value: &Value, max_chars: usize) -> String {
    // Serialising a `Value` to a `String` cannot fail: its keys are strings and `REDACTED` is one too.
    let text = serde_json::to_string(&Redacted(value)).unwrap_or_default();
    truncate_chars(&text, max_chars)
}

/// Serialises the wrapped value as [`redact_json`] would have rewritten it.
struct Redacted<'a>(&'a Value);

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    if is_secret_key(key) {
                        out.serialize_entry(key, REDACTED)?;
                    } else {
                        out.serialize_entry(key, &Redacted(value))?;
                    }
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Redacted)),
            other => other.serialize(serializer),
        }
    }
}

/// `value` cut to at most `max_chars` characters (on a char boundary), with `…` when cut.
pub fn truncate_chars(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_owned(),
        Some((end, _)) => {
            let mut cut = value[..end].to_owned();
            cut.push('…');
            cut
        }
    }
}

/// `json` with secrets redacted (see [`redact_json`]) and the text cut to `max_chars`; input that is not
/// JSON is kept as text, cut the same way.
pub fn redact_json_text(json: &str, max_chars: usize) -> String {
    match serde_json::from_str::<Value>(json) {
        Ok(value) => redacted_json(&value, max_chars),
        Err(_) => truncate_chars(json, max_chars),
    }
}

/// Cuts every string attribute (and string array element) of `span` and of its events to `max_chars`.
pub fn cap_span(span: &mut SpanData, max_chars: usize) {
    cap_attributes(&mut span.attributes, max_chars);
    for event in span.events.events.iter_mut() {
        cap_attributes(&mut event.attributes, max_chars);
    }
}

fn cap_attributes(attributes: &mut [KeyValue], max_chars: usize) {
    // A string of at most `max_chars` bytes has at most that many chars: no need to count them.
    let too_long = |s: &str| s.len() > max_chars && s.chars().nth(max_chars).is_some();
    for kv in attributes {
        match &mut kv.value {
            opentelemetry::Value::String(s) if too_long(s.as_str()) => {
                *s = StringValue::from(truncate_chars(s.as_str(), max_chars));
            }
            opentelemetry::Value::Array(Array::String(items)) => {
                for item in items.iter_mut() {
                    if too_long(item.as_str()) {
                        *item = StringValue::from(truncate_chars(item.as_str(), max_chars));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_is_redacted_and_capped() {
        let out = redact_json_text(r#"{"token":"abc","q":"xxxxxxxxxx"}"#, 12);
        assert!(!out.contains("abc"));
        assert_eq!(out.chars().count(), 13);
        assert_eq!(redact_json_text("plain", 3), "pla…");
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let input = json!({"namespace": "production", "auth": {"Password": "hunter2", "user": "bob"},
                           "items": [{"apiKey": "abc"}], "X-Api-Key": "k"});
        let out = redact_json(&input);
        assert_eq!(out["namespace"], "production");
        assert_eq!(out["auth"]["Password"], REDACTED);
        assert_eq!(out["auth"]["user"], "bob");
        assert_eq!(out["items"][0]["apiKey"], REDACTED);
        assert_eq!(out["X-Api-Key"], REDACTED);
        assert!(!out.to_string().contains("hunter2"));
    }

    #[test]
    fn the_one_pass_text_is_the_redacted_copy_as_text() {
        let input = json!({"namespace": "production", "auth": {"Password": "hunter2", "user": "bob"},
                           "items": [{"apiKey": "abc"}, 3, null], "X-Api-Key": "k", "n": 1.5,
                           "nested": [[{"client_secret": {"deep": true}}]]});
        assert_eq!(
            redacted_json(&input, 10_000),
            redact_json(&input).to_string()
        );
        assert_eq!(
            redacted_json(&input, 5),
            truncate_chars(&redact_json(&input).to_string(), 5)
        );
        assert_eq!(redacted_json(&json!("héllo"), 3), "\"hé…");
    }

    #[test]
    fn secret_keys_match_whatever_their_case() {
        for key in [
            "password",
            "DB_PASSWORD",
            "X-Api-Key",
            "apiKey",
            "Authorization",
            "aws_access_key_id",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["namespace", "pod", "", "pass", "tok"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(truncate_chars(&"x".repeat(300), 200).chars().count(), 201);
    }
}
