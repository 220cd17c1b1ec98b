//! Trace and span identifiers as the trace file writes them (lowercase hex) and as X-Ray shows them
//! (`1-xxxxxxxx-…`), and the trace-id queries a user types: a full id in either form or a prefix of one.

use std::fmt;

use crate::traces::TraceError;

/// A W3C trace id (16 bytes, never all zero).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// A span id (8 bytes, never all zero).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

/// A trace id as a user typed it, normalised to a lowercase hex prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceQuery {
    input: String,
    prefix: String,
}

impl TraceId {
    /// The id in `bytes`, when they are exactly 16 and not all zero.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 16] = bytes.try_into().ok()?;
        (id != [0; 16]).then_some(Self(id))
    }

    /// The id from 32 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        Self::from_bytes(&decode_hex(hex)?)
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    /// The X-Ray form, `1-{first 8 hex}-{remaining 24 hex}`.
    pub fn to_xray(&self) -> String {
        let hex = self.to_hex();
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl SpanId {
    /// The id in `bytes`, when they are exactly 8 and not all zero.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let id: [u8; 8] = bytes.try_into().ok()?;
        (id != [0; 8]).then_some(Self(id))
    }

    /// The id from 16 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        Self::from_bytes(&decode_hex(hex)?)
    }

    /// 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}

impl TraceQuery {
    /// Parses a full trace id or a prefix, in hex (`6b01357e…`) or X-Ray form (`1-6b01357e-f0d5…`); case and
    /// surrounding blanks do not matter.
    pub fn parse(input: &str) -> Result<Self, TraceError> {
        let invalid = |reason| TraceError::InvalidId {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        let prefix = match text.strip_prefix("1-") {
            Some(rest) => {
                let mut parts = rest.split('-');
                let epoch = parts.next().unwrap_or_default();
                let random = parts.next();
                if parts.next().is_some() {
                    return Err(invalid("an X-Ray id has exactly two parts after `1-`"));
                }
                match random {
                    None if epoch.len() <= 8 => epoch.to_owned(),
                    None => return Err(invalid("the time part of an X-Ray id has 8 hex digits")),
                    Some(_) if epoch.len() != 8 => {
                        return Err(invalid("the time part of an X-Ray id has 8 hex digits"));
                    }
                    Some(random) if random.len() > 24 => {
                        return Err(invalid("the random part of an X-Ray id has 24 hex digits"));
                    }
                    Some(random) => format!("{epoch}{random}"),
                }
            }
            None => text,
        };
        if prefix.is_empty() {
            return Err(invalid("no hex digits"));
        }
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("only hex digits 0-9 and a-f may appear"));
        }
        if prefix.len() > 32 {
            return Err(invalid("a trace id has 32 hex digits"));
        }
        Ok(Self {
            input: input.trim().to_owned(),
            prefix,
        })
    }

    /// What the user typed (trimmed).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The lowercase hex prefix every matching id starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when `id` starts with this query.
    pub fn matches(&self, id: &TraceId) -> bool {
        id.to_hex().starts_with(&self.prefix)
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "6b01357ef0d58debe69bcc7be896f611";

    #[test]
    fn ids_round_trip_through_hex_and_xray() {
        let id = TraceId::from_hex(HEX).unwrap();
        assert_eq!(id.to_hex(), HEX);
        assert_eq!(id.to_xray(), "1-6b01357e-f0d58debe69bcc7be896f611");
        assert_eq!(
            TraceId::from_hex(&"0".repeat(32)),
            None,
            "all-zero is invalid"
        );
        assert_eq!(TraceId::from_hex("6b01"), None);
        assert_eq!(TraceId::from_hex(&"g".repeat(32)), None);
        let span = SpanId::from_hex("01d19d20599f2fdc").unwrap();
        assert_eq!(span.to_string(), "01d19d20599f2fdc");
        assert_eq!(SpanId::from_bytes(&[]), None);
    }

    #[test]
    fn queries_accept_hex_xray_and_prefixes() {
        let id = TraceId::from_hex(HEX).unwrap();
        for input in [
            HEX,
            "6B01357EF0D58DEBE69BCC7BE896F611",
            "1-6b01357e-f0d58debe69bcc7be896f611",
            " 1-6b01357e-f0d5 ",
            "1-6b01357e",
            "1-6b01",
            "6b01357ef0",
        ] {
            let query = TraceQuery::parse(input).unwrap();
            assert!(query.matches(&id), "{input} should match");
        }
        assert_eq!(
            TraceQuery::parse("1-6b01357e-f0d5").unwrap().prefix(),
            "6b01357ef0d5"
        );
        let other = TraceQuery::parse("6b01357f").unwrap();
        assert!(!other.matches(&id));
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        for (input, needle) in [
            ("", "empty"),
            ("xyz", "hex digits"),
            ("1-6b01357e-f0d5-aa", "two parts"),
            ("1-6b013-f0d5", "8 hex digits"),
            ("1-6b01357e0", "8 hex digits"),
            (&"a".repeat(33), "32 hex digits"),
            ("1-", "no hex digits"),
        ] {
            let err = TraceQuery::parse(input).unwrap_err();
            assert!(err.is_usage());
            assert!(err.to_string().contains(needle), "{input:?}: {err}");
        }
    }
}
