//! One finished span as read back from the trace file: ids, name, kind, timing, status, the resource's
//! `service.name`, and the attributes the trace commands use — with the questions those commands ask of it
//! (which service it runs in, which remote service it calls, how it ended).

use std::{fmt, sync::Arc};

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, KeyValue, any_value},
    trace::v1 as otlp,
};
use sre_telemetry::convention::attr;

use crate::traces::{Outcome, SpanId, TraceId};

/// Resource attribute naming the process's service.
pub const SERVICE_NAME: &str = "service.name";
/// HTTP status code of a client or server span (OTel HTTP semantic conventions).
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";

/// What a span measures, from the OTLP `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// No kind recorded.
    Unspecified,
    /// Work inside one service.
    Internal,
    /// Handling of a request from another service (a segment, in X-Ray words).
    Server,
    /// A request to another service.
    Client,
    /// A message handed to a broker.
    Producer,
    /// A message taken from a broker.
    Consumer,
}

/// The span's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanStatus {
    /// Not set (the usual value for success).
    Unset,
    /// Explicitly ok.
    Ok,
    /// Failed.
    Error,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// A string (also the text form of byte strings and key-value lists).
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// An array.
    List(Vec<AttrValue>),
}

/// A remote service a CLIENT (or PRODUCER) span calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote<'a> {
    /// The service name: `aws.remote.service`, else `peer.service`, else `gen_ai.provider.name`, else
    /// `server.address`.
    pub name: &'a str,
    /// True for a model provider (a `gen_ai.provider.name` without a service name).
    pub model: bool,
}

/// One span from the trace file.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The parent span, when the span is not a root.
    pub parent_id: Option<SpanId>,
    /// Span name, e.g. `tools/call get_pod_status`.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch (never before the start).
    pub end_ns: u64,
    /// Status code.
    pub status: SpanStatus,
    /// The status message, else the message of the span's `exception` event.
    pub message: Option<String>,
    /// `service.name` of the process that wrote the span.
    pub resource_service: Option<Arc<str>>,
    /// Attributes, in file order, without the SDK's source-location and thread bookkeeping.
    pub attributes: Vec<(String, AttrValue)>,
}

