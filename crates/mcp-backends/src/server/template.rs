//! Log message templates: the variable parts of a message (quoted strings, UUIDs, `host:port` addresses,
//! IPs, hex ids, numbers) replaced by placeholders, so messages that differ only in those parts group together.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Replacement rules, applied in order; a placeholder never matches a later rule.
const RULES: &[(&str, &str)] = &[
    (r#""[^"]*"|'[^']*'"#, "<str>"),
    (
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<uuid>",
    ),
    // Source locations in stack frames are not addresses: `UserService.java:142`.
    (
        r"(\.(?:java|kt|scala|go|py|rs|js|ts|rb|cs)):\d+\b",
        "${1}:<num>",
    ),
    (
        r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):\d{1,5}\b",
        "<host>",
    ),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}\b", "<ip>"),
    (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
];

/// Hex-looking words; only those mixing digits and letters become `<hex>` (`7b9c4d8f2a`, not `deadbeef`).
const HEX_WORD: &str = r"\b[0-9a-f]{8,}\b";

/// Numbers not glued to a preceding letter: `5000ms` becomes `<num>ms`, `x5m1q` stays.
const NUMBER: &str = r"(^|[^A-Za-z0-9_])\d+(?:\.\d+)?";

struct Compiled {
    rules: Vec<(Regex, &'static str)>,
    hex_word: Option<Regex>,
    number: Option<Regex>,
}

/// Built once; a pattern that failed to compile would be skipped, which the tests rule out.
static COMPILED: LazyLock<Compiled> = LazyLock::new(|| Compiled {
    rules: RULES
        .iter()
        .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|re| (re, *replacement)))
        .collect(),
    hex_word: Regex::new(HEX_WORD).ok(),
    number: Regex::new(NUMBER).ok(),
});

/// The template of a log message.
pub(crate) fn template(message: &str) -> String {
    let compiled = &*COMPILED;
    let mut text = message.to_owned();
    for (re, replacement) in &compiled.rules {
        text = re.replace_all(&text, *replacement).into_owned();
    }
    if let Some(re) = &compiled.hex_word {
        text = re
            .replace_all(&text, |caps: &Captures<'_>| {
                let word = caps.get(0).map_or("", |m| m.as_str());
                let mixed = word.bytes().any(|b| b.is_ascii_digit())
                    && word.bytes().any(|b| b.is_ascii_alphabetic());
                if mixed {
                    "<hex>".to_owned()
                } else {
                    word.to_owned()
                }
            })
            .into_owned();
    }
    if let Some(re) = &compiled.number {
        text = re.replace_all(&text, "${1}<num>").into_owned();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(COMPILED.rules.len(), RULES.len());
        assert!(COMPILED.hex_word.is_some());
        assert!(COMPILED.number.is_some());
    }

    #[test]
    fn durations_and_addresses_become_placeholders() {
        assert_eq!(
            template("Connection timeout after 5000ms to database-service:5432"),
            "Connection timeout after <num>ms to <host>"
        );
        assert_eq!(
            template("Connection pool exhausted: 50/50 connections in use, 212 requests waiting"),
            "Connection pool exhausted: <num>/<num> connections in use, <num> requests waiting"
        );
        assert_eq!(template("peer 10.0.3.17 reset"), "peer <ip> reset");
    }

    #[test]
    fn strings_ids_and_stack_frames() {
        assert_eq!(
            template(
                r#"FATAL:  could not open configuration file "/etc/postgresql/postgresql.conf""#
            ),
            "FATAL:  could not open configuration file <str>"
        );
        assert_eq!(
            template("request 3f2b8c1e-9d4a-4b7e-8f6a-1c2d3e4f5a6b failed at 0x7ffd12"),
            "request <uuid> failed at <hex>"
        );
        assert_eq!(
            template("OutOfMemoryError at UserService.loadAllUsers(UserService.java:142)"),
            "OutOfMemoryError at UserService.loadAllUsers(UserService.java:<num>)"
        );
        assert_eq!(
            template("restarting database-pod-7b9c4d8f2a-x5m1q, deadbeef"),
            "restarting database-pod-<hex>-x5m1q, deadbeef"
        );
    }

    #[test]
    fn same_shape_messages_share_a_template() {
        assert_eq!(
            template("Connection timeout after 5000ms to database-service:5432"),
            template("Connection timeout after 5012ms to database-service:5432")
        );
    }
}
