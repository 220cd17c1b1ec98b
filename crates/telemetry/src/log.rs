//! Structured logs on stderr: JSON lines or human-readable text. Every event inside an investigation carries
//! the correlation fields `trace_id`, `span_id`, `xray_trace_id`, `investigation_id`, `user_id` and
//! `session_id` (from the enclosing spans' `sre.*` fields, else the W3C baggage), and fields with
//! secret-looking names are redacted.

use std::{
    fmt::{self, Write as _},
    sync::{Arc, OnceLock},
};

use opentelemetry::{baggage::BaggageExt, trace::TraceContextExt};
use serde_json::{Map, Value};
use tracing::{
    Dispatch, Event, Subscriber,
    dispatcher::WeakDispatch,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{
    Layer,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::Context,
    registry::LookupSpan,
};

use crate::{
    config::LogFormat,
    convention::{attr, xray_trace_id},
    redact::{REDACTED, is_secret_key},
};

/// JSON key of the W3C trace id.
pub const TRACE_ID: &str = "trace_id";
/// JSON key of the span id.
pub const SPAN_ID: &str = "span_id";
/// JSON key of the X-Ray form of the trace id.
pub const XRAY_TRACE_ID: &str = "xray_trace_id";
/// JSON key of the investigation id.
pub const INVESTIGATION_ID: &str = "investigation_id";
/// JSON key of the user id.
pub const USER_ID: &str = "user_id";
/// JSON key of the session id.
pub const SESSION_ID: &str = "session_id";

/// Remembers the `sre.investigation_id` / `sre.user_id` / `sre.session_id` fields of each span, so log lines
/// inside it can carry them, and hands its subscriber to the paired [`LogLineFormat`] (whose OpenTelemetry
/// look-ups need it: while an event is dispatched, the thread's default dispatcher is not reachable).
#[derive(Debug, Clone)]
pub struct CorrelationLayer {
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

/// The log line format; see the module docs. Build it with [`layers`].
#[derive(Debug, Clone)]
pub struct LogLineFormat {
    format: LogFormat,
    ansi: bool,
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

/// The correlation layer and the event format that reads it; add both to the same subscriber (the format
/// through `tracing_subscriber::fmt::layer().event_format(..)`).
pub fn layers(format: LogFormat, ansi: bool) -> (CorrelationLayer, LogLineFormat) {
    let dispatch = Arc::new(OnceLock::new());
    (
        CorrelationLayer {
            dispatch: Arc::clone(&dispatch),
        },
        LogLineFormat {
            format,
            ansi,
            dispatch,
        },
    )
}

/// Correlation ids found on a span.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Correlation {
    investigation_id: Option<String>,
    user_id: Option<String>,
    session_id: Option<String>,
}

impl<S> Layer<S> for CorrelationLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut found = Correlation::default();
        attrs.record(&mut found);
        if found != Correlation::default()
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(found);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut found = Correlation::default();
        values.record(&mut found);
        if found == Correlation::default() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<Correlation>() {
                Some(existing) => existing.merge(found),
                None => ext.insert(found),
            }
        }
    }
}