impl SpanKind {
    /// The kind from its OTLP number; unknown numbers read as unspecified.
    pub fn from_otlp(kind: i32) -> Self {
        match kind {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// Lowercase name (`server`, `client`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// True for spans where a service receives work (SERVER, CONSUMER).
    pub fn is_entry(self) -> bool {
        matches!(self, SpanKind::Server | SpanKind::Consumer)
    }

    /// True for spans where a service sends work elsewhere (CLIENT, PRODUCER).
    pub fn is_exit(self) -> bool {
        matches!(self, SpanKind::Client | SpanKind::Producer)
    }
}

impl AttrValue {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when the value is one (or a string holding one).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            AttrValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The boolean, when the value is one (or the string `true`/`false`).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            AttrValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn from_otlp(value: Option<AnyValue>) -> Option<Self> {
        Some(match value?.value? {
            any_value::Value::StringValue(s) => AttrValue::Str(s),
            any_value::Value::BoolValue(b) => AttrValue::Bool(b),
            any_value::Value::IntValue(i) => AttrValue::Int(i),
            any_value::Value::DoubleValue(d) => AttrValue::Double(d),
            any_value::Value::ArrayValue(a) => AttrValue::List(
                a.values
                    .into_iter()
                    .filter_map(|v| AttrValue::from_otlp(Some(v)))
                    .collect(),
            ),
            any_value::Value::KvlistValue(list) => AttrValue::Str(
                list.values
                    .into_iter()
                    .filter_map(|kv| {
                        Some(format!("{}={}", kv.key, AttrValue::from_otlp(kv.value)?))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            any_value::Value::BytesValue(b) => AttrValue::Str(format!("<{} bytes>", b.len())),
            // An index into a profiles string table: meaningless without the table.
            any_value::Value::StringValueStrindex(i) => AttrValue::Str(format!("<string #{i}>")),
        })
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::List(items) => {
                let texts: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", texts.join(", "))
            }
        }
    }
}

impl SpanRecord {
    /// Converts an OTLP span written by a process whose `service.name` is `resource_service`; `None` when its
    /// trace or span id is missing or malformed.
    pub fn from_otlp(span: otlp::Span, resource_service: Option<Arc<str>>) -> Option<Self> {
        let trace_id = TraceId::from_bytes(&span.trace_id)?;
        let span_id = SpanId::from_bytes(&span.span_id)?;
        let parent_id = SpanId::from_bytes(&span.parent_span_id).filter(|p| *p != span_id);
        let (status, status_message) = match span.status {
            Some(s) => (
                match s.code {
                    1 => SpanStatus::Ok,
                    2 => SpanStatus::Error,
                    _ => SpanStatus::Unset,
                },
                s.message,
            ),
            None => (SpanStatus::Unset, String::new()),
        };
        let message = Some(status_message)
            .filter(|m| !m.is_empty())
            .or_else(|| exception_message(&span.events));
        Some(Self {
            trace_id,
            span_id,
            parent_id,
            name: span.name,
            kind: SpanKind::from_otlp(span.kind),
            start_ns: span.start_time_unix_nano,
            end_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
            status,
            message,
            resource_service,
            attributes: convert_attributes(span.attributes),
        })
    }

    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The value of string attribute `key`, when present and not empty.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key)
            .and_then(AttrValue::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The value of integer attribute `key`.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attr(key).and_then(AttrValue::as_i64)
    }

    /// Duration in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }

    /// Start time.
    pub fn start_time(&self) -> DateTime<Utc> {
        time_of(self.start_ns)
    }

    /// The service this span runs in: `aws.local.service` when set, else the resource's `service.name`.
    pub fn local_service(&self) -> Option<&str> {
        self.attr_str(attr::AWS_LOCAL_SERVICE)
            .or(self.resource_service.as_deref())
    }

    /// The remote service of a CLIENT or PRODUCER span; `None` for other kinds and for calls that name no
    /// remote.
    pub fn remote(&self) -> Option<Remote<'_>> {
        if !self.kind.is_exit() {
            return None;
        }
        if let Some(name) = self
            .attr_str(attr::AWS_REMOTE_SERVICE)
            .or_else(|| self.attr_str(attr::PEER_SERVICE))
        {
            return Some(Remote { name, model: false });
        }
        if let Some(name) = self.attr_str(attr::GEN_AI_PROVIDER_NAME) {
            return Some(Remote { name, model: true });
        }
        self.attr_str(attr::SERVER_ADDRESS)
            .map(|name| Remote { name, model: false })
    }

    /// `error.type`, when recorded.
    pub fn error_type(&self) -> Option<&str> {
        self.attr_str(attr::ERROR_TYPE)
    }

    /// `retry.attempt` (1 for the first try), when recorded.
    pub fn retry_attempt(&self) -> Option<i64> {
        self.attr_i64(attr::RETRY_ATTEMPT)
    }

    /// How the span ended: from `error.type` when recorded, else a failed status is a fault, else the HTTP
    /// status code decides, else ok.
    pub fn outcome(&self) -> Outcome {
        if let Some(error_type) = self.error_type() {
            return Outcome::of_error_type(error_type);
        }
        if self.status == SpanStatus::Error {
            return Outcome::Fault;
        }
        self.attr_i64(HTTP_RESPONSE_STATUS_CODE)
            .and_then(Outcome::of_http_status)
            .unwrap_or(Outcome::Ok)
    }
}

/// The UTC time of a Unix-epoch nanosecond timestamp (saturating at the end of chrono's range).
pub fn time_of(unix_ns: u64) -> DateTime<Utc> {
    let nanos = i64::try_from(unix_ns).unwrap_or(i64::MAX);
    DateTime::from_timestamp_nanos(nanos)
}

/// Nanoseconds since the Unix epoch of `time` (0 before 1970).
pub fn unix_ns_of(time: DateTime<Utc>) -> u64 {
    time.timestamp_nanos_opt()
        .and_then(|ns| u64::try_from(ns).ok())
        .unwrap_or(0)
}

/// The resource's `service.name`.
pub(crate) fn resource_service_name(attributes: &[KeyValue]) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// Attributes the tracing bridge adds to every span (source location, thread, timing counters): they say
/// nothing about the system and make up a third of a large file.
fn is_bookkeeping(key: &str) -> bool {
    key.starts_with("code.")
        || key.starts_with("thread.")
        || matches!(key, "busy_ns" | "idle_ns" | "target")
}

fn convert_attributes(attributes: Vec<KeyValue>) -> Vec<(String, AttrValue)> {
    attributes
        .into_iter()
        .filter(|kv| !is_bookkeeping(&kv.key))
        .filter_map(|kv| Some((kv.key, AttrValue::from_otlp(kv.value)?)))
        .collect()
}

fn exception_message(events: &[otlp::span::Event]) -> Option<String> {
    events
        .iter()
        .filter(|e| e.name == attr::EXCEPTION_EVENT)
        .flat_map(|e| e.attributes.iter())
        .find(|kv| kv.key == attr::EXCEPTION_MESSAGE)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otlp_span(kind: i32, attributes: &[(&str, &str)]) -> otlp::Span {
        otlp::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![],
            name: "s".into(),
            kind,
            start_time_unix_nano: 10,
            end_time_unix_nano: 5,
            attributes: attributes
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue((*v).into())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn converts_ids_kind_and_drops_bookkeeping() {
        let span = SpanRecord::from_otlp(
            otlp_span(
                3,
                &[("code.file.path", "x.rs"), ("peer.service", "k8s-backend")],
            ),
            Some(Arc::from("sre-agent")),
        )
        .unwrap();
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.parent_id, None);
        assert_eq!(span.duration_ns(), 0, "an end before the start reads as 0");
        assert_eq!(span.attributes.len(), 1);
        assert_eq!(
            span.remote(),
            Some(Remote {
                name: "k8s-backend",
                model: false
            })
        );
        assert_eq!(span.local_service(), Some("sre-agent"));

        let mut bad = otlp_span(1, &[]);
        bad.trace_id = vec![0; 16];
        assert_eq!(SpanRecord::from_otlp(bad, None), None);
        let mut short = otlp_span(1, &[]);
        short.span_id = vec![1; 3];
        assert_eq!(SpanRecord::from_otlp(short, None), None);
    }

    #[test]
    fn model_calls_name_the_provider_and_outcomes_follow_error_type() {
        let chat = SpanRecord::from_otlp(
            otlp_span(3, &[("gen_ai.provider.name", "aws.bedrock")]),
            None,
        )
        .unwrap();
        assert_eq!(
            chat.remote(),
            Some(Remote {
                name: "aws.bedrock",
                model: true
            })
        );
        let refused =
            SpanRecord::from_otlp(otlp_span(3, &[("error.type", "connection_refused")]), None)
                .unwrap();
        assert_eq!(refused.outcome(), Outcome::Fault);
        let internal = SpanRecord::from_otlp(otlp_span(1, &[("peer.service", "x")]), None).unwrap();
        assert_eq!(internal.remote(), None, "only exit spans call remotes");
        let mut failed = otlp_span(2, &[]);
        failed.status = Some(otlp::Status {
            message: "boom".into(),
            code: 2,
        });
        let failed = SpanRecord::from_otlp(failed, None).unwrap();
        assert_eq!(failed.outcome(), Outcome::Fault);
        assert_eq!(failed.message.as_deref(), Some("boom"));
    }
}