impl Visit for Correlation {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            attr::SRE_INVESTIGATION_ID => &mut self.investigation_id,
            attr::SRE_USER_ID => &mut self.user_id,
            attr::SRE_SESSION_ID => &mut self.session_id,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(
            field.name(),
            attr::SRE_INVESTIGATION_ID | attr::SRE_USER_ID | attr::SRE_SESSION_ID
        ) {
            // `%value` fields arrive here as Display-through-Debug: no quotes to strip.
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

impl Correlation {
    fn merge(&mut self, other: Correlation) {
        if other.investigation_id.is_some() {
            self.investigation_id = other.investigation_id;
        }
        if other.user_id.is_some() {
            self.user_id = other.user_id;
        }
        if other.session_id.is_some() {
            self.session_id = other.session_id;
        }
    }

    fn fill_from(&mut self, other: &Correlation) {
        if self.investigation_id.is_none() {
            self.investigation_id.clone_from(&other.investigation_id);
        }
        if self.user_id.is_none() {
            self.user_id.clone_from(&other.user_id);
        }
        if self.session_id.is_none() {
            self.session_id.clone_from(&other.session_id);
        }
    }
}

impl<S, N> FormatEvent<S, N> for LogLineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let ids = correlate(ctx, self.dispatch.get().and_then(WeakDispatch::upgrade));
        let meta = event.metadata();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match self.format {
            LogFormat::Json => {
                let mut line = Map::new();
                line.insert("timestamp".into(), Value::from(timestamp));
                line.insert("level".into(), Value::from(meta.level().as_str()));
                line.insert("target".into(), Value::from(meta.target()));
                line.insert(
                    "message".into(),
                    Value::from(fields.message.unwrap_or_default()),
                );
                if !fields.values.is_empty() {
                    line.insert("fields".into(), Value::Object(fields.values));
                }
                for (key, value) in ids.pairs() {
                    line.insert(key.into(), Value::from(value));
                }
                writeln!(writer, "{}", Value::Object(line))
            }
            LogFormat::Text => {
                let level = meta.level().as_str();
                let level = if self.ansi {
                    let colour = match *meta.level() {
                        tracing::Level::ERROR => "31",
                        tracing::Level::WARN => "33",
                        tracing::Level::INFO => "32",
                        _ => "34",
                    };
                    format!("\x1b[{colour}m{level:>5}\x1b[0m")
                } else {
                    format!("{level:>5}")
                };
                let mut line = format!(
                    "{timestamp} {level} {}: {}",
                    meta.target(),
                    fields.message.unwrap_or_default()
                );
                for (key, value) in &fields.values {
                    let _ = match value {
                        Value::String(s) => write!(line, " {key}={s}"),
                        other => write!(line, " {key}={other}"),
                    };
                }
                for (key, value) in ids.pairs() {
                    let _ = write!(line, " {key}={value}");
                }
                writeln!(writer, "{line}")
            }
        }
    }
}

/// The correlation fields of an event.
#[derive(Debug, Default)]
struct Ids {
    trace_id: Option<String>,
    span_id: Option<String>,
    correlation: Correlation,
}

impl Ids {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(trace) = &self.trace_id {
            out.push((TRACE_ID, trace.clone()));
            if let Some(xray) = xray_trace_id(trace) {
                out.push((XRAY_TRACE_ID, xray));
            }
        }
        if let Some(span) = &self.span_id {
            out.push((SPAN_ID, span.clone()));
        }
        let c = &self.correlation;
        for (key, value) in [
            (INVESTIGATION_ID, &c.investigation_id),
            (USER_ID, &c.user_id),
            (SESSION_ID, &c.session_id),
        ] {
            if let Some(v) = value {
                out.push((key, v.clone()));
            }
        }
        out
    }
}

fn correlate<S, N>(ctx: &FmtContext<'_, S, N>, dispatch: Option<Dispatch>) -> Ids
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let mut ids = Ids::default();
    let Some(scope) = ctx.event_scope() else {
        return ids;
    };
    let mut span_ids = Vec::new();
    for span in scope {
        if let Some(found) = span.extensions().get::<Correlation>() {
            ids.correlation.fill_from(found);
        }
        span_ids.push(span.id());
    }
    // The nearest span OpenTelemetry records gives the trace and span ids and, through its context, the
    // baggage (user and session) that crossed task and process boundaries.
    let Some(dispatch) = dispatch else {
        return ids;
    };
    for id in span_ids {
        let Some(cx) = tracing_opentelemetry::get_otel_context(&id, &dispatch) else {
            continue;
        };
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            continue;
        }
        ids.trace_id = Some(sc.trace_id().to_string());
        ids.span_id = Some(sc.span_id().to_string());
        let baggage = cx.baggage();
        if ids.correlation.user_id.is_none() {
            ids.correlation.user_id = baggage.get(attr::USER_ID).map(|v| v.to_string());
        }
        if ids.correlation.session_id.is_none() {
            ids.correlation.session_id = baggage.get(attr::SESSION_ID).map(|v| v.to_string());
        }
        break;
    }
    ids
}

/// An event's message and fields, secrets redacted.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    values: Map<String, Value>,
}

impl EventFields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let value = if is_secret_key(name) {
            Value::from(REDACTED)
        } else {
            value
        };
        self.values.insert(name.to_owned(), value);
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(
            field,
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}
